//! Rebalances and the coordinator's error codes.

use super::*;
use crate::group::{GroupError, LostReason, OffsetError, RejoinReason, RequestId};

#[test]
fn eager_rebalance_commits_then_revokes_then_joins() {
    let mut h = Harness::new(config());
    h.join_as_follower(4, &[("t", 0), ("t", 1)]);
    h.heartbeat_with(ErrorCode::REBALANCE_IN_PROGRESS);
    let ev = h.events();
    assert_eq!(
        ev.first(),
        Some(&GroupEvent::Rebalancing {
            reason: RejoinReason::RebalanceInProgress
        })
    );
    let Some(GroupEvent::CommitNeeded {
        partitions,
        deadline,
    }) = ev.get(1)
    else {
        panic!("expected CommitNeeded, got {ev:?}")
    };
    assert_eq!(partitions, &parts(&[("t", 0), ("t", 1)]));
    assert_eq!(*deadline, h.now + Duration::from_secs(10));
    assert_eq!(h.m.state(), MemberState::Revoking);
    assert!(h.requests().is_empty(), "no JoinGroup before the commit");

    // The driver commits; the member builds OffsetCommit with its generation.
    let id =
        h.m.commit(offsets(&[("t", 0, 10), ("t", 1, 20)]), h.now)
            .unwrap();
    let (out, req) = h.expect_commit();
    assert_eq!(req.generation_id_or_member_epoch, 4);
    assert_eq!(req.member_id, "me");
    assert_eq!(req.topics[0].partitions.len(), 2);
    assert_eq!(req.topics[0].partitions[1].committed_offset, 20);
    h.respond(
        &out,
        GroupResponse::OffsetCommit(commit_response(&req, ErrorCode::NONE)),
    );
    assert_eq!(
        h.events(),
        [
            GroupEvent::CommitCompleted { id, result: Ok(()) },
            GroupEvent::Revoked {
                partitions: parts(&[("t", 0), ("t", 1)])
            }
        ]
    );
    // Eager: the member joins owning nothing, with its id and generation.
    let (_, join) = h.expect_join();
    assert_eq!(join.member_id, "me");
    let sub = ConsumerProtocolSubscription::decode(join.protocols[0].metadata.clone()).unwrap();
    assert!(sub.owned_partitions.is_empty());
    assert_eq!(sub.generation_id, 4);
    assert!(h.m.assignment().is_empty());
}

#[test]
fn revocation_waits_for_the_commit_only_until_its_deadline() {
    let mut h = Harness::new(config());
    h.join_as_follower(1, &[("t", 0)]);
    h.heartbeat_with(ErrorCode::REBALANCE_IN_PROGRESS);
    h.events();
    let started = h.now;
    // Heartbeats keep the session alive while waiting.
    h.heartbeat_with(ErrorCode::REBALANCE_IN_PROGRESS);
    h.heartbeat_with(ErrorCode::REBALANCE_IN_PROGRESS);
    h.heartbeat_with(ErrorCode::REBALANCE_IN_PROGRESS);
    assert_eq!(h.m.state(), MemberState::Revoking);
    assert_eq!(h.advance_to_deadline(), started + Duration::from_secs(10));
    assert_eq!(
        h.events(),
        [GroupEvent::Revoked {
            partitions: parts(&[("t", 0)])
        }]
    );
    h.expect_join();
}

#[test]
fn an_empty_commit_releases_the_revocation_at_once() {
    let mut h = Harness::new(config());
    h.join_as_follower(1, &[("t", 0)]);
    h.heartbeat_with(ErrorCode::REBALANCE_IN_PROGRESS);
    h.events();
    let id = h.m.commit(Offsets::new(), h.now).unwrap();
    assert_eq!(
        h.events(),
        [
            GroupEvent::CommitCompleted { id, result: Ok(()) },
            GroupEvent::Revoked {
                partitions: parts(&[("t", 0)])
            }
        ]
    );
    h.expect_join();
}

