//! The member driven in virtual time by scripted coordinator responses.

mod coop;
mod errors;
mod fuzz;
mod happy;
mod lifecycle;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::group::assignor::tp;
use crate::group::{
    CooperativeStickyAssignor, GroupConfig, GroupEvent, GroupMember, GroupRequest, GroupResponse,
    MemberState, OffsetAndMetadata, Offsets, Outbound, Target, TopicPartition,
};
use crate::protocol::messages::consumer_protocol::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicPartitions,
};
use crate::protocol::messages::find_coordinator::FindCoordinatorResponse;
use crate::protocol::messages::heartbeat::HeartbeatResponse;
use crate::protocol::messages::join_group::{
    JoinGroupRequest, JoinGroupResponse, JoinGroupResponseMember,
};
use crate::protocol::messages::leave_group::LeaveGroupResponse;
use crate::protocol::messages::offset_commit::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetCommitResponsePartition,
    OffsetCommitResponseTopic,
};
use crate::protocol::messages::sync_group::{SyncGroupRequest, SyncGroupResponse};
use crate::protocol::ErrorCode;

/// A transport failure as a driver reports it: the connection to `broker`
/// closed before the response came (retriable, no error code).
#[derive(Debug)]
struct Disconnected {
    broker: String,
}

impl std::fmt::Display for Disconnected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "connection to broker {} closed", self.broker)
    }
}

impl crate::group::RequestFailure for Disconnected {
    fn is_retriable(&self) -> bool {
        true
    }
    fn code(&self) -> Option<ErrorCode> {
        None
    }
    fn is_connection_drop(&self) -> bool {
        true
    }
}

/// A member, a virtual clock and helpers to play the coordinator.
struct Harness {
    m: GroupMember,
    now: Instant,
    t0: Instant,
}

fn config() -> GroupConfig {
    let mut c = GroupConfig::new("g", ["t"]);
    c.session_timeout = Duration::from_secs(10);
    c.heartbeat_interval = Duration::from_secs(3);
    c.max_poll_interval = Duration::from_secs(60);
    c.rebalance_timeout = Duration::from_secs(60);
    c
}

fn cooperative_config() -> GroupConfig {
    let mut c = config();
    c.assignors = vec![Arc::new(CooperativeStickyAssignor)];
    c
}

fn parts(list: &[(&str, i32)]) -> BTreeSet<TopicPartition> {
    list.iter().map(|(t, p)| tp(t, *p)).collect()
}

fn offsets(list: &[(&str, i32, i64)]) -> Offsets {
    list.iter()
        .map(|(t, p, o)| (tp(t, *p), OffsetAndMetadata::new(*o)))
        .collect()
}

fn subscription_bytes(topics: &[&str], owned: &[(&str, i32)], generation: i32) -> Bytes {
    let mut by_topic: Vec<TopicPartitions> = Vec::new();
    for (t, p) in owned {
        match by_topic.last_mut() {
            Some(x) if x.topic == *t => x.partitions.push(*p),
            _ => by_topic.push(TopicPartitions {
                topic: t.to_string(),
                partitions: vec![*p],
            }),
        }
    }
    ConsumerProtocolSubscription {
        topics: topics.iter().map(|t| t.to_string()).collect(),
        owned_partitions: by_topic,
        generation_id: generation,
        ..ConsumerProtocolSubscription::default()
    }
    .encode(3)
    .unwrap()
}

fn assignment_bytes(list: &[(&str, i32)]) -> Bytes {
    let mut by_topic: Vec<TopicPartitions> = Vec::new();
    for (t, p) in list {
        match by_topic.last_mut() {
            Some(x) if x.topic == *t => x.partitions.push(*p),
            _ => by_topic.push(TopicPartitions {
                topic: t.to_string(),
                partitions: vec![*p],
            }),
        }
    }
    ConsumerProtocolAssignment {
        assigned_partitions: by_topic,
        user_data: None,
    }
    .encode(3)
    .unwrap()
}

/// Partitions in an encoded assignment.
fn decode_assignment(b: &Bytes) -> BTreeSet<TopicPartition> {
    ConsumerProtocolAssignment::decode(b.clone())
        .unwrap()
        .assigned_partitions
        .iter()
        .flat_map(|t| t.partitions.iter().map(|&p| tp(&t.topic, p)))
        .collect()
}

fn join_ok(generation: i32, member: &str, leader: &str, protocol: &str) -> JoinGroupResponse {
    JoinGroupResponse {
        generation_id: generation,
        protocol_name: Some(protocol.into()),
        leader: leader.into(),
        member_id: member.into(),
        ..JoinGroupResponse::default()
    }
}

fn join_error(code: ErrorCode, member: &str) -> JoinGroupResponse {
    JoinGroupResponse {
        error_code: code,
        member_id: member.into(),
        ..JoinGroupResponse::default()
    }
}

fn leader_member(
    id: &str,
    topics: &[&str],
    owned: &[(&str, i32)],
    generation: i32,
) -> JoinGroupResponseMember {
    JoinGroupResponseMember {
        member_id: id.into(),
        metadata: subscription_bytes(topics, owned, generation),
        ..JoinGroupResponseMember::default()
    }
}

