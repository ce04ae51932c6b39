//! FindCoordinator (key 10): which broker coordinates a group or transaction.
//!
//! Versions 0-3 look up a single key and answer with a single coordinator;
//! from v4 the request carries a batch of keys and the response one entry
//! per key. The two shapes are distinct fields here, as on the wire: fill
//! `key` for v0-3 and `coordinator_keys` for v4+ (encoding the other one
//! with a value is an error).
//!
//! Spec: KIP-98 (key type, v1), KIP-482 (flexible, v3), KIP-699 (batching, v4),
//! KIP-890 (v5), KIP-932 (share groups, v6).

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, VersionRange, Writer,
};

/// `key_type` of a consumer group.
pub const KEY_TYPE_GROUP: i8 = 0;
/// `key_type` of a transactional id.
pub const KEY_TYPE_TRANSACTION: i8 = 1;
/// `key_type` of a share group (v6+).
pub const KEY_TYPE_SHARE: i8 = 2;

/// Asks for the coordinator of one key (v0-3) or several keys (v4+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct FindCoordinatorRequest {
    /// The key: group id or transactional id (v0-v3).
    pub key: String,
    /// What the key names, see `KEY_TYPE_*` (v1+; v0 only knows groups).
    pub key_type: i8,
    /// The keys, all of `key_type` (v4+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub coordinator_keys: Vec<String>,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The coordinator of one key (v4+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct Coordinator {
    /// The key this entry answers (v4+).
    pub key: String,
    /// Coordinator broker id (v4+).
    pub node_id: i32,
    /// Coordinator host (v4+).
    pub host: String,
    /// Coordinator port (v4+).
    pub port: i32,
    /// Error for this key, `NONE` on success (v4+).
    pub error_code: ErrorCode,
    /// Error message, `None` when there is none (v4+, nullable).
    pub error_message: Option<String>,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: TaggedFields,
}