#[test]
fn coordinator_moves_are_followed_without_losing_partitions() {
    let mut h = Harness::new(config());
    h.join_as_follower(2, &[("t", 0)]);
    h.heartbeat_with(ErrorCode::NOT_COORDINATOR);
    assert!(h.m.coordinator().is_none());
    h.find(9);
    let hb = h.expect_heartbeat();
    assert!(matches!(&hb.target, Target::Coordinator(c) if c.node_id == 9));
    h.respond(&hb, GroupResponse::Heartbeat(heartbeat(ErrorCode::NONE)));
    assert_eq!(h.m.state(), MemberState::Stable);
    assert!(h.events().is_empty(), "no Lost, no Rebalancing");
    assert_eq!(h.m.assignment(), &parts(&[("t", 0)]));
}

#[test]
fn join_retries_after_coordinator_errors() {
    let mut h = Harness::new(config());
    h.poll();
    h.find(1);
    let (out, _) = h.expect_join();
    h.respond(
        &out,
        GroupResponse::JoinGroup(join_error(ErrorCode::COORDINATOR_NOT_AVAILABLE, "")),
    );
    // Find it again, then join again; a lookup error backs off first.
    let find = h.expect_find();
    let mut busy = found(-1);
    busy.error_code = ErrorCode::COORDINATOR_NOT_AVAILABLE;
    h.respond(&find, GroupResponse::FindCoordinator(busy));
    assert!(h.requests().is_empty());
    h.advance(Duration::from_millis(100));
    h.find(2);
    let (out, _) = h.expect_join();
    assert!(matches!(&out.target, Target::Coordinator(c) if c.node_id == 2));
    h.respond(
        &out,
        GroupResponse::JoinGroup(join_error(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, "")),
    );
    assert!(h.requests().is_empty());
    h.advance(Duration::from_millis(100));
    h.expect_join();
}

#[test]
fn transport_failure_sends_the_member_back_to_find_the_coordinator() {
    let mut h = Harness::new(config());
    h.poll();
    h.find(1);
    let (out, _) = h.expect_join();
    let err = Disconnected {
        broker: "broker-1".into(),
    };
    h.m.handle_error(out.id, &err, h.now).unwrap();
    assert!(h.m.coordinator().is_none());
    h.advance(Duration::from_millis(100));
    h.find(1);
    h.expect_join();
}

#[test]
fn unknown_member_id_loses_partitions_and_rejoins_without_an_id() {
    let mut h = Harness::new(config());
    h.join_as_follower(6, &[("t", 0), ("t", 3)]);
    h.heartbeat_with(ErrorCode::UNKNOWN_MEMBER_ID);
    assert_eq!(
        h.events(),
        [
            GroupEvent::Lost {
                partitions: parts(&[("t", 0), ("t", 3)]),
                reason: LostReason::GenerationReset(ErrorCode::UNKNOWN_MEMBER_ID)
            },
            GroupEvent::Rebalancing {
                reason: RejoinReason::GenerationReset(ErrorCode::UNKNOWN_MEMBER_ID)
            }
        ]
    );
    let (_, join) = h.expect_join();
    assert_eq!(join.member_id, "");
    assert_eq!(h.m.generation_id(), -1);
}

#[test]
fn illegal_generation_keeps_the_member_id() {
    let mut h = Harness::new(config());
    h.join_as_follower(6, &[("t", 1)]);
    h.heartbeat_with(ErrorCode::ILLEGAL_GENERATION);
    let ev = h.events();
    assert!(matches!(
        ev.first(),
        Some(GroupEvent::Lost {
            reason: LostReason::GenerationReset(ErrorCode::ILLEGAL_GENERATION),
            ..
        })
    ));
    assert!(!ev
        .iter()
        .any(|e| matches!(e, GroupEvent::CommitNeeded { .. })));
    let (_, join) = h.expect_join();
    assert_eq!(join.member_id, "me");
    let sub = ConsumerProtocolSubscription::decode(join.protocols[0].metadata.clone()).unwrap();
    assert_eq!(sub.generation_id, -1);
}

