//! kafkit: a pure-Rust Kafka client.
//!
//! The crate is layered; the bottom layers live in the sans-IO
//! [`kafkit-core`](kafkit_core) crate and are re-exported here: [`protocol`]
//! (the wire codecs), [`sasl`], [`group`] (the consumer-group member state
//! machine and assignors), the producer's accumulator and the fetch
//! session. The client layers here drive them over tokio.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod admin;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod consumer;
pub mod error;
pub mod listener;
pub mod messaging_spans;
pub mod metrics;
pub mod producer;
pub mod rpc;
pub mod security;
pub mod share;
mod telemetry;

// The sans-IO half lives in the `kafkit-core` crate; its modules keep their
// `kafkit::…` paths.
pub use kafkit_core::{common, group, payload, protocol, sasl};

pub use admin::Admin;
pub use cluster::Client;
pub use config::ClientConfig;
pub use error::{Error, Result};
pub use kafkit_core::TopicPartition;

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// DESIGN.md's examples (the error model), compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../DESIGN.md")]
pub struct DesignDoctests;
