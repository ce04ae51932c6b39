//! The producer's sans-IO half: the record type the application hands over
//! ([`ProducerRecord`]), the per-partition batching state machine
//! ([`accumulator`]), the batches it encodes records into, and the
//! transactional producer's state machine ([`transaction`]).
//!
//! Spec: KIP-98 (idempotent producer), KIP-91 (delivery timeout).

pub mod accumulator;
mod batch;
mod outcome;
mod record;
pub mod transaction;

pub use crate::common::TopicPartition;
pub use accumulator::{Accumulator, AccumulatorConfig, Appended, Drained};
pub use batch::{AppendError, Batch, NewRecord};
pub use outcome::{BatchAnswer, ProduceOutcome};
pub use record::{DeliveryReport, ProducerRecord};
