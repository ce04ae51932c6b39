//! The OffsetFetch response body (per-topic form v0-v7, per-group form v8+).

use super::{FLEXIBLE_FROM, VERSIONS};
use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Result, TaggedFields, VersionRange, Writer,
};

/// Committed offsets as the coordinator reports them.
///
/// v0-v7 fill `topics` and `error_code`; v8+ fill `groups`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct OffsetFetchResponse {
    /// Throttle time in ms (v3+, ignorable).
    pub throttle_time_ms: i32,
    /// Offsets per topic of the single requested group (v0-v7).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<OffsetFetchResponseTopic>,
    /// Group-level error of the single requested group (v2-v7, ignorable).
    pub error_code: ErrorCode,
    /// Results per requested group (v8+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub groups: Vec<OffsetFetchResponseGroup>,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The result for one group (v8+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct OffsetFetchResponseGroup {
    /// The group id.
    pub group_id: String,
    /// Offsets per topic.
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<OffsetFetchResponseTopic>,
    /// Group-level error.
    pub error_code: ErrorCode,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: TaggedFields,
}

/// Committed offsets of one topic (both forms).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct OffsetFetchResponseTopic {
    /// Topic name.
    pub name: String,
    /// Offsets per partition.
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<OffsetFetchResponsePartition>,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The committed offset of one partition (both forms).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct OffsetFetchResponsePartition {
    /// Partition index.
    pub partition_index: i32,
    /// Committed offset, -1 if the group has none for this partition.
    pub committed_offset: i64,
    /// Leader epoch of the committed position, -1 if unknown
    /// (v5-v7 in the per-topic form, always in the per-group form; ignorable, default -1).
    pub committed_leader_epoch: i32,
    /// Metadata committed with the offset (nullable; default `""`).
    pub metadata: Option<String>,
    /// Partition-level error.
    pub error_code: ErrorCode,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for OffsetFetchResponsePartition {
    fn default() -> Self {
        Self {
            partition_index: 0,
            committed_offset: 0,
            committed_leader_epoch: -1,
            metadata: Some(String::new()),
            error_code: ErrorCode::NONE,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

fn encode_topics(w: &mut Writer<'_>, topics: &[OffsetFetchResponseTopic]) -> Result<()> {
    let with_epoch = w.version() >= 5;
    w.array(topics, |w, t| {
        w.string(&t.name)?;
        w.array(&t.partitions, |w, p| {
            w.i32(p.partition_index);
            w.i64(p.committed_offset);
            if with_epoch {
                w.i32(p.committed_leader_epoch);
            } else {
                w.absent(
                    "committed_leader_epoch",
                    p.committed_leader_epoch == -1,
                    true,
                )?;
            }
            w.nullable_string(p.metadata.as_deref())?;
            w.i16(p.error_code.0);
            w.unknown_tagged_fields(&p.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&t.unknown_tagged_fields)
    })
}

fn decode_topics(r: &mut Reader, version: i16) -> Result<Vec<OffsetFetchResponseTopic>> {
    r.array(|r| {
        Ok(OffsetFetchResponseTopic {
            name: r.string()?,
            partitions: r.array(|r| {
                let mut p = OffsetFetchResponsePartition {
                    partition_index: r.i32()?,
                    committed_offset: r.i64()?,
                    ..OffsetFetchResponsePartition::default()
                };
                if version >= 5 {
                    p.committed_leader_epoch = r.i32()?;
                }
                p.metadata = r.nullable_string()?;
                p.error_code = ErrorCode(r.i16()?);
                p.unknown_tagged_fields = r.unknown_tagged_fields()?;
                Ok(p)
            })?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    })
}

impl Message for OffsetFetchResponse {
    const API_KEY: ApiKey = ApiKey::OFFSET_FETCH;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        if v >= 3 {
            w.i32(self.throttle_time_ms);
        } else {
            w.absent("throttle_time_ms", self.throttle_time_ms == 0, true)?;
        }
        if v <= 7 {
            encode_topics(w, &self.topics)?;
        } else {
            w.absent("topics", self.topics.is_empty(), false)?;
        }
        if (2..=7).contains(&v) {
            w.i16(self.error_code.0);
        } else {
            w.absent("error_code", self.error_code.is_ok(), true)?;
        }
        if v >= 8 {
            w.array(&self.groups, |w, g| {
                w.string(&g.group_id)?;
                encode_topics(w, &g.topics)?;
                w.i16(g.error_code.0);
                w.unknown_tagged_fields(&g.unknown_tagged_fields)
            })?;
        } else {
            w.absent("groups", self.groups.is_empty(), false)?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self::default();
        if version >= 3 {
            msg.throttle_time_ms = r.i32()?;
        }
        if version <= 7 {
            msg.topics = decode_topics(r, version)?;
        }
        if (2..=7).contains(&version) {
            msg.error_code = ErrorCode(r.i16()?);
        }
        if version >= 8 {
            msg.groups = r.array(|r| {
                Ok(OffsetFetchResponseGroup {
                    group_id: r.string()?,
                    topics: decode_topics(r, version)?,
                    error_code: ErrorCode(r.i16()?),
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?;
        }
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
        fn roundtrip(m in any::<OffsetFetchResponse>(), v in 0i16..=9) {
            check_roundtrip(&m, v)?;
        }

        /// A response holding only fields its version has encodes strictly
        /// and decodes back unchanged.
        #[test]
        fn fitted_response_survives(m in any::<OffsetFetchResponse>(), v in 0i16..=9) {
            let m = fit(m, v);
            let bytes = encode(&m, v).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(OffsetFetchResponse::decode(bytes.into(), v), Ok(m));
        }
    }

    fn fit_topics(topics: &mut [OffsetFetchResponseTopic], v: i16) {
        for t in topics {
            for p in &mut t.partitions {
                if v < 5 {
                    p.committed_leader_epoch = -1;
                }
                if v < 6 {
                    p.unknown_tagged_fields = TaggedFields::default();
                }
            }
            if v < 6 {
                t.unknown_tagged_fields = TaggedFields::default();
            }
        }
    }

    /// Resets every field `v` lacks to its default.
    fn fit(mut m: OffsetFetchResponse, v: i16) -> OffsetFetchResponse {
        if v < 3 {
            m.throttle_time_ms = 0;
        }
        if v <= 7 {
            m.groups.clear();
            fit_topics(&mut m.topics, v);
        } else {
            m.topics.clear();
        }
        if !(2..=7).contains(&v) {
            m.error_code = ErrorCode::NONE;
        }
        if v < 6 {
            m.unknown_tagged_fields = TaggedFields::default();
        }
        m
    }

    fn encode(m: &OffsetFetchResponse, v: i16) -> Result<Vec<u8>> {
        let mut buf = BytesMut::new();
        m.encode(v, &mut buf)?;
        Ok(buf.to_vec())
    }

    fn one_topic(epoch: i32, metadata: Option<&str>) -> Vec<OffsetFetchResponseTopic> {
        vec![OffsetFetchResponseTopic {
            name: "t".into(),
            partitions: vec![OffsetFetchResponsePartition {
                partition_index: 1,
                committed_offset: 42,
                committed_leader_epoch: epoch,
                metadata: metadata.map(str::to_owned),
                error_code: ErrorCode::NONE,
                ..Default::default()
            }],
            ..Default::default()
        }]
    }

    /// v1: no throttle, no leader epoch, no top-level error code.
    #[test]
    fn per_topic_v1_bytes() {
        let resp = OffsetFetchResponse {
            topics: one_topic(-1, None),
            ..Default::default()
        };
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0, 0, 0, 1, 0, 1, b't',  // topics: 1, name
            0, 0, 0, 1,              // partitions: 1
            0, 0, 0, 1,              //   partition_index
            0, 0, 0, 0, 0, 0, 0, 42, //   committed_offset
            0xff, 0xff,              //   metadata: null
            0, 0,                    //   error_code
        ];
        assert_eq!(encode(&resp, 1).expect("v1"), expected);
        assert_eq!(
            OffsetFetchResponse::decode(Bytes::from_static(expected), 1).expect("v1"),
            resp
        );
    }

    /// v5: throttle, leader epoch, top-level error code; still classic.
    #[test]
    fn per_topic_v5_bytes() {
        let resp = OffsetFetchResponse {
            throttle_time_ms: 3,
            topics: one_topic(7, Some("m")),
            error_code: ErrorCode::GROUP_AUTHORIZATION_FAILED,
            ..Default::default()
        };
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0, 0, 0, 3,              // throttle_time_ms
            0, 0, 0, 1, 0, 1, b't',
            0, 0, 0, 1, 0, 0, 0, 1,
            0, 0, 0, 0, 0, 0, 0, 42,
            0, 0, 0, 7,              //   committed_leader_epoch
            0, 1, b'm',              //   metadata
            0, 0,                    //   error_code
            0, 30,                   // top-level error_code
        ];
        assert_eq!(encode(&resp, 5).expect("v5"), expected);
        assert_eq!(
            OffsetFetchResponse::decode(Bytes::from_static(expected), 5).expect("v5"),
            resp
        );
        // The leader epoch and top-level error are ignorable at v1.
        let mut v1 = resp.clone();
        v1.throttle_time_ms = 0;
        v1.topics = one_topic(-1, Some("m"));
        v1.error_code = ErrorCode::NONE;
        assert_eq!(encode(&resp, 1).expect("v1"), encode(&v1, 1).expect("v1"));
    }

    /// v8: per-group form, compact encoding; the epoch is always present.
    #[test]
    fn per_group_v8_bytes() {
        let resp = OffsetFetchResponse {
            throttle_time_ms: 0,
            groups: vec![OffsetFetchResponseGroup {
                group_id: "g".into(),
                topics: one_topic(-1, Some("")),
                error_code: ErrorCode::NONE,
                ..Default::default()
            }],
            ..Default::default()
        };
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0, 0, 0, 0,              // throttle_time_ms
            2, 2, b'g',              // groups: 1, group_id
            2, 2, b't',              //   topics: 1, name
            2, 0, 0, 0, 1,           //     partitions: 1, index
            0, 0, 0, 0, 0, 0, 0, 42, //     committed_offset
            0xff, 0xff, 0xff, 0xff,  //     committed_leader_epoch
            1,                       //     metadata: ""
            0, 0,                    //     error_code
            0, 0,                    //     partition tags, topic tags
            0, 0,                    //   group error_code
            0,                       //   group tags
            0,                       // response tags
        ];
        assert_eq!(encode(&resp, 8).expect("v8"), expected);
        assert_eq!(
            OffsetFetchResponse::decode(Bytes::from_static(expected), 8).expect("v8"),
            resp
        );
        assert_eq!(encode(&resp, 9).expect("v9"), expected);
        assert!(encode(&resp, 7).is_err(), "groups do not exist before v8");
        let per_topic = OffsetFetchResponse {
            topics: one_topic(-1, None),
            ..Default::default()
        };
        assert!(encode(&per_topic, 8).is_err(), "topics do not exist at v8+");
    }
}
