//! The producer: batching, partitioning, retries and idempotence.
//!
//! [`Producer`] is the handle; a background task (`sender`) drives the
//! sans-IO [`accumulator`], which decides what to send and when, and one
//! dispatcher task per broker keeps requests in order on its connection.
//!
//! Spec: KIP-98 (idempotent producer), KIP-480 (sticky partitioner),
//! KIP-91 (delivery timeout).

pub mod accumulator;
mod config;
mod dispatch;
mod handle;
mod metrics;
pub mod partitioner;
mod record;
mod sender;
mod wire;

pub use accumulator::TopicPartition;
pub use config::{Acks, ProducerConfig};
pub use handle::{DeliveryFuture, Producer};
pub use metrics::ProducerMetrics;
pub use record::{DeliveryReport, ProducerRecord};