/// Where the coordinator(s) are.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct FindCoordinatorResponse {
    /// Throttle time in ms (v1+, ignorable).
    pub throttle_time_ms: i32,
    /// Error, `NONE` on success (v0-v3).
    pub error_code: ErrorCode,
    /// Error message (v1-v3, nullable, ignorable).
    pub error_message: Option<String>,
    /// Coordinator broker id (v0-v3).
    pub node_id: i32,
    /// Coordinator host (v0-v3).
    pub host: String,
    /// Coordinator port (v0-v3).
    pub port: i32,
    /// One entry per requested key (v4+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub coordinators: Vec<Coordinator>,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for FindCoordinatorRequest {
    const API_KEY: ApiKey = ApiKey::FIND_COORDINATOR;
    const VERSIONS: VersionRange = VersionRange::new(0, 6);
    const FLEXIBLE_FROM: Option<i16> = Some(3);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        if v <= 3 {
            w.string(&self.key)?;
        } else {
            w.absent("key", self.key.is_empty(), false)?;
        }
        if v >= 1 {
            w.i8(self.key_type);
        } else {
            w.absent("key_type", self.key_type == 0, false)?;
        }
        if v >= 4 {
            w.array(&self.coordinator_keys, |w, k| w.string(k))?;
        } else {
            w.absent("coordinator_keys", self.coordinator_keys.is_empty(), false)?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self::default();
        if version <= 3 {
            msg.key = r.string()?;
        }
        if version >= 1 {
            msg.key_type = r.i8()?;
        }
        if version >= 4 {
            msg.coordinator_keys = r.array(Reader::string)?;
        }
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

impl FindCoordinatorRequest {
    /// The request looking up `key` (of `key_type`, see `KEY_TYPE_*`) in
    /// the shape `version` needs: the single `key` before v4, a batch of one
    /// in `coordinator_keys` from v4. The one place that builds either
    /// shape; [`FindCoordinatorResponse::coordinator_for`] reads both back.
    pub fn for_key(key_type: i8, key: &str, version: i16) -> Self {
        let mut req = Self {
            key_type,
            ..Self::default()
        };
        if version >= 4 {
            req.coordinator_keys = vec![key.to_owned()];
        } else {
            req.key = key.to_owned();
        }
        req
    }
}

impl Request for FindCoordinatorRequest {
    type Response = FindCoordinatorResponse;
    const ROUTE: Route = Route::AnyBroker;
}

impl Coordinator {
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.string(&self.key)?;
        w.i32(self.node_id);
        w.string(&self.host)?;
        w.i32(self.port);
        w.i16(self.error_code.0);
        w.nullable_string(self.error_message.as_deref())?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode(r: &mut Reader) -> Result<Self> {
        Ok(Self {
            key: r.string()?,
            node_id: r.i32()?,
            host: r.string()?,
            port: r.i32()?,
            error_code: ErrorCode(r.i16()?),
            error_message: r.nullable_string()?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

/// One key's coordinator as [`FindCoordinatorResponse::coordinator_for`]
/// reads it, whatever the version answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCoordinator {
    /// `NONE` when the coordinator is known.
    pub error_code: ErrorCode,
    /// The broker's message, if any.
    pub error_message: Option<String>,
    /// Coordinator broker id (meaningful when `error_code` is `NONE`).
    pub node_id: i32,
    /// Coordinator host.
    pub host: String,
    /// Coordinator port.
    pub port: i32,
}

impl FindCoordinatorResponse {
    /// The coordinator of `key`: from a batched (v4+) response, the entry for
    /// `key`; from a single-key (v0-v3) response, the top-level fields. The
    /// one place that tells the two shapes apart, for every caller.
    ///
    /// A batched response with no entry for `key`, and an answer without an
    /// error that names no usable broker (negative id or empty host), read as
    /// `COORDINATOR_NOT_AVAILABLE` (retriable): the coordinator is not
    /// elected yet.
    pub fn coordinator_for(&self, key: &str) -> KeyCoordinator {
        let found = if self.coordinators.is_empty() {
            KeyCoordinator {
                error_code: self.error_code,
                error_message: self.error_message.clone(),
                node_id: self.node_id,
                host: self.host.clone(),
                port: self.port,
            }
        } else {
            match self.coordinators.iter().find(|c| c.key == key) {
                Some(c) => KeyCoordinator {
                    error_code: c.error_code,
                    error_message: c.error_message.clone(),
                    node_id: c.node_id,
                    host: c.host.clone(),
                    port: c.port,
                },
                None => KeyCoordinator {
                    error_code: ErrorCode::COORDINATOR_NOT_AVAILABLE,
                    error_message: None,
                    node_id: -1,
                    host: String::new(),
                    port: 0,
                },
            }
        };
        if found.error_code.is_ok() && (found.node_id < 0 || found.host.is_empty()) {
            return KeyCoordinator {
                error_code: ErrorCode::COORDINATOR_NOT_AVAILABLE,
                ..found
            };
        }
        found
    }

    fn encode_single(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        if v > 3 {
            let untouched = self.error_code == ErrorCode::NONE
                && self.node_id == 0
                && self.host.is_empty()
                && self.port == 0;
            w.absent("error_code/node_id/host/port", untouched, false)?;
            return w.absent("error_message", self.error_message.is_none(), true);
        }
        w.i16(self.error_code.0);
        if v >= 1 {
            w.nullable_string(self.error_message.as_deref())?;
        } else {
            w.absent("error_message", self.error_message.is_none(), true)?;
        }
        w.i32(self.node_id);
        w.string(&self.host)?;
        w.i32(self.port);
        Ok(())
    }
}

impl Message for FindCoordinatorResponse {
    const API_KEY: ApiKey = ApiKey::FIND_COORDINATOR;
    const VERSIONS: VersionRange = VersionRange::new(0, 6);
    const FLEXIBLE_FROM: Option<i16> = Some(3);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        if v >= 1 {
            w.i32(self.throttle_time_ms);
        } else {
            w.absent("throttle_time_ms", self.throttle_time_ms == 0, true)?;
        }
        self.encode_single(w)?;
        if v >= 4 {
            w.array(&self.coordinators, |w, c| c.encode(w))?;
        } else {
            w.absent("coordinators", self.coordinators.is_empty(), false)?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self::default();
        if version >= 1 {
            msg.throttle_time_ms = r.i32()?;
        }
        if version <= 3 {
            msg.error_code = ErrorCode(r.i16()?);
            if version >= 1 {
                msg.error_message = r.nullable_string()?;
            }
            msg.node_id = r.i32()?;
            msg.host = r.string()?;
            msg.port = r.i32()?;
        } else {
            msg.coordinators = r.array(Coordinator::decode)?;
        }
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::check_roundtrip;
    use crate::protocol::testing::encoded;
    use crate::protocol::ProtocolError;
    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;

    fn entry(key: &str, node_id: i32, code: ErrorCode) -> Coordinator {
        Coordinator {
            key: key.into(),
            node_id,
            host: format!("b{node_id}"),
            port: 9092,
            error_code: code,
            error_message: None,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }

    #[test]
    fn coordinator_for_reads_both_shapes() {
        let single = FindCoordinatorResponse {
            node_id: 3,
            host: "b3".into(),
            port: 9092,
            ..Default::default()
        };
        let c = single.coordinator_for("g");
        assert_eq!(
            (c.error_code, c.node_id, c.host.as_str()),
            (ErrorCode::NONE, 3, "b3")
        );

        let batched = FindCoordinatorResponse {
            coordinators: vec![
                entry("other", 1, ErrorCode::NONE),
                entry("g", 2, ErrorCode::NONE),
            ],
            ..Default::default()
        };
        let c = batched.coordinator_for("g");
        assert_eq!(
            (c.error_code, c.node_id, c.port),
            (ErrorCode::NONE, 2, 9092)
        );
        // A batched answer never falls back to the (unset) top-level fields.
        let c = batched.coordinator_for("missing");
        assert_eq!(c.error_code, ErrorCode::COORDINATOR_NOT_AVAILABLE);
    }

    #[test]
    fn coordinator_for_refuses_unusable_answers() {
        let failed = FindCoordinatorResponse {
            coordinators: vec![entry("g", -1, ErrorCode::GROUP_AUTHORIZATION_FAILED)],
            ..Default::default()
        };
        let c = failed.coordinator_for("g");
        assert_eq!(c.error_code, ErrorCode::GROUP_AUTHORIZATION_FAILED);
        let no_node = FindCoordinatorResponse {
            node_id: -1,
            ..Default::default()
        };
        assert_eq!(
            no_node.coordinator_for("g").error_code,
            ErrorCode::COORDINATOR_NOT_AVAILABLE
        );
        let v4_empty = FindCoordinatorResponse::default();
        assert_eq!(
            v4_empty.coordinator_for("g").error_code,
            ErrorCode::COORDINATOR_NOT_AVAILABLE
        );
    }

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<FindCoordinatorRequest>(), v in 0i16..=6) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<FindCoordinatorResponse>(), v in 0i16..=6) {
            check_roundtrip(&m, v)?;
        }

        /// Messages holding only what a version carries survive exactly.
        #[test]
        fn version_shaped_roundtrip(
            q in any::<FindCoordinatorRequest>(),
            p in any::<FindCoordinatorResponse>(),
            v in 0i16..=6,
        ) {
            let q = request_at(q, v);
            check_roundtrip(&q, v)?;
            prop_assert_eq!(FindCoordinatorRequest::decode(encoded(&q, v).into(), v), Ok(q));
            let p = response_at(p, v);
            check_roundtrip(&p, v)?;
            prop_assert_eq!(FindCoordinatorResponse::decode(encoded(&p, v).into(), v), Ok(p));
        }
    }

    /// Resets what version `v` lacks, restating the spec's version ranges.
    fn request_at(mut m: FindCoordinatorRequest, v: i16) -> FindCoordinatorRequest {
        if v >= 4 {
            m.key.clear();
        } else {
            m.coordinator_keys.clear();
        }
        if v < 1 {
            m.key_type = 0;
        }
        if v < 3 {
            m.unknown_tagged_fields = TaggedFields::default();
        }
        m
    }

    fn response_at(mut m: FindCoordinatorResponse, v: i16) -> FindCoordinatorResponse {
        if v < 1 {
            m.throttle_time_ms = 0;
        }
        if !(1..=3).contains(&v) {
            m.error_message = None;
        }
        if v >= 4 {
            m.error_code = ErrorCode::NONE;
            m.node_id = 0;
            m.host.clear();
            m.port = 0;
        } else {
            m.coordinators.clear();
        }
        if v < 3 {
            m.unknown_tagged_fields = TaggedFields::default();
        }
        m
    }

    #[test]
    fn request_v1_bytes() {
        // key "g1" (int16 length), key type 0.
        let bytes: &[u8] = &[0, 2, b'g', b'1', 0];
        let m = FindCoordinatorRequest {
            key: "g1".into(),
            ..Default::default()
        };
        assert_eq!(encoded(&m, 1), bytes);
        assert_eq!(
            FindCoordinatorRequest::decode(Bytes::from_static(bytes), 1),
            Ok(m)
        );
    }

    #[test]
    fn request_v3_and_v4_bytes() {
        // v3: compact key "tx" (len+1 = 3), key type 1, no tagged fields.
        let v3: &[u8] = &[3, b't', b'x', 1, 0];
        let single = FindCoordinatorRequest {
            key: "tx".into(),
            key_type: KEY_TYPE_TRANSACTION,
            ..Default::default()
        };
        assert_eq!(encoded(&single, 3), v3);
        assert_eq!(
            FindCoordinatorRequest::decode(Bytes::from_static(v3), 3),
            Ok(single)
        );
        // v4: key type 0, compact array of 2 keys ("a", "bc"), no tagged fields.
        let v4: &[u8] = &[0, 3, 2, b'a', 3, b'b', b'c', 0];
        let batch = FindCoordinatorRequest {
            coordinator_keys: vec!["a".into(), "bc".into()],
            ..Default::default()
        };
        assert_eq!(encoded(&batch, 4), v4);
        assert_eq!(
            FindCoordinatorRequest::decode(Bytes::from_static(v4), 4),
            Ok(batch.clone())
        );
        // The batch has no v3 form and the single key no v4 form.
        assert!(matches!(
            batch.encode(3, &mut BytesMut::new()),
            Err(ProtocolError::FieldNotSupported { .. })
        ));
        let single_at_v4 = FindCoordinatorRequest {
            key: "x".into(),
            ..Default::default()
        };
        assert!(single_at_v4.encode(4, &mut BytesMut::new()).is_err());
    }

    #[test]
    fn response_v0_bytes() {
        // error 15, node 1, host "h", port 9092.
        let bytes: &[u8] = &[0, 15, 0, 0, 0, 1, 0, 1, b'h', 0, 0, 0x23, 0x84];
        let m = FindCoordinatorResponse {
            error_code: ErrorCode::COORDINATOR_NOT_AVAILABLE,
            node_id: 1,
            host: "h".into(),
            port: 9092,
            ..Default::default()
        };
        assert_eq!(encoded(&m, 0), bytes);
        assert_eq!(
            FindCoordinatorResponse::decode(Bytes::from_static(bytes), 0),
            Ok(m)
        );
    }

    #[test]
    fn response_v2_null_error_message_bytes() {
        // throttle 0, error 0, error message null (int16 -1), node 2, host "b", port 1.
        let bytes: &[u8] = &[
            0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 2, 0, 1, b'b', 0, 0, 0, 1,
        ];
        let m = FindCoordinatorResponse {
            node_id: 2,
            host: "b".into(),
            port: 1,
            ..Default::default()
        };
        assert_eq!(encoded(&m, 2), bytes);
        assert_eq!(
            FindCoordinatorResponse::decode(Bytes::from_static(bytes), 2),
            Ok(m)
        );
    }

    #[test]
    fn response_v4_bytes() {
        // throttle 5, compact array of 1: key "g", node 3, host "h", port 9092,
        // error 0, message null (0), entry tags (0); top-level tags (0).
        let bytes: &[u8] = &[
            0, 0, 0, 5, 2, 2, b'g', 0, 0, 0, 3, 2, b'h', 0, 0, 0x23, 0x84, 0, 0, 0, 0, 0,
        ];
        let m = FindCoordinatorResponse {
            throttle_time_ms: 5,
            coordinators: vec![Coordinator {
                key: "g".into(),
                node_id: 3,
                host: "h".into(),
                port: 9092,
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(encoded(&m, 4), bytes);
        assert_eq!(
            FindCoordinatorResponse::decode(Bytes::from_static(bytes), 4),
            Ok(m)
        );
    }
}
