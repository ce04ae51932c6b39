//! Dynamic dispatch over every implemented API: decode any request or
//! response body from `(api key, version, bytes)`.
//!
//! The typed codecs in the sibling modules are what the client uses; this
//! module serves tools that only learn the API at run time — fuzz targets, a
//! mock broker reading whatever a client sends, frame dumpers — and the spec
//! conformance tests, which walk [`APIS`] instead of naming every type.
//!
//! An API key this client does not implement, or a version outside the
//! implemented range, is reported as [`ProtocolError::UnsupportedVersion`].
//!
//! Spec: <https://kafka.apache.org/protocol#protocol_api_keys>

use bytes::{BufMut, Bytes, BytesMut};

use crate::protocol::header::response_header_is_flexible;
use crate::protocol::{
    ApiKey, Message, ProtocolError, Reader, RequestHeader, ResponseHeader, Result, VersionRange,
    Writer,
};

/// What one implemented API supports, as its codecs declare it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiInfo {
    /// The API key.
    pub api_key: ApiKey,
    /// The API's name as the protocol guide spells it (`"ApiVersions"`).
    pub name: &'static str,
    /// `VERSIONS` of the request codec.
    pub request_versions: VersionRange,
    /// `FLEXIBLE_FROM` of the request codec.
    pub request_flexible_from: Option<i16>,
    /// `VERSIONS` of the response codec.
    pub response_versions: VersionRange,
    /// `FLEXIBLE_FROM` of the response codec.
    pub response_flexible_from: Option<i16>,
}

/// The [`ApiInfo`] of `api_key`, if this client implements it.
pub fn api_info(api_key: ApiKey) -> Option<&'static ApiInfo> {
    APIS.iter().find(|a| a.api_key == api_key)
}

fn unsupported(api_key: ApiKey, version: i16) -> ProtocolError {
    ProtocolError::UnsupportedVersion {
        api_key: api_key.0,
        version,
    }
}

/// Writes a 4-byte size placeholder, runs `body`, then patches the size.
fn sized_frame(out: &mut BytesMut, body: impl FnOnce(&mut BytesMut) -> Result<()>) -> Result<()> {
    let start = out.len();
    out.put_i32(0);
    body(out)?;
    let size =
        i32::try_from(out.len() - start - 4).map_err(|_| ProtocolError::ValueTooLarge("frame"))?;
    if let Some(slot) = out.get_mut(start..start + 4) {
        slot.copy_from_slice(&size.to_be_bytes());
    }
    Ok(())
}

