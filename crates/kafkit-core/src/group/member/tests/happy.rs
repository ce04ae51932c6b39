//! Finding the coordinator, joining (twice, with MEMBER_ID_REQUIRED),
//! syncing as leader and follower, heartbeating, fetching offsets.

use super::*;
use crate::group::{FindCoordinatorCall, GroupCall, OffsetFetchCall, RejoinReason};
use crate::protocol::messages::offset_fetch::{
    OffsetFetchResponse, OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};

#[test]
fn nothing_happens_before_the_first_poll() {
    let mut h = Harness::new(config());
    assert_eq!(h.m.state(), MemberState::Unjoined);
    h.advance(Duration::from_secs(100));
    assert!(h.requests().is_empty());
    assert!(h.events().is_empty());
    assert_eq!(h.m.poll_timeout(), None);
}

#[test]
fn leader_joins_twice_assigns_and_heartbeats() {
    let mut h = Harness::new(config());
    h.poll();
    assert_eq!(
        h.events(),
        [GroupEvent::Rebalancing {
            reason: RejoinReason::Initial
        }]
    );
    // FindCoordinator goes to any broker, at the version's shape.
    let find = h.expect_find();
    let GroupRequest::FindCoordinator(call) = &find.request else {
        unreachable!()
    };
    assert_eq!(call.to_request(3).unwrap().key, "g");
    assert_eq!(call.to_request(4).unwrap().coordinator_keys, ["g"]);
    assert_eq!(call, &FindCoordinatorCall { key: "g".into() });
    h.respond(&find, GroupResponse::FindCoordinator(found(7)));
    assert_eq!(h.m.coordinator().map(|c| c.node_id), Some(7));

    // First JoinGroup: no member id; both default assignors offered.
    let (out, join) = h.expect_join();
    assert!(
        matches!(&out.target, Target::Coordinator(c) if c.node_id == 7 && c.host == "broker-7")
    );
    assert_eq!(
        out.timeout,
        Duration::from_secs(65),
        "rebalance timeout + 5 s"
    );
    assert_eq!(join.member_id, "");
    assert_eq!(join.session_timeout_ms, 10_000);
    assert_eq!(join.rebalance_timeout_ms, 60_000);
    assert_eq!(join.protocol_type, "consumer");
    let names: Vec<&str> = join.protocols.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["range", "cooperative-sticky"]);
    let sub = ConsumerProtocolSubscription::decode(join.protocols[0].metadata.clone()).unwrap();
    assert_eq!(sub.topics, ["t"]);
    assert_eq!(sub.generation_id, -1);
    // cooperative-sticky's user data carries the generation, as Java's does.
    let sticky = ConsumerProtocolSubscription::decode(join.protocols[1].metadata.clone()).unwrap();
    assert_eq!(
        sticky.user_data.as_deref(),
        Some(&[0xff, 0xff, 0xff, 0xff][..])
    );
    h.respond(
        &out,
        GroupResponse::JoinGroup(join_error(ErrorCode::MEMBER_ID_REQUIRED, "me")),
    );

    // Second JoinGroup carries the id the coordinator handed out.
    let (out, join) = h.expect_join();
    assert_eq!(join.member_id, "me");
    let mut resp = join_ok(3, "me", "me", "range");
    resp.members = vec![
        leader_member("me", &["t"], &[], -1),
        leader_member("other", &["t"], &[], -1),
    ];
    h.respond(&out, GroupResponse::JoinGroup(resp));
    assert!(h.m.is_leader());
    assert_eq!(h.m.state(), MemberState::AwaitingMetadata);
    assert_eq!(
        h.events(),
        [GroupEvent::MetadataNeeded {
            topics: ["t".to_string()].into()
        }]
    );
    assert!(
        h.requests().is_empty(),
        "no SyncGroup before partition counts"
    );

    // Partition counts arrive: range assigns t-0,1 to "me" and t-2,3 to "other".
    h.m.set_metadata([("t", 4)], h.now).unwrap();
    let (out, sync) = h.expect_sync();
    assert_eq!(sync.generation_id, 3);
    assert_eq!(sync.member_id, "me");
    assert_eq!(sync.protocol_name.as_deref(), Some("range"));
    let by_member: Vec<(&str, BTreeSet<TopicPartition>)> = sync
        .assignments
        .iter()
        .map(|a| (a.member_id.as_str(), decode_assignment(&a.assignment)))
        .collect();
    assert_eq!(
        by_member,
        [
            ("me", parts(&[("t", 0), ("t", 1)])),
            ("other", parts(&[("t", 2), ("t", 3)]))
        ]
    );
    h.respond(
        &out,
        GroupResponse::SyncGroup(sync_ok(&[("t", 0), ("t", 1)])),
    );
    assert_eq!(h.m.state(), MemberState::Stable);
    assert_eq!(
        h.events(),
        [GroupEvent::Assigned {
            partitions: parts(&[("t", 0), ("t", 1)]),
            generation_id: 3
        }]
    );
    assert_eq!(h.m.assignment(), &parts(&[("t", 0), ("t", 1)]));

    // Heartbeats every 3 s, not before.
    let synced_at = h.now;
    assert_eq!(h.m.poll_timeout(), Some(synced_at + Duration::from_secs(3)));
    h.advance(Duration::from_millis(2_900));
    assert!(h.requests().is_empty());
    for k in 1..=4u32 {
        let at = h.advance_to_deadline();
        assert_eq!(at, synced_at + Duration::from_secs(3) * k);
        let out = h.expect_heartbeat();
        let GroupRequest::Heartbeat(hb) = &out.request else {
            unreachable!()
        };
        assert_eq!((hb.generation_id, hb.member_id.as_str()), (3, "me"));
        assert_eq!(hb.group_instance_id, None);
        h.respond(&out, GroupResponse::Heartbeat(heartbeat(ErrorCode::NONE)));
        h.poll();
    }
    assert_eq!(h.m.state(), MemberState::Stable);
    assert!(h.events().is_empty());
}

