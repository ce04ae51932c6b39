//! The producer: batching, partitioning, retries and idempotence.
//!
//! [`Producer`] is the handle: `send` encodes each record straight into its
//! partition's batch in the sans-IO [`accumulator`] (shared under a mutex)
//! and returns a future that waits on the batch's result. A background task
//! (`sender`) drains the accumulator, which decides what to send and when,
//! and one dispatcher task per broker keeps requests in order on its
//! connection.
//!
//! Spec: KIP-98 (idempotent producer), KIP-480 (sticky partitioner),
//! KIP-91 (delivery timeout).

pub use kafkit_core::producer::accumulator;
pub use kafkit_core::producer::transaction;
mod clock;
mod config;
mod delivery;
mod dispatch;
mod fnv;
mod handle;
mod metrics;
pub mod partitioner;
mod sender;
mod shared;
mod transactional;
mod wire;

pub use accumulator::TopicPartition;
pub use config::{Acks, ProducerConfig};
pub use delivery::DeliveryFuture;
pub use handle::Producer;
pub use kafkit_core::producer::{DeliveryReport, ProducerRecord};
pub use metrics::ProducerMetrics;
pub use transactional::{TransactionError, TransactionErrorKind, TransactionProtocol};
