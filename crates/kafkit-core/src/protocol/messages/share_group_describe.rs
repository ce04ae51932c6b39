//! ShareGroupDescribe (key 77): the state, epochs and members (with their
//! assignments) of share groups (KIP-932).
//!
//! Kafka 4.4.0 serves v1 only (v0 was the early-access version of 4.0).
//! Every version is flexible. The assignment layout is ConsumerGroupDescribe's.
//!
//! Spec: `ShareGroupDescribeRequest.json` / `ShareGroupDescribeResponse.json`
//! (Kafka 4.4.0); KIP-932.

use super::consumer_group_describe::{decode_assignment, encode_assignment, DescribedAssignment};
use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(1, 1);

/// Asks a group coordinator to describe share groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ShareGroupDescribeRequest {
    /// The groups to describe (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub group_ids: Vec<String>,
    /// Whether to include the groups' authorized operations (v1+).
    pub include_authorized_operations: bool,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The described groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ShareGroupDescribeResponse {
    /// Throttle time in ms (v1+).
    pub throttle_time_ms: i32,
    /// One entry per group asked for (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub groups: Vec<DescribedShareGroup>,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One described share group.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribedShareGroup {
    /// Error code (v1+).
    pub error_code: ErrorCode,
    /// Error message (v1+, nullable).
    pub error_message: Option<String>,
    /// The group id (v1+).
    pub group_id: String,
    /// The group state (`Empty`, `Stable`, `Dead`), or empty (v1+).
    pub group_state: String,
    /// The group epoch (v1+).
    pub group_epoch: i32,
    /// The assignment epoch (v1+).
    pub assignment_epoch: i32,
    /// The server-side assignor in use (v1+).
    pub assignor_name: String,
    /// The members (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub members: Vec<ShareGroupMemberDescription>,
    /// Authorized operations bit field; `i32::MIN` when not asked (v1+).
    pub authorized_operations: i32,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for DescribedShareGroup {
    fn default() -> Self {
        Self {
            error_code: ErrorCode::NONE,
            error_message: None,
            group_id: String::new(),
            group_state: String::new(),
            group_epoch: 0,
            assignment_epoch: 0,
            assignor_name: String::new(),
            members: Vec::new(),
            authorized_operations: i32::MIN,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// One member of a described share group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ShareGroupMemberDescription {
    /// The member id (v1+).
    pub member_id: String,
    /// Rack id (v1+, nullable).
    pub rack_id: Option<String>,
    /// The member epoch (v1+).
    pub member_epoch: i32,
    /// The client id (v1+).
    pub client_id: String,
    /// The client host (v1+).
    pub client_host: String,
    /// Subscribed topic names (v1+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub subscribed_topic_names: Vec<String>,
    /// The partitions assigned to the member (v1+).
    pub assignment: DescribedAssignment,
    /// Unknown tagged fields (v1+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for ShareGroupDescribeRequest {
    const API_KEY: ApiKey = ApiKey::SHARE_GROUP_DESCRIBE;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = Some(0);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.array(&self.group_ids, |w, g| w.string(g))?;
        w.bool(self.include_authorized_operations);
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            group_ids: r.array(Reader::string)?,
            include_authorized_operations: r.bool()?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for ShareGroupDescribeRequest {
    type Response = ShareGroupDescribeResponse;
    const ROUTE: Route = Route::GroupCoordinator;
}

fn encode_group(w: &mut Writer<'_>, g: &DescribedShareGroup) -> Result<()> {
    w.i16(g.error_code.0);
    w.nullable_string(g.error_message.as_deref())?;
    w.string(&g.group_id)?;
    w.string(&g.group_state)?;
    w.i32(g.group_epoch);
    w.i32(g.assignment_epoch);
    w.string(&g.assignor_name)?;
    w.array(&g.members, |w, m| {
        w.string(&m.member_id)?;
        w.nullable_string(m.rack_id.as_deref())?;
        w.i32(m.member_epoch);
        w.string(&m.client_id)?;
        w.string(&m.client_host)?;
        w.array(&m.subscribed_topic_names, |w, t| w.string(t))?;
        encode_assignment(w, &m.assignment)?;
        w.unknown_tagged_fields(&m.unknown_tagged_fields)
    })?;
    w.i32(g.authorized_operations);
    w.unknown_tagged_fields(&g.unknown_tagged_fields)
}

fn decode_group(r: &mut Reader) -> Result<DescribedShareGroup> {
    Ok(DescribedShareGroup {
        error_code: ErrorCode(r.i16()?),
        error_message: r.nullable_string()?,
        group_id: r.string()?,
        group_state: r.string()?,
        group_epoch: r.i32()?,
        assignment_epoch: r.i32()?,
        assignor_name: r.string()?,
        members: r.array(|r| {
            Ok(ShareGroupMemberDescription {
                member_id: r.string()?,
                rack_id: r.nullable_string()?,
                member_epoch: r.i32()?,
                client_id: r.string()?,
                client_host: r.string()?,
                subscribed_topic_names: r.array(Reader::string)?,
                assignment: decode_assignment(r)?,
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?,
        authorized_operations: r.i32()?,
        unknown_tagged_fields: r.unknown_tagged_fields()?,
    })
}

impl Message for ShareGroupDescribeResponse {
    const API_KEY: ApiKey = ApiKey::SHARE_GROUP_DESCRIBE;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = Some(0);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.array(&self.groups, encode_group)?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            groups: r.array(decode_group)?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::messages::consumer_group_describe::DescribedTopicPartitions;
    use crate::protocol::testing::{check_hostile, check_roundtrip, encoded};
    use crate::protocol::Uuid;
    use bytes::Bytes;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<ShareGroupDescribeRequest>()) {
            check_roundtrip(&m, 1)?;
        }

        #[test]
        fn response_roundtrip(m in any::<ShareGroupDescribeResponse>()) {
            check_roundtrip(&m, 1)?;
        }
    }

    #[test]
    fn request_bytes_and_hostile_responses() {
        let req = ShareGroupDescribeRequest {
            group_ids: vec!["g".into()],
            ..Default::default()
        };
        assert_eq!(encoded(&req, 1), [2, 2, b'g', 0, 0]);
        let resp = ShareGroupDescribeResponse {
            groups: vec![DescribedShareGroup {
                group_id: "g".into(),
                group_state: "Stable".into(),
                assignor_name: "simple".into(),
                members: vec![ShareGroupMemberDescription {
                    member_id: "m".into(),
                    subscribed_topic_names: vec!["t".into()],
                    assignment: DescribedAssignment {
                        topic_partitions: vec![DescribedTopicPartitions {
                            topic_id: Uuid([3; 16]),
                            topic_name: "t".into(),
                            partitions: vec![0, 1],
                            ..Default::default()
                        }],
                        ..Default::default()
                    },
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let wire = encoded(&resp, 1);
        let back = ShareGroupDescribeResponse::decode(Bytes::from(wire.clone()), 1).unwrap();
        assert_eq!(back, resp);
        check_hostile::<ShareGroupDescribeResponse>(&wire, 1);
    }
}
