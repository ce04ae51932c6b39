//! kafkit: a pure-Rust Kafka client.
//!
//! The crate is layered; the bottom layer, [`protocol`], is a sans-IO codec
//! for the Kafka wire protocol that the client layers drive.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod admin;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod consumer;
pub mod error;
pub mod group;
pub mod listener;
pub mod producer;
pub mod protocol;
pub mod rpc;
pub mod sasl;
pub mod security;

pub use admin::Admin;
pub use cluster::Client;
pub use config::ClientConfig;
pub use error::{Error, Result};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
