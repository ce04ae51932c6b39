//! Session timeout, max poll interval, static membership and close.

use super::*;
use crate::group::{GroupCall, GroupError, LeaveGroupCall, LostReason, RejoinReason};
use crate::protocol::messages::leave_group::MemberResponse;

fn leave_ok() -> GroupResponse {
    GroupResponse::LeaveGroup(LeaveGroupResponse::default())
}

#[test]
fn session_timeout_loses_partitions_without_committing() {
    let mut h = Harness::new(config());
    h.join_as_follower(3, &[("t", 0)]);
    let last_ok = h.now;
    // The coordinator becomes unreachable: heartbeat and lookups fail.
    h.advance_to_deadline();
    let hb = h.expect_heartbeat();
    let down = Disconnected {
        broker: "broker-1".into(),
    };
    h.m.handle_error(hb.id, &down, h.now).unwrap();
    loop {
        h.poll();
        let out = h.requests();
        for o in &out {
            assert!(matches!(o.request, GroupRequest::FindCoordinator(_)));
            h.m.handle_error(o.id, &down, h.now).unwrap();
        }
        if h.m.state() != MemberState::Stable {
            break;
        }
        assert!(
            h.events().is_empty(),
            "partitions kept while the session lasts"
        );
        h.advance_to_deadline();
    }
    assert_eq!(h.now, last_ok + Duration::from_secs(10));
    assert_eq!(
        h.events(),
        [
            GroupEvent::Lost {
                partitions: parts(&[("t", 0)]),
                reason: LostReason::SessionTimeout
            },
            GroupEvent::Rebalancing {
                reason: RejoinReason::SessionTimeout
            }
        ]
    );
    assert_eq!((h.m.member_id(), h.m.generation_id()), ("", -1));
    assert_eq!(h.m.state(), MemberState::Joining);
    // Once the coordinator is back the member joins afresh.
    h.advance(Duration::from_millis(100));
    h.find(1);
    let (_, join) = h.expect_join();
    assert_eq!(join.member_id, "");
}

#[test]
fn max_poll_interval_exceeded_is_reported_and_leaves_the_group() {
    let mut h = Harness::new(config());
    h.join_as_follower(2, &[("t", 0), ("t", 1)]);
    let polled = h.now;
    // Heartbeats succeed, but the application stops polling.
    while h.now + Duration::from_secs(3) < polled + Duration::from_secs(60) {
        h.heartbeat_with(ErrorCode::NONE);
    }
    assert!(h.events().is_empty());
    assert_eq!(h.advance_to_deadline(), polled + Duration::from_secs(60));
    assert_eq!(
        h.events(),
        [
            GroupEvent::PollTimeoutExpired,
            GroupEvent::Lost {
                partitions: parts(&[("t", 0), ("t", 1)]),
                reason: LostReason::PollTimeout
            }
        ]
    );
    let out = h.one();
    let GroupRequest::LeaveGroup(call) = &out.request else {
        panic!("expected LeaveGroup, got {out:#?}")
    };
    assert_eq!(call.member_id, "me");
    assert_eq!(call.to_request(2).unwrap().member_id, "me");
    assert_eq!(call.to_request(3).unwrap().members[0].member_id, "me");
    h.respond(&out, leave_ok());
    assert_eq!(
        h.events(),
        [GroupEvent::LeftGroup {
            error: ErrorCode::NONE
        }]
    );
    assert_eq!(h.m.state(), MemberState::Unjoined);
    assert!(h.requests().is_empty());
    // Polling again rejoins as a new member.
    h.poll();
    assert_eq!(
        h.events(),
        [GroupEvent::Rebalancing {
            reason: RejoinReason::Resumed
        }]
    );
    let (_, join) = h.expect_join();
    assert_eq!(join.member_id, "");
}

#[test]
fn close_commits_revokes_and_leaves() {
    let mut h = Harness::new(config());
    h.join_as_follower(2, &[("t", 0)]);
    h.m.close(h.now).unwrap();
    let ev = h.events();
    assert!(
        matches!(ev.as_slice(), [GroupEvent::CommitNeeded { partitions, .. }] if partitions == &parts(&[("t", 0)]))
    );
    assert!(h.requests().is_empty(), "no LeaveGroup before the commit");
    let id = h.m.commit(offsets(&[("t", 0, 99)]), h.now).unwrap();
    let (out, req) = h.expect_commit();
    h.respond(
        &out,
        GroupResponse::OffsetCommit(commit_response(&req, ErrorCode::NONE)),
    );
    let out = h.one();
    let GroupRequest::LeaveGroup(LeaveGroupCall {
        member_id, reason, ..
    }) = &out.request
    else {
        panic!("expected LeaveGroup, got {out:#?}")
    };
    assert_eq!(member_id, "me");
    assert!(reason.is_some());
    h.respond(&out, leave_ok());
    assert_eq!(
        h.events(),
        [
            GroupEvent::CommitCompleted { id, result: Ok(()) },
            GroupEvent::Revoked {
                partitions: parts(&[("t", 0)])
            },
            GroupEvent::LeftGroup {
                error: ErrorCode::NONE
            },
            GroupEvent::Closed
        ]
    );
    assert!(h.m.is_closed());
    assert_eq!(h.m.poll_timeout(), None);
    assert_eq!(h.m.poll(h.now), Err(GroupError::Closed));
    assert!(h.m.close(h.now).is_ok());
}

