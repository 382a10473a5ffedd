//! Bar and pie charts (country, user, IP, hour, ASN).
