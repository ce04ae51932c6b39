//! DescribeProducers (key 61): the producers a partition leader tracks for
//! idempotence and transactions: id, epoch, last sequence and timestamp,
//! coordinator epoch and the start offset of an open transaction (the
//! offset holding the last stable offset back).
//!
//! Sent to each partition's leader. Flexible from v0.
//!
//! Spec: `DescribeProducersRequest.json` / `DescribeProducersResponse.json`,
//! KIP-664.

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, TaggedFields,
    VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 0);
const FLEXIBLE_FROM: Option<i16> = Some(0);

/// Asks a leader about its partitions' producers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeProducersRequest {
    /// The partitions, by topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<DescribeProducersTopic>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One topic of a [`DescribeProducersRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeProducersTopic {
    /// Topic name (v0+).
    pub name: String,
    /// Partition indexes (v0+).
    #[cfg_attr(
        test,
        proptest(strategy = "crate::protocol::testing::vec_of(proptest::prelude::any::<i32>())")
    )]
    pub partition_indexes: Vec<i32>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The leader's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeProducersResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// Results per topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<DescribeProducersTopicResponse>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One topic's results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeProducersTopicResponse {
    /// Topic name (v0+).
    pub name: String,
    /// Results per partition (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<DescribeProducersPartitionResponse>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One partition's producers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeProducersPartitionResponse {
    /// Partition index (v0+).
    pub partition_index: i32,
    /// `NONE`, `NOT_LEADER_OR_FOLLOWER`, `UNKNOWN_TOPIC_OR_PARTITION`, … (v0+).
    pub error_code: ErrorCode,
    /// The broker's message for the error (v0+).
    pub error_message: Option<String>,
    /// The producers with state in this partition (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub active_producers: Vec<ProducerState>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One producer's state in a partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ProducerState {
    /// Producer id (v0+).
    pub producer_id: i64,
    /// Producer epoch, as an `int32` on this API (v0+).
    pub producer_epoch: i32,
    /// The last sequence number written; -1 when none (v0+).
    pub last_sequence: i32,
    /// The last write's timestamp in ms; -1 when none (v0+).
    pub last_timestamp: i64,
    /// The epoch of the transaction coordinator that wrote the last marker (v0+).
    pub coordinator_epoch: i32,
    /// The first offset of the producer's open transaction; -1 when none (v0+).
    pub current_txn_start_offset: i64,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for DescribeProducersRequest {
    const API_KEY: ApiKey = ApiKey::DESCRIBE_PRODUCERS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.array(&self.topics, |w, t| {
            w.string(&t.name)?;
            w.i32_array(&t.partition_indexes)?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            topics: r.array(|r| {
                Ok(DescribeProducersTopic {
                    name: r.string()?,
                    partition_indexes: r.i32_array()?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for DescribeProducersRequest {
    type Response = DescribeProducersResponse;
    const ROUTE: Route = Route::PartitionLeader;

    /// One partition: its leader. Several: the caller names the broker.
    fn route_key(&self) -> RouteKey<'_> {
        match self.topics.as_slice() {
            [t] => match t.partition_indexes.as_slice() {
                [p] => RouteKey::Partition(&t.name, *p),
                _ => RouteKey::None,
            },
            _ => RouteKey::None,
        }
    }

    /// With one partition, its error is the request's: a moved leader then
    /// sends the call path to refresh the metadata and ask the new one.
    fn response_error(response: &Self::Response) -> ErrorCode {
        match response.topics.as_slice() {
            [t] => match t.partitions.as_slice() {
                [p] => p.error_code,
                _ => ErrorCode::NONE,
            },
            _ => ErrorCode::NONE,
        }
    }
}

impl Message for DescribeProducersResponse {
    const API_KEY: ApiKey = ApiKey::DESCRIBE_PRODUCERS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.array(&self.topics, |w, t| {
            w.string(&t.name)?;
            w.array(&t.partitions, |w, p| {
                w.i32(p.partition_index);
                w.i16(p.error_code.0);
                w.nullable_string(p.error_message.as_deref())?;
                w.array(&p.active_producers, |w, s| {
                    w.i64(s.producer_id);
                    w.i32(s.producer_epoch);
                    w.i32(s.last_sequence);
                    w.i64(s.last_timestamp);
                    w.i32(s.coordinator_epoch);
                    w.i64(s.current_txn_start_offset);
                    w.unknown_tagged_fields(&s.unknown_tagged_fields)
                })?;
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
                Ok(DescribeProducersTopicResponse {
                    name: r.string()?,
                    partitions: r.array(decode_partition)?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

fn decode_partition(r: &mut Reader) -> Result<DescribeProducersPartitionResponse> {
    Ok(DescribeProducersPartitionResponse {
        partition_index: r.i32()?,
        error_code: ErrorCode(r.i16()?),
        error_message: r.nullable_string()?,
        active_producers: r.array(|r| {
            Ok(ProducerState {
                producer_id: r.i64()?,
                producer_epoch: r.i32()?,
                last_sequence: r.i32()?,
                last_timestamp: r.i64()?,
                coordinator_epoch: r.i32()?,
                current_txn_start_offset: r.i64()?,
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?,
        unknown_tagged_fields: r.unknown_tagged_fields()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::{check_hostile, check_roundtrip, encoded};
    use bytes::Bytes;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<DescribeProducersRequest>()) {
            check_roundtrip(&m, 0)?;
        }

        #[test]
        fn response_roundtrip(m in any::<DescribeProducersResponse>()) {
            check_roundtrip(&m, 0)?;
        }

        /// Arbitrary bytes never panic the decoders.
        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = DescribeProducersRequest::decode(Bytes::from(b.clone()), 0);
            let _ = DescribeProducersResponse::decode(Bytes::from(b), 0);
        }
    }

    #[test]
    fn request_bytes_v0_and_route() {
        let req = DescribeProducersRequest {
            topics: vec![DescribeProducersTopic {
                name: "t".into(),
                partition_indexes: vec![2],
                ..Default::default()
            }],
            ..Default::default()
        };
        let wire: &[u8] = &[2, 2, b't', 2, 0, 0, 0, 2, 0, 0];
        assert_eq!(encoded(&req, 0), wire);
        assert_eq!(
            DescribeProducersRequest::decode(Bytes::from_static(wire), 0),
            Ok(req.clone())
        );
        assert_eq!(req.route_key(), RouteKey::Partition("t", 2));
    }

    #[test]
    fn hostile_input_is_an_error() {
        let full = encoded(
            &DescribeProducersResponse {
                topics: vec![DescribeProducersTopicResponse {
                    name: "t".into(),
                    partitions: vec![DescribeProducersPartitionResponse {
                        active_producers: vec![ProducerState {
                            producer_id: 5,
                            current_txn_start_offset: 9,
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
            0,
        );
        check_hostile::<DescribeProducersResponse>(&full, 0);
    }
}
