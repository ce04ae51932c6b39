//! AddPartitionsToTxn (key 24): add partitions to an open transaction.
//!
//! A transactional producer (transaction protocol v1) sends it to its
//! transaction coordinator before the first Produce to each partition of a
//! transaction. v0-v3 carry one transaction (the `v3_and_below_*` fields);
//! from v4 the request carries a batch of transactions, each with a
//! `verify_only` flag, and the response one entry per transaction plus a
//! top-level error. Upstream notes that clients use v3 and below, brokers v4
//! and above (a partition leader verifying a transaction, KIP-890 part 1).
//! The two shapes are distinct fields here, as on the wire: encoding the
//! other shape's field with a value is an error. v5 only adds the
//! `TRANSACTION_ABORTABLE` error code.
//!
//! Spec: `AddPartitionsToTxnRequest.json` / `AddPartitionsToTxnResponse.json`,
//! KIP-98 (transactions), KIP-482 (flexible, v3), KIP-890 (v4, v5).

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, TaggedFields,
    VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 5);
const FLEXIBLE_FROM: Option<i16> = Some(3);

/// Adds partitions to one transaction (v0-v3) or several (v4+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AddPartitionsToTxnRequest {
    /// The transactions to add partitions to (v4+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub transactions: Vec<AddPartitionsToTxnTransaction>,
    /// The transactional id (v0-v3).
    pub v3_and_below_transactional_id: String,
    /// The producer id in use by the transactional id (v0-v3).
    pub v3_and_below_producer_id: i64,
    /// The producer's current epoch (v0-v3).
    pub v3_and_below_producer_epoch: i16,
    /// The partitions to add (v0-v3).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub v3_and_below_topics: Vec<AddPartitionsToTxnTopic>,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One transaction of a batched (v4+) request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AddPartitionsToTxnTransaction {
    /// The transactional id (v4+).
    pub transactional_id: String,
    /// The producer id in use by the transactional id (v4+).
    pub producer_id: i64,
    /// The producer's current epoch (v4+).
    pub producer_epoch: i16,
    /// Only check that the partitions are in the transaction (v4+).
    pub verify_only: bool,
    /// The partitions to add (v4+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<AddPartitionsToTxnTopic>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Partitions of one topic to add.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AddPartitionsToTxnTopic {
    /// Topic name (v0+).
    pub name: String,
    /// Partition indexes (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<i32>,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The coordinator's answer: an error per partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AddPartitionsToTxnResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// Top-level error (v4+, ignorable).
    pub error_code: ErrorCode,
    /// Results per transaction (v4+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub results_by_transaction: Vec<AddPartitionsToTxnResult>,
    /// Results per topic of the one transaction (v0-v3).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub results_by_topic_v3_and_below: Vec<AddPartitionsToTxnTopicResult>,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Results of one transaction (v4+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AddPartitionsToTxnResult {
    /// The transactional id (v4+).
    pub transactional_id: String,
    /// Results per topic (v4+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topic_results: Vec<AddPartitionsToTxnTopicResult>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Results of one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AddPartitionsToTxnTopicResult {
    /// Topic name (v0+).
    pub name: String,
    /// Results per partition (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub results_by_partition: Vec<AddPartitionsToTxnPartitionResult>,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Result of one partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AddPartitionsToTxnPartitionResult {
    /// Partition index (v0+).
    pub partition_index: i32,
    /// Error for this partition, `NONE` when added (v0+).
    pub partition_error_code: ErrorCode,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

fn encode_topic(w: &mut Writer<'_>, t: &AddPartitionsToTxnTopic) -> Result<()> {
    w.string(&t.name)?;
    w.i32_array(&t.partitions)?;
    w.unknown_tagged_fields(&t.unknown_tagged_fields)
}

fn decode_topic(r: &mut Reader) -> Result<AddPartitionsToTxnTopic> {
    Ok(AddPartitionsToTxnTopic {
        name: r.string()?,
        partitions: r.i32_array()?,
        unknown_tagged_fields: r.unknown_tagged_fields()?,
    })
}

