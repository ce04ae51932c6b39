//! Produce (key 0): append record batches to partition logs.
//!
//! The `records` of each partition are carried as raw bytes — an encoded
//! record batch (or a legacy message set) built and parsed by the record
//! layer. Decoding hands them out as zero-copy slices of the input frame.
//!
//! With `acks = 0` the broker sends no response at all; see
//! [`ProduceRequest::expects_response`].
//!
//! Versions 0-11, flexible from 9. Version-by-version changes: v1 throttle
//! time, v2 log-append time, v3 transactional id, v5 log start offset, v8
//! record errors (KIP-467), v9 flexible, v10 leader discovery (KIP-951).
//!
//! Spec: `ProduceRequest.json` / `ProduceResponse.json`, KIP-98, KIP-467, KIP-951.

use bytes::Bytes;

use super::leader_discovery::{decode_node_endpoints, encode_node_endpoints};
pub use super::leader_discovery::{LeaderIdAndEpoch, NodeEndpoint};
use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TagWriter, TaggedFields,
    VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 11);
const FLEXIBLE_FROM: Option<i16> = Some(9);

/// Appends records to partitions on their leader.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ProduceRequest {
    /// Transactional id, `None` for a non-transactional producer (v3+, nullable v3+).
    pub transactional_id: Option<String>,
    /// Acknowledgements required: 0 none, 1 leader only, -1 all in-sync replicas (v0+).
    pub acks: i16,
    /// How long the broker may wait for the acknowledgements, in ms (v0+).
    pub timeout_ms: i32,
    /// Records per topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topic_data: Vec<TopicProduceData>,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: TaggedFields,
}

impl ProduceRequest {
    /// Whether the broker answers this request (it does not when `acks == 0`).
    pub fn expects_response(&self) -> bool {
        self.acks != 0
    }
}

