//! The cooperative protocol (KIP-429): revoke only what moves, commit
//! first, then rejoin for the follow-up round.

use super::*;
use crate::group::RejoinReason;

fn owned_in(join: &JoinGroupRequest) -> (BTreeSet<TopicPartition>, i32) {
    let sub = ConsumerProtocolSubscription::decode(join.protocols[0].metadata.clone()).unwrap();
    let owned = sub
        .owned_partitions
        .iter()
        .flat_map(|t| t.partitions.iter().map(|&p| tp(&t.topic, p)))
        .collect();
    (owned, sub.generation_id)
}

#[test]
fn follower_revokes_only_moved_partitions_then_rejoins() {
    let mut h = Harness::new(cooperative_config());
    assert!(h.m.is_cooperative());
    h.join_as_follower(1, &[("t", 0), ("t", 1), ("t", 2)]);

    // A rebalance: no revocation, no commit; join at once owning everything.
    h.heartbeat_with(ErrorCode::REBALANCE_IN_PROGRESS);
    assert_eq!(
        h.events(),
        [GroupEvent::Rebalancing {
            reason: RejoinReason::RebalanceInProgress
        }]
    );
    let (out, join) = h.expect_join();
    let names: Vec<&str> = join.protocols.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["cooperative-sticky"]);
    assert_eq!(owned_in(&join), (parts(&[("t", 0), ("t", 1), ("t", 2)]), 1));
    h.respond(
        &out,
        GroupResponse::JoinGroup(join_ok(2, "me", "leader", "cooperative-sticky")),
    );

    // The new assignment drops t-2 and adds nothing: commit t-2, revoke it,
    // keep consuming t-0 and t-1, then rejoin.
    let (out, _) = h.expect_sync();
    h.respond(
        &out,
        GroupResponse::SyncGroup(sync_ok(&[("t", 0), ("t", 1)])),
    );
    let ev = h.events();
    assert!(
        matches!(ev.as_slice(), [GroupEvent::CommitNeeded { partitions, .. }] if partitions == &parts(&[("t", 2)])),
        "{ev:?}"
    );
    assert_eq!(h.m.state(), MemberState::Revoking);
    assert!(
        h.requests().is_empty(),
        "no follow-up JoinGroup before the commit"
    );
    let id = h.m.commit(offsets(&[("t", 2, 30)]), h.now).unwrap();
    let (out, req) = h.expect_commit();
    assert_eq!(req.generation_id_or_member_epoch, 2);
    h.respond(
        &out,
        GroupResponse::OffsetCommit(commit_response(&req, ErrorCode::NONE)),
    );
    assert_eq!(
        h.events(),
        [
            GroupEvent::CommitCompleted { id, result: Ok(()) },
            GroupEvent::Revoked {
                partitions: parts(&[("t", 2)])
            },
            GroupEvent::Assigned {
                partitions: BTreeSet::new(),
                generation_id: 2
            },
            GroupEvent::Rebalancing {
                reason: RejoinReason::CooperativeFollowUp
            }
        ]
    );
    assert_eq!(h.m.assignment(), &parts(&[("t", 0), ("t", 1)]));

    // Follow-up: owns t-0 and t-1 in generation 2; nothing revoked this time.
    let (out, join) = h.expect_join();
    assert_eq!(owned_in(&join), (parts(&[("t", 0), ("t", 1)]), 2));
    h.respond(
        &out,
        GroupResponse::JoinGroup(join_ok(3, "me", "leader", "cooperative-sticky")),
    );
    let (out, _) = h.expect_sync();
    h.respond(
        &out,
        GroupResponse::SyncGroup(sync_ok(&[("t", 0), ("t", 1)])),
    );
    assert_eq!(
        h.events(),
        [GroupEvent::Assigned {
            partitions: BTreeSet::new(),
            generation_id: 3
        }]
    );
    assert_eq!(h.m.state(), MemberState::Stable);
}

#[test]
fn leader_withholds_moving_partitions_until_the_follow_up() {
    let mut h = Harness::new(cooperative_config());
    h.m.set_metadata([("t", 4)], h.now).unwrap();
    h.join_as_follower(1, &[("t", 0), ("t", 1), ("t", 2), ("t", 3)]);
    h.heartbeat_with(ErrorCode::REBALANCE_IN_PROGRESS);
    h.events();
    // "new" joins; this member leads and runs cooperative-sticky.
    let (out, _) = h.expect_join();
    let mut resp = join_ok(2, "me", "me", "cooperative-sticky");
    resp.members = vec![
        leader_member("me", &["t"], &[("t", 0), ("t", 1), ("t", 2), ("t", 3)], 1),
        leader_member("new", &["t"], &[], -1),
    ];
    h.respond(&out, GroupResponse::JoinGroup(resp));
    h.m.set_metadata([("t", 4)], h.now).unwrap();
    h.events();
    let (out, sync) = h.expect_sync();
    let given: Vec<(&str, BTreeSet<TopicPartition>)> = sync
        .assignments
        .iter()
        .map(|a| (a.member_id.as_str(), decode_assignment(&a.assignment)))
        .collect();
    // Two partitions move to "new": in this generation nobody gets them.
    assert_eq!(
        given,
        [
            ("me", parts(&[("t", 0), ("t", 1)])),
            ("new", BTreeSet::new())
        ]
    );
    h.respond(
        &out,
        GroupResponse::SyncGroup(sync_ok(&[("t", 0), ("t", 1)])),
    );
    assert!(matches!(
        h.events().as_slice(),
        [GroupEvent::CommitNeeded { partitions, .. }] if partitions == &parts(&[("t", 2), ("t", 3)])
    ));
    h.m.commit(Offsets::new(), h.now).unwrap();
    h.events();

    // Follow-up round: the withheld partitions go to "new".
    let (out, _) = h.expect_join();
    let mut resp = join_ok(3, "me", "me", "cooperative-sticky");
    resp.members = vec![
        leader_member("me", &["t"], &[("t", 0), ("t", 1)], 2),
        leader_member("new", &["t"], &[], 2),
    ];
    h.respond(&out, GroupResponse::JoinGroup(resp));
    h.m.set_metadata([("t", 4)], h.now).unwrap();
    h.events();
    let (_, sync) = h.expect_sync();
    let given: Vec<(&str, BTreeSet<TopicPartition>)> = sync
        .assignments
        .iter()
        .map(|a| (a.member_id.as_str(), decode_assignment(&a.assignment)))
        .collect();
    assert_eq!(
        given,
        [
            ("me", parts(&[("t", 0), ("t", 1)])),
            ("new", parts(&[("t", 2), ("t", 3)]))
        ]
    );
}

