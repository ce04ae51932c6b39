//! AddOffsetsToTxn (key 25): add a consumer group's offsets to a transaction.
//!
//! A transactional producer (transaction protocol v1) sends it to its
//! transaction coordinator before committing offsets with TxnOffsetCommit, so
//! that the coordinator writes the transaction's marker to the group's offsets
//! partition too. With transaction protocol v2 (KIP-890) TxnOffsetCommit v5
//! does this itself and the call is skipped. v1, v2 and v4 change only the
//! error codes the broker may answer (`PRODUCER_FENCED` from v2,
//! `TRANSACTION_ABORTABLE` from v4); v3 is the first flexible version.
//!
//! Spec: `AddOffsetsToTxnRequest.json` / `AddOffsetsToTxnResponse.json`,
//! KIP-98 (transactions), KIP-482 (flexible, v3), KIP-890 (v4).

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, TaggedFields,
    VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 4);
const FLEXIBLE_FROM: Option<i16> = Some(3);

/// Adds the offsets partition of `group_id` to the transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AddOffsetsToTxnRequest {
    /// The transactional id (v0+).
    pub transactional_id: String,
    /// The producer id in use by the transactional id (v0+).
    pub producer_id: i64,
    /// The producer's current epoch (v0+).
    pub producer_epoch: i16,
    /// The consumer group whose offsets the transaction will commit (v0+).
    pub group_id: String,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The coordinator's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AddOffsetsToTxnResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// Error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for AddOffsetsToTxnRequest {
    const API_KEY: ApiKey = ApiKey::ADD_OFFSETS_TO_TXN;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.string(&self.transactional_id)?;
        w.i64(self.producer_id);
        w.i16(self.producer_epoch);
        w.string(&self.group_id)?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            transactional_id: r.string()?,
            producer_id: r.i64()?,
            producer_epoch: r.i16()?,
            group_id: r.string()?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for AddOffsetsToTxnRequest {
    type Response = AddOffsetsToTxnResponse;
    const ROUTE: Route = Route::TransactionCoordinator;

    fn route_key(&self) -> RouteKey<'_> {
        RouteKey::Coordinator(&self.transactional_id)
    }
}

impl Message for AddOffsetsToTxnResponse {
    const API_KEY: ApiKey = ApiKey::ADD_OFFSETS_TO_TXN;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.i16(self.error_code.0);
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            error_code: ErrorCode(r.i16()?),
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::{check_roundtrip, encoded};
    use bytes::Bytes;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<AddOffsetsToTxnRequest>(), v in 0i16..=4) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<AddOffsetsToTxnResponse>(), v in 0i16..=4) {
            check_roundtrip(&m, v)?;
        }

        /// Without tagged fields before v3, every message survives exactly.
        #[test]
        fn version_shaped_roundtrip(
            mut q in any::<AddOffsetsToTxnRequest>(),
            mut p in any::<AddOffsetsToTxnResponse>(),
            v in 0i16..=4,
        ) {
            if v < 3 {
                q.unknown_tagged_fields = TaggedFields::default();
                p.unknown_tagged_fields = TaggedFields::default();
            }
            prop_assert_eq!(AddOffsetsToTxnRequest::decode(encoded(&q, v).into(), v), Ok(q));
            prop_assert_eq!(AddOffsetsToTxnResponse::decode(encoded(&p, v).into(), v), Ok(p));
        }
    }

    #[test]
    fn request_v2_and_v3_bytes() {
        let m = AddOffsetsToTxnRequest {
            transactional_id: "tx".into(),
            producer_id: 5,
            producer_epoch: 1,
            group_id: "g".into(),
            ..Default::default()
        };
        #[rustfmt::skip]
        let v2: &[u8] = &[0, 2, b't', b'x', 0, 0, 0, 0, 0, 0, 0, 5, 0, 1, 0, 1, b'g'];
        assert_eq!(encoded(&m, 2), v2);
        #[rustfmt::skip]
        let v3: &[u8] = &[3, b't', b'x', 0, 0, 0, 0, 0, 0, 0, 5, 0, 1, 2, b'g', 0];
        assert_eq!(encoded(&m, 3), v3);
        assert_eq!(
            AddOffsetsToTxnRequest::decode(Bytes::from_static(v3), 3),
            Ok(m)
        );
    }

    #[test]
    fn response_v4_bytes() {
        let bytes: &[u8] = &[0, 0, 0, 9, 0, 90, 0];
        let m = AddOffsetsToTxnResponse {
            throttle_time_ms: 9,
            error_code: ErrorCode::PRODUCER_FENCED,
            ..Default::default()
        };
        assert_eq!(encoded(&m, 4), bytes);
        assert_eq!(
            AddOffsetsToTxnResponse::decode(Bytes::from_static(bytes), 4),
            Ok(m)
        );
    }
}
