//! DeleteTopics (key 20): delete topics by name, or from v6 by name or id.
//!
//! Versions 0-5 carry a list of names ([`DeleteTopicsRequest::topic_names`]);
//! version 6 replaces it with [`DeleteTopicsRequest::topics`], where each entry
//! names a topic either by name or by topic id. The spec marks the old list
//! ignorable, so a v6 encode drops it while a non-empty `topics` list fails
//! below v6: fill the list that matches the negotiated version.
//!
//! Spec: KIP-4 (v0), KIP-482 (v4, flexible), KIP-516 (v6, topic ids).

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, Uuid, VersionRange,
    Writer,
};

/// One topic to delete, by name or by id (v6+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeleteTopicState {
    /// Topic name, null when the id names the topic (v6+, nullable).
    pub name: Option<String>,
    /// Topic id, zero when the name names the topic (v6+).
    pub topic_id: Uuid,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: TaggedFields,
}

/// Asks the controller to delete topics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeleteTopicsRequest {
    /// Topics to delete by name or id (v6+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<DeleteTopicState>,
    /// Names of the topics to delete (v0-v5, ignorable).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topic_names: Vec<String>,
    /// How long to wait for the deletions, in ms (v0+).
    pub timeout_ms: i32,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The outcome for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeletableTopicResult {
    /// Topic name (v0+, nullable v6+).
    pub name: Option<String>,
    /// Topic id (v6+, ignorable).
    pub topic_id: Uuid,
    /// Deletion error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// Error message, null when there is none (v5+, nullable, ignorable).
    pub error_message: Option<String>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The controller's answer to a [`DeleteTopicsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeleteTopicsResponse {
    /// Throttle time in ms (v1+, ignorable).
    pub throttle_time_ms: i32,
    /// One result per topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub responses: Vec<DeletableTopicResult>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for DeleteTopicsRequest {
    const API_KEY: ApiKey = ApiKey::DELETE_TOPICS;
    const VERSIONS: VersionRange = VersionRange::new(0, 6);
    const FLEXIBLE_FROM: Option<i16> = Some(4);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        if w.version() >= 6 {
            w.array(&self.topics, |w, t| {
                w.nullable_string(t.name.as_deref())?;
                w.uuid(&t.topic_id);
                w.unknown_tagged_fields(&t.unknown_tagged_fields)
            })?;
            w.absent("topic_names", self.topic_names.is_empty(), true)?;
        } else {
            w.absent("topics", self.topics.is_empty(), false)?;
            w.array(&self.topic_names, |w, n| w.string(n))?;
        }
        w.i32(self.timeout_ms);
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self::default();
        if version >= 6 {
            msg.topics = r.array(|r| {
                Ok(DeleteTopicState {
                    name: r.nullable_string()?,
                    topic_id: r.uuid()?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?;
        } else {
            msg.topic_names = r.array(Reader::string)?;
        }
        msg.timeout_ms = r.i32()?;
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

impl Request for DeleteTopicsRequest {
    type Response = DeleteTopicsResponse;
    const ROUTE: Route = Route::Controller;

    fn response_error(response: &Self::Response) -> ErrorCode {
        // A broker that is not the controller refuses every topic alike.
        match response
            .responses
            .iter()
            .find(|t| t.error_code == ErrorCode::NOT_CONTROLLER)
        {
            Some(t) => t.error_code,
            None => ErrorCode::NONE,
        }
    }
}

fn encode_result(w: &mut Writer<'_>, t: &DeletableTopicResult) -> Result<()> {
    let v = w.version();
    match &t.name {
        Some(name) => w.string(name)?,
        None if w.null_allowed("name", v >= 6)? => w.nullable_string(None)?,
        None => w.string("")?,
    }
    if v >= 6 {
        w.uuid(&t.topic_id);
    } else {
        w.absent("topic_id", t.topic_id.is_zero(), true)?;
    }
    w.i16(t.error_code.0);
    if v >= 5 {
        w.nullable_string(t.error_message.as_deref())?;
    } else {
        w.absent("error_message", t.error_message.is_none(), true)?;
    }
    w.unknown_tagged_fields(&t.unknown_tagged_fields)
}

fn decode_result(r: &mut Reader, version: i16) -> Result<DeletableTopicResult> {
    let mut t = DeletableTopicResult {
        name: if version >= 6 {
            r.nullable_string()?
        } else {
            Some(r.string()?)
        },
        ..DeletableTopicResult::default()
    };
    if version >= 6 {
        t.topic_id = r.uuid()?;
    }
    t.error_code = ErrorCode(r.i16()?);
    if version >= 5 {
        t.error_message = r.nullable_string()?;
    }
    t.unknown_tagged_fields = r.unknown_tagged_fields()?;
    Ok(t)
}

impl Message for DeleteTopicsResponse {
    const API_KEY: ApiKey = ApiKey::DELETE_TOPICS;
    const VERSIONS: VersionRange = VersionRange::new(0, 6);
    const FLEXIBLE_FROM: Option<i16> = Some(4);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        if w.version() >= 1 {
            w.i32(self.throttle_time_ms);
        } else {
            w.absent("throttle_time_ms", self.throttle_time_ms == 0, true)?;
        }
        w.array(&self.responses, encode_result)?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self::default();
        if version >= 1 {
            msg.throttle_time_ms = r.i32()?;
        }
        msg.responses = r.array(|r| decode_result(r, version))?;
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::check_roundtrip;
    use crate::protocol::ProtocolError;
    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<DeleteTopicsRequest>(), v in 0i16..=6) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<DeleteTopicsResponse>(), v in 0i16..=6) {
            check_roundtrip(&m, v)?;
        }

        /// Old versions lose nothing once fields they lack are at their defaults.
        #[test]
        fn response_roundtrip_old_versions(m in any::<DeleteTopicsResponse>(), v in 0i16..=5) {
            let responses = m.responses.into_iter().map(|t| DeletableTopicResult {
                name: Some(t.name.unwrap_or_default()),
                topic_id: Uuid::ZERO,
                error_code: t.error_code,
                error_message: if v >= 5 { t.error_message } else { None },
                unknown_tagged_fields: if v >= 4 { t.unknown_tagged_fields } else { TaggedFields::default() },
            });
            let m = DeleteTopicsResponse {
                throttle_time_ms: if v >= 1 { m.throttle_time_ms } else { 0 },
                responses: responses.collect(),
                unknown_tagged_fields: if v >= 4 { m.unknown_tagged_fields } else { TaggedFields::default() },
            };
            check_roundtrip(&m, v)?;
            let mut buf = BytesMut::new();
            m.encode(v, &mut buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(DeleteTopicsResponse::decode(buf.freeze(), v), Ok(m));
        }
    }

    fn encode<M: Message>(m: &M, v: i16) -> Vec<u8> {
        let mut buf = BytesMut::new();
        m.encode(v, &mut buf).expect("encode");
        buf.to_vec()
    }

    const ID: [u8; 16] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

    #[test]
    fn request_bytes_v1_names() {
        // int32 count 2, "a", "bc" (int16 lengths), timeout 30000 (0x7530).
        let wire: &[u8] = &[0, 0, 0, 2, 0, 1, b'a', 0, 2, b'b', b'c', 0, 0, 0x75, 0x30];
        let req = DeleteTopicsRequest {
            topic_names: vec!["a".into(), "bc".into()],
            timeout_ms: 30_000,
            ..Default::default()
        };
        assert_eq!(encode(&req, 1), wire);
        assert_eq!(
            DeleteTopicsRequest::decode(Bytes::from_static(wire), 1).expect("decode"),
            req
        );
    }

    #[test]
    fn request_bytes_v4_flexible_names() {
        // compact count 1+1, compact "a" (2, 'a'), timeout 1000, no tags.
        let wire: &[u8] = &[2, 2, b'a', 0, 0, 0x03, 0xe8, 0];
        let req = DeleteTopicsRequest {
            topic_names: vec!["a".into()],
            timeout_ms: 1000,
            ..Default::default()
        };
        assert_eq!(encode(&req, 4), wire);
        assert_eq!(
            DeleteTopicsRequest::decode(Bytes::from_static(wire), 4).expect("decode"),
            req
        );
    }

    #[test]
    fn request_bytes_v6_by_name_and_by_id() {
        // compact count 2+1; entry 1: "t" (2, 't'), zero id, no tags;
        // entry 2: null name (0), id, no tags; timeout 1000, no tags.
        let mut wire = vec![3, 2, b't'];
        wire.extend_from_slice(&[0; 16]);
        wire.extend_from_slice(&[0, 0]);
        wire.extend_from_slice(&ID);
        wire.extend_from_slice(&[0, 0, 0, 0x03, 0xe8, 0]);
        let req = DeleteTopicsRequest {
            topics: vec![
                DeleteTopicState {
                    name: Some("t".into()),
                    ..Default::default()
                },
                DeleteTopicState {
                    name: None,
                    topic_id: Uuid(ID),
                    ..Default::default()
                },
            ],
            timeout_ms: 1000,
            ..Default::default()
        };
        assert_eq!(encode(&req, 6), wire);
        assert_eq!(
            DeleteTopicsRequest::decode(Bytes::from(wire), 6).expect("decode"),
            req
        );
    }

    #[test]
    fn topics_list_fails_below_v6_and_names_are_dropped_from_v6() {
        let by_id = DeleteTopicsRequest {
            topics: vec![DeleteTopicState {
                topic_id: Uuid(ID),
                ..Default::default()
            }],
            ..Default::default()
        };
        let err = by_id.encode(5, &mut BytesMut::new());
        assert!(matches!(
            err,
            Err(ProtocolError::FieldNotSupported {
                field: "topics",
                version: 5
            })
        ));
        let by_name = DeleteTopicsRequest {
            topic_names: vec!["a".into()],
            ..Default::default()
        };
        // Ignorable: v6 writes an empty topics list, timeout 0, no tags.
        assert_eq!(encode(&by_name, 6), [1, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn response_bytes_v0() {
        // No throttle at v0; int32 count 1, "t", error 3.
        let wire: &[u8] = &[0, 0, 0, 1, 0, 1, b't', 0, 3];
        let resp = DeleteTopicsResponse {
            responses: vec![DeletableTopicResult {
                name: Some("t".into()),
                error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(encode(&resp, 0), wire);
        assert_eq!(
            DeleteTopicsResponse::decode(Bytes::from_static(wire), 0).expect("decode"),
            resp
        );
    }

    #[test]
    fn response_bytes_v6_null_name() {
        // throttle 5; compact count 1+1; null name (0), id, error 0,
        // message "x" (compact 2), no tags; no top-level tags.
        let mut wire = vec![0, 0, 0, 5, 2, 0];
        wire.extend_from_slice(&ID);
        wire.extend_from_slice(&[0, 0, 2, b'x', 0, 0]);
        let resp = DeleteTopicsResponse {
            throttle_time_ms: 5,
            responses: vec![DeletableTopicResult {
                name: None,
                topic_id: Uuid(ID),
                error_message: Some("x".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(encode(&resp, 6), wire);
        assert_eq!(
            DeleteTopicsResponse::decode(Bytes::from(wire), 6).expect("decode"),
            resp
        );
    }

    #[test]
    fn null_name_is_rejected_before_v6() {
        let resp = DeleteTopicsResponse {
            responses: vec![DeletableTopicResult::default()],
            ..Default::default()
        };
        assert!(resp.encode(5, &mut BytesMut::new()).is_err());
        // A v5 body with a null name (compact 0) is not accepted either.
        let wire = Bytes::from_static(&[0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            DeleteTopicsResponse::decode(wire, 5),
            Err(ProtocolError::UnexpectedNull)
        );
    }
}
