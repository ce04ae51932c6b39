//! DescribeTransactions (key 65): the state of transactional ids at their
//! transaction coordinator: state, timeout, start time, producer id and
//! epoch, and the partitions the open transaction has written to.
//!
//! Sent to the coordinator of the transactional id (FindCoordinator key
//! type 1); a request naming several ids only gets answers for the ids that
//! broker coordinates (the others fail with `NOT_COORDINATOR`). Flexible
//! from v0.
//!
//! Spec: `DescribeTransactionsRequest.json` /
//! `DescribeTransactionsResponse.json`, KIP-664.

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, TaggedFields,
    VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 0);
const FLEXIBLE_FROM: Option<i16> = Some(0);

/// Asks a transaction coordinator about transactional ids.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeTransactionsRequest {
    /// The transactional ids; an empty list gets no results (v0+).
    #[cfg_attr(
        test,
        proptest(
            strategy = "crate::protocol::testing::vec_of(proptest::prelude::any::<String>())"
        )
    )]
    pub transactional_ids: Vec<String>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The coordinator's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeTransactionsResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// One entry per transactional id asked for (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub transaction_states: Vec<DescribedTransactionState>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One transactional id's state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribedTransactionState {
    /// `NONE`, `NOT_COORDINATOR`, `TRANSACTIONAL_ID_NOT_FOUND`, … (v0+).
    pub error_code: ErrorCode,
    /// The transactional id (v0+).
    pub transactional_id: String,
    /// The coordinator's state name (`"Ongoing"`, `"CompleteAbort"`, …) (v0+).
    pub transaction_state: String,
    /// The transaction timeout in ms (v0+).
    pub transaction_timeout_ms: i32,
    /// When the open transaction started, ms since the epoch; -1 when none
    /// is open (v0+).
    pub transaction_start_time_ms: i64,
    /// The producer id (v0+).
    pub producer_id: i64,
    /// The producer epoch (v0+).
    pub producer_epoch: i16,
    /// The partitions of the open transaction, by topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<TransactionTopic>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One topic of a [`DescribedTransactionState`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TransactionTopic {
    /// Topic name (v0+).
    pub topic: String,
    /// Partition indexes (v0+).
    #[cfg_attr(
        test,
        proptest(strategy = "crate::protocol::testing::vec_of(proptest::prelude::any::<i32>())")
    )]
    pub partitions: Vec<i32>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for DescribeTransactionsRequest {
    const API_KEY: ApiKey = ApiKey::DESCRIBE_TRANSACTIONS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.array(&self.transactional_ids, |w, s| w.string(s))?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            transactional_ids: r.array(Reader::string)?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for DescribeTransactionsRequest {
    type Response = DescribeTransactionsResponse;
    const ROUTE: Route = Route::TransactionCoordinator;

    /// One id: its coordinator. Several: the caller names the broker.
    fn route_key(&self) -> RouteKey<'_> {
        match self.transactional_ids.as_slice() {
            [one] => RouteKey::Coordinator(one),
            _ => RouteKey::None,
        }
    }

    /// With one id, its error is the request's: `NOT_COORDINATOR` then
    /// sends the call path to find the coordinator again.
    fn response_error(response: &Self::Response) -> ErrorCode {
        match response.transaction_states.as_slice() {
            [one] => one.error_code,
            _ => ErrorCode::NONE,
        }
    }
}

impl Message for DescribeTransactionsResponse {
    const API_KEY: ApiKey = ApiKey::DESCRIBE_TRANSACTIONS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.array(&self.transaction_states, |w, t| {
            w.i16(t.error_code.0);
            w.string(&t.transactional_id)?;
            w.string(&t.transaction_state)?;
            w.i32(t.transaction_timeout_ms);
            w.i64(t.transaction_start_time_ms);
            w.i64(t.producer_id);
            w.i16(t.producer_epoch);
            w.array(&t.topics, |w, topic| {
                w.string(&topic.topic)?;
                w.i32_array(&topic.partitions)?;
                w.unknown_tagged_fields(&topic.unknown_tagged_fields)
            })?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            transaction_states: r.array(|r| {
                Ok(DescribedTransactionState {
                    error_code: ErrorCode(r.i16()?),
                    transactional_id: r.string()?,
                    transaction_state: r.string()?,
                    transaction_timeout_ms: r.i32()?,
                    transaction_start_time_ms: r.i64()?,
                    producer_id: r.i64()?,
                    producer_epoch: r.i16()?,
                    topics: r.array(|r| {
                        Ok(TransactionTopic {
                            topic: r.string()?,
                            partitions: r.i32_array()?,
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
    use crate::protocol::testing::{check_hostile, check_roundtrip, encoded};
    use bytes::Bytes;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<DescribeTransactionsRequest>()) {
            check_roundtrip(&m, 0)?;
        }

        #[test]
        fn response_roundtrip(m in any::<DescribeTransactionsResponse>()) {
            check_roundtrip(&m, 0)?;
        }

        /// Arbitrary bytes never panic the decoders.
        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = DescribeTransactionsRequest::decode(Bytes::from(b.clone()), 0);
            let _ = DescribeTransactionsResponse::decode(Bytes::from(b), 0);
        }
    }

    #[test]
    fn request_bytes_v0() {
        let req = DescribeTransactionsRequest {
            transactional_ids: vec!["tx".into()],
            ..Default::default()
        };
        let wire: &[u8] = &[2, 3, b't', b'x', 0];
        assert_eq!(encoded(&req, 0), wire);
        assert_eq!(
            DescribeTransactionsRequest::decode(Bytes::from_static(wire), 0),
            Ok(req.clone())
        );
        assert_eq!(req.route_key(), RouteKey::Coordinator("tx"));
    }

    #[test]
    fn one_id_error_is_the_request_error() {
        let resp = DescribeTransactionsResponse {
            transaction_states: vec![DescribedTransactionState {
                error_code: ErrorCode::NOT_COORDINATOR,
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            DescribeTransactionsRequest::response_error(&resp),
            ErrorCode::NOT_COORDINATOR
        );
    }

    #[test]
    fn hostile_input_is_an_error() {
        let full = encoded(
            &DescribeTransactionsResponse {
                transaction_states: vec![DescribedTransactionState {
                    transactional_id: "t".into(),
                    transaction_state: "Ongoing".into(),
                    topics: vec![TransactionTopic {
                        topic: "a".into(),
                        partitions: vec![0],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
            0,
        );
        check_hostile::<DescribeTransactionsResponse>(&full, 0);
    }
}
