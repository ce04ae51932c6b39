//! CreatePartitions (key 37): raise topics' partition counts.
//!
//! Sent to the controller (any broker forwards it in KRaft). v2 is the first
//! flexible version; all versions carry the same fields (v1 only changed
//! the throttling behaviour).
//!
//! Spec: `CreatePartitionsRequest.json` / `CreatePartitionsResponse.json`, KIP-195.

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 3);
const FLEXIBLE_FROM: Option<i16> = Some(2);

/// Asks to raise topics' partition counts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CreatePartitionsRequest {
    /// The topics (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<CreatePartitionsTopic>,
    /// How long to wait for the partitions to be created, in ms (v0+).
    pub timeout_ms: i32,
    /// Validate only, change nothing (v0+).
    pub validate_only: bool,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One topic of a [`CreatePartitionsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CreatePartitionsTopic {
    /// Topic name (v0+).
    pub name: String,
    /// The new total partition count (v0+).
    pub count: i32,
    /// Replica broker ids of each new partition; `None` lets the controller
    /// place them (v0+).
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::option::of(crate::protocol::testing::list())")
    )]
    pub assignments: Option<Vec<CreatePartitionsAssignment>>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The replicas of one new partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CreatePartitionsAssignment {
    /// Broker ids (v0+).
    #[cfg_attr(
        test,
        proptest(strategy = "crate::protocol::testing::vec_of(proptest::prelude::any::<i32>())")
    )]
    pub broker_ids: Vec<i32>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One result per topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CreatePartitionsResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// The results (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub results: Vec<CreatePartitionsTopicResult>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One topic's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CreatePartitionsTopicResult {
    /// Topic name (v0+).
    pub name: String,
    /// Error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// The broker's message for the error (v0+).
    pub error_message: Option<String>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for CreatePartitionsRequest {
    const API_KEY: ApiKey = ApiKey::CREATE_PARTITIONS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.array(&self.topics, |w, t| {
            w.string(&t.name)?;
            w.i32(t.count);
            w.nullable_array(t.assignments.as_deref(), |w, a| {
                w.i32_array(&a.broker_ids)?;
                w.unknown_tagged_fields(&a.unknown_tagged_fields)
            })?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        w.i32(self.timeout_ms);
        w.bool(self.validate_only);
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            topics: r.array(|r| {
                Ok(CreatePartitionsTopic {
                    name: r.string()?,
                    count: r.i32()?,
                    assignments: r.nullable_array(|r| {
                        Ok(CreatePartitionsAssignment {
                            broker_ids: r.i32_array()?,
                            unknown_tagged_fields: r.unknown_tagged_fields()?,
                        })
                    })?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            timeout_ms: r.i32()?,
            validate_only: r.bool()?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for CreatePartitionsRequest {
    type Response = CreatePartitionsResponse;
    const ROUTE: Route = Route::Controller;
}

impl Message for CreatePartitionsResponse {
    const API_KEY: ApiKey = ApiKey::CREATE_PARTITIONS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.array(&self.results, |w, t| {
            w.string(&t.name)?;
            w.i16(t.error_code.0);
            w.nullable_string(t.error_message.as_deref())?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            results: r.array(|r| {
                Ok(CreatePartitionsTopicResult {
                    name: r.string()?,
                    error_code: ErrorCode(r.i16()?),
                    error_message: r.nullable_string()?,
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
        fn request_roundtrip(m in any::<CreatePartitionsRequest>(), v in 0i16..=3) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<CreatePartitionsResponse>(), v in 0i16..=3) {
            check_roundtrip(&m, v)?;
        }

        /// Arbitrary bytes never panic the decoders.
        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64), v in 0i16..=3) {
            let _ = CreatePartitionsRequest::decode(Bytes::from(b.clone()), v);
            let _ = CreatePartitionsResponse::decode(Bytes::from(b), v);
        }
    }

    #[test]
    fn request_bytes_v0_and_v2() {
        // "t" to 4 partitions, placed by the controller; 1000 ms; validate only.
        let req = CreatePartitionsRequest {
            topics: vec![CreatePartitionsTopic {
                name: "t".into(),
                count: 4,
                assignments: None,
                ..Default::default()
            }],
            timeout_ms: 1000,
            validate_only: true,
            ..Default::default()
        };
        let v0: &[u8] = &[
            0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff, 0, 0, 3, 0xe8, 1,
        ];
        let v2: &[u8] = &[2, 2, b't', 0, 0, 0, 4, 0, 0, 0, 0, 3, 0xe8, 1, 0];
        assert_eq!(encoded(&req, 0), v0);
        assert_eq!(encoded(&req, 2), v2);
        assert_eq!(
            CreatePartitionsRequest::decode(Bytes::from_static(v2), 2),
            Ok(req)
        );
    }

    #[test]
    fn hostile_input_is_an_error() {
        let wire = Bytes::from_static(&[0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(
            CreatePartitionsResponse::decode(wire, 0),
            Err(ProtocolError::LengthExceedsInput { .. })
        ));
        let full = encoded(
            &CreatePartitionsResponse {
                results: vec![CreatePartitionsTopicResult::default()],
                ..Default::default()
            },
            3,
        );
        for n in 0..full.len() {
            let cut = Bytes::copy_from_slice(&full[..n]);
            assert!(
                CreatePartitionsResponse::decode(cut, 3).is_err(),
                "{n} bytes"
            );
        }
    }
}