#[test]
fn sync_errors_rejoin_as_java_does() {
    // REBALANCE_IN_PROGRESS: join again, same id.
    let mut h = Harness::new(config());
    h.poll();
    h.find(1);
    let (out, _) = h.expect_join();
    h.respond(
        &out,
        GroupResponse::JoinGroup(join_ok(2, "me", "x", "range")),
    );
    let (out, _) = h.expect_sync();
    h.respond(
        &out,
        GroupResponse::SyncGroup(sync_error(ErrorCode::REBALANCE_IN_PROGRESS)),
    );
    let (out, join) = h.expect_join();
    assert_eq!(join.member_id, "me");
    // ILLEGAL_GENERATION at sync: generation reset, id kept.
    h.respond(
        &out,
        GroupResponse::JoinGroup(join_ok(3, "me", "x", "range")),
    );
    let (out, _) = h.expect_sync();
    h.respond(
        &out,
        GroupResponse::SyncGroup(sync_error(ErrorCode::ILLEGAL_GENERATION)),
    );
    let (out, join) = h.expect_join();
    assert_eq!((join.member_id.as_str(), h.m.generation_id()), ("me", -1));
    // UNKNOWN_MEMBER_ID at join: id reset, rejoin at once.
    h.respond(
        &out,
        GroupResponse::JoinGroup(join_error(ErrorCode::UNKNOWN_MEMBER_ID, "")),
    );
    let (_, join) = h.expect_join();
    assert_eq!(join.member_id, "");
}

#[test]
fn non_retriable_join_errors_are_fatal() {
    let mut h = Harness::new(config());
    h.poll();
    h.find(1);
    let (out, _) = h.expect_join();
    h.respond(
        &out,
        GroupResponse::JoinGroup(join_error(ErrorCode::GROUP_AUTHORIZATION_FAILED, "")),
    );
    assert_eq!(h.m.state(), MemberState::Failed);
    assert!(h.events().contains(&GroupEvent::Fatal(GroupError::Broker {
        api: crate::protocol::ApiKey::JOIN_GROUP,
        code: ErrorCode::GROUP_AUTHORIZATION_FAILED
    })));
    assert_eq!(h.m.poll(h.now), Err(GroupError::Closed));
    h.m.close(h.now).unwrap();
    assert_eq!(h.events(), [GroupEvent::Closed]);
}

#[test]
fn a_chosen_protocol_the_member_did_not_offer_is_fatal() {
    let mut h = Harness::new(config());
    h.poll();
    h.find(1);
    let (out, _) = h.expect_join();
    h.respond(
        &out,
        GroupResponse::JoinGroup(join_ok(1, "me", "x", "roundrobin")),
    );
    assert_eq!(h.m.state(), MemberState::Failed);
}

#[test]
fn invalid_inputs_are_refused_without_effect() {
    let mut h = Harness::new(config());
    // No generation yet: a commit is refused.
    assert!(matches!(
        h.m.commit(offsets(&[("t", 0, 1)]), h.now),
        Err(GroupError::InvalidState {
            input: "commit",
            ..
        })
    ));
    h.poll();
    let find = h.expect_find();
    // Unknown ids and mismatched APIs are errors; the request stays outstanding.
    assert_eq!(
        h.m.handle_response(
            RequestId(999),
            GroupResponse::Heartbeat(heartbeat(ErrorCode::NONE)),
            h.now
        ),
        Err(GroupError::UnknownRequest(RequestId(999)))
    );
    assert!(matches!(
        h.m.handle_response(
            find.id,
            GroupResponse::Heartbeat(heartbeat(ErrorCode::NONE)),
            h.now
        ),
        Err(GroupError::ResponseMismatch { .. })
    ));
    h.respond(&find, GroupResponse::FindCoordinator(found(1)));
    // Answering twice is an error too.
    assert!(h
        .m
        .handle_response(find.id, GroupResponse::FindCoordinator(found(1)), h.now)
        .is_err());
    h.expect_join();
}

#[test]
fn a_heartbeat_answer_from_an_older_generation_is_ignored() {
    let mut h = Harness::new(config());
    h.join_as_follower(1, &[("t", 0)]);
    h.advance_to_deadline();
    let old_hb = h.expect_heartbeat();
    // Meanwhile the commit reports a rebalance; the member rejoins.
    let id = h.m.commit(offsets(&[("t", 0, 5)]), h.now).unwrap();
    let (out, req) = h.expect_commit();
    h.respond(
        &out,
        GroupResponse::OffsetCommit(commit_response(&req, ErrorCode::REBALANCE_IN_PROGRESS)),
    );
    let ev = h.events();
    assert_eq!(
        ev.first(),
        Some(&GroupEvent::CommitCompleted {
            id,
            result: Err(OffsetError::Group(ErrorCode::REBALANCE_IN_PROGRESS))
        })
    );
    assert!(matches!(ev.get(2), Some(GroupEvent::CommitNeeded { .. })));
    h.m.commit(Offsets::new(), h.now).unwrap();
    h.events();
    let (out, _) = h.expect_join();
    h.respond(
        &out,
        GroupResponse::JoinGroup(join_ok(2, "me", "x", "range")),
    );
    // The old heartbeat's UNKNOWN_MEMBER_ID belongs to generation 1: ignored.
    h.respond(
        &old_hb,
        GroupResponse::Heartbeat(heartbeat(ErrorCode::UNKNOWN_MEMBER_ID)),
    );
    assert_eq!(h.m.member_id(), "me");
    assert_eq!(h.m.generation_id(), 2);
    assert_eq!(h.m.state(), MemberState::Syncing);
}

