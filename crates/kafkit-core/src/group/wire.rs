//! What the member asks the driver to send, and what comes back.
//!
//! Each [`Outbound`] says where to send ([`Target`]), how long to wait
//! (`timeout`) and what to send ([`GroupRequest`]). The request is
//! version-agnostic: the driver negotiates a version with the broker and
//! calls [`GroupCall::to_request`] to get the wire struct for it. Three APIs
//! change shape across versions (FindCoordinator's single key vs
//! `coordinator_keys` at v4, LeaveGroup's single member vs `members` at v3,
//! OffsetFetch's single group vs `groups` at v8); the others refuse versions
//! that cannot carry what the member needs (static membership, Kafka-stored
//! offsets) instead of silently sending something else.

use std::time::Duration;

use crate::protocol::messages::find_coordinator::{
    FindCoordinatorRequest, FindCoordinatorResponse, KEY_TYPE_GROUP,
};
use crate::protocol::messages::heartbeat::{HeartbeatRequest, HeartbeatResponse};
use crate::protocol::messages::join_group::{JoinGroupRequest, JoinGroupResponse};
use crate::protocol::messages::leave_group::{
    LeaveGroupRequest, LeaveGroupResponse, MemberIdentity,
};
use crate::protocol::messages::offset_commit::{OffsetCommitRequest, OffsetCommitResponse};
use crate::protocol::messages::offset_fetch::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchResponse,
};
use crate::protocol::messages::sync_group::{SyncGroupRequest, SyncGroupResponse};
use crate::protocol::{ApiKey, Message, Request};

use super::error::GroupError;
pub use super::request_id::RequestId;

/// The group coordinator's address, from FindCoordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coordinator {
    /// Broker id.
    pub node_id: i32,
    /// Host name.
    pub host: String,
    /// Port.
    pub port: i32,
}

impl Coordinator {
    /// `host:port`, the address drivers connect to and report back in
    /// [`GroupMember::sent`](super::GroupMember::sent).
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Which broker a request goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Any broker (FindCoordinator).
    AnyBroker,
    /// The group coordinator. Java keeps a dedicated connection to it so
    /// that group traffic never waits behind fetches; drivers should too.
    Coordinator(Coordinator),
}

/// A request for the driver to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbound {
    /// Hand this back with the response or the failure.
    pub id: RequestId,
    /// Where to send it.
    pub target: Target,
    /// How long to wait for the response before reporting a failure
    /// (JoinGroup waits up to the rebalance timeout at the coordinator).
    pub timeout: Duration,
    /// What to send.
    pub request: GroupRequest,
    /// Send it at this version at most (the member lowered it after the
    /// broker kept dropping the connection on a higher one); `None`: the
    /// highest version both sides support. If the broker supports nothing
    /// at or below it, its lowest version.
    pub max_version: Option<i16>,
}

/// The requests the member sends.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum GroupRequest {
    /// Find the group coordinator.
    FindCoordinator(FindCoordinatorCall),
    /// Join (or rejoin) the group.
    JoinGroup(JoinGroupRequest),
    /// Send (leader) or fetch (follower) the generation's assignment.
    SyncGroup(SyncGroupRequest),
    /// Keep the membership alive.
    Heartbeat(HeartbeatRequest),
    /// Leave the group.
    LeaveGroup(LeaveGroupCall),
    /// Commit offsets.
    OffsetCommit(OffsetCommitRequest),
    /// Read committed offsets.
    OffsetFetch(OffsetFetchCall),
}

impl GroupRequest {
    /// The API of the request.
    pub fn api_key(&self) -> ApiKey {
        match self {
            GroupRequest::FindCoordinator(_) => ApiKey::FIND_COORDINATOR,
            GroupRequest::JoinGroup(_) => ApiKey::JOIN_GROUP,
            GroupRequest::SyncGroup(_) => ApiKey::SYNC_GROUP,
            GroupRequest::Heartbeat(_) => ApiKey::HEARTBEAT,
            GroupRequest::LeaveGroup(_) => ApiKey::LEAVE_GROUP,
            GroupRequest::OffsetCommit(_) => ApiKey::OFFSET_COMMIT,
            GroupRequest::OffsetFetch(_) => ApiKey::OFFSET_FETCH,
        }
    }
}

