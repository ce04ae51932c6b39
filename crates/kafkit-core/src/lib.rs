//! kafkit-core: the sans-IO half of kafkit, a pure-Rust Kafka client.
//!
//! Everything here is deterministic and does no I/O: it opens no socket,
//! spawns no task and reads no clock (time comes in as `now`). The `kafkit`
//! crate drives these machines over tokio; another runtime could too.
//!
//! - [`protocol`]: the wire codecs (frames, headers, one module per API key),
//!   record batches and their compression codecs, error codes with the one
//!   retry table.
//! - [`sasl`]: the SASL mechanisms' tokens and the SCRAM state machine.
//! - [`group`]: the classic consumer-group member state machine and the
//!   partition assignors.
//! - [`producer`]: the producer's batching state machine (the accumulator).
//! - [`fetch`]: the consumer's incremental fetch-session bookkeeping.
//! - [`share`]: share groups (KIP-932): share sessions and acknowledgements.
//! - [`telemetry`]: client metrics push (KIP-714): when to ask and push,
//!   and a minimal OTLP metrics encoder.
//! - [`common`]: types every layer shares ([`TopicPartition`], [`LeaderHint`]).
//! - [`payload`]: typed record values ([`payload::Serializer`] /
//!   [`payload::Deserializer`]; JSON with the `serde` feature).
//!
//! Its dependency tree has no tokio, no rustls and no `-sys` crate
//! (`cargo tree -p kafkit-core -e normal`; checked in CI).
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod common;
pub mod fetch;
pub mod group;
pub mod payload;
pub mod producer;
pub mod protocol;
pub mod sasl;
pub mod share;
pub mod telemetry;

pub use common::{LeaderHint, TopicPartition};
