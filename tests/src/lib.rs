//! Helpers for arbiter's end-to-end tests.