/// The records for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TopicProduceData {
    /// Topic name (v0+).
    pub name: String,
    /// Records per partition (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partition_data: Vec<PartitionProduceData>,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The records for one partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct PartitionProduceData {
    /// Partition index (v0+).
    pub index: i32,
    /// Encoded record batch(es), kept raw (v0+, nullable).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::opt_bytes()"))]
    pub records: Option<Bytes>,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The broker's answer to a [`ProduceRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ProduceResponse {
    /// Results per topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub responses: Vec<TopicProduceResponse>,
    /// Throttle time in ms (v1+, ignorable).
    pub throttle_time_ms: i32,
    /// Endpoints of the new leaders named in `current_leader` (v10+, tag 0).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub node_endpoints: Vec<NodeEndpoint>,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Results for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TopicProduceResponse {
    /// Topic name (v0+).
    pub name: String,
    /// Results per partition (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partition_responses: Vec<PartitionProduceResponse>,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The result of appending to one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct PartitionProduceResponse {
    /// Partition index (v0+).
    pub index: i32,
    /// Error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// Offset given to the first record appended (v0+).
    pub base_offset: i64,
    /// Broker append time when the topic uses LogAppendTime, else -1 (v2+, ignorable).
    pub log_append_time_ms: i64,
    /// Log start offset, -1 if unknown (v5+, ignorable).
    pub log_start_offset: i64,
    /// Records that made the batch fail (v8+, ignorable).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub record_errors: Vec<BatchIndexAndErrorMessage>,
    /// Summary of why the batch was dropped (v8+, nullable, ignorable).
    pub error_message: Option<String>,
    /// The new leader when the error is `NOT_LEADER_OR_FOLLOWER` (v10+, tag 0).
    pub current_leader: LeaderIdAndEpoch,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for PartitionProduceResponse {
    fn default() -> Self {
        Self {
            index: 0,
            error_code: ErrorCode::NONE,
            base_offset: 0,
            log_append_time_ms: -1,
            log_start_offset: -1,
            record_errors: Vec::new(),
            error_message: None,
            current_leader: LeaderIdAndEpoch::default(),
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// One record that caused its batch to be rejected (v8+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct BatchIndexAndErrorMessage {
    /// Index of the record within its batch (v8+).
    pub batch_index: i32,
    /// Why that record was rejected (v8+, nullable).
    pub batch_index_error_message: Option<String>,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for ProduceRequest {
    const API_KEY: ApiKey = ApiKey::PRODUCE;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        if w.version() >= 3 {
            w.nullable_string(self.transactional_id.as_deref())?;
        } else {
            w.absent("transactional_id", self.transactional_id.is_none(), false)?;
        }
        w.i16(self.acks);
        w.i32(self.timeout_ms);
        w.array(&self.topic_data, |w, t| {
            w.string(&t.name)?;
            w.array(&t.partition_data, |w, p| {
                w.i32(p.index);
                w.records(p.records.as_ref())?;
                w.unknown_tagged_fields(&p.unknown_tagged_fields)
            })?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let transactional_id = if version >= 3 {
            r.nullable_string()?
        } else {
            None
        };
        Ok(Self {
            transactional_id,
            acks: r.i16()?,
            timeout_ms: r.i32()?,
            topic_data: r.array(|r| {
                Ok(TopicProduceData {
                    name: r.string()?,
                    partition_data: r.array(|r| {
                        Ok(PartitionProduceData {
                            index: r.i32()?,
                            records: r.nullable_bytes()?,
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

impl Request for ProduceRequest {
    type Response = ProduceResponse;
    const ROUTE: Route = Route::PartitionLeader;
}

fn encode_partition_response(w: &mut Writer<'_>, p: &PartitionProduceResponse) -> Result<()> {
    let v = w.version();
    w.i32(p.index);
    w.i16(p.error_code.0);
    w.i64(p.base_offset);
    if v >= 2 {
        w.i64(p.log_append_time_ms);
    } else {
        w.absent("log_append_time_ms", p.log_append_time_ms == -1, true)?;
    }
    if v >= 5 {
        w.i64(p.log_start_offset);
    } else {
        w.absent("log_start_offset", p.log_start_offset == -1, true)?;
    }
    if v >= 8 {
        w.array(&p.record_errors, |w, e| {
            w.i32(e.batch_index);
            w.nullable_string(e.batch_index_error_message.as_deref())?;
            w.unknown_tagged_fields(&e.unknown_tagged_fields)
        })?;
        w.nullable_string(p.error_message.as_deref())?;
    } else {
        w.absent("record_errors", p.record_errors.is_empty(), true)?;
        w.absent("error_message", p.error_message.is_none(), true)?;
    }
    let mut tags = TagWriter::new(&p.unknown_tagged_fields, w);
    if v >= 10 {
        if !p.current_leader.is_default() {
            tags.field(0, |w| p.current_leader.encode(w))?;
        }
    } else {
        w.absent("current_leader", p.current_leader.is_default(), false)?;
    }
    tags.finish(w)
}

fn decode_partition_response(r: &mut Reader, version: i16) -> Result<PartitionProduceResponse> {
    let mut p = PartitionProduceResponse {
        index: r.i32()?,
        error_code: ErrorCode(r.i16()?),
        base_offset: r.i64()?,
        ..PartitionProduceResponse::default()
    };
    if version >= 2 {
        p.log_append_time_ms = r.i64()?;
    }
    if version >= 5 {
        p.log_start_offset = r.i64()?;
    }
    if version >= 8 {
        p.record_errors = r.array(|r| {
            Ok(BatchIndexAndErrorMessage {
                batch_index: r.i32()?,
                batch_index_error_message: r.nullable_string()?,
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?;
        p.error_message = r.nullable_string()?;
    }
    p.unknown_tagged_fields = r.tagged_fields(|tag, f| match tag {
        0 if version >= 10 => {
            p.current_leader = LeaderIdAndEpoch::decode(f)?;
            f.finish()?;
            Ok(true)
        }
        _ => Ok(false),
    })?;
    Ok(p)
}

impl Message for ProduceResponse {
    const API_KEY: ApiKey = ApiKey::PRODUCE;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        w.array(&self.responses, |w, t| {
            w.string(&t.name)?;
            w.array(&t.partition_responses, encode_partition_response)?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        if v >= 1 {
            w.i32(self.throttle_time_ms);
        } else {
            w.absent("throttle_time_ms", self.throttle_time_ms == 0, true)?;
        }
        let mut tags = TagWriter::new(&self.unknown_tagged_fields, w);
        if v >= 10 {
            if !self.node_endpoints.is_empty() {
                tags.field(0, |w| encode_node_endpoints(w, &self.node_endpoints))?;
            }
        } else {
            w.absent("node_endpoints", self.node_endpoints.is_empty(), false)?;
        }
        tags.finish(w)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self {
            responses: r.array(|r| {
                Ok(TopicProduceResponse {
                    name: r.string()?,
                    partition_responses: r.array(|r| decode_partition_response(r, version))?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            ..Self::default()
        };
        if version >= 1 {
            msg.throttle_time_ms = r.i32()?;
        }
        msg.unknown_tagged_fields = r.tagged_fields(|tag, f| match tag {
            0 if version >= 10 => {
                msg.node_endpoints = decode_node_endpoints(f)?;
                f.finish()?;
                Ok(true)
            }
            _ => Ok(false),
        })?;
        Ok(msg)
    }
}

#[cfg(test)]
mod tests;
mod v12;
pub use v12::{ProduceV12Request, ProduceV12Response};