#[test]
fn follower_syncs_with_no_assignments() {
    let mut h = Harness::new(config());
    h.poll();
    h.find(1);
    let (out, _) = h.expect_join();
    h.respond(
        &out,
        GroupResponse::JoinGroup(join_ok(5, "me", "leader", "range")),
    );
    assert!(!h.m.is_leader());
    let (out, sync) = h.expect_sync();
    assert!(sync.assignments.is_empty());
    assert_eq!(sync.generation_id, 5);
    h.respond(&out, GroupResponse::SyncGroup(sync_ok(&[("t", 2)])));
    assert_eq!(
        h.events(),
        [
            GroupEvent::Rebalancing {
                reason: RejoinReason::Initial
            },
            GroupEvent::Assigned {
                partitions: parts(&[("t", 2)]),
                generation_id: 5
            }
        ]
    );
}

#[test]
fn leader_asks_for_fresh_counts_even_when_it_knows_them() {
    let mut h = Harness::new(config());
    h.m.set_metadata([("t", 3)], h.now).unwrap();
    h.poll();
    h.find(1);
    let (out, _) = h.expect_join();
    let mut resp = join_ok(1, "me", "me", "range");
    resp.members = vec![leader_member("me", &["t"], &[], -1)];
    h.respond(&out, GroupResponse::JoinGroup(resp));
    assert!(h
        .events()
        .iter()
        .any(|e| matches!(e, GroupEvent::MetadataNeeded { .. })));
    assert!(h.requests().is_empty(), "no SyncGroup before fresh counts");
    // The topic grew meanwhile: the assignment uses the fresh count.
    h.m.set_metadata([("t", 4)], h.now).unwrap();
    let (_, sync) = h.expect_sync();
    assert_eq!(
        decode_assignment(&sync.assignments[0].assignment),
        parts(&[("t", 0), ("t", 1), ("t", 2), ("t", 3)])
    );
}

#[test]
fn leader_without_counts_assigns_what_it_knows_after_the_metadata_timeout() {
    let mut h = Harness::new(config());
    h.m.set_metadata([("t", 2)], h.now).unwrap();
    h.poll();
    h.find(1);
    let (out, _) = h.expect_join();
    let mut resp = join_ok(1, "me", "me", "range");
    resp.members = vec![leader_member("me", &["t", "u"], &[], -1)];
    h.respond(&out, GroupResponse::JoinGroup(resp));
    assert!(h.requests().is_empty());
    // The leader keeps heartbeating while it waits.
    h.heartbeat_with(ErrorCode::NONE);
    assert_eq!(h.now, h.at(Duration::from_secs(3)));
    assert_eq!(h.advance_to_deadline(), h.at(Duration::from_secs(5)));
    let (_, sync) = h.expect_sync();
    assert_eq!(
        decode_assignment(&sync.assignments[0].assignment),
        parts(&[("t", 0), ("t", 1)])
    );
}

