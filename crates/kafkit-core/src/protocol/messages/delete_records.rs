//! DeleteRecords (key 21): move partitions' log start offsets forward,
//! deleting the records before them.
//!
//! Sent to each partition's leader. An offset of -1 means the high
//! watermark (delete everything). v2 is the first flexible version; all
//! versions carry the same fields.
//!
//! Spec: `DeleteRecordsRequest.json` / `DeleteRecordsResponse.json`, KIP-107.

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 2);
const FLEXIBLE_FROM: Option<i16> = Some(2);

/// The offset meaning "the high watermark" (delete every record).
pub const HIGH_WATERMARK: i64 = -1;

/// Asks a leader to delete records before some offsets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeleteRecordsRequest {
    /// The topics (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<DeleteRecordsTopic>,
    /// How long to wait for the replicas to follow, in ms (v0+).
    pub timeout_ms: i32,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One topic of a [`DeleteRecordsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeleteRecordsTopic {
    /// Topic name (v0+).
    pub name: String,
    /// The partitions (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<DeleteRecordsPartition>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One partition and the offset before which its records go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeleteRecordsPartition {
    /// Partition index (v0+).
    pub partition_index: i32,
    /// The new log start offset ([`HIGH_WATERMARK`] for all) (v0+).
    pub offset: i64,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The leader's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeleteRecordsResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// Results per topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<DeleteRecordsTopicResult>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One topic's results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeleteRecordsTopicResult {
    /// Topic name (v0+).
    pub name: String,
    /// Results per partition (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<DeleteRecordsPartitionResult>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One partition's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeleteRecordsPartitionResult {
    /// Partition index (v0+).
    pub partition_index: i32,
    /// The partition's log start offset afterwards (v0+).
    pub low_watermark: i64,
    /// Error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for DeleteRecordsRequest {
    const API_KEY: ApiKey = ApiKey::DELETE_RECORDS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.array(&self.topics, |w, t| {
            w.string(&t.name)?;
            w.array(&t.partitions, |w, p| {
                w.i32(p.partition_index);
                w.i64(p.offset);
                w.unknown_tagged_fields(&p.unknown_tagged_fields)
            })?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        w.i32(self.timeout_ms);
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            topics: r.array(|r| {
                Ok(DeleteRecordsTopic {
                    name: r.string()?,
                    partitions: r.array(|r| {
                        Ok(DeleteRecordsPartition {
                            partition_index: r.i32()?,
                            offset: r.i64()?,
                            unknown_tagged_fields: r.unknown_tagged_fields()?,
                        })
                    })?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            timeout_ms: r.i32()?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for DeleteRecordsRequest {
    type Response = DeleteRecordsResponse;
    const ROUTE: Route = Route::PartitionLeader;
}

impl Message for DeleteRecordsResponse {
    const API_KEY: ApiKey = ApiKey::DELETE_RECORDS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.array(&self.topics, |w, t| {
            w.string(&t.name)?;
            w.array(&t.partitions, |w, p| {
                w.i32(p.partition_index);
                w.i64(p.low_watermark);
                w.i16(p.error_code.0);
                w.unknown_tagged_fields(&p.unknown_tagged_fields)
            })?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            topics: r.array(|r| {
                Ok(DeleteRecordsTopicResult {
                    name: r.string()?,
                    partitions: r.array(|r| {
                        Ok(DeleteRecordsPartitionResult {
                            partition_index: r.i32()?,
                            low_watermark: r.i64()?,
                            error_code: ErrorCode(r.i16()?),
                            unknown_tagged_fields: r.unknown_tagged_fields()?,
                        })
                    })?,
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
        fn request_roundtrip(m in any::<DeleteRecordsRequest>(), v in 0i16..=2) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<DeleteRecordsResponse>(), v in 0i16..=2) {
            check_roundtrip(&m, v)?;
        }

        /// Arbitrary bytes never panic the decoders.
        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64), v in 0i16..=2) {
            let _ = DeleteRecordsRequest::decode(Bytes::from(b.clone()), v);
            let _ = DeleteRecordsResponse::decode(Bytes::from(b), v);
        }
    }

    #[test]
    fn response_bytes_v2() {
        // throttle 0; "t": partition 1, low watermark 5, no error.
        let wire: &[u8] = &[
            0, 0, 0, 0, 2, 2, b't', 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0,
        ];
        let resp = DeleteRecordsResponse {
            topics: vec![DeleteRecordsTopicResult {
                name: "t".into(),
                partitions: vec![DeleteRecordsPartitionResult {
                    partition_index: 1,
                    low_watermark: 5,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(encoded(&resp, 2), wire);
        assert_eq!(
            DeleteRecordsResponse::decode(Bytes::from_static(wire), 2),
            Ok(resp)
        );
    }

    #[test]
    fn hostile_input_is_an_error() {
        let wire = Bytes::from_static(&[0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(
            DeleteRecordsResponse::decode(wire, 0),
            Err(ProtocolError::LengthExceedsInput { .. })
        ));
        let full = encoded(
            &DeleteRecordsResponse {
                topics: vec![DeleteRecordsTopicResult {
                    partitions: vec![DeleteRecordsPartitionResult::default()],
                    ..Default::default()
                }],
                ..Default::default()
            },
            2,
        );
        for n in 0..full.len() {
            let cut = Bytes::copy_from_slice(&full[..n]);
            assert!(DeleteRecordsResponse::decode(cut, 2).is_err(), "{n} bytes");
        }
    }
}