/// Declares the enums and tables from one list of `Variant: module::{Request, Response}`.
macro_rules! any_messages {
    ($($variant:ident: $module:ident :: { $req:ident, $resp:ident }),* $(,)?) => {
        /// Every API this client implements, in API key order.
        pub const APIS: &[ApiInfo] = &[$(
            ApiInfo {
                api_key: <super::$module::$req as Message>::API_KEY,
                name: stringify!($variant),
                request_versions: <super::$module::$req as Message>::VERSIONS,
                request_flexible_from: <super::$module::$req as Message>::FLEXIBLE_FROM,
                response_versions: <super::$module::$resp as Message>::VERSIONS,
                response_flexible_from: <super::$module::$resp as Message>::FLEXIBLE_FROM,
            },
        )*];

        /// A request body of any implemented API.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        #[allow(clippy::large_enum_variant)]
        pub enum AnyRequest {
            $(
                #[doc = concat!("A `", stringify!($req), "`.")]
                $variant(super::$module::$req),
            )*
        }

        /// A response body of any implemented API.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        #[allow(clippy::large_enum_variant)]
        pub enum AnyResponse {
            $(
                #[doc = concat!("A `", stringify!($resp), "`.")]
                $variant(super::$module::$resp),
            )*
        }

        impl AnyRequest {
            /// Decodes a whole request body of `api_key` at `version`.
            pub fn decode(api_key: ApiKey, version: i16, body: Bytes) -> Result<Self> {
                $(
                    if api_key == <super::$module::$req as Message>::API_KEY {
                        return <super::$module::$req as Message>::decode(body, version).map(Self::$variant);
                    }
                )*
                Err(unsupported(api_key, version))
            }

            /// The request of `api_key` with every field at its default.
            pub fn default_for(api_key: ApiKey) -> Result<Self> {
                $(
                    if api_key == <super::$module::$req as Message>::API_KEY {
                        return Ok(Self::$variant(<super::$module::$req>::default()));
                    }
                )*
                Err(unsupported(api_key, -1))
            }

            /// The API this request belongs to.
            pub fn api_key(&self) -> ApiKey {
                match self {
                    $(Self::$variant(_) => <super::$module::$req as Message>::API_KEY,)*
                }
            }

            /// Whether `version` of this request is flexible.
            pub fn is_flexible(&self, version: i16) -> bool {
                match self {
                    $(Self::$variant(_) => <super::$module::$req as Message>::is_flexible(version),)*
                }
            }

            /// Appends the body encoded at `version` to `buf`.
            pub fn encode(&self, version: i16, buf: &mut BytesMut) -> Result<()> {
                match self {
                    $(Self::$variant(m) => m.encode(version, buf),)*
                }
            }

            /// Encodes the body at `version` with a lenient writer, which drops
            /// non-default fields the version lacks instead of failing.
            pub fn encode_lenient(&self, version: i16, buf: &mut BytesMut) -> Result<()> {
                match self {
                    $(Self::$variant(m) => {
                        <super::$module::$req as Message>::check_version(version)?;
                        let flexible = <super::$module::$req as Message>::is_flexible(version);
                        m.encode_body(&mut Writer::lenient(buf, flexible, version))
                    })*
                }
            }
        }

        impl AnyResponse {
            /// Decodes a response body of `api_key` at `version` from the
            /// front of `body`; returns the message and the bytes left after it.
            pub fn decode_prefix(api_key: ApiKey, version: i16, body: Bytes) -> Result<(Self, usize)> {
                $(
                    if api_key == <super::$module::$resp as Message>::API_KEY {
                        <super::$module::$resp as Message>::check_version(version)?;
                        let flexible = <super::$module::$resp as Message>::is_flexible(version);
                        let mut r = Reader::new(body, flexible);
                        let msg = <super::$module::$resp as Message>::decode_body(&mut r, version)?;
                        return Ok((Self::$variant(msg), r.remaining()));
                    }
                )*
                Err(unsupported(api_key, version))
            }

            /// Decodes a whole response body of `api_key` at `version`.
            pub fn decode(api_key: ApiKey, version: i16, body: Bytes) -> Result<Self> {
                $(
                    if api_key == <super::$module::$resp as Message>::API_KEY {
                        return <super::$module::$resp as Message>::decode(body, version).map(Self::$variant);
                    }
                )*
                Err(unsupported(api_key, version))
            }

            /// The response of `api_key` with every field at its default.
            pub fn default_for(api_key: ApiKey) -> Result<Self> {
                $(
                    if api_key == <super::$module::$resp as Message>::API_KEY {
                        return Ok(Self::$variant(<super::$module::$resp>::default()));
                    }
                )*
                Err(unsupported(api_key, -1))
            }

            /// The API this response belongs to.
            pub fn api_key(&self) -> ApiKey {
                match self {
                    $(Self::$variant(_) => <super::$module::$resp as Message>::API_KEY,)*
                }
            }

            /// Whether `version` of this response is flexible.
            pub fn is_flexible(&self, version: i16) -> bool {
                match self {
                    $(Self::$variant(_) => <super::$module::$resp as Message>::is_flexible(version),)*
                }
            }

            /// Appends the body encoded at `version` to `buf`.
            pub fn encode(&self, version: i16, buf: &mut BytesMut) -> Result<()> {
                match self {
                    $(Self::$variant(m) => m.encode(version, buf),)*
                }
            }

            /// Encodes the body at `version` with a lenient writer, which drops
            /// non-default fields the version lacks instead of failing.
            pub fn encode_lenient(&self, version: i16, buf: &mut BytesMut) -> Result<()> {
                match self {
                    $(Self::$variant(m) => {
                        <super::$module::$resp as Message>::check_version(version)?;
                        let flexible = <super::$module::$resp as Message>::is_flexible(version);
                        m.encode_body(&mut Writer::lenient(buf, flexible, version))
                    })*
                }
            }
        }
    };
}

