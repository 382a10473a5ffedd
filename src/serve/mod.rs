//! Serve: the live attack map web app (axum + Server-Sent Events).
//!
//! Built by the live-map issue.