/// The responses the member consumes, one variant per API.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum GroupResponse {
    /// FindCoordinator response (any version).
    FindCoordinator(FindCoordinatorResponse),
    /// JoinGroup response.
    JoinGroup(JoinGroupResponse),
    /// SyncGroup response.
    SyncGroup(SyncGroupResponse),
    /// Heartbeat response.
    Heartbeat(HeartbeatResponse),
    /// LeaveGroup response.
    LeaveGroup(LeaveGroupResponse),
    /// OffsetCommit response.
    OffsetCommit(OffsetCommitResponse),
    /// OffsetFetch response (either form).
    OffsetFetch(OffsetFetchResponse),
}

impl GroupResponse {
    /// The API of the response.
    pub fn api_key(&self) -> ApiKey {
        match self {
            GroupResponse::FindCoordinator(_) => ApiKey::FIND_COORDINATOR,
            GroupResponse::JoinGroup(_) => ApiKey::JOIN_GROUP,
            GroupResponse::SyncGroup(_) => ApiKey::SYNC_GROUP,
            GroupResponse::Heartbeat(_) => ApiKey::HEARTBEAT,
            GroupResponse::LeaveGroup(_) => ApiKey::LEAVE_GROUP,
            GroupResponse::OffsetCommit(_) => ApiKey::OFFSET_COMMIT,
            GroupResponse::OffsetFetch(_) => ApiKey::OFFSET_FETCH,
        }
    }
}

/// A group request that becomes a wire struct once the version is known.
///
/// A driver can send any variant of [`GroupRequest`] with one generic helper:
///
/// ```text
/// async fn exchange<C: GroupCall>(conn: &BrokerConnection, call: &C) -> kafkit::Result<GroupResponse> {
///     let version = conn.version_for::<C::Request>()?;
///     let request = call.to_request(version)?;
///     Ok(C::into_response(conn.send_at(&request, version).await?))
/// }
/// ```
pub trait GroupCall {
    /// The wire request.
    type Request: Request;
    /// The request as it must be sent at `version`.
    fn to_request(&self, version: i16) -> Result<Self::Request, GroupError>;
    /// Wraps the wire response for `handle_response`.
    fn into_response(response: <Self::Request as Request>::Response) -> GroupResponse;
}

fn unsupported(api: ApiKey, version: i16, what: &'static str) -> GroupError {
    GroupError::UnsupportedVersion { api, version, what }
}

fn check_range<R: Message>(version: i16) -> Result<(), GroupError> {
    if R::VERSIONS.contains(version) {
        Ok(())
    } else {
        Err(unsupported(
            R::API_KEY,
            version,
            "any field (not implemented)",
        ))
    }
}

/// FindCoordinator for the group, independent of the version's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindCoordinatorCall {
    /// The group id.
    pub key: String,
}

impl GroupCall for FindCoordinatorCall {
    type Request = FindCoordinatorRequest;

    fn to_request(&self, version: i16) -> Result<FindCoordinatorRequest, GroupError> {
        check_range::<FindCoordinatorRequest>(version)?;
        Ok(FindCoordinatorRequest::for_key(
            KEY_TYPE_GROUP,
            &self.key,
            version,
        ))
    }

    fn into_response(response: FindCoordinatorResponse) -> GroupResponse {
        GroupResponse::FindCoordinator(response)
    }
}

/// LeaveGroup for this member, independent of the version's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveGroupCall {
    /// The group id.
    pub group_id: String,
    /// The leaving member.
    pub member_id: String,
    /// The static instance id (needs v3+).
    pub group_instance_id: Option<String>,
    /// Why the member leaves (sent from v5, KIP-800).
    pub reason: Option<String>,
}

impl GroupCall for LeaveGroupCall {
    type Request = LeaveGroupRequest;

