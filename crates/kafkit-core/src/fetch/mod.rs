//! The consumer's fetch bookkeeping, sans-IO: incremental fetch sessions
//! ([`session`]).

pub mod session;
