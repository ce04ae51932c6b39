//! Produce v12, which only a producer using transaction protocol v2 sends:
//! its fields are those of v11; the version tells the leader to add the
//! partition to the producer's transaction itself (KIP-890), so no
//! AddPartitionsToTxn precedes the first write to a partition.
//!
//! A separate type rather than a wider range on [`ProduceRequest`], so every
//! other producer keeps negotiating v11 (the golden frames and the
//! negotiated-version tables stay as recorded) and only a v2 transaction
//! asks for v12. v13 (topic ids, KIP-516) is not implemented.
//!
//! Spec: `ProduceRequest.json` (v12), KIP-890.

use super::{ProduceRequest, ProduceResponse};
use crate::protocol::{ApiKey, Message, Reader, Request, Result, Route, VersionRange, Writer};

/// The only version these types are coded at.
const VERSION_12: VersionRange = VersionRange::new(12, 12);
/// Produce is flexible from v9.
const FLEXIBLE_FROM: Option<i16> = Some(9);

/// A [`ProduceRequest`] sent at v12 (transaction protocol v2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProduceV12Request(pub ProduceRequest);

/// The answer to a [`ProduceV12Request`]: a [`ProduceResponse`] at v12.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProduceV12Response(pub ProduceResponse);

impl Message for ProduceV12Request {
    const API_KEY: ApiKey = ApiKey::PRODUCE;
    const VERSIONS: VersionRange = VERSION_12;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        // v12 carries exactly the fields of v11; the codec's checks are all
        // "from version n", so the v11 body code writes v12 as well.
        self.0.encode_body(w)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        ProduceRequest::decode_body(r, version).map(Self)
    }
}

impl Request for ProduceV12Request {
    type Response = ProduceV12Response;
    const ROUTE: Route = Route::PartitionLeader;
}

impl Message for ProduceV12Response {
    const API_KEY: ApiKey = ApiKey::PRODUCE;
    const VERSIONS: VersionRange = VERSION_12;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        self.0.encode_body(w)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        ProduceResponse::decode_body(r, version).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};

    use super::*;
    use crate::protocol::messages::produce::{PartitionProduceData, TopicProduceData};

    fn request() -> ProduceRequest {
        ProduceRequest {
            transactional_id: Some("txn".into()),
            acks: -1,
            timeout_ms: 30_000,
            topic_data: vec![TopicProduceData {
                name: "t".into(),
                partition_data: vec![PartitionProduceData {
                    index: 3,
                    records: Some(Bytes::from_static(b"batch")),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn v12_is_the_v11_body_under_another_version() {
        let mut v11 = BytesMut::new();
        request().encode(11, &mut v11).expect("v11");
        let mut v12 = BytesMut::new();
        ProduceV12Request(request())
            .encode(12, &mut v12)
            .expect("v12");
        assert_eq!(v11, v12);
        let back = ProduceV12Request::decode(v12.freeze(), 12).expect("decode");
        assert_eq!(back.0, request());
    }

    #[test]
    fn only_v12_is_accepted() {
        let mut out = BytesMut::new();
        assert!(ProduceV12Request(request()).encode(11, &mut out).is_err());
        assert!(ProduceV12Request(request()).encode(13, &mut out).is_err());
    }
}
