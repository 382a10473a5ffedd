//! Report: the self-contained interactive HTML report.
//!
//! Built by the report issue.
