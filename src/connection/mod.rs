//! Broker connections: one socket task per broker, pipelined requests,
//! version negotiation, and a pool that reconnects with backoff.
//!
//! Spec: KIP-35 / KIP-511 (ApiVersions negotiation).

mod broker;
mod io_task;
mod pool;
mod write_queue;

pub use broker::{BrokerConnection, PendingResponse};
pub use pool::Pool;
