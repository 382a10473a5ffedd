//! `sshmap map` and `sshmap chart`: read events, aggregate, draw, write the file.
