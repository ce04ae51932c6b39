//! ShareFetch (key 78): a share-group member fetches records from a
//! partition leader, which acquires them for it (KIP-932), and piggybacks
//! acknowledgements of records it acquired earlier.
//!
//! Unlike Fetch there is no fetch offset: the leader's share-partition
//! decides which records to hand out and returns, next to the record
//! batches, the ranges it acquired for this member with their delivery
//! counts. Only records inside an acquired range belong to the member.
//!
//! Kafka 4.4.0 serves v1-v2 (v0 was the early-access version of 4.0 and is
//! gone; v1 is the GA version of 4.1). v2 adds the acquire mode and renew
//! acknowledgements (KIP-1222). Every version is flexible.
//!
//! Spec: `ShareFetchRequest.json` / `ShareFetchResponse.json` (Kafka 4.4.0);
//! KIP-932.

use bytes::Bytes;

use super::leader_discovery::{
    decode_node_endpoints, encode_node_endpoints, LeaderIdAndEpoch, NodeEndpoint,
};
use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, Uuid, VersionRange,
    Writer,
};

const VERSIONS: VersionRange = VersionRange::new(1, 2);

/// Fetches acquired records and acknowledges earlier ones.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ShareFetchRequest {
    /// The share group (v1+, nullable).
    pub group_id: Option<String>,
    /// The member id from ShareGroupHeartbeat (v1+, nullable).
    pub member_id: Option<String>,
    /// Share session epoch: 0 opens a session, -1 closes it, otherwise the
    /// next epoch of the session (v1+).
    pub share_session_epoch: i32,
    /// Longest the leader may wait for `min_bytes`, in ms (v1+).
    pub max_wait_ms: i32,
    /// Bytes to accumulate before answering (v1+).
    pub min_bytes: i32,
    /// Bytes to return at most (v1+, default `i32::MAX`).
    pub max_bytes: i32,
    /// Records to acquire at most (batches may exceed it) (v1+).
    pub max_records: i32,
    /// Preferred size of acquired and acknowledged batches (v1+).
    pub batch_size: i32,
    /// 0 batch-optimized, 1 record-limit (v2+, ignorable).
    pub share_acquire_mode: i8,
    /// Whether the acknowledgements carry Renew (4) types (v2+).
    pub is_renew_ack: bool,
    /// Partitions to fetch from, with acknowledgements (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<ShareFetchTopic>,
    /// Partitions to drop from the share session (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub forgotten_topics_data: Vec<ShareForgottenTopic>,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for ShareFetchRequest {
    fn default() -> Self {
        Self {
            group_id: None,
            member_id: None,
            share_session_epoch: 0,
            max_wait_ms: 0,
            min_bytes: 0,
            max_bytes: i32::MAX,
            max_records: 0,
            batch_size: 0,
            share_acquire_mode: 0,
            is_renew_ack: false,
            topics: Vec::new(),
            forgotten_topics_data: Vec::new(),
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// The partitions of one topic in a ShareFetch or ShareAcknowledge request
/// (the spec's `FetchTopic` / `AcknowledgeTopic`, identical since v1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ShareFetchTopic {
    /// The topic id (v1+).
    pub topic_id: Uuid,
    /// The partitions (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<ShareFetchPartition>,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One partition to fetch from and/or acknowledge on (the spec's
/// `FetchPartition` / `AcknowledgePartition`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ShareFetchPartition {
    /// The partition index (v1+).
    pub partition_index: i32,
    /// Acknowledgements of records acquired earlier (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub acknowledgement_batches: Vec<AcknowledgementBatch>,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

/// A contiguous range of offsets and how each is acknowledged.
///
/// `acknowledge_types` holds one type for the whole range or one per
/// offset: 0 gap, 1 accept, 2 release, 3 reject, 4 renew (v2+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AcknowledgementBatch {
    /// First offset of the range (v1+).
    pub first_offset: i64,
    /// Last offset of the range, inclusive (v1+).
    pub last_offset: i64,
    /// The acknowledge types (v1+).
    #[cfg_attr(
        test,
        proptest(strategy = "crate::protocol::testing::vec_of(proptest::prelude::any::<i8>())")
    )]
    pub acknowledge_types: Vec<i8>,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Partitions of one topic to remove from the share session.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ShareForgottenTopic {
    /// The topic id (v1+).
    pub topic_id: Uuid,
    /// The partition indexes (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<i32>,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The leader's answer: acquired records per partition and the outcome of
/// the piggybacked acknowledgements.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ShareFetchResponse {
    /// Throttle time in ms (v1+).
    pub throttle_time_ms: i32,
    /// Top-level error, e.g. for share-session problems (v1+).
    pub error_code: ErrorCode,
    /// Top-level error message (v1+, nullable).
    pub error_message: Option<String>,
    /// How long acquired records stay locked to this member, in ms (v1+).
    pub acquisition_lock_timeout_ms: i32,
    /// Results per topic (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub responses: Vec<ShareFetchTopicResponse>,
    /// Endpoints of the new leaders named in `current_leader` (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub node_endpoints: Vec<NodeEndpoint>,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Results for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ShareFetchTopicResponse {
    /// The topic id (v1+).
    pub topic_id: Uuid,
    /// Results per partition (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<ShareFetchPartitionResponse>,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Acquired records of one partition (the spec's `PartitionData`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ShareFetchPartitionResponse {
    /// The partition index (v1+).
    pub partition_index: i32,
    /// The fetch error, `NONE` on success (v1+).
    pub error_code: ErrorCode,
    /// The fetch error message (v1+, nullable).
    pub error_message: Option<String>,
    /// The outcome of this partition's acknowledgements (v1+).
    pub acknowledge_error_code: ErrorCode,
    /// The acknowledgement error message (v1+, nullable).
    pub acknowledge_error_message: Option<String>,
    /// The current leader (v1+).
    pub current_leader: LeaderIdAndEpoch,
    /// Record batches, a zero-copy slice of the response (v1+, not nullable).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::bytes()"))]
    pub records: Bytes,
    /// The offset ranges acquired for this member (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub acquired_records: Vec<AcquiredRecords>,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

/// A range of offsets acquired for the member, delivered `delivery_count` times.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AcquiredRecords {
    /// First offset of the range (v1+).
    pub first_offset: i64,
    /// Last offset of the range, inclusive (v1+).
    pub last_offset: i64,
    /// How many times these records were delivered, this time included (v1+).
    pub delivery_count: i16,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Encodes request topics (shared with ShareAcknowledge).
pub(crate) fn encode_topics(w: &mut Writer<'_>, topics: &[ShareFetchTopic]) -> Result<()> {
    w.array(topics, |w, t| {
        w.uuid(&t.topic_id);
        w.array(&t.partitions, |w, p| {
            w.i32(p.partition_index);
            w.array(&p.acknowledgement_batches, |w, b| {
                w.i64(b.first_offset);
                w.i64(b.last_offset);
                w.array(&b.acknowledge_types, |w, t| {
                    w.i8(*t);
                    Ok(())
                })?;
                w.unknown_tagged_fields(&b.unknown_tagged_fields)
            })?;
            w.unknown_tagged_fields(&p.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&t.unknown_tagged_fields)
    })
}

/// Decodes request topics (shared with ShareAcknowledge).
pub(crate) fn decode_topics(r: &mut Reader) -> Result<Vec<ShareFetchTopic>> {
    r.array(|r| {
        Ok(ShareFetchTopic {
            topic_id: r.uuid()?,
            partitions: r.array(|r| {
                Ok(ShareFetchPartition {
                    partition_index: r.i32()?,
                    acknowledgement_batches: r.array(|r| {
                        Ok(AcknowledgementBatch {
                            first_offset: r.i64()?,
                            last_offset: r.i64()?,
                            acknowledge_types: r.array(Reader::i8)?,
                            unknown_tagged_fields: r.unknown_tagged_fields()?,
                        })
                    })?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    })
}

impl Message for ShareFetchRequest {
    const API_KEY: ApiKey = ApiKey::SHARE_FETCH;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = Some(0);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.nullable_string(self.group_id.as_deref())?;
        w.nullable_string(self.member_id.as_deref())?;
        w.i32(self.share_session_epoch);
        w.i32(self.max_wait_ms);
        w.i32(self.min_bytes);
        w.i32(self.max_bytes);
        w.i32(self.max_records);
        w.i32(self.batch_size);
        if w.version() >= 2 {
            w.i8(self.share_acquire_mode);
            w.bool(self.is_renew_ack);
        } else {
            w.absent("share_acquire_mode", self.share_acquire_mode == 0, true)?;
            w.absent("is_renew_ack", !self.is_renew_ack, false)?;
        }
        encode_topics(w, &self.topics)?;
        w.array(&self.forgotten_topics_data, |w, t| {
            w.uuid(&t.topic_id);
            w.i32_array(&t.partitions)?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let group_id = r.nullable_string()?;
        let member_id = r.nullable_string()?;
        let share_session_epoch = r.i32()?;
        let max_wait_ms = r.i32()?;
        let min_bytes = r.i32()?;
        let max_bytes = r.i32()?;
        let max_records = r.i32()?;
        let batch_size = r.i32()?;
        let (share_acquire_mode, is_renew_ack) = if version >= 2 {
            (r.i8()?, r.bool()?)
        } else {
            (0, false)
        };
        Ok(Self {
            group_id,
            member_id,
            share_session_epoch,
            max_wait_ms,
            min_bytes,
            max_bytes,
            max_records,
            batch_size,
            share_acquire_mode,
            is_renew_ack,
            topics: decode_topics(r)?,
            forgotten_topics_data: r.array(|r| {
                Ok(ShareForgottenTopic {
                    topic_id: r.uuid()?,
                    partitions: r.i32_array()?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for ShareFetchRequest {
    type Response = ShareFetchResponse;
    const ROUTE: Route = Route::PartitionLeader;
}

fn encode_partition(w: &mut Writer<'_>, p: &ShareFetchPartitionResponse) -> Result<()> {
    w.i32(p.partition_index);
    w.i16(p.error_code.0);
    w.nullable_string(p.error_message.as_deref())?;
    w.i16(p.acknowledge_error_code.0);
    w.nullable_string(p.acknowledge_error_message.as_deref())?;
    p.current_leader.encode(w)?;
    w.records(Some(&p.records))?;
    w.array(&p.acquired_records, |w, a| {
        w.i64(a.first_offset);
        w.i64(a.last_offset);
        w.i16(a.delivery_count);
        w.unknown_tagged_fields(&a.unknown_tagged_fields)
    })?;
    w.unknown_tagged_fields(&p.unknown_tagged_fields)
}

fn decode_partition(r: &mut Reader) -> Result<ShareFetchPartitionResponse> {
    Ok(ShareFetchPartitionResponse {
        partition_index: r.i32()?,
        error_code: ErrorCode(r.i16()?),
        error_message: r.nullable_string()?,
        acknowledge_error_code: ErrorCode(r.i16()?),
        acknowledge_error_message: r.nullable_string()?,
        current_leader: LeaderIdAndEpoch::decode(r)?,
        records: r.bytes()?,
        acquired_records: r.array(|r| {
            Ok(AcquiredRecords {
                first_offset: r.i64()?,
                last_offset: r.i64()?,
                delivery_count: r.i16()?,
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?,
        unknown_tagged_fields: r.unknown_tagged_fields()?,
    })
}

impl Message for ShareFetchResponse {
    const API_KEY: ApiKey = ApiKey::SHARE_FETCH;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = Some(0);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.i16(self.error_code.0);
        w.nullable_string(self.error_message.as_deref())?;
        w.i32(self.acquisition_lock_timeout_ms);
        w.array(&self.responses, |w, t| {
            w.uuid(&t.topic_id);
            w.array(&t.partitions, encode_partition)?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        encode_node_endpoints(w, &self.node_endpoints)?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            error_code: ErrorCode(r.i16()?),
            error_message: r.nullable_string()?,
            acquisition_lock_timeout_ms: r.i32()?,
            responses: r.array(|r| {
                Ok(ShareFetchTopicResponse {
                    topic_id: r.uuid()?,
                    partitions: r.array(decode_partition)?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            node_endpoints: decode_node_endpoints(r)?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::{check_hostile, check_roundtrip, encoded};
    use crate::protocol::ProtocolError;
    use bytes::BytesMut;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<ShareFetchRequest>(), v in 1i16..=2) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<ShareFetchResponse>(), v in 1i16..=2) {
            check_roundtrip(&m, v)?;
        }
    }

    fn sample_response() -> ShareFetchResponse {
        ShareFetchResponse {
            acquisition_lock_timeout_ms: 30_000,
            responses: vec![ShareFetchTopicResponse {
                topic_id: Uuid([7; 16]),
                partitions: vec![ShareFetchPartitionResponse {
                    partition_index: 1,
                    records: Bytes::from_static(b"batch"),
                    acquired_records: vec![AcquiredRecords {
                        first_offset: 10,
                        last_offset: 12,
                        delivery_count: 2,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            node_endpoints: vec![NodeEndpoint {
                node_id: 1,
                host: "h".into(),
                port: 9092,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn request_bytes_at_v1_and_v2() {
        let req = ShareFetchRequest {
            group_id: Some("g".into()),
            member_id: Some("m".into()),
            share_session_epoch: 1,
            max_wait_ms: 500,
            min_bytes: 1,
            max_records: 100,
            batch_size: 50,
            topics: vec![ShareFetchTopic {
                topic_id: Uuid([1; 16]),
                partitions: vec![ShareFetchPartition {
                    partition_index: 0,
                    acknowledgement_batches: vec![AcknowledgementBatch {
                        first_offset: 3,
                        last_offset: 4,
                        acknowledge_types: vec![1, 2],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut want = vec![2, b'g', 2, b'm', 0, 0, 0, 1, 0, 0, 1, 0xf4, 0, 0, 0, 1];
        want.extend([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 100, 0, 0, 0, 50]);
        want.push(2);
        want.extend([1; 16]);
        want.extend([2, 0, 0, 0, 0, 2]);
        want.extend([0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4, 3, 1, 2, 0]);
        want.extend([0, 0, 1, 0]);
        assert_eq!(encoded(&req, 1), want);
        // v2 adds the acquire mode and the renew flag after BatchSize.
        let v2 = encoded(&req, 2);
        assert_eq!(v2.len(), want.len() + 2);
        assert_eq!(v2.get(28..30), Some(&[0u8, 0][..]));
        let renew = ShareFetchRequest {
            is_renew_ack: true,
            ..req.clone()
        };
        assert!(matches!(
            renew.encode(1, &mut BytesMut::new()),
            Err(ProtocolError::FieldNotSupported {
                field: "is_renew_ack",
                version: 1
            })
        ));
        assert!(matches!(
            req.encode(0, &mut BytesMut::new()),
            Err(ProtocolError::UnsupportedVersion {
                api_key: 78,
                version: 0
            })
        ));
    }

    #[test]
    fn hostile_responses_are_errors_not_panics() {
        let wire = encoded(&sample_response(), 1);
        check_hostile::<ShareFetchResponse>(&wire, 1);
        check_hostile::<ShareFetchResponse>(&wire, 2);
    }

    #[test]
    fn null_records_and_huge_counts_are_refused() {
        let resp = sample_response();
        let wire = encoded(&resp, 1);
        // The records length (compact: len + 1 = 6) follows the leader struct.
        let at = wire
            .windows(6)
            .position(|w| w == b"\x06batch")
            .expect("records");
        let mut null = wire.clone();
        null[at] = 0;
        null.drain(at + 1..at + 6);
        assert!(matches!(
            ShareFetchResponse::decode(Bytes::from(null), 1),
            Err(ProtocolError::UnexpectedNull)
        ));
        let mut huge = wire;
        huge[at] = 0x7f;
        assert!(ShareFetchResponse::decode(Bytes::from(huge), 1).is_err());
    }
}
