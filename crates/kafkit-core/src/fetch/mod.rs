//! The consumer's fetch bookkeeping, sans-IO: incremental fetch sessions
//! ([`session`]) and each partition's fetch position ([`position`]).

pub mod position;
pub mod session;
