//! Share groups (KIP-932, "queues for Kafka"): [`ShareConsumer`].
//!
//! Members of a share group do not own partitions: every partition leader
//! hands each record to one member at a time, locked to it for the
//! acquisition lock timeout, and the member acknowledges it — accepted,
//! released (redelivered, with a growing delivery count) or rejected
//! (archived). Many members can read one partition; a record that fails
//! does not hold back the rest of its partition.
//!
//! The sans-IO half (share sessions, acknowledgement bookkeeping) is
//! [`kafkit_core::share`]; this module drives it: membership by
//! ShareGroupHeartbeat in a background task, ShareFetch and
//! ShareAcknowledge to the leaders from [`ShareConsumer::poll`] and
//! [`ShareConsumer::commit_sync`].
//!
//! Spec: KIP-932, KIP-1222 (acquisition lock renewal), KIP-1206 (acquire
//! mode).

mod config;
mod consumer;
mod fetch;
mod membership;
mod record;
mod renew;

pub use config::{AcknowledgementMode, ShareAcquireMode, ShareConsumerConfig};
pub use consumer::{AcknowledgementResults, ShareConsumer};
pub use kafkit_core::share::AcknowledgeType;
pub use record::ShareRecord;
