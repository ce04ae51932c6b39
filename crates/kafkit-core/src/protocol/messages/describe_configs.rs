//! DescribeConfigs (key 32): the configuration of topics, brokers and other
//! resources, with where each value comes from.
//!
//! kafkit implements v1–v4: v1 adds the synonyms (every source that sets a
//! key, in precedence order) and each entry's source, replacing v0's
//! `is_default`; v3 adds the type and the documentation; v4 is the first
//! flexible version. Kafka 4 no longer answers v0. A topic's configuration
//! can be asked of any broker; a broker's only of that broker.
//!
//! Spec: `DescribeConfigsRequest.json` / `DescribeConfigsResponse.json`,
//! KIP-133 (describe configs), KIP-226 (synonyms and sources).

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(1, 4);
const FLEXIBLE_FROM: Option<i16> = Some(4);

/// Resource type of a topic (`ConfigResource.Type.TOPIC`).
pub const RESOURCE_TOPIC: i8 = 2;
/// Resource type of a broker (`ConfigResource.Type.BROKER`; its name is the node id).
pub const RESOURCE_BROKER: i8 = 4;
/// Resource type of a broker's loggers.
pub const RESOURCE_BROKER_LOGGER: i8 = 8;

/// Asks for the configuration of some resources.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeConfigsRequest {
    /// The resources to describe (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub resources: Vec<DescribeConfigsResource>,
    /// Whether to list each entry's synonyms (v1+).
    pub include_synonyms: bool,
    /// Whether to include each entry's documentation (v3+).
    pub include_documentation: bool,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One resource of a [`DescribeConfigsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeConfigsResource {
    /// Resource type ([`RESOURCE_TOPIC`], [`RESOURCE_BROKER`], ...) (v1+).
    pub resource_type: i8,
    /// Resource name: the topic, or the broker's node id (v1+).
    pub resource_name: String,
    /// Keys to describe; `None` describes every key (v1+).
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::option::of(crate::protocol::testing::list())")
    )]
    pub configuration_keys: Option<Vec<String>>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The configuration of each resource asked about.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeConfigsResponse {
    /// Throttle time in ms (v1+).
    pub throttle_time_ms: i32,
    /// One result per resource (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub results: Vec<DescribeConfigsResult>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One resource's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeConfigsResult {
    /// Error for this resource, `NONE` on success (v1+).
    pub error_code: ErrorCode,
    /// The broker's message for the error (v1+).
    pub error_message: Option<String>,
    /// Resource type (v1+).
    pub resource_type: i8,
    /// Resource name (v1+).
    pub resource_name: String,
    /// The entries (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub configs: Vec<DescribeConfigsEntry>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One configuration entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeConfigsEntry {
    /// The key (v1+).
    pub name: String,
    /// The value; `None` for sensitive entries and unset keys (v1+).
    pub value: Option<String>,
    /// Whether it cannot be altered (v1+).
    pub read_only: bool,
    /// Where the value comes from (`ConfigSource`: 1 dynamic topic, 2 dynamic
    /// broker, 3 dynamic cluster default, 4 static broker, 5 default, ...) (v1+).
    pub config_source: i8,
    /// Whether the value is sensitive (and so not sent) (v1+).
    pub is_sensitive: bool,
    /// Every source that sets this key, highest precedence first (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub synonyms: Vec<DescribeConfigsSynonym>,
    /// The value's type (1 boolean, 2 string, 3 int, ...) (v3+, ignorable).
    pub config_type: i8,
    /// The key's documentation (v3+, ignorable).
    pub documentation: Option<String>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One synonym of a [`DescribeConfigsEntry`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeConfigsSynonym {
    /// The key as this source names it (v1+).
    pub name: String,
    /// The value at this source (v1+).
    pub value: Option<String>,
    /// The source (v1+).
    pub source: i8,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for DescribeConfigsRequest {
    const API_KEY: ApiKey = ApiKey::DESCRIBE_CONFIGS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.array(&self.resources, |w, r| {
            w.i8(r.resource_type);
            w.string(&r.resource_name)?;
            w.nullable_array(r.configuration_keys.as_deref(), |w, k| w.string(k))?;
            w.unknown_tagged_fields(&r.unknown_tagged_fields)
        })?;
        w.bool(self.include_synonyms);
        if w.version() >= 3 {
            w.bool(self.include_documentation);
        } else {
            w.absent("include_documentation", !self.include_documentation, false)?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let resources = r.array(|r| {
            Ok(DescribeConfigsResource {
                resource_type: r.i8()?,
                resource_name: r.string()?,
                configuration_keys: r.nullable_array(Reader::string)?,
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?;
        Ok(Self {
            resources,
            include_synonyms: r.bool()?,
            include_documentation: if version >= 3 { r.bool()? } else { false },
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for DescribeConfigsRequest {
    type Response = DescribeConfigsResponse;
    const ROUTE: Route = Route::AnyBroker;
}

fn encode_entry(w: &mut Writer<'_>, c: &DescribeConfigsEntry) -> Result<()> {
    w.string(&c.name)?;
    w.nullable_string(c.value.as_deref())?;
    w.bool(c.read_only);
    w.i8(c.config_source);
    w.bool(c.is_sensitive);
    w.array(&c.synonyms, |w, s| {
        w.string(&s.name)?;
        w.nullable_string(s.value.as_deref())?;
        w.i8(s.source);
        w.unknown_tagged_fields(&s.unknown_tagged_fields)
    })?;
    if w.version() >= 3 {
        w.i8(c.config_type);
        w.nullable_string(c.documentation.as_deref())?;
    } else {
        w.absent("config_type", c.config_type == 0, true)?;
        w.absent("documentation", c.documentation.is_none(), true)?;
    }
    w.unknown_tagged_fields(&c.unknown_tagged_fields)
}

fn decode_entry(r: &mut Reader, version: i16) -> Result<DescribeConfigsEntry> {
    let mut c = DescribeConfigsEntry {
        name: r.string()?,
        value: r.nullable_string()?,
        read_only: r.bool()?,
        config_source: r.i8()?,
        is_sensitive: r.bool()?,
        synonyms: r.array(|r| {
            Ok(DescribeConfigsSynonym {
                name: r.string()?,
                value: r.nullable_string()?,
                source: r.i8()?,
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?,
        ..Default::default()
    };
    if version >= 3 {
        c.config_type = r.i8()?;
        c.documentation = r.nullable_string()?;
    }
    c.unknown_tagged_fields = r.unknown_tagged_fields()?;
    Ok(c)
}

impl Message for DescribeConfigsResponse {
    const API_KEY: ApiKey = ApiKey::DESCRIBE_CONFIGS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.array(&self.results, |w, r| {
            w.i16(r.error_code.0);
            w.nullable_string(r.error_message.as_deref())?;
            w.i8(r.resource_type);
            w.string(&r.resource_name)?;
            w.array(&r.configs, encode_entry)?;
            w.unknown_tagged_fields(&r.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            results: r.array(|r| {
                Ok(DescribeConfigsResult {
                    error_code: ErrorCode(r.i16()?),
                    error_message: r.nullable_string()?,
                    resource_type: r.i8()?,
                    resource_name: r.string()?,
                    configs: r.array(|r| decode_entry(r, version))?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::{check_roundtrip, encoded};
    use crate::protocol::ProtocolError;
    use bytes::Bytes;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<DescribeConfigsRequest>(), v in 1i16..=4) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<DescribeConfigsResponse>(), v in 1i16..=4) {
            check_roundtrip(&m, v)?;
        }

        /// Arbitrary bytes never panic the decoders.
        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64), v in 1i16..=4) {
            let _ = DescribeConfigsRequest::decode(Bytes::from(b.clone()), v);
            let _ = DescribeConfigsResponse::decode(Bytes::from(b), v);
        }
    }

    #[test]
    fn request_bytes_v1() {
        // 1 resource: topic "t", all keys (null array); synonyms on.
        let wire: &[u8] = &[0, 0, 0, 1, 2, 0, 1, b't', 0xff, 0xff, 0xff, 0xff, 1];
        let req = DescribeConfigsRequest {
            resources: vec![DescribeConfigsResource {
                resource_type: RESOURCE_TOPIC,
                resource_name: "t".into(),
                configuration_keys: None,
                ..Default::default()
            }],
            include_synonyms: true,
            ..Default::default()
        };
        assert_eq!(encoded(&req, 1), wire);
        assert_eq!(
            DescribeConfigsRequest::decode(Bytes::from_static(wire), 1),
            Ok(req)
        );
    }

    #[test]
    fn response_bytes_v4() {
        // throttle 0; 1 result: ok, null message, broker "1", one entry
        // "k"="v" (not read-only, source 4, not sensitive, 1 synonym "k"="v"
        // source 4), type 2, null documentation.
        let wire: &[u8] = &[
            0, 0, 0, 0, 2, 0, 0, 0, 4, 2, b'1', 2, 2, b'k', 2, b'v', 0, 4, 0, 2, 2, b'k', 2, b'v',
            4, 0, 2, 0, 0, 0, 0,
        ];
        let entry = DescribeConfigsEntry {
            name: "k".into(),
            value: Some("v".into()),
            config_source: 4,
            synonyms: vec![DescribeConfigsSynonym {
                name: "k".into(),
                value: Some("v".into()),
                source: 4,
                ..Default::default()
            }],
            config_type: 2,
            ..Default::default()
        };
        let resp = DescribeConfigsResponse {
            results: vec![DescribeConfigsResult {
                resource_type: RESOURCE_BROKER,
                resource_name: "1".into(),
                configs: vec![entry],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(encoded(&resp, 4), wire);
        assert_eq!(
            DescribeConfigsResponse::decode(Bytes::from_static(wire), 4),
            Ok(resp)
        );
    }

    #[test]
    fn v0_documentation_at_v1_and_hostile_counts_are_errors() {
        assert!(matches!(
            DescribeConfigsRequest::decode(Bytes::new(), 0),
            Err(ProtocolError::UnsupportedVersion { .. })
        ));
        let req = DescribeConfigsRequest {
            include_documentation: true,
            ..Default::default()
        };
        let mut buf = bytes::BytesMut::new();
        assert!(matches!(
            req.encode(1, &mut buf),
            Err(ProtocolError::FieldNotSupported { .. })
        ));
        // throttle, then 2^31-1 results claimed in 4 bytes.
        let wire = Bytes::from_static(&[0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(
            DescribeConfigsResponse::decode(wire, 1),
            Err(ProtocolError::LengthExceedsInput { .. })
        ));
        let full = encoded(
            &DescribeConfigsResponse {
                results: vec![DescribeConfigsResult {
                    configs: vec![DescribeConfigsEntry::default()],
                    ..Default::default()
                }],
                ..Default::default()
            },
            4,
        );
        for n in 0..full.len() {
            let cut = Bytes::copy_from_slice(&full[..n]);
            assert!(
                DescribeConfigsResponse::decode(cut, 4).is_err(),
                "{n} bytes"
            );
        }
    }
}
