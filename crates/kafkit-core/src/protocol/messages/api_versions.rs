//! ApiVersions (key 18): which API versions a broker supports.
//!
//! A broker that does not know the requested version answers
//! `UNSUPPORTED_VERSION` with a v0-shaped body listing what it supports;
//! [`ApiVersionsResponse`] decodes that shape at any requested version so the
//! client can retry with the highest version both sides know. Two shapes are
//! accepted: Apache Kafka's (the plain v0 body: `int32` count, no tagged
//! fields) and librdkafka's mock cluster's (an `int8` count that is *not*
//! offset by one, entries without tagged fields, then the throttle time),
//! which it writes for every request of v3 or later. Responses always use
//! header v0.
//!
//! Spec: KIP-35, KIP-511 (client software name/version), KIP-584 (features).

use crate::protocol::{
    ApiKey, ErrorCode, Message, ProtocolError, Reader, Request, Result, Route, TagWriter,
    TaggedFields, VersionRange, Writer,
};

/// Asks a broker for its supported API versions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ApiVersionsRequest {
    /// Client software name (v3+, ignorable).
    pub client_software_name: String,
    /// Client software version (v3+, ignorable).
    pub client_software_version: String,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One API's supported version range.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ApiVersion {
    /// The API key.
    pub api_key: i16,
    /// Lowest supported version.
    pub min_version: i16,
    /// Highest supported version.
    pub max_version: i16,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

/// A feature's supported or finalized version range (v3+, tagged).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct FeatureRange {
    /// Feature name.
    pub name: String,
    /// Lowest version (supported) or min level (finalized).
    pub min_version: i16,
    /// Highest version (supported) or max level (finalized).
    pub max_version: i16,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: TaggedFields,
}