fn encode_transaction(w: &mut Writer<'_>, t: &AddPartitionsToTxnTransaction) -> Result<()> {
    w.string(&t.transactional_id)?;
    w.i64(t.producer_id);
    w.i16(t.producer_epoch);
    w.bool(t.verify_only);
    w.array(&t.topics, encode_topic)?;
    w.unknown_tagged_fields(&t.unknown_tagged_fields)
}

fn decode_transaction(r: &mut Reader) -> Result<AddPartitionsToTxnTransaction> {
    Ok(AddPartitionsToTxnTransaction {
        transactional_id: r.string()?,
        producer_id: r.i64()?,
        producer_epoch: r.i16()?,
        verify_only: r.bool()?,
        topics: r.array(decode_topic)?,
        unknown_tagged_fields: r.unknown_tagged_fields()?,
    })
}

impl AddPartitionsToTxnRequest {
    /// Fails unless every v0-v3 field is at its default (for v4+).
    fn v3_fields_absent(&self, w: &mut Writer<'_>) -> Result<()> {
        let id = self.v3_and_below_transactional_id.is_empty();
        w.absent("v3_and_below_transactional_id", id, false)?;
        w.absent(
            "v3_and_below_producer_id",
            self.v3_and_below_producer_id == 0,
            false,
        )?;
        w.absent(
            "v3_and_below_producer_epoch",
            self.v3_and_below_producer_epoch == 0,
            false,
        )?;
        let topics = self.v3_and_below_topics.is_empty();
        w.absent("v3_and_below_topics", topics, false)
    }
}