#[test]
fn close_before_joining_closes_at_once() {
    let mut h = Harness::new(config());
    h.m.close(h.now).unwrap();
    assert_eq!(h.events(), [GroupEvent::Closed]);
    assert!(h.requests().is_empty());
}

#[test]
fn close_does_not_wait_forever_for_leave_group() {
    let mut h = Harness::new(config());
    let mut cfg = config();
    cfg.commit_before_revoke = false;
    h.m = GroupMember::new(cfg, h.now).unwrap();
    h.join_as_follower(1, &[("t", 0)]);
    h.m.close(h.now).unwrap();
    let out = h.one();
    assert!(matches!(out.request, GroupRequest::LeaveGroup(_)));
    assert_eq!(h.advance_to_deadline(), h.at(Duration::from_secs(30)));
    assert_eq!(
        h.events(),
        [
            GroupEvent::Revoked {
                partitions: parts(&[("t", 0)])
            },
            GroupEvent::LeftGroup {
                error: ErrorCode::REQUEST_TIMED_OUT
            },
            GroupEvent::Closed
        ]
    );
    // The late answer is ignored.
    h.respond(&out, leave_ok());
    assert!(h.events().is_empty());
}

fn static_config(leaves: bool) -> GroupConfig {
    let mut c = config();
    c.group_instance_id = Some("inst-1".into());
    c.static_member_leaves = leaves;
    c
}

#[test]
fn static_member_sends_its_instance_id_and_keeps_its_slot_on_close() {
    let mut h = Harness::new(static_config(false));
    h.poll();
    h.find(1);
    let (out, join) = h.expect_join();
    assert_eq!(join.group_instance_id.as_deref(), Some("inst-1"));
    let GroupRequest::JoinGroup(req) = &out.request else {
        unreachable!()
    };
    assert!(matches!(
        req.to_request(4),
        Err(GroupError::UnsupportedVersion { version: 4, .. })
    ));
    h.respond(
        &out,
        GroupResponse::JoinGroup(join_ok(1, "me", "x", "range")),
    );
    let (out, sync) = h.expect_sync();
    assert_eq!(sync.group_instance_id.as_deref(), Some("inst-1"));
    h.respond(&out, GroupResponse::SyncGroup(sync_ok(&[("t", 0)])));
    h.advance_to_deadline();
    let hb = h.expect_heartbeat();
    assert!(
        matches!(&hb.request, GroupRequest::Heartbeat(r) if r.group_instance_id.as_deref() == Some("inst-1"))
    );
    h.respond(&hb, GroupResponse::Heartbeat(heartbeat(ErrorCode::NONE)));
    let id = h.m.commit(offsets(&[("t", 0, 1)]), h.now).unwrap();
    let (out, req) = h.expect_commit();
    assert_eq!(req.group_instance_id.as_deref(), Some("inst-1"));
    h.respond(
        &out,
        GroupResponse::OffsetCommit(commit_response(&req, ErrorCode::NONE)),
    );
    h.events();
    let _ = id;
    // Close: commit and revoke, but no LeaveGroup (Java's behaviour).
    h.m.close(h.now).unwrap();
    h.m.commit(Offsets::new(), h.now).unwrap();
    assert!(h.requests().is_empty());
    assert_eq!(h.events().last(), Some(&GroupEvent::Closed));
}

#[test]
fn static_member_may_leave_with_its_instance_id() {
    let mut h = Harness::new(static_config(true));
    h.join_as_follower(1, &[]);
    h.m.close(h.now).unwrap();
    let out = h.one();
    let GroupRequest::LeaveGroup(call) = &out.request else {
        panic!("expected LeaveGroup, got {out:#?}")
    };
    assert!(call.to_request(2).is_err(), "v0-2 cannot name an instance");
    let req = call.to_request(4).unwrap();
    assert_eq!(req.members[0].group_instance_id.as_deref(), Some("inst-1"));
    assert_eq!(req.members[0].member_id, "me");
    let resp = LeaveGroupResponse {
        members: vec![MemberResponse {
            member_id: "me".into(),
            group_instance_id: Some("inst-1".into()),
            error_code: ErrorCode::UNKNOWN_MEMBER_ID,
            ..MemberResponse::default()
        }],
        ..LeaveGroupResponse::default()
    };
    h.respond(&out, GroupResponse::LeaveGroup(resp));
    assert_eq!(
        h.events(),
        [
            GroupEvent::LeftGroup {
                error: ErrorCode::UNKNOWN_MEMBER_ID
            },
            GroupEvent::Closed
        ]
    );
}