#[test]
fn leader_rejoins_when_partition_counts_change() {
    let mut h = Harness::new(config());
    h.m.set_metadata([("t", 2)], h.now).unwrap();
    h.poll();
    h.find(1);
    let (out, _) = h.expect_join();
    let mut resp = join_ok(1, "me", "me", "range");
    resp.members = vec![leader_member("me", &["t"], &[], -1)];
    h.respond(&out, GroupResponse::JoinGroup(resp));
    h.m.set_metadata([("t", 2)], h.now).unwrap();
    h.events();
    let (out, _) = h.expect_sync();
    h.respond(
        &out,
        GroupResponse::SyncGroup(sync_ok(&[("t", 0), ("t", 1)])),
    );
    h.events();
    assert_eq!(h.m.interested_topics(), ["t".to_string()].into());
    // Same counts: nothing. More partitions: rebalance (eager: commit first).
    h.m.set_metadata([("t", 2)], h.now).unwrap();
    assert!(h.events().is_empty());
    h.m.set_metadata([("t", 3)], h.now).unwrap();
    let ev = h.events();
    assert_eq!(
        ev.first(),
        Some(&GroupEvent::Rebalancing {
            reason: RejoinReason::MetadataChanged
        })
    );
    assert!(matches!(ev.get(1), Some(GroupEvent::CommitNeeded { .. })));
}

#[test]
fn committed_offsets_are_fetched_in_the_versions_shape() {
    let mut h = Harness::new(config());
    h.join_as_follower(2, &[("t", 0), ("t", 1)]);
    let id =
        h.m.fetch_committed(parts(&[("t", 0), ("t", 1)]), h.now)
            .unwrap();
    let out = h.one();
    let GroupRequest::OffsetFetch(call) = &out.request else {
        panic!("expected OffsetFetch, got {out:#?}")
    };
    assert_eq!(call.topics[0].partition_indexes, [0, 1]);
    assert_eq!(call.to_request(7).unwrap().group_id, "g");
    assert_eq!(call.to_request(8).unwrap().groups[0].group_id, "g");
    assert!(matches!(
        call,
        OffsetFetchCall {
            require_stable: false,
            ..
        }
    ));
    let resp = OffsetFetchResponse {
        topics: vec![OffsetFetchResponseTopic {
            name: "t".into(),
            partitions: vec![
                OffsetFetchResponsePartition {
                    partition_index: 0,
                    committed_offset: 42,
                    committed_leader_epoch: 3,
                    metadata: Some("m".into()),
                    ..OffsetFetchResponsePartition::default()
                },
                OffsetFetchResponsePartition {
                    partition_index: 1,
                    committed_offset: -1,
                    ..OffsetFetchResponsePartition::default()
                },
            ],
            ..OffsetFetchResponseTopic::default()
        }],
        ..OffsetFetchResponse::default()
    };
    h.respond(&out, GroupResponse::OffsetFetch(resp));
    let GroupEvent::OffsetsFetched { id: got, result } = h.events().remove(0) else {
        panic!("expected OffsetsFetched")
    };
    assert_eq!(got, id);
    let result = result.unwrap();
    assert_eq!(
        result.get(&tp("t", 0)),
        Some(&Some(OffsetAndMetadata {
            offset: 42,
            leader_epoch: Some(3),
            metadata: "m".into()
        }))
    );
    assert_eq!(result.get(&tp("t", 1)), Some(&None));
}

#[test]
fn batched_find_coordinator_answers_are_read_per_key() {
    use crate::protocol::messages::find_coordinator::Coordinator as Entry;
    let mut h = Harness::new(config());
    h.poll();
    let out = h.expect_find();
    let mut failed = found(0);
    failed.coordinators = vec![Entry {
        key: "g".into(),
        error_code: ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        ..Entry::default()
    }];
    h.respond(&out, GroupResponse::FindCoordinator(failed));
    assert!(h.m.coordinator().is_none());
    h.advance(Duration::from_millis(100));
    let out = h.expect_find();
    let ok = FindCoordinatorResponse {
        coordinators: vec![Entry {
            key: "g".into(),
            node_id: 4,
            host: "b4".into(),
            port: 9093,
            ..Entry::default()
        }],
        ..FindCoordinatorResponse::default()
    };
    h.respond(&out, GroupResponse::FindCoordinator(ok));
    assert_eq!(
        h.m.coordinator(),
        Some(&crate::group::Coordinator {
            node_id: 4,
            host: "b4".into(),
            port: 9093
        })
    );
    h.expect_join();
}