impl Message for AddPartitionsToTxnRequest {
    const API_KEY: ApiKey = ApiKey::ADD_PARTITIONS_TO_TXN;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        if w.version() >= 4 {
            w.array(&self.transactions, encode_transaction)?;
            self.v3_fields_absent(w)?;
        } else {
            w.absent("transactions", self.transactions.is_empty(), false)?;
            w.string(&self.v3_and_below_transactional_id)?;
            w.i64(self.v3_and_below_producer_id);
            w.i16(self.v3_and_below_producer_epoch);
            w.array(&self.v3_and_below_topics, encode_topic)?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self::default();
        if version >= 4 {
            msg.transactions = r.array(decode_transaction)?;
        } else {
            msg.v3_and_below_transactional_id = r.string()?;
            msg.v3_and_below_producer_id = r.i64()?;
            msg.v3_and_below_producer_epoch = r.i16()?;
            msg.v3_and_below_topics = r.array(decode_topic)?;
        }
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

impl Request for AddPartitionsToTxnRequest {
    type Response = AddPartitionsToTxnResponse;
    const ROUTE: Route = Route::TransactionCoordinator;

    fn route_key(&self) -> RouteKey<'_> {
        match self.transactions.as_slice() {
            [] => RouteKey::Coordinator(&self.v3_and_below_transactional_id),
            [one] => RouteKey::Coordinator(&one.transactional_id),
            _ => RouteKey::None,
        }
    }
}

fn encode_topic_result(w: &mut Writer<'_>, t: &AddPartitionsToTxnTopicResult) -> Result<()> {
    w.string(&t.name)?;
    w.array(&t.results_by_partition, |w, p| {
        w.i32(p.partition_index);
        w.i16(p.partition_error_code.0);
        w.unknown_tagged_fields(&p.unknown_tagged_fields)
    })?;
    w.unknown_tagged_fields(&t.unknown_tagged_fields)
}

fn decode_topic_result(r: &mut Reader) -> Result<AddPartitionsToTxnTopicResult> {
    Ok(AddPartitionsToTxnTopicResult {
        name: r.string()?,
        results_by_partition: r.array(|r| {
            Ok(AddPartitionsToTxnPartitionResult {
                partition_index: r.i32()?,
                partition_error_code: ErrorCode(r.i16()?),
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?,
        unknown_tagged_fields: r.unknown_tagged_fields()?,
    })
}

impl Message for AddPartitionsToTxnResponse {
    const API_KEY: ApiKey = ApiKey::ADD_PARTITIONS_TO_TXN;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        if w.version() >= 4 {
            w.i16(self.error_code.0);
            w.array(&self.results_by_transaction, |w, t| {
                w.string(&t.transactional_id)?;
                w.array(&t.topic_results, encode_topic_result)?;
                w.unknown_tagged_fields(&t.unknown_tagged_fields)
            })?;
            let empty = self.results_by_topic_v3_and_below.is_empty();
            w.absent("results_by_topic_v3_and_below", empty, false)?;
        } else {
            w.absent("error_code", self.error_code == ErrorCode::NONE, true)?;
            let empty = self.results_by_transaction.is_empty();
            w.absent("results_by_transaction", empty, false)?;
            w.array(&self.results_by_topic_v3_and_below, encode_topic_result)?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self {
            throttle_time_ms: r.i32()?,
            ..Self::default()
        };
        if version >= 4 {
            msg.error_code = ErrorCode(r.i16()?);
            msg.results_by_transaction = r.array(|r| {
                Ok(AddPartitionsToTxnResult {
                    transactional_id: r.string()?,
                    topic_results: r.array(decode_topic_result)?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?;
        } else {
            msg.results_by_topic_v3_and_below = r.array(decode_topic_result)?;
        }
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::{check_roundtrip, encoded};
    use crate::protocol::ProtocolError;
    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<AddPartitionsToTxnRequest>(), v in 0i16..=5) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<AddPartitionsToTxnResponse>(), v in 0i16..=5) {
            check_roundtrip(&m, v)?;
        }

        /// Messages holding only what a version carries survive exactly.
        #[test]
        fn version_shaped_roundtrip(
            q in any::<AddPartitionsToTxnRequest>(),
            p in any::<AddPartitionsToTxnResponse>(),
            v in 0i16..=5,
        ) {
            let q = request_at(q, v);
            prop_assert_eq!(AddPartitionsToTxnRequest::decode(encoded(&q, v).into(), v), Ok(q));
            let p = response_at(p, v);
            prop_assert_eq!(AddPartitionsToTxnResponse::decode(encoded(&p, v).into(), v), Ok(p));
        }
    }

    fn clear_topic_tags(t: &mut AddPartitionsToTxnTopic) {
        t.unknown_tagged_fields = TaggedFields::default();
    }

    /// Resets what version `v` lacks, restating the spec's version ranges.
    fn request_at(mut m: AddPartitionsToTxnRequest, v: i16) -> AddPartitionsToTxnRequest {
        if v >= 4 {
            m.v3_and_below_transactional_id.clear();
            m.v3_and_below_producer_id = 0;
            m.v3_and_below_producer_epoch = 0;
            m.v3_and_below_topics.clear();
        } else {
            m.transactions.clear();
        }
        if v < 3 {
            m.unknown_tagged_fields = TaggedFields::default();
            m.v3_and_below_topics.iter_mut().for_each(clear_topic_tags);
        }
        m
    }

    fn response_at(mut m: AddPartitionsToTxnResponse, v: i16) -> AddPartitionsToTxnResponse {
        if v >= 4 {
            m.results_by_topic_v3_and_below.clear();
        } else {
            m.error_code = ErrorCode::NONE;
            m.results_by_transaction.clear();
        }
        if v < 3 {
            m.unknown_tagged_fields = TaggedFields::default();
            for t in &mut m.results_by_topic_v3_and_below {
                t.unknown_tagged_fields = TaggedFields::default();
                for p in &mut t.results_by_partition {
                    p.unknown_tagged_fields = TaggedFields::default();
                }
            }
        }
        m
    }

    fn v3_request() -> AddPartitionsToTxnRequest {
        AddPartitionsToTxnRequest {
            v3_and_below_transactional_id: "tx".into(),
            v3_and_below_producer_id: 7,
            v3_and_below_producer_epoch: 2,
            v3_and_below_topics: vec![AddPartitionsToTxnTopic {
                name: "t".into(),
                partitions: vec![0, 3],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn request_v0_and_v3_bytes() {
        let m = v3_request();
        #[rustfmt::skip]
        let v0: &[u8] = &[
            0, 2, b't', b'x',             // transactional id
            0, 0, 0, 0, 0, 0, 0, 7,       // producer id
            0, 2,                         // epoch
            0, 0, 0, 1, 0, 1, b't',       // topics: 1, name "t"
            0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, // partitions [0, 3]
        ];
        assert_eq!(encoded(&m, 0), v0);
        assert_eq!(
            AddPartitionsToTxnRequest::decode(Bytes::from_static(v0), 0),
            Ok(m.clone())
        );
        #[rustfmt::skip]
        let v3: &[u8] = &[
            3, b't', b'x', 0, 0, 0, 0, 0, 0, 0, 7, 0, 2,
            2, 2, b't', 3, 0, 0, 0, 0, 0, 0, 0, 3, 0, // topic and its tags
            0,                                        // request tags
        ];
        assert_eq!(encoded(&m, 3), v3);
        assert_eq!(
            AddPartitionsToTxnRequest::decode(Bytes::from_static(v3), 3),
            Ok(m.clone())
        );
        // The single-transaction shape has no v4 form.
        assert!(matches!(
            m.encode(4, &mut BytesMut::new()),
            Err(ProtocolError::FieldNotSupported { .. })
        ));
    }

    #[test]
    fn request_v4_batched_verify_only_bytes() {
        let m = AddPartitionsToTxnRequest {
            transactions: vec![AddPartitionsToTxnTransaction {
                transactional_id: "a".into(),
                producer_id: 1,
                producer_epoch: 0,
                verify_only: true,
                topics: vec![AddPartitionsToTxnTopic {
                    name: "t".into(),
                    partitions: vec![5],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        #[rustfmt::skip]
        let v4: &[u8] = &[
            2,                            // transactions: 1
            2, b'a', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, // id, producer id, epoch
            1,                            // verify only
            2, 2, b't', 2, 0, 0, 0, 5, 0, // topics: "t" [5], topic tags
            0, 0,                         // transaction and request tags
        ];
        assert_eq!(encoded(&m, 4), v4);
        assert_eq!(
            AddPartitionsToTxnRequest::decode(Bytes::from_static(v4), 4),
            Ok(m.clone())
        );
        assert!(m.encode(3, &mut BytesMut::new()).is_err());
    }

    #[test]
    fn response_v2_and_v5_bytes() {
        let topic = AddPartitionsToTxnTopicResult {
            name: "t".into(),
            results_by_partition: vec![AddPartitionsToTxnPartitionResult {
                partition_index: 1,
                partition_error_code: ErrorCode::CONCURRENT_TRANSACTIONS,
                ..Default::default()
            }],
            ..Default::default()
        };
        let v2 = AddPartitionsToTxnResponse {
            results_by_topic_v3_and_below: vec![topic.clone()],
            ..Default::default()
        };
        #[rustfmt::skip]
        let bytes: &[u8] = &[0, 0, 0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 1, 0, 51];
        assert_eq!(encoded(&v2, 2), bytes);
        let v5 = AddPartitionsToTxnResponse {
            error_code: ErrorCode::NONE,
            results_by_transaction: vec![AddPartitionsToTxnResult {
                transactional_id: "x".into(),
                topic_results: vec![topic],
                ..Default::default()
            }],
            ..Default::default()
        };
        #[rustfmt::skip]
        let bytes: &[u8] = &[
            0, 0, 0, 0, 0, 0,             // throttle, top-level error
            2, 2, b'x',                   // results: 1, id "x"
            2, 2, b't', 2, 0, 0, 0, 1, 0, 51, 0, 0, // topic "t", partition 1 error 51
            0, 0,                         // result and response tags
        ];
        assert_eq!(encoded(&v5, 5), bytes);
        assert_eq!(
            AddPartitionsToTxnResponse::decode(Bytes::from_static(bytes), 5),
            Ok(v5)
        );
    }
}
