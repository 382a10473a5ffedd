//! Unit tests of the message classifier, one per catalogue variant.
use super::*;