    fn to_request(&self, version: i16) -> Result<LeaveGroupRequest, GroupError> {
        check_range::<LeaveGroupRequest>(version)?;
        let mut req = LeaveGroupRequest {
            group_id: self.group_id.clone(),
            ..LeaveGroupRequest::default()
        };
        if version >= 3 {
            req.members = vec![MemberIdentity {
                member_id: self.member_id.clone(),
                group_instance_id: self.group_instance_id.clone(),
                reason: self.reason.clone(),
                ..MemberIdentity::default()
            }];
        } else if self.group_instance_id.is_some() {
            return Err(unsupported(
                ApiKey::LEAVE_GROUP,
                version,
                "a group instance id (v3+)",
            ));
        } else {
            req.member_id = self.member_id.clone();
        }
        Ok(req)
    }

    fn into_response(response: LeaveGroupResponse) -> GroupResponse {
        GroupResponse::LeaveGroup(response)
    }
}

/// OffsetFetch for one group, independent of the version's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchCall {
    /// The group id.
    pub group_id: String,
    /// The partitions wanted, per topic.
    pub topics: Vec<OffsetFetchRequestTopic>,
    /// Ask for stable offsets only (KIP-447, v7+).
    pub require_stable: bool,
}

impl GroupCall for OffsetFetchCall {
    type Request = OffsetFetchRequest;

    fn to_request(&self, version: i16) -> Result<OffsetFetchRequest, GroupError> {
        check_range::<OffsetFetchRequest>(version)?;
        if version == 0 {
            return Err(unsupported(
                ApiKey::OFFSET_FETCH,
                0,
                "offsets stored in Kafka (v0 reads ZooKeeper)",
            ));
        }
        if self.require_stable && version < 7 {
            return Err(unsupported(
                ApiKey::OFFSET_FETCH,
                version,
                "require_stable (v7+)",
            ));
        }
        let mut req = OffsetFetchRequest {
            require_stable: self.require_stable,
            ..OffsetFetchRequest::default()
        };
        if version >= 8 {
            req.groups = vec![OffsetFetchRequestGroup {
                group_id: self.group_id.clone(),
                topics: Some(self.topics.clone()),
                ..OffsetFetchRequestGroup::default()
            }];
        } else {
            req.group_id = self.group_id.clone();
            req.topics = Some(self.topics.clone());
        }
        Ok(req)
    }

    fn into_response(response: OffsetFetchResponse) -> GroupResponse {
        GroupResponse::OffsetFetch(response)
    }
}

impl GroupCall for JoinGroupRequest {
    type Request = JoinGroupRequest;

    fn to_request(&self, version: i16) -> Result<JoinGroupRequest, GroupError> {
        check_range::<JoinGroupRequest>(version)?;
        if version < 5 && self.group_instance_id.is_some() {
            return Err(unsupported(
                ApiKey::JOIN_GROUP,
                version,
                "a group instance id (v5+)",
            ));
        }
        Ok(self.clone())
    }

    fn into_response(response: JoinGroupResponse) -> GroupResponse {
        GroupResponse::JoinGroup(response)
    }
}

impl GroupCall for SyncGroupRequest {
    type Request = SyncGroupRequest;

    fn to_request(&self, version: i16) -> Result<SyncGroupRequest, GroupError> {
        check_range::<SyncGroupRequest>(version)?;
        if version < 3 && self.group_instance_id.is_some() {
            return Err(unsupported(
                ApiKey::SYNC_GROUP,
                version,
                "a group instance id (v3+)",
            ));
        }
        Ok(self.clone())
    }

    fn into_response(response: SyncGroupResponse) -> GroupResponse {
        GroupResponse::SyncGroup(response)
    }
}

impl GroupCall for HeartbeatRequest {
    type Request = HeartbeatRequest;

    fn to_request(&self, version: i16) -> Result<HeartbeatRequest, GroupError> {
        check_range::<HeartbeatRequest>(version)?;
        if version < 3 && self.group_instance_id.is_some() {
            return Err(unsupported(
                ApiKey::HEARTBEAT,
                version,
                "a group instance id (v3+)",
            ));
        }
        Ok(self.clone())
    }

    fn into_response(response: HeartbeatResponse) -> GroupResponse {
        GroupResponse::Heartbeat(response)
    }
}

impl GroupCall for OffsetCommitRequest {
    type Request = OffsetCommitRequest;

