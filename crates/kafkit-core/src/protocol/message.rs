//! The traits every API message implements, and where requests are routed.
//!
//! Spec: <https://kafka.apache.org/protocol#protocol_messages> (request and
//! response bodies per API key and version), KIP-482 (flexible versions).

use bytes::{Bytes, BytesMut};

use super::api_key::{ApiKey, VersionRange};
use super::error::{ProtocolError, Result};
use super::error_code::ErrorCode;
use super::reader::Reader;
use super::writer::Writer;

/// Which broker a request must be sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Route {
    /// Any broker (metadata, API versions, group listing).
    AnyBroker,
    /// The leader of the partitions the request names.
    PartitionLeader,
    /// The coordinator of the consumer group the request names.
    GroupCoordinator,
    /// The coordinator of the transactional id (or any broker when there is none).
    TransactionCoordinator,
    /// The coordinator of the share group the request names (KIP-932's
    /// share-state coordinator, FindCoordinator key type 2).
    ShareCoordinator,
    /// The active controller (topic administration).
    Controller,
    /// The broker the connection was opened to (handshake, authentication).
    SameConnection,
}

/// A request or response body of one API, at a range of versions.
pub trait Message: Sized {
    /// The API this message belongs to.
    const API_KEY: ApiKey;
    /// Versions this codec implements.
    const VERSIONS: VersionRange;
    /// First flexible (compact + tagged) version; `None` if no version is flexible.
    const FLEXIBLE_FROM: Option<i16>;

    /// Encodes the body at `w.version()`; the writer's flexibility is already set.
    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()>;

    /// Decodes the body at `version`; the reader's flexibility is already set.
    fn decode_body(r: &mut Reader, version: i16) -> Result<Self>;

    /// Whether `version` uses the flexible encoding.
    fn is_flexible(version: i16) -> bool {
        Self::FLEXIBLE_FROM.is_some_and(|f| version >= f)
    }

    /// Fails unless `version` is implemented.
    fn check_version(version: i16) -> Result<()> {
        if Self::VERSIONS.contains(version) {
            Ok(())
        } else {
            Err(ProtocolError::UnsupportedVersion {
                api_key: Self::API_KEY.0,
                version,
            })
        }
    }

    /// Appends the body encoded at `version` to `buf`.
    fn encode(&self, version: i16, buf: &mut BytesMut) -> Result<()> {
        Self::check_version(version)?;
        self.encode_body(&mut Writer::new(buf, Self::is_flexible(version), version))
    }

    /// Decodes a whole body at `version`; bytes left over are an error.
    fn decode(buf: Bytes, version: i16) -> Result<Self> {
        Self::check_version(version)?;
        let mut r = Reader::new(buf, Self::is_flexible(version));
        let msg = Self::decode_body(&mut r, version)?;
        r.finish()?;
        Ok(msg)
    }
}

/// A request: knows its response type and where it must be sent.
pub trait Request: Message {
    /// The response the broker sends back.
    type Response: Message;
    /// Which broker serves it.
    const ROUTE: Route;

    /// What [`Self::ROUTE`] needs to pick the broker: the group id or
    /// transactional id of a coordinator route, the partition of a leader
    /// route. [`RouteKey::None`] (the default) for routes that need nothing,
    /// and for requests that name several groups or leaders (the caller then
    /// names the broker itself).
    fn route_key(&self) -> RouteKey<'_> {
        RouteKey::None
    }

    /// The error in `response` that concerns the request as a whole: a
    /// coordinator that moved, a controller that is not one, a group-level
    /// refusal. `NONE` (the default) when the response carries only
    /// per-item errors, which the caller judges.
    fn response_error(response: &Self::Response) -> ErrorCode {
        let _ = response;
        ErrorCode::NONE
    }
}

/// The key a request's [`Route`] is resolved with (see [`Request::route_key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKey<'a> {
    /// Nothing: any broker, the controller, or a caller-chosen broker.
    None,
    /// The group id, transactional id or share group id of a coordinator route.
    Coordinator(&'a str),
    /// The topic and partition whose leader serves a leader route.
    Partition(&'a str, i32),
}
