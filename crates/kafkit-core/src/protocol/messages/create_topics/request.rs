//! CreateTopics request body.

use super::CreateTopicsResponse;
use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, VersionRange, Writer,
};

/// A manual placement of one partition's replicas.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CreatableReplicaAssignment {
    /// Partition index (v0+).
    pub partition_index: i32,
    /// Brokers holding the replicas, preferred leader first (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub broker_ids: Vec<i32>,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One topic configuration to set at creation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CreatableTopicConfig {
    /// Configuration key, e.g. `cleanup.policy` (v0+).
    pub name: String,
    /// Configuration value (v0+, nullable).
    pub value: Option<String>,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One topic to create.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CreatableTopic {
    /// Topic name (v0+).
    pub name: String,
    /// Partition count; -1 with manual assignments or for the broker default (v0+).
    pub num_partitions: i32,
    /// Replication factor; -1 with manual assignments or for the broker default (v0+).
    pub replication_factor: i16,
    /// Manual replica placement, empty for automatic placement (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub assignments: Vec<CreatableReplicaAssignment>,
    /// Topic configurations to set (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub configs: Vec<CreatableTopicConfig>,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Asks the controller to create topics.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CreateTopicsRequest {
    /// Topics to create (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<CreatableTopic>,
    /// How long the controller may take, in ms; default 60000 (v0+).
    pub timeout_ms: i32,
    /// Only check that the topics could be created (v1+).
    pub validate_only: bool,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for CreateTopicsRequest {
    fn default() -> Self {
        Self {
            topics: Vec::new(),
            timeout_ms: 60_000,
            validate_only: false,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

fn encode_topic(w: &mut Writer<'_>, t: &CreatableTopic) -> Result<()> {
    w.string(&t.name)?;
    w.i32(t.num_partitions);
    w.i16(t.replication_factor);
    w.array(&t.assignments, |w, a| {
        w.i32(a.partition_index);
        w.i32_array(&a.broker_ids)?;
        w.unknown_tagged_fields(&a.unknown_tagged_fields)
    })?;
    w.array(&t.configs, |w, c| {
        w.string(&c.name)?;
        w.nullable_string(c.value.as_deref())?;
        w.unknown_tagged_fields(&c.unknown_tagged_fields)
    })?;
    w.unknown_tagged_fields(&t.unknown_tagged_fields)
}

fn decode_topic(r: &mut Reader) -> Result<CreatableTopic> {
    Ok(CreatableTopic {
        name: r.string()?,
        num_partitions: r.i32()?,
        replication_factor: r.i16()?,
        assignments: r.array(|r| {
            Ok(CreatableReplicaAssignment {
                partition_index: r.i32()?,
                broker_ids: r.i32_array()?,
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?,
        configs: r.array(|r| {
            Ok(CreatableTopicConfig {
                name: r.string()?,
                value: r.nullable_string()?,
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?,
        unknown_tagged_fields: r.unknown_tagged_fields()?,
    })
}

impl Message for CreateTopicsRequest {
    const API_KEY: ApiKey = ApiKey::CREATE_TOPICS;
    const VERSIONS: VersionRange = VersionRange::new(0, 7);
    const FLEXIBLE_FROM: Option<i16> = Some(5);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.array(&self.topics, encode_topic)?;
        w.i32(self.timeout_ms);
        if w.version() >= 1 {
            w.bool(self.validate_only);
        } else {
            w.absent("validate_only", !self.validate_only, false)?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self {
            topics: r.array(decode_topic)?,
            timeout_ms: r.i32()?,
            ..Self::default()
        };
        if version >= 1 {
            msg.validate_only = r.bool()?;
        }
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

impl Request for CreateTopicsRequest {
    type Response = CreateTopicsResponse;
    const ROUTE: Route = Route::Controller;

    fn response_error(response: &Self::Response) -> ErrorCode {
        // A broker that is not the controller refuses every topic alike.
        match response
            .topics
            .iter()
            .find(|t| t.error_code == ErrorCode::NOT_CONTROLLER)
        {
            Some(t) => t.error_code,
            None => ErrorCode::NONE,
        }
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
        fn request_roundtrip(m in any::<CreateTopicsRequest>(), v in 0i16..=7) {
            check_roundtrip(&m, v)?;
        }
    }

    fn encode<M: Message>(m: &M, v: i16) -> Vec<u8> {
        let mut buf = BytesMut::new();
        m.encode(v, &mut buf).expect("encode");
        buf.to_vec()
    }

    fn request(value: Option<&str>, validate_only: bool) -> CreateTopicsRequest {
        CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: "t".into(),
                num_partitions: -1,
                replication_factor: -1,
                assignments: vec![CreatableReplicaAssignment {
                    partition_index: 0,
                    broker_ids: vec![1, 2],
                    ..Default::default()
                }],
                configs: vec![CreatableTopicConfig {
                    name: "k".into(),
                    value: value.map(str::to_owned),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            validate_only,
            ..Default::default()
        }
    }

    #[test]
    fn request_bytes_v0() {
        let wire: &[u8] = &[
            0, 0, 0, 1, // one topic
            0, 1, b't', // name
            0xff, 0xff, 0xff, 0xff, // num_partitions -1
            0xff, 0xff, // replication_factor -1
            0, 0, 0, 1, // one assignment
            0, 0, 0, 0, // partition 0
            0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, // brokers [1, 2]
            0, 0, 0, 1, // one config
            0, 1, b'k', // name
            0xff, 0xff, // null value
            0, 0, 0xea, 0x60, // timeout 60000 (the default); no validate_only at v0
        ];
        let req = request(None, false);
        assert_eq!(encode(&req, 0), wire);
        assert_eq!(
            CreateTopicsRequest::decode(Bytes::from_static(wire), 0).expect("decode"),
            req
        );
    }

    #[test]
    fn request_bytes_v5_flexible() {
        let wire: &[u8] = &[
            2, // one topic (compact)
            2, b't', // name
            0xff, 0xff, 0xff, 0xff, // num_partitions -1
            0xff, 0xff, // replication_factor -1
            2,    // one assignment
            0, 0, 0, 0, // partition 0
            3, 0, 0, 0, 1, 0, 0, 0, 2, // brokers [1, 2]
            0, // assignment tags
            2, // one config
            2, b'k', 2, b'v', // name, value
            0,    // config tags
            0,    // topic tags
            0, 0, 0xea, 0x60, // timeout 60000
            1,    // validate_only
            0,    // request tags
        ];
        let req = request(Some("v"), true);
        assert_eq!(encode(&req, 5), wire);
        assert_eq!(
            CreateTopicsRequest::decode(Bytes::from_static(wire), 5).expect("decode"),
            req
        );
    }

    #[test]
    fn validate_only_is_not_ignorable_at_v0() {
        let err = request(None, true).encode(0, &mut BytesMut::new());
        assert_eq!(
            err,
            Err(ProtocolError::FieldNotSupported {
                field: "validate_only",
                version: 0
            })
        );
    }
}
