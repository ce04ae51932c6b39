//! ShareAcknowledge (key 79): a share-group member acknowledges records it
//! acquired through ShareFetch without fetching more (KIP-932): when it
//! commits, stops fetching a partition or closes its share session.
//!
//! Kafka 4.4.0 serves v1-v2; v2 adds renew acknowledgements and the lock
//! timeout in the response (KIP-1222). Every version is flexible. The
//! request's topics have the same layout as ShareFetch's.
//!
//! Spec: `ShareAcknowledgeRequest.json` / `ShareAcknowledgeResponse.json`
//! (Kafka 4.4.0); KIP-932.

use super::leader_discovery::{
    decode_node_endpoints, encode_node_endpoints, LeaderIdAndEpoch, NodeEndpoint,
};
use super::share_fetch::{decode_topics, encode_topics, ShareFetchTopic};
use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, Uuid, VersionRange,
    Writer,
};

const VERSIONS: VersionRange = VersionRange::new(1, 2);

/// Acknowledges acquired records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ShareAcknowledgeRequest {
    /// The share group (v1+, nullable).
    pub group_id: Option<String>,
    /// The member id (v1+, nullable).
    pub member_id: Option<String>,
    /// Share session epoch: -1 closes the session, otherwise the next
    /// epoch of the session (v1+).
    pub share_session_epoch: i32,
    /// Whether the acknowledgements carry Renew (4) types (v2+).
    pub is_renew_ack: bool,
    /// The acknowledgements per topic and partition (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<ShareFetchTopic>,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The outcome per partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ShareAcknowledgeResponse {
    /// Throttle time in ms (v1+).
    pub throttle_time_ms: i32,
    /// Top-level error (v1+).
    pub error_code: ErrorCode,
    /// Top-level error message (v1+, nullable).
    pub error_message: Option<String>,
    /// How long acquired records stay locked, in ms (v2+, ignorable).
    pub acquisition_lock_timeout_ms: i32,
    /// Results per topic (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub responses: Vec<ShareAcknowledgeTopicResponse>,
    /// Endpoints of the new leaders named in `current_leader` (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub node_endpoints: Vec<NodeEndpoint>,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Results for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ShareAcknowledgeTopicResponse {
    /// The topic id (v1+).
    pub topic_id: Uuid,
    /// Results per partition (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<ShareAcknowledgePartitionResponse>,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The outcome of one partition's acknowledgements.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ShareAcknowledgePartitionResponse {
    /// The partition index (v1+).
    pub partition_index: i32,
    /// Error, `NONE` on success (v1+).
    pub error_code: ErrorCode,
    /// Error message (v1+, nullable).
    pub error_message: Option<String>,
    /// The current leader (v1+).
    pub current_leader: LeaderIdAndEpoch,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for ShareAcknowledgeRequest {
    const API_KEY: ApiKey = ApiKey::SHARE_ACKNOWLEDGE;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = Some(0);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.nullable_string(self.group_id.as_deref())?;
        w.nullable_string(self.member_id.as_deref())?;
        w.i32(self.share_session_epoch);
        if w.version() >= 2 {
            w.bool(self.is_renew_ack);
        } else {
            w.absent("is_renew_ack", !self.is_renew_ack, false)?;
        }
        encode_topics(w, &self.topics)?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        Ok(Self {
            group_id: r.nullable_string()?,
            member_id: r.nullable_string()?,
            share_session_epoch: r.i32()?,
            is_renew_ack: version >= 2 && r.bool()?,
            topics: decode_topics(r)?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for ShareAcknowledgeRequest {
    type Response = ShareAcknowledgeResponse;
    const ROUTE: Route = Route::PartitionLeader;
}

impl Message for ShareAcknowledgeResponse {
    const API_KEY: ApiKey = ApiKey::SHARE_ACKNOWLEDGE;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = Some(0);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.i16(self.error_code.0);
        w.nullable_string(self.error_message.as_deref())?;
        if w.version() >= 2 {
            w.i32(self.acquisition_lock_timeout_ms);
        } else {
            w.absent(
                "acquisition_lock_timeout_ms",
                self.acquisition_lock_timeout_ms == 0,
                true,
            )?;
        }
        w.array(&self.responses, |w, t| {
            w.uuid(&t.topic_id);
            w.array(&t.partitions, |w, p| {
                w.i32(p.partition_index);
                w.i16(p.error_code.0);
                w.nullable_string(p.error_message.as_deref())?;
                p.current_leader.encode(w)?;
                w.unknown_tagged_fields(&p.unknown_tagged_fields)
            })?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        encode_node_endpoints(w, &self.node_endpoints)?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            error_code: ErrorCode(r.i16()?),
            error_message: r.nullable_string()?,
            acquisition_lock_timeout_ms: if version >= 2 { r.i32()? } else { 0 },
            responses: r.array(|r| {
                Ok(ShareAcknowledgeTopicResponse {
                    topic_id: r.uuid()?,
                    partitions: r.array(|r| {
                        Ok(ShareAcknowledgePartitionResponse {
                            partition_index: r.i32()?,
                            error_code: ErrorCode(r.i16()?),
                            error_message: r.nullable_string()?,
                            current_leader: LeaderIdAndEpoch::decode(r)?,
                            unknown_tagged_fields: r.unknown_tagged_fields()?,
                        })
                    })?,
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
    use crate::protocol::messages::share_fetch::{AcknowledgementBatch, ShareFetchPartition};
    use crate::protocol::testing::{check_hostile, check_roundtrip, encoded};
    use bytes::Bytes;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<ShareAcknowledgeRequest>(), v in 1i16..=2) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<ShareAcknowledgeResponse>(), v in 1i16..=2) {
            check_roundtrip(&m, v)?;
        }
    }

    #[test]
    fn request_bytes() {
        let req = ShareAcknowledgeRequest {
            group_id: Some("g".into()),
            member_id: None,
            share_session_epoch: -1,
            topics: vec![ShareFetchTopic {
                topic_id: Uuid([2; 16]),
                partitions: vec![ShareFetchPartition {
                    partition_index: 3,
                    acknowledgement_batches: vec![AcknowledgementBatch {
                        first_offset: 0,
                        last_offset: 0,
                        acknowledge_types: vec![3],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut want = vec![2, b'g', 0, 0xff, 0xff, 0xff, 0xff, 2];
        want.extend([2; 16]);
        want.extend([2, 0, 0, 0, 3, 2]);
        want.extend([0; 16]);
        want.extend([2, 3, 0, 0, 0, 0]);
        assert_eq!(encoded(&req, 1), want);
        let back = ShareAcknowledgeRequest::decode(Bytes::from(want), 1).unwrap();
        assert_eq!(back, req);
    }

    #[test]
    fn lock_timeout_is_v2_only_and_hostile_bodies_fail() {
        let resp = ShareAcknowledgeResponse {
            acquisition_lock_timeout_ms: 15_000,
            responses: vec![ShareAcknowledgeTopicResponse {
                topic_id: Uuid([9; 16]),
                partitions: vec![ShareAcknowledgePartitionResponse {
                    partition_index: 1,
                    error_code: ErrorCode::INVALID_RECORD_STATE,
                    error_message: Some("x".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let (v1, v2) = (encoded(&resp, 1), encoded(&resp, 2));
        assert_eq!(v2.len(), v1.len() + 4);
        let back = ShareAcknowledgeResponse::decode(Bytes::from(v1.clone()), 1).unwrap();
        assert_eq!(back.acquisition_lock_timeout_ms, 0);
        check_hostile::<ShareAcknowledgeResponse>(&v1, 1);
        check_hostile::<ShareAcknowledgeResponse>(&v2, 2);
    }
}