fn sync_ok(list: &[(&str, i32)]) -> SyncGroupResponse {
    SyncGroupResponse {
        assignment: assignment_bytes(list),
        ..SyncGroupResponse::default()
    }
}

fn sync_error(code: ErrorCode) -> SyncGroupResponse {
    SyncGroupResponse {
        error_code: code,
        ..SyncGroupResponse::default()
    }
}

fn heartbeat(code: ErrorCode) -> HeartbeatResponse {
    HeartbeatResponse {
        error_code: code,
        ..HeartbeatResponse::default()
    }
}

fn commit_response(req: &OffsetCommitRequest, code: ErrorCode) -> OffsetCommitResponse {
    OffsetCommitResponse {
        topics: req
            .topics
            .iter()
            .map(|t| OffsetCommitResponseTopic {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| OffsetCommitResponsePartition {
                        partition_index: p.partition_index,
                        error_code: code,
                        ..OffsetCommitResponsePartition::default()
                    })
                    .collect(),
                ..OffsetCommitResponseTopic::default()
            })
            .collect(),
        ..OffsetCommitResponse::default()
    }
}

fn found(node: i32) -> FindCoordinatorResponse {
    FindCoordinatorResponse {
        node_id: node,
        host: format!("broker-{node}"),
        port: 9092,
        ..FindCoordinatorResponse::default()
    }
}

impl Harness {
    fn new(cfg: GroupConfig) -> Self {
        let t0 = Instant::now();
        Self {
            m: GroupMember::new(cfg, t0).unwrap(),
            now: t0,
            t0,
        }
    }

    fn at(&self, d: Duration) -> Instant {
        self.t0 + d
    }

    /// Moves the clock and ticks the member.
    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.m.handle_timeout(self.now);
    }

    /// Moves the clock to the member's next deadline and ticks.
    fn advance_to_deadline(&mut self) -> Instant {
        let at = self.m.poll_timeout().expect("a deadline");
        assert!(at >= self.now, "deadline in the past");
        self.now = at;
        self.m.handle_timeout(at);
        at
    }

    fn poll(&mut self) {
        self.m.poll(self.now).unwrap();
    }

    fn requests(&mut self) -> Vec<Outbound> {
        std::iter::from_fn(|| self.m.poll_request()).collect()
    }

    /// Exactly one request is pending; returns it.
    fn one(&mut self) -> Outbound {
        let all = self.requests();
        assert_eq!(all.len(), 1, "expected one request, got {all:#?}");
        all.into_iter().next().unwrap()
    }

    fn events(&mut self) -> Vec<GroupEvent> {
        std::iter::from_fn(|| self.m.poll_event()).collect()
    }

    fn respond(&mut self, out: &Outbound, response: GroupResponse) {
        self.m.handle_response(out.id, response, self.now).unwrap();
    }

    fn expect_find(&mut self) -> Outbound {
        let out = self.one();
        assert_eq!(out.target, Target::AnyBroker);
        assert!(matches!(out.request, GroupRequest::FindCoordinator(ref c) if c.key == "g"));
        out
    }

    fn find(&mut self, node: i32) {
        let out = self.expect_find();
        self.respond(&out, GroupResponse::FindCoordinator(found(node)));
    }

    fn expect_join(&mut self) -> (Outbound, JoinGroupRequest) {
        let out = self.one();
        let GroupRequest::JoinGroup(req) = out.request.clone() else {
            panic!("expected JoinGroup, got {out:#?}");
        };
        (out, req)
    }

    fn expect_sync(&mut self) -> (Outbound, SyncGroupRequest) {
        let out = self.one();
        let GroupRequest::SyncGroup(req) = out.request.clone() else {
            panic!("expected SyncGroup, got {out:#?}");
        };
        (out, req)
    }

    fn expect_commit(&mut self) -> (Outbound, OffsetCommitRequest) {
        let out = self.one();
        let GroupRequest::OffsetCommit(req) = out.request.clone() else {
            panic!("expected OffsetCommit, got {out:#?}");
        };
        (out, req)
    }

    fn expect_heartbeat(&mut self) -> Outbound {
        let out = self.one();
        assert!(
            matches!(out.request, GroupRequest::Heartbeat(_)),
            "expected Heartbeat, got {out:#?}"
        );
        out
    }

    /// First poll through a stable follower generation holding `assigned`.
    fn join_as_follower(&mut self, generation: i32, assigned: &[(&str, i32)]) {
        self.poll();
        self.find(1);
        let (out, _) = self.expect_join();
        self.respond(
            &out,
            GroupResponse::JoinGroup(join_ok(generation, "me", "leader", self.protocol())),
        );
        let (out, _) = self.expect_sync();
        self.respond(&out, GroupResponse::SyncGroup(sync_ok(assigned)));
        assert_eq!(self.m.state(), MemberState::Stable);
        self.events();
    }

    fn protocol(&self) -> &'static str {
        if self.m.is_cooperative() {
            "cooperative-sticky"
        } else {
            "range"
        }
    }

    /// Answers the heartbeat due at the next interval with `code`.
    fn heartbeat_with(&mut self, code: ErrorCode) {
        self.advance_to_deadline();
        let out = self.expect_heartbeat();
        self.respond(&out, GroupResponse::Heartbeat(heartbeat(code)));
    }
}