/// The broker's supported API versions.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ApiVersionsResponse {
    /// Top-level error (v0+).
    pub error_code: ErrorCode,
    /// Supported APIs (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub api_keys: Vec<ApiVersion>,
    /// Throttle time in ms (v1+, ignorable).
    pub throttle_time_ms: i32,
    /// Features the broker supports (v3+, tag 0).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub supported_features: Vec<FeatureRange>,
    /// Epoch of the finalized features, -1 if unknown (v3+, tag 1).
    pub finalized_features_epoch: i64,
    /// Cluster-wide finalized features (v3+, tag 2); `min_version`/`max_version` hold the levels.
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub finalized_features: Vec<FeatureRange>,
    /// Set by a KRaft controller ready for ZK migration (v3+, tag 3).
    pub zk_migration_ready: bool,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for ApiVersionsResponse {
    fn default() -> Self {
        Self {
            error_code: ErrorCode::NONE,
            api_keys: Vec::new(),
            throttle_time_ms: 0,
            supported_features: Vec::new(),
            finalized_features_epoch: -1,
            finalized_features: Vec::new(),
            zk_migration_ready: false,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

impl ApiVersionsResponse {
    /// The advertised version range of `key`, if the broker lists it.
    pub fn range_of(&self, key: ApiKey) -> Option<VersionRange> {
        self.api_keys
            .iter()
            .find(|a| a.api_key == key.0)
            .map(|a| VersionRange::new(a.min_version, a.max_version))
    }

    fn decode_v0_shape(r: &mut Reader) -> Result<Self> {
        r.set_flexible(false);
        let error_code = ErrorCode(r.i16()?);
        let api_keys = r.array(decode_api_version)?;
        Ok(Self {
            error_code,
            api_keys,
            ..Self::default()
        })
    }

    /// librdkafka's mock cluster: `int8` raw count, untagged entries, throttle time.
    fn decode_rdkafka_mock_shape(r: &mut Reader) -> Result<Self> {
        r.set_flexible(false);
        let error_code = ErrorCode(r.i16()?);
        let count = usize::from(r.u8()?);
        if count.saturating_mul(6) > r.remaining() {
            return Err(ProtocolError::LengthExceedsInput {
                len: count,
                remaining: r.remaining(),
            });
        }
        let mut api_keys = Vec::with_capacity(count);
        for _ in 0..count {
            api_keys.push(ApiVersion {
                api_key: r.i16()?,
                min_version: r.i16()?,
                max_version: r.i16()?,
                unknown_tagged_fields: TaggedFields::default(),
            });
        }
        let throttle_time_ms = if r.remaining() == 4 { r.i32()? } else { 0 };
        Ok(Self {
            error_code,
            api_keys,
            throttle_time_ms,
            ..Self::default()
        })
    }

    /// Tries the error-fallback shapes; returns the first that reads the body exactly.
    fn decode_fallback(r: &mut Reader) -> Option<Self> {
        let shapes: [fn(&mut Reader) -> Result<Self>; 2] =
            [Self::decode_v0_shape, Self::decode_rdkafka_mock_shape];
        for shape in shapes {
            let mut attempt = r.clone();
            if let Ok(msg) = shape(&mut attempt) {
                if attempt.remaining() == 0 {
                    *r = attempt;
                    return Some(msg);
                }
            }
        }
        None
    }
}

impl Message for ApiVersionsRequest {
    const API_KEY: ApiKey = ApiKey::API_VERSIONS;
    const VERSIONS: VersionRange = VersionRange::new(0, 4);
    const FLEXIBLE_FROM: Option<i16> = Some(3);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        if w.version() >= 3 {
            w.string(&self.client_software_name)?;
            w.string(&self.client_software_version)?;
        } else {
            w.absent(
                "client_software_name",
                self.client_software_name.is_empty(),
                true,
            )?;
            w.absent(
                "client_software_version",
                self.client_software_version.is_empty(),
                true,
            )?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self::default();
        if version >= 3 {
            msg.client_software_name = r.string()?;
            msg.client_software_version = r.string()?;
        }
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

impl Request for ApiVersionsRequest {
    type Response = ApiVersionsResponse;
    const ROUTE: Route = Route::SameConnection;
}

fn encode_features(w: &mut Writer<'_>, features: &[FeatureRange], finalized: bool) -> Result<()> {
    w.array(features, |w, f| {
        w.string(&f.name)?;
        // Finalized features put the max level first.
        if finalized {
            w.i16(f.max_version);
            w.i16(f.min_version);
        } else {
            w.i16(f.min_version);
            w.i16(f.max_version);
        }
        w.unknown_tagged_fields(&f.unknown_tagged_fields)
    })
}

fn decode_features(r: &mut Reader, finalized: bool) -> Result<Vec<FeatureRange>> {
    r.array(|r| {
        let name = r.string()?;
        let (a, b) = (r.i16()?, r.i16()?);
        let (min_version, max_version) = if finalized { (b, a) } else { (a, b) };
        Ok(FeatureRange {
            name,
            min_version,
            max_version,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    })
}

fn decode_api_version(r: &mut Reader) -> Result<ApiVersion> {
    Ok(ApiVersion {
        api_key: r.i16()?,
        min_version: r.i16()?,
        max_version: r.i16()?,
        unknown_tagged_fields: r.unknown_tagged_fields()?,
    })
}

impl Message for ApiVersionsResponse {
    const API_KEY: ApiKey = ApiKey::API_VERSIONS;
    const VERSIONS: VersionRange = VersionRange::new(0, 4);
    const FLEXIBLE_FROM: Option<i16> = Some(3);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        w.i16(self.error_code.0);
        w.array(&self.api_keys, |w, a| {
            w.i16(a.api_key);
            w.i16(a.min_version);
            w.i16(a.max_version);
            w.unknown_tagged_fields(&a.unknown_tagged_fields)
        })?;
        if v >= 1 {
            w.i32(self.throttle_time_ms);
        } else {
            w.absent("throttle_time_ms", self.throttle_time_ms == 0, true)?;
        }
        if v < 3 {
            let untouched = self.supported_features.is_empty()
                && self.finalized_features_epoch == -1
                && self.finalized_features.is_empty()
                && !self.zk_migration_ready;
            w.absent("features", untouched, true)?;
            // Fails for unknown tagged fields, which v0-v2 cannot carry.
            return w.unknown_tagged_fields(&self.unknown_tagged_fields);
        }
        let mut tags = TagWriter::new(&self.unknown_tagged_fields, w);
        if !self.supported_features.is_empty() {
            tags.field(0, |w| encode_features(w, &self.supported_features, false))?;
        }
        if self.finalized_features_epoch != -1 {
            tags.field(1, |w| {
                w.i64(self.finalized_features_epoch);
                Ok(())
            })?;
        }
        if !self.finalized_features.is_empty() {
            tags.field(2, |w| encode_features(w, &self.finalized_features, true))?;
        }
        if self.zk_migration_ready {
            tags.field(3, |w| {
                w.bool(true);
                Ok(())
            })?;
        }
        tags.finish(w)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        // The requested version first, as the Java client does: a v3+ body
        // carrying error 35 can also parse as one of the fallback shapes
        // (one api key and no tags reads as a two-entry mock shape).
        let mut attempt = r.clone();
        let primary = Self::decode_versioned(&mut attempt, version);
        if primary.is_ok() && attempt.remaining() == 0 {
            *r = attempt;
            return primary;
        }
        // A broker that rejects our version answers with a v0-shaped body.
        let mut peek = r.clone();
        if version > 0 && peek.i16()? == ErrorCode::UNSUPPORTED_VERSION.0 {
            if let Some(msg) = Self::decode_fallback(r) {
                return Ok(msg);
            }
        }
        let msg = primary?;
        *r = attempt;
        Ok(msg)
    }
}

impl ApiVersionsResponse {
    /// Decodes the body laid out as `version` says.
    fn decode_versioned(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self {
            error_code: ErrorCode(r.i16()?),
            api_keys: r.array(decode_api_version)?,
            ..Self::default()
        };
        if version >= 1 {
            msg.throttle_time_ms = r.i32()?;
        }
        msg.unknown_tagged_fields = r.tagged_fields(|tag, f| {
            match tag {
                0 => msg.supported_features = decode_features(f, false)?,
                1 => msg.finalized_features_epoch = f.i64()?,
                2 => msg.finalized_features = decode_features(f, true)?,
                3 => msg.zk_migration_ready = f.bool()?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::check_roundtrip;
    use bytes::Bytes;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<ApiVersionsRequest>(), v in 0i16..=4) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<ApiVersionsResponse>(), v in 0i16..=4) {
            check_roundtrip(&m, v)?;
        }
    }

    #[test]
    fn unknown_tagged_fields_cannot_be_encoded_before_v3() {
        let resp = ApiVersionsResponse {
            unknown_tagged_fields: TaggedFields(vec![(1000, Bytes::from_static(b"x"))]),
            ..ApiVersionsResponse::default()
        };
        let mut buf = bytes::BytesMut::new();
        assert!(resp.encode(2, &mut buf).is_err());
        assert!(resp.encode(3, &mut buf).is_ok());
    }

    #[test]
    fn a_v3_body_with_error_35_is_not_read_as_a_fallback_shape() {
        // One api key and no tags: 15 bytes that also parse completely as
        // the librdkafka mock shape (count 2, two 6-byte entries, no throttle).
        let resp = ApiVersionsResponse {
            error_code: ErrorCode::UNSUPPORTED_VERSION,
            api_keys: vec![ApiVersion {
                api_key: 18,
                min_version: 0,
                max_version: 4,
                unknown_tagged_fields: TaggedFields::default(),
            }],
            throttle_time_ms: 100,
            ..ApiVersionsResponse::default()
        };
        for v in 3..=4 {
            let mut buf = bytes::BytesMut::new();
            resp.encode(v, &mut buf).expect("encodes");
            assert_eq!(buf.len(), 15);
            assert_eq!(
                ApiVersionsResponse::decode(buf.freeze(), v),
                Ok(resp.clone())
            );
        }
    }

    #[test]
    fn unsupported_version_fallback_reads_v0_shape() {
        // error 35, one api key (18: 0..2), as a broker answers a v3 request it does not know.
        let body = Bytes::from_static(&[0, 35, 0, 0, 0, 1, 0, 18, 0, 0, 0, 2]);
        let resp = ApiVersionsResponse::decode(body, 3).expect("v0-shaped fallback");
        assert_eq!(resp.error_code, ErrorCode::UNSUPPORTED_VERSION);
        assert_eq!(
            resp.range_of(ApiKey::API_VERSIONS),
            Some(VersionRange::new(0, 2))
        );
    }
}
