//! ElectLeaders (key 43): elect partitions' preferred (or, unclean, any)
//! replica as leader.
//!
//! Sent to the controller (a KRaft broker forwards it). v1 adds the
//! election type and a top-level error code; v2 is the first flexible
//! version. A null partition list asks for every partition.
//!
//! Spec: `ElectLeadersRequest.json` / `ElectLeadersResponse.json`, KIP-183,
//! KIP-460 (unclean election).

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 2);
const FLEXIBLE_FROM: Option<i16> = Some(2);

/// Election type: the first live in-sync replica of the assignment.
pub const PREFERRED: i8 = 0;
/// Election type: any live replica, even an out-of-sync one.
pub const UNCLEAN: i8 = 1;

/// Asks the controller to elect leaders.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ElectLeadersRequest {
    /// [`PREFERRED`] or [`UNCLEAN`]; v0 only knows preferred (v1+).
    pub election_type: i8,
    /// The partitions; `None` for every partition (v0+).
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::option::of(crate::protocol::testing::list())")
    )]
    pub topic_partitions: Option<Vec<ElectLeadersTopic>>,
    /// How long to wait for the elections, in ms (v0+).
    pub timeout_ms: i32,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One topic of an [`ElectLeadersRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ElectLeadersTopic {
    /// Topic name (v0+).
    pub topic: String,
    /// Partition indexes (v0+).
    #[cfg_attr(
        test,
        proptest(strategy = "crate::protocol::testing::vec_of(proptest::prelude::any::<i32>())")
    )]
    pub partitions: Vec<i32>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The controller's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ElectLeadersResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// Error for the whole request (v1+).
    pub error_code: ErrorCode,
    /// Results per topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub replica_election_results: Vec<ElectLeadersTopicResult>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One topic's results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ElectLeadersTopicResult {
    /// Topic name (v0+).
    pub topic: String,
    /// Results per partition (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partition_result: Vec<ElectLeadersPartitionResult>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One partition's result.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ElectLeadersPartitionResult {
    /// Partition index (v0+).
    pub partition_id: i32,
    /// `NONE` when elected; `ELECTION_NOT_NEEDED` when the preferred replica
    /// already leads (v0+).
    pub error_code: ErrorCode,
    /// The broker's message for the error (v0+).
    pub error_message: Option<String>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for ElectLeadersRequest {
    const API_KEY: ApiKey = ApiKey::ELECT_LEADERS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        if w.version() >= 1 {
            w.i8(self.election_type);
        } else {
            w.absent("election_type", self.election_type == PREFERRED, false)?;
        }
        w.nullable_array(self.topic_partitions.as_deref(), |w, t| {
            w.string(&t.topic)?;
            w.i32_array(&t.partitions)?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        w.i32(self.timeout_ms);
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        Ok(Self {
            election_type: if version >= 1 { r.i8()? } else { PREFERRED },
            topic_partitions: r.nullable_array(|r| {
                Ok(ElectLeadersTopic {
                    topic: r.string()?,
                    partitions: r.i32_array()?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            timeout_ms: r.i32()?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for ElectLeadersRequest {
    type Response = ElectLeadersResponse;
    const ROUTE: Route = Route::Controller;

    fn response_error(response: &Self::Response) -> ErrorCode {
        response.error_code
    }
}

impl Message for ElectLeadersResponse {
    const API_KEY: ApiKey = ApiKey::ELECT_LEADERS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        if w.version() >= 1 {
            w.i16(self.error_code.0);
        } else {
            w.absent("error_code", self.error_code.is_ok(), false)?;
        }
        w.array(&self.replica_election_results, |w, t| {
            w.string(&t.topic)?;
            w.array(&t.partition_result, |w, p| {
                w.i32(p.partition_id);
                w.i16(p.error_code.0);
                w.nullable_string(p.error_message.as_deref())?;
                w.unknown_tagged_fields(&p.unknown_tagged_fields)
            })?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            error_code: if version >= 1 {
                ErrorCode(r.i16()?)
            } else {
                ErrorCode::NONE
            },
            replica_election_results: r.array(|r| {
                Ok(ElectLeadersTopicResult {
                    topic: r.string()?,
                    partition_result: r.array(|r| {
                        Ok(ElectLeadersPartitionResult {
                            partition_id: r.i32()?,
                            error_code: ErrorCode(r.i16()?),
                            error_message: r.nullable_string()?,
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
    use crate::protocol::testing::{check_roundtrip, encoded};
    use crate::protocol::ProtocolError;
    use bytes::Bytes;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<ElectLeadersRequest>(), v in 0i16..=2) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<ElectLeadersResponse>(), v in 0i16..=2) {
            check_roundtrip(&m, v)?;
        }

        /// Arbitrary bytes never panic the decoders.
        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64), v in 0i16..=2) {
            let _ = ElectLeadersRequest::decode(Bytes::from(b.clone()), v);
            let _ = ElectLeadersResponse::decode(Bytes::from(b), v);
        }
    }

    #[test]
    fn request_bytes_v0_and_v2() {
        let req = ElectLeadersRequest {
            election_type: PREFERRED,
            topic_partitions: Some(vec![ElectLeadersTopic {
                topic: "t".into(),
                partitions: vec![1],
                ..Default::default()
            }]),
            timeout_ms: 1000,
            ..Default::default()
        };
        let v0: &[u8] = &[
            0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 3, 0xe8,
        ];
        let v2: &[u8] = &[0, 2, 2, b't', 2, 0, 0, 0, 1, 0, 0, 0, 3, 0xe8, 0];
        assert_eq!(encoded(&req, 0), v0);
        assert_eq!(encoded(&req, 2), v2);
        assert_eq!(
            ElectLeadersRequest::decode(Bytes::from_static(v2), 2),
            Ok(req)
        );
    }

    #[test]
    fn unclean_election_cannot_go_out_at_v0() {
        let req = ElectLeadersRequest {
            election_type: UNCLEAN,
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
        let wire = Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(
            ElectLeadersResponse::decode(wire, 1),
            Err(ProtocolError::LengthExceedsInput { .. })
        ));
        let full = encoded(
            &ElectLeadersResponse {
                replica_election_results: vec![ElectLeadersTopicResult {
                    partition_result: vec![ElectLeadersPartitionResult::default()],
                    ..Default::default()
                }],
                ..Default::default()
            },
            2,
        );
        for n in 0..full.len() {
            let cut = Bytes::copy_from_slice(&full[..n]);
            assert!(ElectLeadersResponse::decode(cut, 2).is_err(), "{n} bytes");
        }
    }
}
