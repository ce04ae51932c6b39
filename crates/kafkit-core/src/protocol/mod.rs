//! The sans-IO Kafka wire protocol: bytes in, typed messages out.
//!
//! Nothing in this module performs I/O or reads a clock; the client layers
//! feed it bytes and drive it. It consists of
//! - primitives: [`Reader`] and [`Writer`] over `bytes`, [`TaggedFields`], [`Uuid`];
//! - framing and headers: [`frame`], [`header`];
//! - one module per API key under [`messages`], each implementing [`Message`];
//! - record batches, legacy message sets and compression under [`record`].
//!
//! Spec: <https://kafka.apache.org/protocol> and the message definitions in
//! Kafka's `clients/src/main/resources/common/message/`.

pub mod api_key;
pub mod error;
pub mod error_code;
pub mod frame;
pub mod header;
pub mod message;
pub mod messages;
pub mod reader;
pub mod record;
pub mod tagged;
pub mod uuid;
pub mod writer;

#[cfg(test)]
pub(crate) mod testing;

pub use api_key::{ApiKey, VersionRange};
pub use error::{ProtocolError, Result};
pub use error_code::ErrorCode;
pub use frame::{decode_response, encode_request, try_parse_frame};
pub use header::{RequestHeader, ResponseHeader};
pub use message::{Message, Request, Route, RouteKey};
pub use reader::Reader;
pub use tagged::{TagWriter, TaggedFields};
pub use uuid::Uuid;
pub use writer::Writer;