#[test]
fn cooperative_subscription_change_revokes_dropped_topics_before_joining() {
    let mut h = Harness::new(cooperative_config());
    h.m.subscribe(["t", "u"], h.now).unwrap();
    h.join_as_follower(1, &[("t", 0), ("u", 0)]);
    h.m.subscribe(["t"], h.now).unwrap();
    let ev = h.events();
    assert!(matches!(
        ev.as_slice(),
        [GroupEvent::Rebalancing { reason: RejoinReason::SubscriptionChanged }, GroupEvent::CommitNeeded { partitions, .. }]
            if partitions == &parts(&[("u", 0)])
    ));
    h.m.commit(Offsets::new(), h.now).unwrap();
    let (_, join) = h.expect_join();
    assert_eq!(owned_in(&join), (parts(&[("t", 0)]), 1));
    let sub = ConsumerProtocolSubscription::decode(join.protocols[0].metadata.clone()).unwrap();
    assert_eq!(sub.topics, ["t"]);
}

#[test]
fn lost_generation_during_revocation_loses_instead_of_revoking() {
    let mut h = Harness::new(cooperative_config());
    h.join_as_follower(1, &[("t", 0), ("t", 1)]);
    h.heartbeat_with(ErrorCode::REBALANCE_IN_PROGRESS);
    let (out, _) = h.expect_join();
    h.respond(
        &out,
        GroupResponse::JoinGroup(join_ok(2, "me", "x", "cooperative-sticky")),
    );
    let (out, _) = h.expect_sync();
    h.respond(&out, GroupResponse::SyncGroup(sync_ok(&[("t", 0)])));
    h.events();
    // While waiting for the commit, the coordinator fences the generation.
    let id = h.m.commit(offsets(&[("t", 1, 4)]), h.now).unwrap();
    let (out, req) = h.expect_commit();
    h.respond(
        &out,
        GroupResponse::OffsetCommit(commit_response(&req, ErrorCode::ILLEGAL_GENERATION)),
    );
    let ev = h.events();
    assert_eq!(
        ev.get(1),
        Some(&GroupEvent::Lost {
            partitions: parts(&[("t", 0), ("t", 1)]),
            reason: crate::group::LostReason::GenerationReset(ErrorCode::ILLEGAL_GENERATION)
        })
    );
    assert!(!ev.iter().any(|e| matches!(e, GroupEvent::Revoked { .. })));
    assert!(ev.contains(&GroupEvent::CommitCompleted {
        id,
        result: Err(crate::group::OffsetError::Group(
            ErrorCode::ILLEGAL_GENERATION
        ))
    }));
    let (_, join) = h.expect_join();
    assert_eq!(owned_in(&join), (BTreeSet::new(), -1));
}

#[test]
fn commit_fenced_while_rejoining_keeps_partitions() {
    // The coordinator answers a commit queued behind the JoinGroup only after
    // the new generation formed (librdkafka's mock blocks the connection
    // during a join): ILLEGAL_GENERATION for the old generation. The join in
    // flight settles membership; nothing is lost and no second join starts.
    let mut h = Harness::new(cooperative_config());
    h.join_as_follower(1, &[("t", 0), ("t", 1)]);
    let id = h.m.commit(offsets(&[("t", 0, 5)]), h.now).unwrap();
    let (commit, req) = h.expect_commit();
    h.heartbeat_with(ErrorCode::REBALANCE_IN_PROGRESS);
    let (join, _) = h.expect_join();
    h.respond(
        &commit,
        GroupResponse::OffsetCommit(commit_response(&req, ErrorCode::ILLEGAL_GENERATION)),
    );
    let ev = h.events();
    assert!(
        !ev.iter()
            .any(|e| matches!(e, GroupEvent::Lost { .. } | GroupEvent::Revoked { .. })),
        "{ev:?}"
    );
    assert!(ev.contains(&GroupEvent::CommitCompleted {
        id,
        result: Err(crate::group::OffsetError::Group(
            ErrorCode::ILLEGAL_GENERATION
        ))
    }));
    assert!(h.requests().is_empty(), "no second JoinGroup");
    h.respond(
        &join,
        GroupResponse::JoinGroup(join_ok(2, "me", "x", "cooperative-sticky")),
    );
    let (out, _) = h.expect_sync();
    h.respond(
        &out,
        GroupResponse::SyncGroup(sync_ok(&[("t", 0), ("t", 1)])),
    );
    assert_eq!(h.m.state(), MemberState::Stable);
    assert_eq!(h.m.assignment(), &parts(&[("t", 0), ("t", 1)]));
    assert!(!h
        .events()
        .iter()
        .any(|e| matches!(e, GroupEvent::Lost { .. } | GroupEvent::Revoked { .. })));
}
