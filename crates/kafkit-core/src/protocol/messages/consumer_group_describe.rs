//! ConsumerGroupDescribe (key 69): the state, epochs, members and current
//! and target assignments of KIP-848 consumer groups.
//!
//! Every version is flexible; v1 adds each member's type (KIP-1099: whether
//! it joined with the classic or the consumer protocol).
//!
//! Spec: `ConsumerGroupDescribeRequest.json` /
//! `ConsumerGroupDescribeResponse.json` (Kafka 4.4.0); KIP-848, KIP-1099.

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, TaggedFields, Uuid,
    VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 1);

/// Asks a group coordinator to describe consumer groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ConsumerGroupDescribeRequest {
    /// The groups to describe (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub group_ids: Vec<String>,
    /// Whether to include the groups' authorized operations (v0+).
    pub include_authorized_operations: bool,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The described groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ConsumerGroupDescribeResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// One entry per group asked for (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub groups: Vec<DescribedConsumerGroup>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One described group.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribedConsumerGroup {
    /// Error code (v0+).
    pub error_code: ErrorCode,
    /// Error message (v0+, nullable).
    pub error_message: Option<String>,
    /// The group id (v0+).
    pub group_id: String,
    /// The group state (`Stable`, `Reconciling`, `Assigning`, `Empty`, `Dead`) (v0+).
    pub group_state: String,
    /// The group epoch (v0+).
    pub group_epoch: i32,
    /// The epoch of the target assignment (v0+).
    pub assignment_epoch: i32,
    /// The server-side assignor in use (v0+).
    pub assignor_name: String,
    /// The members (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub members: Vec<ConsumerGroupMemberDescription>,
    /// Authorized operations bit field; `i32::MIN` when not asked (v0+).
    pub authorized_operations: i32,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for DescribedConsumerGroup {
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

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ConsumerGroupMemberDescription {
    /// The member id (v0+).
    pub member_id: String,
    /// Static membership instance id (v0+, nullable).
    pub instance_id: Option<String>,
    /// Rack id (v0+, nullable).
    pub rack_id: Option<String>,
    /// The member epoch (v0+).
    pub member_epoch: i32,
    /// The client id (v0+).
    pub client_id: String,
    /// The client host (v0+).
    pub client_host: String,
    /// Subscribed topic names (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub subscribed_topic_names: Vec<String>,
    /// Subscribed topic regular expression (v0+, nullable).
    pub subscribed_topic_regex: Option<String>,
    /// The partitions the member owns (v0+).
    pub assignment: DescribedAssignment,
    /// The partitions the coordinator wants it to own (v0+).
    pub target_assignment: DescribedAssignment,
    /// -1 unknown, 0 classic, 1 consumer (v1+, default -1, ignorable).
    pub member_type: i8,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for ConsumerGroupMemberDescription {
    fn default() -> Self {
        Self {
            member_id: String::new(),
            instance_id: None,
            rack_id: None,
            member_epoch: 0,
            client_id: String::new(),
            client_host: String::new(),
            subscribed_topic_names: Vec::new(),
            subscribed_topic_regex: None,
            assignment: DescribedAssignment::default(),
            target_assignment: DescribedAssignment::default(),
            member_type: -1,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// An assignment, partitions named by topic id and name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribedAssignment {
    /// The partitions per topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topic_partitions: Vec<DescribedTopicPartitions>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Partitions of one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribedTopicPartitions {
    /// The topic id (v0+).
    pub topic_id: Uuid,
    /// The topic name (v0+).
    pub topic_name: String,
    /// The partition ids (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<i32>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for ConsumerGroupDescribeRequest {
    const API_KEY: ApiKey = ApiKey::CONSUMER_GROUP_DESCRIBE;
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

impl Request for ConsumerGroupDescribeRequest {
    type Response = ConsumerGroupDescribeResponse;
    const ROUTE: Route = Route::GroupCoordinator;

    fn route_key(&self) -> RouteKey<'_> {
        match self.group_ids.as_slice() {
            [one] => RouteKey::Coordinator(one),
            _ => RouteKey::None,
        }
    }

    fn response_error(response: &Self::Response) -> ErrorCode {
        match response.groups.as_slice() {
            [one] => one.error_code,
            _ => ErrorCode::NONE,
        }
    }
}

impl Message for ConsumerGroupDescribeResponse {
    const API_KEY: ApiKey = ApiKey::CONSUMER_GROUP_DESCRIBE;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = Some(0);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.array(&self.groups, encode_group)?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            groups: r.array(|r| decode_group(r, version))?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

fn encode_group(w: &mut Writer<'_>, g: &DescribedConsumerGroup) -> Result<()> {
    w.i16(g.error_code.0);
    w.nullable_string(g.error_message.as_deref())?;
    w.string(&g.group_id)?;
    w.string(&g.group_state)?;
    w.i32(g.group_epoch);
    w.i32(g.assignment_epoch);
    w.string(&g.assignor_name)?;
    w.array(&g.members, encode_member)?;
    w.i32(g.authorized_operations);
    w.unknown_tagged_fields(&g.unknown_tagged_fields)
}

fn decode_group(r: &mut Reader, version: i16) -> Result<DescribedConsumerGroup> {
    Ok(DescribedConsumerGroup {
        error_code: ErrorCode(r.i16()?),
        error_message: r.nullable_string()?,
        group_id: r.string()?,
        group_state: r.string()?,
        group_epoch: r.i32()?,
        assignment_epoch: r.i32()?,
        assignor_name: r.string()?,
        members: r.array(|r| decode_member(r, version))?,
        authorized_operations: r.i32()?,
        unknown_tagged_fields: r.unknown_tagged_fields()?,
    })
}

fn encode_member(w: &mut Writer<'_>, m: &ConsumerGroupMemberDescription) -> Result<()> {
    w.string(&m.member_id)?;
    w.nullable_string(m.instance_id.as_deref())?;
    w.nullable_string(m.rack_id.as_deref())?;
    w.i32(m.member_epoch);
    w.string(&m.client_id)?;
    w.string(&m.client_host)?;
    w.array(&m.subscribed_topic_names, |w, t| w.string(t))?;
    w.nullable_string(m.subscribed_topic_regex.as_deref())?;
    encode_assignment(w, &m.assignment)?;
    encode_assignment(w, &m.target_assignment)?;
    if w.version() >= 1 {
        w.i8(m.member_type);
    } else {
        w.absent("member_type", m.member_type == -1, true)?;
    }
    w.unknown_tagged_fields(&m.unknown_tagged_fields)
}

fn decode_member(r: &mut Reader, version: i16) -> Result<ConsumerGroupMemberDescription> {
    Ok(ConsumerGroupMemberDescription {
        member_id: r.string()?,
        instance_id: r.nullable_string()?,
        rack_id: r.nullable_string()?,
        member_epoch: r.i32()?,
        client_id: r.string()?,
        client_host: r.string()?,
        subscribed_topic_names: r.array(Reader::string)?,
        subscribed_topic_regex: r.nullable_string()?,
        assignment: decode_assignment(r)?,
        target_assignment: decode_assignment(r)?,
        member_type: if version >= 1 { r.i8()? } else { -1 },
        unknown_tagged_fields: r.unknown_tagged_fields()?,
    })
}

pub(crate) fn encode_assignment(w: &mut Writer<'_>, a: &DescribedAssignment) -> Result<()> {
    w.array(&a.topic_partitions, |w, t| {
        w.uuid(&t.topic_id);
        w.string(&t.topic_name)?;
        w.i32_array(&t.partitions)?;
        w.unknown_tagged_fields(&t.unknown_tagged_fields)
    })?;
    w.unknown_tagged_fields(&a.unknown_tagged_fields)
}

pub(crate) fn decode_assignment(r: &mut Reader) -> Result<DescribedAssignment> {
    Ok(DescribedAssignment {
        topic_partitions: r.array(|r| {
            Ok(DescribedTopicPartitions {
                topic_id: r.uuid()?,
                topic_name: r.string()?,
                partitions: r.i32_array()?,
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?,
        unknown_tagged_fields: r.unknown_tagged_fields()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::check_roundtrip;
    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<ConsumerGroupDescribeRequest>(), v in 0i16..=1) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<ConsumerGroupDescribeResponse>(), v in 0i16..=1) {
            check_roundtrip(&m, v)?;
        }
    }

    #[test]
    fn member_type_is_dropped_at_v0_and_written_at_v1() {
        let member = ConsumerGroupMemberDescription {
            member_id: "m".into(),
            member_type: 1,
            ..Default::default()
        };
        let resp = ConsumerGroupDescribeResponse {
            groups: vec![DescribedConsumerGroup {
                group_id: "g".into(),
                members: vec![member],
                ..Default::default()
            }],
            ..Default::default()
        };
        let (mut v0, mut v1) = (BytesMut::new(), BytesMut::new());
        resp.encode(0, &mut v0).unwrap();
        resp.encode(1, &mut v1).unwrap();
        assert_eq!(v1.len(), v0.len() + 1, "one int8 more at v1");
        let back0 = ConsumerGroupDescribeResponse::decode(v0.freeze(), 0).unwrap();
        assert_eq!(back0.groups[0].members[0].member_type, -1);
        let back1 = ConsumerGroupDescribeResponse::decode(v1.freeze(), 1).unwrap();
        assert_eq!(back1, resp);
        assert_eq!(back1.groups[0].authorized_operations, i32::MIN);
    }

    #[test]
    fn request_bytes() {
        let req = ConsumerGroupDescribeRequest {
            group_ids: vec!["g".into()],
            include_authorized_operations: true,
            ..Default::default()
        };
        let wire = [2, 2, b'g', 1, 0];
        let mut buf = BytesMut::new();
        req.encode(1, &mut buf).unwrap();
        assert_eq!(&buf[..], wire);
        let back = ConsumerGroupDescribeRequest::decode(Bytes::copy_from_slice(&wire), 0);
        assert_eq!(back.unwrap(), req);
    }
}
