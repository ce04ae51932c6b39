//! CreateTopics response body.

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Result, TagWriter, TaggedFields, Uuid, VersionRange, Writer,
};

/// One configuration of a created topic, as the controller reports it (v5+).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CreatableTopicConfigs {
    /// Configuration key (v5+).
    pub name: String,
    /// Configuration value (v5+, nullable).
    pub value: Option<String>,
    /// Whether the configuration is read-only (v5+).
    pub read_only: bool,
    /// Where the value comes from; -1 when unknown (v5+).
    pub config_source: i8,
    /// Whether the value is sensitive (and so hidden) (v5+).
    pub is_sensitive: bool,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for CreatableTopicConfigs {
    fn default() -> Self {
        Self {
            name: String::new(),
            value: None,
            read_only: false,
            config_source: -1,
            is_sensitive: false,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// The outcome for one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CreatableTopicResult {
    /// Topic name (v0+).
    pub name: String,
    /// Topic id (v7+, ignorable).
    pub topic_id: Uuid,
    /// Creation error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// Error message, null when there is none (v1+, nullable, ignorable).
    pub error_message: Option<String>,
    /// Error describing the topic's configs when they are left out (v5+, tag 0, ignorable).
    pub topic_config_error_code: ErrorCode,
    /// Partition count of the topic; default -1 (v5+, ignorable).
    pub num_partitions: i32,
    /// Replication factor of the topic; default -1 (v5+, ignorable).
    pub replication_factor: i16,
    /// The topic's configurations (v5+, nullable, ignorable).
    ///
    /// The spec default (what versions before 5 decode to) is an empty list;
    /// `None` is the null the controller sends when it leaves them out.
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::option::of(crate::protocol::testing::list())")
    )]
    pub configs: Option<Vec<CreatableTopicConfigs>>,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for CreatableTopicResult {
    fn default() -> Self {
        Self {
            name: String::new(),
            topic_id: Uuid::ZERO,
            error_code: ErrorCode::NONE,
            error_message: None,
            topic_config_error_code: ErrorCode::NONE,
            num_partitions: -1,
            replication_factor: -1,
            configs: Some(Vec::new()),
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// The controller's answer to a [`CreateTopicsRequest`](super::CreateTopicsRequest).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CreateTopicsResponse {
    /// Throttle time in ms (v2+, ignorable).
    pub throttle_time_ms: i32,
    /// One result per topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<CreatableTopicResult>,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: TaggedFields,
}

fn encode_result_configs(
    w: &mut Writer<'_>,
    configs: Option<&[CreatableTopicConfigs]>,
) -> Result<()> {
    w.nullable_array(configs, |w, c| {
        w.string(&c.name)?;
        w.nullable_string(c.value.as_deref())?;
        w.bool(c.read_only);
        w.i8(c.config_source);
        w.bool(c.is_sensitive);
        w.unknown_tagged_fields(&c.unknown_tagged_fields)
    })
}

fn decode_result_configs(r: &mut Reader) -> Result<Option<Vec<CreatableTopicConfigs>>> {
    r.nullable_array(|r| {
        Ok(CreatableTopicConfigs {
            name: r.string()?,
            value: r.nullable_string()?,
            read_only: r.bool()?,
            config_source: r.i8()?,
            is_sensitive: r.bool()?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    })
}

fn encode_result(w: &mut Writer<'_>, t: &CreatableTopicResult) -> Result<()> {
    let v = w.version();
    w.string(&t.name)?;
    if v >= 7 {
        w.uuid(&t.topic_id);
    } else {
        w.absent("topic_id", t.topic_id.is_zero(), true)?;
    }
    w.i16(t.error_code.0);
    if v >= 1 {
        w.nullable_string(t.error_message.as_deref())?;
    } else {
        w.absent("error_message", t.error_message.is_none(), true)?;
    }
    if v < 5 {
        let untouched = t.topic_config_error_code == ErrorCode::NONE
            && t.num_partitions == -1
            && t.replication_factor == -1
            && t.configs.as_ref().is_some_and(Vec::is_empty);
        w.absent("topic description (v5+)", untouched, true)?;
        return w.unknown_tagged_fields(&t.unknown_tagged_fields);
    }
    w.i32(t.num_partitions);
    w.i16(t.replication_factor);
    encode_result_configs(w, t.configs.as_deref())?;
    let mut tags = TagWriter::new(&t.unknown_tagged_fields, w);
    if t.topic_config_error_code != ErrorCode::NONE {
        tags.field(0, |w| {
            w.i16(t.topic_config_error_code.0);
            Ok(())
        })?;
    }
    tags.finish(w)
}

fn decode_result(r: &mut Reader, version: i16) -> Result<CreatableTopicResult> {
    let mut t = CreatableTopicResult {
        name: r.string()?,
        ..CreatableTopicResult::default()
    };
    if version >= 7 {
        t.topic_id = r.uuid()?;
    }
    t.error_code = ErrorCode(r.i16()?);
    if version >= 1 {
        t.error_message = r.nullable_string()?;
    }
    if version >= 5 {
        t.num_partitions = r.i32()?;
        t.replication_factor = r.i16()?;
        t.configs = decode_result_configs(r)?;
    }
    let mut config_error = ErrorCode::NONE;
    t.unknown_tagged_fields = r.tagged_fields(|tag, f| match tag {
        0 => {
            config_error = ErrorCode(f.i16()?);
            Ok(true)
        }
        _ => Ok(false),
    })?;
    t.topic_config_error_code = config_error;
    Ok(t)
}

impl Message for CreateTopicsResponse {
    const API_KEY: ApiKey = ApiKey::CREATE_TOPICS;
    const VERSIONS: VersionRange = VersionRange::new(0, 7);
    const FLEXIBLE_FROM: Option<i16> = Some(5);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        if w.version() >= 2 {
            w.i32(self.throttle_time_ms);
        } else {
            w.absent("throttle_time_ms", self.throttle_time_ms == 0, true)?;
        }
        w.array(&self.topics, encode_result)?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self::default();
        if version >= 2 {
            msg.throttle_time_ms = r.i32()?;
        }
        msg.topics = r.array(|r| decode_result(r, version))?;
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::check_roundtrip;
    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn response_roundtrip(m in any::<CreateTopicsResponse>(), v in 0i16..=7) {
            check_roundtrip(&m, v)?;
        }

        /// Old versions lose nothing once the v5+ description is at its defaults.
        #[test]
        fn response_roundtrip_old_versions(m in any::<CreateTopicsResponse>(), v in 0i16..=4) {
            let topics = m.topics.into_iter().map(|t| CreatableTopicResult {
                name: t.name,
                error_code: t.error_code,
                error_message: if v >= 1 { t.error_message } else { None },
                ..CreatableTopicResult::default()
            });
            let m = CreateTopicsResponse {
                throttle_time_ms: if v >= 2 { m.throttle_time_ms } else { 0 },
                topics: topics.collect(),
                unknown_tagged_fields: TaggedFields::default(),
            };
            check_roundtrip(&m, v)?;
            let mut buf = BytesMut::new();
            m.encode(v, &mut buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(CreateTopicsResponse::decode(buf.freeze(), v), Ok(m));
        }
    }

    fn encode<M: Message>(m: &M, v: i16) -> Vec<u8> {
        let mut buf = BytesMut::new();
        m.encode(v, &mut buf).expect("encode");
        buf.to_vec()
    }

    #[test]
    fn response_bytes_v0_and_v1() {
        let result = CreatableTopicResult {
            name: "t".into(),
            error_code: ErrorCode(36),
            ..Default::default()
        };
        let resp = CreateTopicsResponse {
            topics: vec![result.clone()],
            ..Default::default()
        };
        // v0: one topic, "t", error 36; no throttle, no message.
        let v0: &[u8] = &[0, 0, 0, 1, 0, 1, b't', 0, 36];
        assert_eq!(encode(&resp, 0), v0);
        assert_eq!(
            CreateTopicsResponse::decode(Bytes::from_static(v0), 0).expect("decode v0"),
            resp
        );
        // v1 adds the message: "m" here.
        let resp = CreateTopicsResponse {
            topics: vec![CreatableTopicResult {
                error_message: Some("m".into()),
                ..result
            }],
            ..Default::default()
        };
        let v1: &[u8] = &[0, 0, 0, 1, 0, 1, b't', 0, 36, 0, 1, b'm'];
        assert_eq!(encode(&resp, 1), v1);
        assert_eq!(
            CreateTopicsResponse::decode(Bytes::from_static(v1), 1).expect("decode v1"),
            resp
        );
    }

    #[test]
    fn response_bytes_v5_config_error_tag() {
        let wire: &[u8] = &[
            0, 0, 0, 0, // throttle
            2, // one topic
            2, b't', // name
            0, 0, // error
            0, // null message
            0, 0, 0, 3, // num_partitions 3
            0, 2, // replication_factor 2
            0, // null configs
            1, 0, 2, 0, 29, // tags: tag 0, size 2, topic_config_error_code 29
            0,  // response tags
        ];
        let resp = CreateTopicsResponse {
            topics: vec![CreatableTopicResult {
                name: "t".into(),
                num_partitions: 3,
                replication_factor: 2,
                configs: None,
                topic_config_error_code: ErrorCode::TOPIC_AUTHORIZATION_FAILED,
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(encode(&resp, 5), wire);
        assert_eq!(
            CreateTopicsResponse::decode(Bytes::from_static(wire), 5).expect("decode"),
            resp
        );
    }

    #[test]
    fn response_bytes_v7_topic_id_and_configs() {
        let id = [7u8; 16];
        let mut wire = vec![0, 0, 0, 9, 2, 2, b't'];
        wire.extend_from_slice(&id);
        wire.extend_from_slice(&[
            0, 0, // error
            0, // null message
            0, 0, 0, 1, // num_partitions 1
            0, 1, // replication_factor 1
            2, // one config
            2, b'k', // name
            2, b'v', // value
            1,    // read_only
            5,    // config_source
            0,    // is_sensitive
            0,    // config tags
            0,    // topic tags
            0,    // response tags
        ]);
        let resp = CreateTopicsResponse {
            throttle_time_ms: 9,
            topics: vec![CreatableTopicResult {
                name: "t".into(),
                topic_id: Uuid(id),
                num_partitions: 1,
                replication_factor: 1,
                configs: Some(vec![CreatableTopicConfigs {
                    name: "k".into(),
                    value: Some("v".into()),
                    read_only: true,
                    config_source: 5,
                    is_sensitive: false,
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(encode(&resp, 7), wire);
        assert_eq!(
            CreateTopicsResponse::decode(Bytes::from(wire), 7).expect("decode"),
            resp
        );
    }

    #[test]
    fn v4_decodes_spec_defaults_and_drops_v5_fields() {
        // throttle 0, one topic "t", error 0, null message.
        let wire: &[u8] = &[0, 0, 0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0xff, 0xff];
        let resp = CreateTopicsResponse::decode(Bytes::from_static(wire), 4).expect("decode");
        let topic = resp.topics.first().expect("one topic");
        assert_eq!(topic.num_partitions, -1);
        assert_eq!(topic.replication_factor, -1);
        assert_eq!(topic.configs, Some(Vec::new()));
        assert_eq!(topic.topic_config_error_code, ErrorCode::NONE);
        // The v5+ description is ignorable: a v4 encode drops it.
        let described = CreateTopicsResponse {
            topics: vec![CreatableTopicResult {
                name: "t".into(),
                num_partitions: 3,
                topic_config_error_code: ErrorCode(29),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(encode(&described, 4), wire);
    }
}
