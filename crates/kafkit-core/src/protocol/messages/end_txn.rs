//! EndTxn (key 26): commit or abort a transaction.
//!
//! Sent to the transaction coordinator, which writes the commit or abort
//! markers to every partition of the transaction. v5 is transaction protocol
//! v2 (KIP-890 part 2): the coordinator bumps the producer epoch at the end
//! of every transaction and answers with the producer id and epoch the
//! producer must use from then on. v1, v2 and v4 change only the error codes
//! the broker may answer; v3 is the first flexible version.
//!
//! Spec: `EndTxnRequest.json` / `EndTxnResponse.json`, KIP-98
//! (transactions), KIP-482 (flexible, v3), KIP-890 (v4, v5).

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, TaggedFields,
    VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 5);
const FLEXIBLE_FROM: Option<i16> = Some(3);

/// Ends the producer's open transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct EndTxnRequest {
    /// The transactional id (v0+).
    pub transactional_id: String,
    /// The producer id (v0+).
    pub producer_id: i64,
    /// The producer's current epoch (v0+).
    pub producer_epoch: i16,
    /// `true` to commit, `false` to abort (v0+).
    pub committed: bool,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The coordinator's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct EndTxnResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// Error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// The producer id to use next, -1 if none (v5+, ignorable).
    pub producer_id: i64,
    /// The (bumped) epoch to use next, -1 if none (v5+, ignorable).
    pub producer_epoch: i16,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for EndTxnResponse {
    fn default() -> Self {
        Self {
            throttle_time_ms: 0,
            error_code: ErrorCode::NONE,
            producer_id: -1,
            producer_epoch: -1,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

impl Message for EndTxnRequest {
    const API_KEY: ApiKey = ApiKey::END_TXN;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.string(&self.transactional_id)?;
        w.i64(self.producer_id);
        w.i16(self.producer_epoch);
        w.bool(self.committed);
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            transactional_id: r.string()?,
            producer_id: r.i64()?,
            producer_epoch: r.i16()?,
            committed: r.bool()?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for EndTxnRequest {
    type Response = EndTxnResponse;
    const ROUTE: Route = Route::TransactionCoordinator;

    fn route_key(&self) -> RouteKey<'_> {
        RouteKey::Coordinator(&self.transactional_id)
    }
}

impl Message for EndTxnResponse {
    const API_KEY: ApiKey = ApiKey::END_TXN;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.i16(self.error_code.0);
        if w.version() >= 5 {
            w.i64(self.producer_id);
            w.i16(self.producer_epoch);
        } else {
            w.absent("producer_id", self.producer_id == -1, true)?;
            w.absent("producer_epoch", self.producer_epoch == -1, true)?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self {
            throttle_time_ms: r.i32()?,
            error_code: ErrorCode(r.i16()?),
            ..Self::default()
        };
        if version >= 5 {
            msg.producer_id = r.i64()?;
            msg.producer_epoch = r.i16()?;
        }
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
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
        fn request_roundtrip(m in any::<EndTxnRequest>(), v in 0i16..=5) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<EndTxnResponse>(), v in 0i16..=5) {
            check_roundtrip(&m, v)?;
        }

        /// Messages holding only what a version carries survive exactly.
        #[test]
        fn version_shaped_roundtrip(
            mut q in any::<EndTxnRequest>(),
            mut p in any::<EndTxnResponse>(),
            v in 0i16..=5,
        ) {
            if v < 5 {
                p.producer_id = -1;
                p.producer_epoch = -1;
            }
            if v < 3 {
                q.unknown_tagged_fields = TaggedFields::default();
                p.unknown_tagged_fields = TaggedFields::default();
            }
            prop_assert_eq!(EndTxnRequest::decode(encoded(&q, v).into(), v), Ok(q));
            prop_assert_eq!(EndTxnResponse::decode(encoded(&p, v).into(), v), Ok(p));
        }
    }

    #[test]
    fn request_v0_bytes() {
        let m = EndTxnRequest {
            transactional_id: "tx".into(),
            producer_id: 3,
            producer_epoch: 4,
            committed: true,
            ..Default::default()
        };
        let bytes: &[u8] = &[0, 2, b't', b'x', 0, 0, 0, 0, 0, 0, 0, 3, 0, 4, 1];
        assert_eq!(encoded(&m, 0), bytes);
        assert_eq!(EndTxnRequest::decode(Bytes::from_static(bytes), 0), Ok(m));
    }

    #[test]
    fn response_v4_and_v5_bytes() {
        let m = EndTxnResponse {
            producer_id: 3,
            producer_epoch: 5,
            ..Default::default()
        };
        // v5 carries the next producer id and epoch.
        #[rustfmt::skip]
        let v5: &[u8] = &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 5, 0];
        assert_eq!(encoded(&m, 5), v5);
        assert_eq!(
            EndTxnResponse::decode(Bytes::from_static(v5), 5),
            Ok(m.clone())
        );
        // v4 lacks them; they are ignorable, so dropped, and decode to -1.
        let v4: &[u8] = &[0, 0, 0, 0, 0, 0, 0];
        assert_eq!(encoded(&m, 4), v4);
        assert_eq!(
            EndTxnResponse::decode(Bytes::from_static(v4), 4),
            Ok(EndTxnResponse::default())
        );
    }
}