#[test]
fn commit_failures_are_reported_and_retried_across_coordinator_moves() {
    let mut h = Harness::new(config());
    h.join_as_follower(1, &[("t", 0)]);
    let id = h.m.commit(offsets(&[("t", 0, 7)]), h.now).unwrap();
    let (out, req) = h.expect_commit();
    h.respond(
        &out,
        GroupResponse::OffsetCommit(commit_response(&req, ErrorCode::NOT_COORDINATOR)),
    );
    h.find(2);
    let (out, req) = h.expect_commit();
    assert!(matches!(&out.target, Target::Coordinator(c) if c.node_id == 2));
    h.respond(
        &out,
        GroupResponse::OffsetCommit(commit_response(&req, ErrorCode::OFFSET_METADATA_TOO_LARGE)),
    );
    let GroupEvent::CommitCompleted { id: got, result } = h.events().remove(0) else {
        panic!("expected CommitCompleted")
    };
    assert_eq!(got, id);
    assert_eq!(
        result,
        Err(OffsetError::Partitions(
            [(tp("t", 0), ErrorCode::OFFSET_METADATA_TOO_LARGE)].into()
        ))
    );
    assert_eq!(h.m.state(), MemberState::Stable);
}

/// Seen on a real 3-node cluster during a rolling restart: an auto-commit
/// answered with a retriable error was retried after a newer commit of the
/// same partition had succeeded, and the committed offset went backwards.
#[test]
fn a_newer_commit_of_a_partition_never_overtakes_an_older_one_being_retried() {
    let mut h = Harness::new(config());
    h.join_as_follower(1, &[("t", 0), ("t", 1)]);
    let first = h.m.commit(offsets(&[("t", 0, 5)]), h.now).unwrap();
    let (out, req) = h.expect_commit();
    h.respond(
        &out,
        GroupResponse::OffsetCommit(commit_response(
            &req,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        )),
    );
    // Newer commits while the first waits for its retry: the one of the
    // same partition waits behind it, the other partition's goes out.
    let second = h.m.commit(offsets(&[("t", 0, 9)]), h.now).unwrap();
    let other = h.m.commit(offsets(&[("t", 1, 3)]), h.now).unwrap();
    let (out, req) = h.expect_commit();
    assert_eq!(req.topics[0].partitions[0].partition_index, 1);
    h.respond(
        &out,
        GroupResponse::OffsetCommit(commit_response(&req, ErrorCode::NONE)),
    );
    let mut sent = Vec::new();
    for _ in 0..2 {
        let out = loop {
            let mut all = h.requests();
            if let Some(out) = all.pop() {
                assert!(all.is_empty(), "one commit of t-0 at a time: {all:#?}");
                break out;
            }
            h.advance_to_deadline();
        };
        let GroupRequest::OffsetCommit(req) = out.request.clone() else {
            panic!("expected OffsetCommit, got {out:#?}");
        };
        sent.push(req.topics[0].partitions[0].committed_offset);
        h.respond(
            &out,
            GroupResponse::OffsetCommit(commit_response(&req, ErrorCode::NONE)),
        );
    }
    assert_eq!(sent, vec![5, 9], "t-0 committed in the order asked");
    let done: Vec<crate::group::CommitId> = h
        .events()
        .into_iter()
        .filter_map(|e| match e {
            GroupEvent::CommitCompleted { id, result } => {
                assert_eq!(result, Ok(()));
                Some(id)
            }
            _ => None,
        })
        .collect();
    assert_eq!(done, vec![other, first, second]);
}