any_messages! {
    Produce: produce::{ProduceRequest, ProduceResponse},
    Fetch: fetch::{FetchRequest, FetchResponse},
    ListOffsets: list_offsets::{ListOffsetsRequest, ListOffsetsResponse},
    Metadata: metadata::{MetadataRequest, MetadataResponse},
    OffsetCommit: offset_commit::{OffsetCommitRequest, OffsetCommitResponse},
    OffsetFetch: offset_fetch::{OffsetFetchRequest, OffsetFetchResponse},
    FindCoordinator: find_coordinator::{FindCoordinatorRequest, FindCoordinatorResponse},
    JoinGroup: join_group::{JoinGroupRequest, JoinGroupResponse},
    Heartbeat: heartbeat::{HeartbeatRequest, HeartbeatResponse},
    LeaveGroup: leave_group::{LeaveGroupRequest, LeaveGroupResponse},
    SyncGroup: sync_group::{SyncGroupRequest, SyncGroupResponse},
    DescribeGroups: describe_groups::{DescribeGroupsRequest, DescribeGroupsResponse},
    ListGroups: list_groups::{ListGroupsRequest, ListGroupsResponse},
    SaslHandshake: sasl_handshake::{SaslHandshakeRequest, SaslHandshakeResponse},
    ApiVersions: api_versions::{ApiVersionsRequest, ApiVersionsResponse},
    CreateTopics: create_topics::{CreateTopicsRequest, CreateTopicsResponse},
    DeleteTopics: delete_topics::{DeleteTopicsRequest, DeleteTopicsResponse},
    InitProducerId: init_producer_id::{InitProducerIdRequest, InitProducerIdResponse},
    AddPartitionsToTxn: add_partitions_to_txn::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse},
    AddOffsetsToTxn: add_offsets_to_txn::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse},
    EndTxn: end_txn::{EndTxnRequest, EndTxnResponse},
    TxnOffsetCommit: txn_offset_commit::{TxnOffsetCommitRequest, TxnOffsetCommitResponse},
    SaslAuthenticate: sasl_authenticate::{SaslAuthenticateRequest, SaslAuthenticateResponse},
    DeleteGroups: delete_groups::{DeleteGroupsRequest, DeleteGroupsResponse},
    OffsetDelete: offset_delete::{OffsetDeleteRequest, OffsetDeleteResponse},
    ConsumerGroupHeartbeat: consumer_group_heartbeat::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse},
    ConsumerGroupDescribe: consumer_group_describe::{ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse},
    ShareGroupHeartbeat: share_group_heartbeat::{ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse},
    ShareGroupDescribe: share_group_describe::{ShareGroupDescribeRequest, ShareGroupDescribeResponse},
    ShareFetch: share_fetch::{ShareFetchRequest, ShareFetchResponse},
    ShareAcknowledge: share_acknowledge::{ShareAcknowledgeRequest, ShareAcknowledgeResponse},
    DescribeShareGroupOffsets: describe_share_group_offsets::{DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse},
    AlterShareGroupOffsets: alter_share_group_offsets::{AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsResponse},
    DeleteShareGroupOffsets: delete_share_group_offsets::{DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsResponse},
}

impl AnyRequest {
    /// Decodes a request frame body (after the size prefix): the header
    /// names the API and version, the body is decoded accordingly.
    pub fn decode_frame(frame: Bytes) -> Result<(RequestHeader, Self)> {
        let mut r = Reader::new(frame, false);
        let header = RequestHeader::decode(&mut r, |k| {
            api_info(k).and_then(|a| a.request_flexible_from)
        })?;
        let body = Self::decode(header.api_key, header.api_version, r.into_rest())?;
        Ok((header, body))
    }

    /// Appends a whole request frame (size, header v1/v2, body) to `out`.
    pub fn encode_frame(
        &self,
        version: i16,
        correlation_id: i32,
        client_id: Option<&str>,
        out: &mut BytesMut,
    ) -> Result<()> {
        let header = RequestHeader {
            api_key: self.api_key(),
            api_version: version,
            correlation_id,
            client_id: client_id.map(str::to_owned),
            unknown_tagged_fields: Default::default(),
        };
        let flexible = self.is_flexible(version);
        sized_frame(out, |buf| {
            header.encode(&mut Writer::new(buf, false, version), flexible)?;
            self.encode(version, buf)
        })
    }
}

impl AnyResponse {
    /// Decodes a response frame body (after the size prefix) of `api_key`
    /// at `version`, which the caller knows from the request it sent.
    ///
    /// Bytes after the body are ignored, as [`decode_response`] (the client's
    /// path) does; [`AnyResponse::decode_frame_strict`] refuses them.
    ///
    /// [`decode_response`]: crate::protocol::frame::decode_response
    pub fn decode_frame(
        api_key: ApiKey,
        version: i16,
        frame: Bytes,
    ) -> Result<(ResponseHeader, Self)> {
        Self::decode_frame_parts(api_key, version, frame).map(|(h, m, _)| (h, m))
    }

