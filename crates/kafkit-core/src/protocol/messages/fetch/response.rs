//! The Fetch response.

use bytes::Bytes;

use super::{decode_topic_ref, encode_topic_ref, FLEXIBLE_FROM, VERSIONS};
use crate::protocol::messages::leader_discovery::{
    decode_node_endpoints, encode_node_endpoints, LeaderIdAndEpoch, NodeEndpoint,
};
use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Result, TagWriter, TaggedFields, Uuid, VersionRange, Writer,
};

/// The records and offsets a broker returns for a [`super::FetchRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct FetchResponse {
    /// Throttle time in ms (v1+, ignorable).
    pub throttle_time_ms: i32,
    /// Top-level error, e.g. for fetch-session problems (v7+, ignorable).
    pub error_code: ErrorCode,
    /// Fetch session id, 0 if not in a session (v7+).
    pub session_id: i32,
    /// Results per topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub responses: Vec<FetchTopicResponse>,
    /// Endpoints of the new leaders named in `current_leader` (v16+, tag 0).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub node_endpoints: Vec<NodeEndpoint>,
    /// Unknown tagged fields (v12+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Results for one topic (the spec's `FetchableTopicResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct FetchTopicResponse {
    /// Topic name (v0-v12, ignorable).
    pub topic: String,
    /// Topic id (v13+, ignorable).
    pub topic_id: Uuid,
    /// Results per partition (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<FetchPartitionResponse>,
    /// Unknown tagged fields (v12+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Records and offsets of one partition (the spec's `PartitionData`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct FetchPartitionResponse {
    /// Partition index (v0+).
    pub partition_index: i32,
    /// Error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// High watermark (v0+).
    pub high_watermark: i64,
    /// Last stable offset, -1 if unknown (v4+, ignorable).
    pub last_stable_offset: i64,
    /// Log start offset, -1 if unknown (v5+, ignorable).
    pub log_start_offset: i64,
    /// Where the fetcher's log diverges from the leader's (v12+, tag 0).
    pub diverging_epoch: EpochEndOffset,
    /// The new leader when the error says this broker is not it (v12+, tag 1).
    pub current_leader: LeaderIdAndEpoch,
    /// Snapshot to fetch when the offset is below the log start (v12+, tag 2).
    pub snapshot_id: SnapshotId,
    /// Aborted transactions in the returned range; `None` when the broker
    /// does not compute them (read-uncommitted) (v4+, nullable, ignorable;
    /// default: empty).
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::option::of(crate::protocol::testing::list())")
    )]
    pub aborted_transactions: Option<Vec<AbortedTransaction>>,
    /// Replica the consumer should fetch from next, -1 for none (v11+).
    pub preferred_read_replica: i32,
    /// Encoded record batches, a zero-copy slice of the response (v0+, nullable).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::opt_bytes()"))]
    pub records: Option<Bytes>,
    /// Unknown tagged fields (v12+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for FetchPartitionResponse {
    fn default() -> Self {
        Self {
            partition_index: 0,
            error_code: ErrorCode::NONE,
            high_watermark: 0,
            last_stable_offset: -1,
            log_start_offset: -1,
            diverging_epoch: EpochEndOffset::default(),
            current_leader: LeaderIdAndEpoch::default(),
            snapshot_id: SnapshotId::default(),
            aborted_transactions: Some(Vec::new()),
            preferred_read_replica: -1,
            records: None,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// The largest epoch and its end offset below which the logs agree (v12+).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct EpochEndOffset {
    /// Epoch, -1 if none.
    pub epoch: i32,
    /// End offset of that epoch, -1 if none.
    pub end_offset: i64,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for EpochEndOffset {
    fn default() -> Self {
        Self {
            epoch: -1,
            end_offset: -1,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// A snapshot to fetch with FetchSnapshot (v12+).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct SnapshotId {
    /// End offset of the snapshot, -1 if none.
    pub end_offset: i64,
    /// Epoch of the snapshot, -1 if none.
    pub epoch: i32,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for SnapshotId {
    fn default() -> Self {
        Self {
            end_offset: -1,
            epoch: -1,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// A transaction aborted within the returned records (v4+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AbortedTransaction {
    /// Producer id of the aborted transaction (v4+).
    pub producer_id: i64,
    /// First offset of the aborted transaction (v4+).
    pub first_offset: i64,
    /// Unknown tagged fields (v12+).
    pub unknown_tagged_fields: TaggedFields,
}

fn encode_partition_tags(w: &mut Writer<'_>, p: &FetchPartitionResponse) -> Result<()> {
    let diverging_default = p.diverging_epoch == EpochEndOffset::default();
    let leader_default = p.current_leader.is_default();
    let snapshot_default = p.snapshot_id == SnapshotId::default();
    let mut tags = TagWriter::new(&p.unknown_tagged_fields, w);
    if w.version() < 12 {
        w.absent("diverging_epoch", diverging_default, false)?;
        w.absent("current_leader", leader_default, false)?;
        w.absent("snapshot_id", snapshot_default, false)?;
        return tags.finish(w);
    }
    if !diverging_default {
        tags.field(0, |w| {
            w.i32(p.diverging_epoch.epoch);
            w.i64(p.diverging_epoch.end_offset);
            w.unknown_tagged_fields(&p.diverging_epoch.unknown_tagged_fields)
        })?;
    }
    if !leader_default {
        tags.field(1, |w| p.current_leader.encode(w))?;
    }
    if !snapshot_default {
        tags.field(2, |w| {
            w.i64(p.snapshot_id.end_offset);
            w.i32(p.snapshot_id.epoch);
            w.unknown_tagged_fields(&p.snapshot_id.unknown_tagged_fields)
        })?;
    }
    tags.finish(w)
}

fn encode_partition(w: &mut Writer<'_>, p: &FetchPartitionResponse) -> Result<()> {
    let v = w.version();
    w.i32(p.partition_index);
    w.i16(p.error_code.0);
    w.i64(p.high_watermark);
    if v >= 4 {
        w.i64(p.last_stable_offset);
    } else {
        w.absent("last_stable_offset", p.last_stable_offset == -1, true)?;
    }
    if v >= 5 {
        w.i64(p.log_start_offset);
    } else {
        w.absent("log_start_offset", p.log_start_offset == -1, true)?;
    }
    if v >= 4 {
        w.nullable_array(p.aborted_transactions.as_deref(), |w, a| {
            w.i64(a.producer_id);
            w.i64(a.first_offset);
            w.unknown_tagged_fields(&a.unknown_tagged_fields)
        })?;
    } else {
        let default = matches!(&p.aborted_transactions, Some(a) if a.is_empty());
        w.absent("aborted_transactions", default, true)?;
    }
    if v >= 11 {
        w.i32(p.preferred_read_replica);
    } else {
        w.absent(
            "preferred_read_replica",
            p.preferred_read_replica == -1,
            false,
        )?;
    }
    w.nullable_bytes(p.records.as_deref())?;
    encode_partition_tags(w, p)
}

fn decode_partition(r: &mut Reader, version: i16) -> Result<FetchPartitionResponse> {
    let mut p = FetchPartitionResponse {
        partition_index: r.i32()?,
        error_code: ErrorCode(r.i16()?),
        high_watermark: r.i64()?,
        ..FetchPartitionResponse::default()
    };
    if version >= 4 {
        p.last_stable_offset = r.i64()?;
    }
    if version >= 5 {
        p.log_start_offset = r.i64()?;
    }
    if version >= 4 {
        p.aborted_transactions = r.nullable_array(|r| {
            Ok(AbortedTransaction {
                producer_id: r.i64()?,
                first_offset: r.i64()?,
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?;
    }
    if version >= 11 {
        p.preferred_read_replica = r.i32()?;
    }
    p.records = r.nullable_bytes()?;
    p.unknown_tagged_fields = r.tagged_fields(|tag, f| {
        match tag {
            0 => p.diverging_epoch = decode_epoch_end_offset(f)?,
            1 => p.current_leader = LeaderIdAndEpoch::decode(f)?,
            2 => p.snapshot_id = decode_snapshot_id(f)?,
            _ => return Ok(false),
        }
        f.finish()?;
        Ok(true)
    })?;
    Ok(p)
}

fn decode_epoch_end_offset(r: &mut Reader) -> Result<EpochEndOffset> {
    Ok(EpochEndOffset {
        epoch: r.i32()?,
        end_offset: r.i64()?,
        unknown_tagged_fields: r.unknown_tagged_fields()?,
    })
}

fn decode_snapshot_id(r: &mut Reader) -> Result<SnapshotId> {
    Ok(SnapshotId {
        end_offset: r.i64()?,
        epoch: r.i32()?,
        unknown_tagged_fields: r.unknown_tagged_fields()?,
    })
}

impl Message for FetchResponse {
    const API_KEY: ApiKey = ApiKey::FETCH;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        if v >= 1 {
            w.i32(self.throttle_time_ms);
        } else {
            w.absent("throttle_time_ms", self.throttle_time_ms == 0, true)?;
        }
        if v >= 7 {
            w.i16(self.error_code.0);
            w.i32(self.session_id);
        } else {
            w.absent("error_code", self.error_code == ErrorCode::NONE, true)?;
            w.absent("session_id", self.session_id == 0, false)?;
        }
        w.array(&self.responses, |w, t| {
            encode_topic_ref(w, &t.topic, &t.topic_id)?;
            w.array(&t.partitions, encode_partition)?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        let mut tags = TagWriter::new(&self.unknown_tagged_fields, w);
        if v >= 16 {
            if !self.node_endpoints.is_empty() {
                tags.field(0, |w| encode_node_endpoints(w, &self.node_endpoints))?;
            }
        } else {
            w.absent("node_endpoints", self.node_endpoints.is_empty(), false)?;
        }
        tags.finish(w)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self::default();
        if version >= 1 {
            msg.throttle_time_ms = r.i32()?;
        }
        if version >= 7 {
            msg.error_code = ErrorCode(r.i16()?);
            msg.session_id = r.i32()?;
        }
        msg.responses = r.array(|r| {
            let (topic, topic_id) = decode_topic_ref(r, version)?;
            Ok(FetchTopicResponse {
                topic,
                topic_id,
                partitions: r.array(|r| decode_partition(r, version))?,
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?;
        msg.unknown_tagged_fields = r.tagged_fields(|tag, f| match tag {
            0 if version >= 16 => {
                msg.node_endpoints = decode_node_endpoints(f)?;
                f.finish()?;
                Ok(true)
            }
            _ => Ok(false),
        })?;
        Ok(msg)
    }
}