#[test]
fn fenced_instance_id_is_fatal() {
    let mut h = Harness::new(static_config(false));
    h.join_as_follower(1, &[("t", 0)]);
    h.heartbeat_with(ErrorCode::FENCED_INSTANCE_ID);
    assert_eq!(
        h.events(),
        [
            GroupEvent::Lost {
                partitions: parts(&[("t", 0)]),
                reason: LostReason::Fatal
            },
            GroupEvent::Fatal(GroupError::Broker {
                api: crate::protocol::ApiKey::HEARTBEAT,
                code: ErrorCode::FENCED_INSTANCE_ID
            })
        ]
    );
    assert_eq!(h.m.state(), MemberState::Failed);
    assert!(h.requests().is_empty());
    assert_eq!(h.m.poll_timeout(), None);
    assert_eq!(
        h.m.commit(offsets(&[("t", 0, 1)]), h.now),
        Err(GroupError::Closed)
    );
    h.m.close(h.now).unwrap();
    assert_eq!(h.events(), [GroupEvent::Closed]);
}

#[test]
fn fenced_at_join_is_fatal_too() {
    let mut h = Harness::new(static_config(false));
    h.poll();
    h.find(1);
    let (out, _) = h.expect_join();
    h.respond(
        &out,
        GroupResponse::JoinGroup(join_error(ErrorCode::FENCED_INSTANCE_ID, "")),
    );
    assert_eq!(h.m.state(), MemberState::Failed);
}

#[test]
fn polling_again_while_leaving_rejoins_once_the_leave_is_done() {
    let mut h = Harness::new(config());
    h.join_as_follower(1, &[("t", 0)]);
    while h.m.state() == MemberState::Stable {
        h.advance_to_deadline();
        for out in h.requests() {
            if matches!(out.request, GroupRequest::Heartbeat(_)) {
                h.respond(&out, GroupResponse::Heartbeat(heartbeat(ErrorCode::NONE)));
            }
        }
    }
    assert_eq!(h.now, h.at(Duration::from_secs(60)));
    assert_eq!(h.m.state(), MemberState::Leaving);
    h.events();
    // Heartbeats stopped; the leave is outstanding. The application polls.
    h.poll();
    assert!(h.events().is_empty());
    h.advance_to_deadline();
    assert_eq!(
        h.events(),
        [
            GroupEvent::LeftGroup {
                error: ErrorCode::REQUEST_TIMED_OUT
            },
            GroupEvent::Rebalancing {
                reason: RejoinReason::Resumed
            }
        ]
    );
    let (_, join) = h.expect_join();
    assert_eq!(join.member_id, "");
}

#[test]
fn a_subscription_change_during_a_rebalance_rejoins_after_it() {
    let mut h = Harness::new(config());
    h.poll();
    h.find(1);
    let (out, join) = h.expect_join();
    assert_eq!(
        ConsumerProtocolSubscription::decode(join.protocols[0].metadata.clone())
            .unwrap()
            .topics,
        ["t"]
    );
    h.m.subscribe(["t", "u"], h.now).unwrap();
    assert!(
        h.requests().is_empty(),
        "the JoinGroup in flight is not abandoned"
    );
    h.respond(
        &out,
        GroupResponse::JoinGroup(join_ok(1, "me", "x", "range")),
    );
    let (out, _) = h.expect_sync();
    h.respond(&out, GroupResponse::SyncGroup(sync_ok(&[("t", 0)])));
    let ev = h.events();
    assert!(ev.contains(&GroupEvent::Rebalancing {
        reason: RejoinReason::SubscriptionChanged
    }));
    h.m.commit(Offsets::new(), h.now).unwrap();
    let (_, join) = h.expect_join();
    let sub = ConsumerProtocolSubscription::decode(join.protocols[0].metadata.clone()).unwrap();
    assert_eq!(sub.topics, ["t", "u"]);
}

#[test]
fn close_whose_commit_finds_the_member_gone_loses_and_closes() {
    let mut h = Harness::new(config());
    h.join_as_follower(2, &[("t", 0)]);
    h.m.close(h.now).unwrap();
    h.events();
    let id = h.m.commit(offsets(&[("t", 0, 5)]), h.now).unwrap();
    let (out, req) = h.expect_commit();
    h.respond(
        &out,
        GroupResponse::OffsetCommit(commit_response(&req, ErrorCode::UNKNOWN_MEMBER_ID)),
    );
    assert_eq!(
        h.events(),
        [
            GroupEvent::CommitCompleted {
                id,
                result: Err(crate::group::OffsetError::Group(
                    ErrorCode::UNKNOWN_MEMBER_ID
                ))
            },
            GroupEvent::Lost {
                partitions: parts(&[("t", 0)]),
                reason: LostReason::GenerationReset(ErrorCode::UNKNOWN_MEMBER_ID)
            },
            GroupEvent::Closed
        ]
    );
    assert!(h.requests().is_empty(), "no LeaveGroup without a member id");
}