    /// Like [`AnyResponse::decode_frame`], but bytes after the body are an error.
    pub fn decode_frame_strict(
        api_key: ApiKey,
        version: i16,
        frame: Bytes,
    ) -> Result<(ResponseHeader, Self)> {
        match Self::decode_frame_parts(api_key, version, frame)? {
            (header, msg, 0) => Ok((header, msg)),
            (_, _, n) => Err(ProtocolError::TrailingBytes(n)),
        }
    }

    fn decode_frame_parts(
        api_key: ApiKey,
        version: i16,
        frame: Bytes,
    ) -> Result<(ResponseHeader, Self, usize)> {
        let info = api_info(api_key).ok_or_else(|| unsupported(api_key, version))?;
        if !info.response_versions.contains(version) {
            return Err(unsupported(api_key, version));
        }
        let flexible = info.response_flexible_from.is_some_and(|f| version >= f);
        let mut r = Reader::new(frame, false);
        let header =
            ResponseHeader::decode(&mut r, response_header_is_flexible(api_key, flexible))?;
        let (body, trailing) = Self::decode_prefix(api_key, version, r.into_rest())?;
        Ok((header, body, trailing))
    }

    /// Appends a whole response frame (size, header v0/v1, body) to `out`.
    pub fn encode_frame(
        &self,
        version: i16,
        correlation_id: i32,
        out: &mut BytesMut,
    ) -> Result<()> {
        let header = ResponseHeader {
            correlation_id,
            unknown_tagged_fields: Default::default(),
        };
        let flexible = response_header_is_flexible(self.api_key(), self.is_flexible(version));
        sized_frame(out, |buf| {
            header.encode(&mut Writer::new(buf, false, version), flexible)?;
            self.encode(version, buf)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apis_are_sorted_and_unique() {
        for pair in APIS.windows(2) {
            assert!(pair[0].api_key < pair[1].api_key, "{pair:?}");
        }
        for api in APIS {
            assert_eq!(api.api_key.name(), Some(api.name));
        }
    }

    #[test]
    fn unknown_key_and_version_are_errors() {
        let unknown = ApiKey(999);
        assert_eq!(
            AnyRequest::decode(unknown, 0, Bytes::new()),
            Err(ProtocolError::UnsupportedVersion {
                api_key: 999,
                version: 0
            })
        );
        assert!(AnyResponse::decode_frame(unknown, 0, Bytes::from_static(&[0; 8])).is_err());
        assert!(AnyRequest::default_for(unknown).is_err());
        for api in APIS {
            let too_new = api.request_versions.max + 1;
            assert_eq!(
                AnyRequest::decode(api.api_key, too_new, Bytes::new()),
                Err(unsupported(api.api_key, too_new))
            );
            assert_eq!(
                AnyResponse::decode(api.api_key, -1, Bytes::new()),
                Err(unsupported(api.api_key, -1))
            );
        }
    }

    #[test]
    fn frames_round_trip_for_every_api_and_version() {
        for api in APIS {
            let req = AnyRequest::default_for(api.api_key).expect("implemented");
            let resp = AnyResponse::default_for(api.api_key).expect("implemented");
            for v in api.request_versions.min..=api.request_versions.max {
                let mut buf = BytesMut::new();
                req.encode_frame(v, 7, Some("kafkit"), &mut buf)
                    .expect("encode request");
                let mut frame = buf.split_off(4).freeze();
                assert_eq!(buf.len(), 4);
                let (header, back) = AnyRequest::decode_frame(frame.clone()).expect("decode");
                assert_eq!((header.api_version, header.correlation_id), (v, 7));
                assert_eq!(back, req);
                // Any truncation is an error, never a panic.
                while !frame.is_empty() {
                    frame.truncate(frame.len() - 1);
                    assert!(AnyRequest::decode_frame(frame.clone()).is_err());
                }
            }
            for v in api.response_versions.min..=api.response_versions.max {
                let mut buf = BytesMut::new();
                resp.encode_frame(v, 9, &mut buf).expect("encode response");
                let frame = buf.split_off(4).freeze();
                let (header, back) =
                    AnyResponse::decode_frame_strict(api.api_key, v, frame.clone())
                        .expect("decode");
                assert_eq!(header.correlation_id, 9);
                assert_eq!(back, resp);
                let padded = Bytes::from([&frame[..], &[0, 0]].concat());
                let lenient = AnyResponse::decode_frame(api.api_key, v, padded.clone());
                assert_eq!(lenient.map(|(_, m)| m), Ok(resp.clone()));
                assert_eq!(
                    AnyResponse::decode_frame_strict(api.api_key, v, padded),
                    Err(ProtocolError::TrailingBytes(2))
                );
            }
        }
    }
}
