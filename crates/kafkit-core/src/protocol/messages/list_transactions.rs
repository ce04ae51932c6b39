//! ListTransactions (key 66): the transactions one broker coordinates,
//! optionally filtered by state, producer id and (v1+) age.
//!
//! Each broker only knows the transactional ids whose coordinator it is,
//! so an admin client asks every broker and merges the answers. Flexible
//! from v0; v1 adds the duration filter (KIP-994).
//!
//! Spec: `ListTransactionsRequest.json` / `ListTransactionsResponse.json`,
//! KIP-664 (stuck transactions), KIP-994.

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 1);
const FLEXIBLE_FROM: Option<i16> = Some(0);

/// Asks one broker for the transactions it coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ListTransactionsRequest {
    /// Only transactions in one of these states (`"Ongoing"`, …); empty for
    /// all (v0+).
    #[cfg_attr(
        test,
        proptest(
            strategy = "crate::protocol::testing::vec_of(proptest::prelude::any::<String>())"
        )
    )]
    pub state_filters: Vec<String>,
    /// Only transactions of these producer ids; empty for all (v0+).
    #[cfg_attr(
        test,
        proptest(strategy = "crate::protocol::testing::vec_of(proptest::prelude::any::<i64>())")
    )]
    pub producer_id_filters: Vec<i64>,
    /// Only transactions running longer than this many ms; negative for all
    /// (v1+, default -1).
    pub duration_filter_ms: i64,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for ListTransactionsRequest {
    fn default() -> Self {
        Self {
            state_filters: Vec::new(),
            producer_id_filters: Vec::new(),
            duration_filter_ms: -1,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// One broker's transactions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ListTransactionsResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// Error for the whole request (v0+).
    pub error_code: ErrorCode,
    /// State filters of the request the coordinator does not know (v0+).
    #[cfg_attr(
        test,
        proptest(
            strategy = "crate::protocol::testing::vec_of(proptest::prelude::any::<String>())"
        )
    )]
    pub unknown_state_filters: Vec<String>,
    /// The matching transactions (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub transaction_states: Vec<ListedTransactionState>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One transaction in a [`ListTransactionsResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ListedTransactionState {
    /// The transactional id (v0+).
    pub transactional_id: String,
    /// Its current producer id (v0+).
    pub producer_id: i64,
    /// The coordinator's state name (`"Ongoing"`, `"CompleteAbort"`, …) (v0+).
    pub transaction_state: String,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for ListTransactionsRequest {
    const API_KEY: ApiKey = ApiKey::LIST_TRANSACTIONS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.array(&self.state_filters, |w, s| w.string(s))?;
        w.array(&self.producer_id_filters, |w, id| {
            w.i64(*id);
            Ok(())
        })?;
        if w.version() >= 1 {
            w.i64(self.duration_filter_ms);
        } else {
            w.absent("duration_filter", self.duration_filter_ms == -1, false)?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        Ok(Self {
            state_filters: r.array(Reader::string)?,
            producer_id_filters: r.array(Reader::i64)?,
            duration_filter_ms: if version >= 1 { r.i64()? } else { -1 },
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for ListTransactionsRequest {
    type Response = ListTransactionsResponse;
    /// Sent to each broker in turn; the caller names it.
    const ROUTE: Route = Route::AnyBroker;

    fn response_error(response: &Self::Response) -> ErrorCode {
        response.error_code
    }
}

impl Message for ListTransactionsResponse {
    const API_KEY: ApiKey = ApiKey::LIST_TRANSACTIONS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.i16(self.error_code.0);
        w.array(&self.unknown_state_filters, |w, s| w.string(s))?;
        w.array(&self.transaction_states, |w, t| {
            w.string(&t.transactional_id)?;
            w.i64(t.producer_id);
            w.string(&t.transaction_state)?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            error_code: ErrorCode(r.i16()?),
            unknown_state_filters: r.array(Reader::string)?,
            transaction_states: r.array(|r| {
                Ok(ListedTransactionState {
                    transactional_id: r.string()?,
                    producer_id: r.i64()?,
                    transaction_state: r.string()?,
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
    use crate::protocol::ProtocolError;
    use bytes::Bytes;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<ListTransactionsRequest>(), v in 0i16..=1) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<ListTransactionsResponse>(), v in 0i16..=1) {
            check_roundtrip(&m, v)?;
        }

        /// Arbitrary bytes never panic the decoders.
        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64), v in 0i16..=1) {
            let _ = ListTransactionsRequest::decode(Bytes::from(b.clone()), v);
            let _ = ListTransactionsResponse::decode(Bytes::from(b), v);
        }
    }

    #[test]
    fn request_bytes_v0_and_v1() {
        let req = ListTransactionsRequest {
            state_filters: vec!["Ongoing".into()],
            producer_id_filters: vec![7],
            ..Default::default()
        };
        let mut v0 = vec![2, 8];
        v0.extend_from_slice(b"Ongoing");
        v0.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0, 7, 0]);
        assert_eq!(encoded(&req, 0), v0);
        let mut v1 = v0.clone();
        v1.truncate(v0.len() - 1);
        v1.extend_from_slice(&(-1i64).to_be_bytes());
        v1.push(0);
        assert_eq!(encoded(&req, 1), v1);
        assert_eq!(
            ListTransactionsRequest::decode(Bytes::from(v1), 1),
            Ok(req.clone())
        );
        assert_eq!(ListTransactionsRequest::decode(Bytes::from(v0), 0), Ok(req));
    }

    #[test]
    fn a_duration_filter_cannot_go_out_at_v0() {
        let req = ListTransactionsRequest {
            duration_filter_ms: 60_000,
            ..Default::default()
        };
        let mut buf = bytes::BytesMut::new();
        assert!(matches!(
            req.encode(0, &mut buf),
            Err(ProtocolError::FieldNotSupported { .. })
        ));
    }

    #[test]
    fn hostile_input_is_an_error() {
        let full = encoded(
            &ListTransactionsResponse {
                unknown_state_filters: vec!["x".into()],
                transaction_states: vec![ListedTransactionState {
                    transactional_id: "t".into(),
                    producer_id: 3,
                    transaction_state: "Ongoing".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            1,
        );
        check_hostile::<ListTransactionsResponse>(&full, 1);
    }
}
