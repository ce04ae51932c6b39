//! OffsetDelete (key 47): delete a group's committed offsets for some partitions.
//!
//! Sent to the group's coordinator. The coordinator refuses partitions of
//! topics the group is still subscribed to (`GROUP_SUBSCRIBED_TO_TOPIC`,
//! reported per partition); a group-level problem (`GROUP_ID_NOT_FOUND`,
//! `NON_EMPTY_GROUP` for a group that is not a consumer group, ...) is the
//! top-level error. Only v0 exists and it is not flexible.
//!
//! Spec: KIP-496 (administrative API to delete consumer offsets).

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 0);
const FLEXIBLE_FROM: Option<i16> = None;

/// Asks a group coordinator to delete committed offsets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct OffsetDeleteRequest {
    /// The group whose offsets are deleted (v0+).
    pub group_id: String,
    /// Topics and partitions whose offsets are deleted (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<OffsetDeleteRequestTopic>,
}

/// One topic of an [`OffsetDeleteRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct OffsetDeleteRequestTopic {
    /// Topic name (v0+).
    pub name: String,
    /// Partition indexes (v0+).
    #[cfg_attr(
        test,
        proptest(strategy = "crate::protocol::testing::vec_of(proptest::prelude::any::<i32>())")
    )]
    pub partitions: Vec<i32>,
}

/// The coordinator's answer to an [`OffsetDeleteRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct OffsetDeleteResponse {
    /// Group-level error, `NONE` when the per-partition results apply (v0+).
    pub error_code: ErrorCode,
    /// Throttle time in ms (v0+, ignorable).
    pub throttle_time_ms: i32,
    /// Results per topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<OffsetDeleteResponseTopic>,
}

/// One topic of an [`OffsetDeleteResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct OffsetDeleteResponseTopic {
    /// Topic name (v0+).
    pub name: String,
    /// Results per partition (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<OffsetDeleteResponsePartition>,
}

/// One partition's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct OffsetDeleteResponsePartition {
    /// Partition index (v0+).
    pub partition_index: i32,
    /// Error for this partition, `NONE` on success (v0+).
    pub error_code: ErrorCode,
}

impl Message for OffsetDeleteRequest {
    const API_KEY: ApiKey = ApiKey::OFFSET_DELETE;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.string(&self.group_id)?;
        w.array(&self.topics, |w, t| {
            w.string(&t.name)?;
            w.array(&t.partitions, |w, p| {
                w.i32(*p);
                Ok(())
            })
        })
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            group_id: r.string()?,
            topics: r.array(|r| {
                Ok(OffsetDeleteRequestTopic {
                    name: r.string()?,
                    partitions: r.i32_array()?,
                })
            })?,
        })
    }
}

impl Request for OffsetDeleteRequest {
    type Response = OffsetDeleteResponse;
    const ROUTE: Route = Route::GroupCoordinator;

    fn route_key(&self) -> RouteKey<'_> {
        RouteKey::Coordinator(&self.group_id)
    }

    fn response_error(response: &Self::Response) -> ErrorCode {
        response.error_code
    }
}

impl Message for OffsetDeleteResponse {
    const API_KEY: ApiKey = ApiKey::OFFSET_DELETE;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i16(self.error_code.0);
        w.i32(self.throttle_time_ms);
        w.array(&self.topics, |w, t| {
            w.string(&t.name)?;
            w.array(&t.partitions, |w, p| {
                w.i32(p.partition_index);
                w.i16(p.error_code.0);
                Ok(())
            })
        })
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            error_code: ErrorCode(r.i16()?),
            throttle_time_ms: r.i32()?,
            topics: r.array(|r| {
                Ok(OffsetDeleteResponseTopic {
                    name: r.string()?,
                    partitions: r.array(|r| {
                        Ok(OffsetDeleteResponsePartition {
                            partition_index: r.i32()?,
                            error_code: ErrorCode(r.i16()?),
                        })
                    })?,
                })
            })?,
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
        fn request_roundtrip(m in any::<OffsetDeleteRequest>()) {
            check_roundtrip(&m, 0)?;
        }

        #[test]
        fn response_roundtrip(m in any::<OffsetDeleteResponse>()) {
            check_roundtrip(&m, 0)?;
        }

        /// The independent `kafka-protocol` crate reads what kafkit writes.
        #[test]
        fn oracle(req in any::<OffsetDeleteRequest>(), resp in any::<OffsetDeleteResponse>()) {
            use crate::protocol::messages::kafka_protocol_oracle::check_against;
            check_against::<kafka_protocol::messages::OffsetDeleteRequest, _>(&req, 0)?;
            check_against::<kafka_protocol::messages::OffsetDeleteResponse, _>(&resp, 0)?;
        }
    }

    #[test]
    fn request_bytes() {
        // "g"; 1 topic "t" with partitions 0 and 2.
        let wire: &[u8] = &[
            0, 1, b'g', 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2,
        ];
        let req = OffsetDeleteRequest {
            group_id: "g".into(),
            topics: vec![OffsetDeleteRequestTopic {
                name: "t".into(),
                partitions: vec![0, 2],
            }],
        };
        assert_eq!(encoded(&req, 0), wire);
        assert_eq!(
            OffsetDeleteRequest::decode(Bytes::from_static(wire), 0),
            Ok(req)
        );
    }

    #[test]
    fn response_bytes() {
        // error 0, throttle 3; 1 topic "t": partition 1, error 86 (GROUP_SUBSCRIBED_TO_TOPIC).
        let wire: &[u8] = &[
            0, 0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 1, 0, 86,
        ];
        let resp = OffsetDeleteResponse {
            error_code: ErrorCode::NONE,
            throttle_time_ms: 3,
            topics: vec![OffsetDeleteResponseTopic {
                name: "t".into(),
                partitions: vec![OffsetDeleteResponsePartition {
                    partition_index: 1,
                    error_code: ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC,
                }],
            }],
        };
        assert_eq!(encoded(&resp, 0), wire);
        assert_eq!(
            OffsetDeleteResponse::decode(Bytes::from_static(wire), 0),
            Ok(resp)
        );
    }

    #[test]
    fn only_v0_and_hostile_input_is_an_error() {
        assert!(matches!(
            OffsetDeleteRequest::decode(Bytes::new(), 1),
            Err(ProtocolError::UnsupportedVersion { .. })
        ));
        // Group "g", then 2^31-1 topics claimed in 4 bytes.
        let wire = Bytes::from_static(&[0, 1, b'g', 0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(
            OffsetDeleteRequest::decode(wire, 0),
            Err(ProtocolError::LengthExceedsInput { .. })
        ));
        let full = encoded(
            &OffsetDeleteResponse {
                topics: vec![OffsetDeleteResponseTopic {
                    name: "t".into(),
                    partitions: vec![OffsetDeleteResponsePartition::default()],
                }],
                ..Default::default()
            },
            0,
        );
        for n in 0..full.len() {
            let cut = Bytes::copy_from_slice(&full[..n]);
            assert!(OffsetDeleteResponse::decode(cut, 0).is_err(), "{n} bytes");
        }
    }
}