    fn to_request(&self, version: i16) -> Result<OffsetCommitRequest, GroupError> {
        check_range::<OffsetCommitRequest>(version)?;
        if version == 0 {
            return Err(unsupported(
                ApiKey::OFFSET_COMMIT,
                0,
                "a generation and member id (v0 commits to ZooKeeper)",
            ));
        }
        if version < 7 && self.group_instance_id.is_some() {
            return Err(unsupported(
                ApiKey::OFFSET_COMMIT,
                version,
                "a group instance id (v7+)",
            ));
        }
        Ok(self.clone())
    }

    fn into_response(response: OffsetCommitResponse) -> GroupResponse {
        GroupResponse::OffsetCommit(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    fn encodes<R: Message>(req: &R, version: i16) -> bool {
        req.encode(version, &mut BytesMut::new()).is_ok()
    }

    #[test]
    fn find_coordinator_switches_shape_at_v4() {
        let call = FindCoordinatorCall { key: "g".into() };
        for v in 0..=6 {
            let req = call.to_request(v).unwrap();
            assert!(encodes(&req, v), "v{v}");
            if v >= 4 {
                assert_eq!(req.coordinator_keys, ["g"]);
                assert!(req.key.is_empty());
            } else {
                assert_eq!(req.key, "g");
                assert!(req.coordinator_keys.is_empty());
            }
        }
        assert!(call.to_request(7).is_err());
    }

    #[test]
    fn leave_group_switches_shape_at_v3() {
        let dynamic = LeaveGroupCall {
            group_id: "g".into(),
            member_id: "m".into(),
            group_instance_id: None,
            reason: Some("bye".into()),
        };
        for v in 0..=5 {
            let req = dynamic.to_request(v).unwrap();
            assert!(encodes(&req, v), "v{v}");
            if v >= 3 {
                assert_eq!(req.members.len(), 1);
                assert_eq!(req.members[0].member_id, "m");
            } else {
                assert_eq!(req.member_id, "m");
            }
        }
        let stat = LeaveGroupCall {
            group_instance_id: Some("i".into()),
            ..dynamic
        };
        assert!(matches!(
            stat.to_request(2),
            Err(GroupError::UnsupportedVersion { version: 2, .. })
        ));
        let req = stat.to_request(3).unwrap();
        assert_eq!(req.members[0].group_instance_id.as_deref(), Some("i"));
    }

    #[test]
    fn offset_fetch_switches_shape_at_v8() {
        let call = OffsetFetchCall {
            group_id: "g".into(),
            topics: vec![OffsetFetchRequestTopic {
                name: "t".into(),
                partition_indexes: vec![0, 1],
                ..OffsetFetchRequestTopic::default()
            }],
            require_stable: false,
        };
        assert!(call.to_request(0).is_err());
        for v in 1..=9 {
            let req = call.to_request(v).unwrap();
            assert!(encodes(&req, v), "v{v}");
            assert_eq!(req.groups.len(), usize::from(v >= 8));
        }
        let stable = OffsetFetchCall {
            require_stable: true,
            ..call
        };
        assert!(stable.to_request(6).is_err());
        assert!(stable.to_request(7).unwrap().require_stable);
    }

    #[test]
    fn static_membership_needs_recent_versions() {
        let join = JoinGroupRequest {
            group_instance_id: Some("i".into()),
            ..JoinGroupRequest::default()
        };
        assert!(join.to_request(4).is_err());
        assert!(join.to_request(5).is_ok());
        let hb = HeartbeatRequest {
            group_instance_id: Some("i".into()),
            ..HeartbeatRequest::default()
        };
        assert!(hb.to_request(2).is_err());
        assert!(hb.to_request(3).is_ok());
        let commit = OffsetCommitRequest {
            group_instance_id: Some("i".into()),
            ..OffsetCommitRequest::default()
        };
        assert!(commit.to_request(6).is_err());
        assert!(commit.to_request(7).is_ok());
        assert!(OffsetCommitRequest::default().to_request(0).is_err());
        assert!(OffsetCommitRequest::default().to_request(1).is_ok());
    }
}
