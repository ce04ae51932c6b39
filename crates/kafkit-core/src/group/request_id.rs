//! The name of one request a group member issued, shared by the requests
//! (`wire.rs`) and the errors that name them (`error.rs`).

/// Names one request the member issued. Every [`Outbound`](super::Outbound)
/// must be answered exactly once, with `handle_response` or `handle_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u64);
