//! Broker connections: one socket task per broker, pipelined requests,
//! version negotiation, TLS and SASL authentication, and a pool that
//! reconnects with backoff.
//!
//! Spec: KIP-35 / KIP-511 (ApiVersions negotiation), KIP-152 / KIP-368 (SASL).

mod auth;
mod broker;
mod connect;
mod io_task;
mod pool;
#[cfg(feature = "tls")]
mod tls;
mod transport;
mod write_queue;

pub use broker::{BrokerConnection, PendingResponse};
pub use pool::Pool;
