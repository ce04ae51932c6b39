//! Transitions of the KIP-848 member, in virtual time.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::*;
use crate::protocol::messages::consumer_group_heartbeat::ConsumerGroupAssignment;

const TOPIC: Uuid = Uuid([7; 16]);

fn cfg() -> ConsumerMemberConfig {
    let mut c = ConsumerMemberConfig::new("g", "m-1", Subscription::Topics(vec!["t".into()]));
    c.rack_id = Some("r1".into());
    c.server_assignor = Some("uniform".into());
    c.rebalance_timeout = Duration::from_secs(60);
    c
}

fn coordinator() -> Coordinator {
    Coordinator {
        node_id: 1,
        host: "localhost".into(),
        port: 9092,
    }
}

fn tps(parts: &[i32]) -> BTreeSet<TopicPartition> {
    parts
        .iter()
        .map(|&partition| TopicPartition {
            topic: "t".into(),
            partition,
        })
        .collect()
}

fn assignment(parts: &[i32]) -> ConsumerGroupAssignment {
    ConsumerGroupAssignment {
        topic_partitions: vec![ConsumerGroupTopicPartitions {
            topic_id: TOPIC,
            partitions: parts.to_vec(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn ok(epoch: i32, assigned: Option<&[i32]>) -> ConsumerMemberResponse {
    ConsumerMemberResponse::Heartbeat(ConsumerGroupHeartbeatResponse {
        member_id: Some("m-1".into()),
        member_epoch: epoch,
        heartbeat_interval_ms: 2000,
        assignment: assigned.map(assignment),
        ..Default::default()
    })
}

fn error(code: ErrorCode) -> ConsumerMemberResponse {
    ConsumerMemberResponse::Heartbeat(ConsumerGroupHeartbeatResponse {
        error_code: code,
        error_message: Some("no".into()),
        ..Default::default()
    })
}

fn events(m: &mut ConsumerMember) -> Vec<ConsumerMemberEvent> {
    std::iter::from_fn(|| m.poll_event()).collect()
}

/// The next request, which must be a heartbeat to the coordinator.
fn heartbeat(m: &mut ConsumerMember) -> (RequestId, ConsumerGroupHeartbeatRequest) {
    match m.poll_request() {
        Some(ConsumerOutbound {
            id,
            target: Target::Coordinator(c),
            request: ConsumerMemberRequest::Heartbeat(r),
            ..
        }) if c == coordinator() => (id, r),
        other => panic!("expected a heartbeat, got {other:?}"),
    }
}

fn owned_wire(parts: &[i32]) -> Option<Vec<ConsumerGroupTopicPartitions>> {
    Some(assignment(parts).topic_partitions)
}

/// Finds the coordinator and answers the join heartbeat with epoch 1.
fn joined(t: Instant) -> ConsumerMember {
    let mut m = ConsumerMember::new(cfg());
    m.join(t).unwrap();
    let find = m.poll_request().unwrap();
    assert_eq!(find.target, Target::AnyBroker);
    assert_eq!(
        find.request,
        ConsumerMemberRequest::FindCoordinator { key: "g".into() }
    );
    let found = ConsumerMemberResponse::FindCoordinator {
        error_code: ErrorCode::NONE,
        coordinator: Some(coordinator()),
    };
    m.handle_response(find.id, found, t).unwrap();
    let (id, _) = heartbeat(&mut m);
    m.handle_response(id, ok(1, None), t).unwrap();
    events(&mut m);
    m
}

/// A joined member owning `parts` of topic "t" at epoch 2.
fn owning(t: Instant, parts: &[i32]) -> ConsumerMember {
    let mut m = joined(t);
    m.handle_timeout(t + Duration::from_secs(2));
    let (id, _) = heartbeat(&mut m);
    m.handle_response(id, ok(2, Some(parts)), t).unwrap();
    let names = m.poll_request().unwrap();
    let names_answer = ConsumerMemberResponse::TopicNames(BTreeMap::from([(TOPIC, "t".into())]));
    m.handle_response(names.id, names_answer, t).unwrap();
    let (ack, _) = heartbeat(&mut m);
    m.handle_response(ack, ok(2, None), t).unwrap();
    events(&mut m);
    assert_eq!(m.owned(), tps(parts));
    m
}

#[test]
fn join_finds_the_coordinator_then_sends_the_full_epoch_0_heartbeat() {
    let t = Instant::now();
    let mut m = ConsumerMember::new(cfg());
    assert_eq!(m.state(), ConsumerMemberState::Unjoined);
    m.join(t).unwrap();
    assert_eq!(m.state(), ConsumerMemberState::Joining);
    let find = m.poll_request().unwrap();
    assert!(
        m.poll_request().is_none(),
        "the heartbeat waits for the coordinator"
    );
    let found = ConsumerMemberResponse::FindCoordinator {
        error_code: ErrorCode::NONE,
        coordinator: Some(coordinator()),
    };
    m.handle_response(find.id, found, t).unwrap();
    let (_, req) = heartbeat(&mut m);
    assert_eq!(req.group_id, "g");
    assert_eq!(req.member_id, "m-1");
    assert_eq!(req.member_epoch, 0);
    assert_eq!(req.rack_id.as_deref(), Some("r1"));
    assert_eq!(req.rebalance_timeout_ms, 60_000);
    assert_eq!(req.subscribed_topic_names, Some(vec!["t".to_string()]));
    assert_eq!(req.subscribed_topic_regex, None);
    assert_eq!(req.server_assignor.as_deref(), Some("uniform"));
    assert_eq!(req.topic_partitions, Some(vec![]));
    assert!(m.join(t).is_err(), "join twice");
}

#[test]
fn regex_subscription_and_instance_id_go_in_the_join() {
    let t = Instant::now();
    let mut c = cfg();
    c.subscription = Subscription::Regex("t.*".into());
    c.instance_id = Some("i-1".into());
    let mut m = ConsumerMember::new(c);
    m.join(t).unwrap();
    let find = m.poll_request().unwrap();
    let found = ConsumerMemberResponse::FindCoordinator {
        error_code: ErrorCode::NONE,
        coordinator: Some(coordinator()),
    };
    m.handle_response(find.id, found, t).unwrap();
    let (_, req) = heartbeat(&mut m);
    assert_eq!(req.subscribed_topic_names, None);
    assert_eq!(req.subscribed_topic_regex.as_deref(), Some("t.*"));
    assert_eq!(req.instance_id.as_deref(), Some("i-1"));
}

#[test]
fn the_join_answer_sets_id_epoch_and_heartbeat_interval() {
    let t = Instant::now();
    let mut m = ConsumerMember::new(cfg());
    m.join(t).unwrap();
    let find = m.poll_request().unwrap();
    let found = ConsumerMemberResponse::FindCoordinator {
        error_code: ErrorCode::NONE,
        coordinator: Some(coordinator()),
    };
    m.handle_response(find.id, found, t).unwrap();
    let (id, _) = heartbeat(&mut m);
    let mut answer = ok(4, None);
    if let ConsumerMemberResponse::Heartbeat(r) = &mut answer {
        r.member_id = Some("from-broker".into());
    }
    m.handle_response(id, answer, t).unwrap();
    assert_eq!(
        events(&mut m),
        [ConsumerMemberEvent::Joined {
            member_id: "from-broker".into(),
            epoch: 4
        }]
    );
    assert_eq!(m.state(), ConsumerMemberState::Stable);
    assert_eq!(m.heartbeat_interval(), Duration::from_secs(2));
    assert_eq!(m.poll_timeout(), Some(t + Duration::from_secs(2)));
    m.handle_timeout(t + Duration::from_millis(1999));
    assert!(m.poll_request().is_none(), "not due yet");
    m.handle_timeout(t + Duration::from_secs(2));
    let (_, req) = heartbeat(&mut m);
    assert_eq!(
        (req.member_id.as_str(), req.member_epoch),
        ("from-broker", 4)
    );
    assert_eq!(req.subscribed_topic_names, None, "only sent when joining");
    assert_eq!(req.rebalance_timeout_ms, -1);
    assert_eq!(req.topic_partitions, Some(vec![]));
    assert_eq!(
        m.poll_timeout(),
        None,
        "no second heartbeat while one is out"
    );
}

#[test]
fn an_assignment_resolves_topic_names_then_assigns_and_acknowledges() {
    let t = Instant::now();
    let mut m = joined(t);
    m.handle_timeout(t + Duration::from_secs(2));
    let (id, _) = heartbeat(&mut m);
    m.handle_response(id, ok(2, Some(&[0, 1])), t).unwrap();
    let names = m.poll_request().unwrap();
    assert_eq!(names.target, Target::AnyBroker);
    assert_eq!(
        names.request,
        ConsumerMemberRequest::TopicNames {
            topic_ids: vec![TOPIC]
        }
    );
    assert!(
        events(&mut m).is_empty(),
        "nothing assigned before the names are known"
    );
    let answer = ConsumerMemberResponse::TopicNames(BTreeMap::from([(TOPIC, "t".into())]));
    m.handle_response(names.id, answer, t).unwrap();
    assert_eq!(
        events(&mut m),
        [
            ConsumerMemberEvent::Assigned(tps(&[0, 1])),
            ConsumerMemberEvent::Reconciled { epoch: 2 }
        ]
    );
    let (_, ack) = heartbeat(&mut m);
    assert_eq!(ack.member_epoch, 2);
    assert_eq!(ack.topic_partitions, owned_wire(&[0, 1]));
}

#[test]
fn unknown_topic_ids_are_asked_for_again_after_the_backoff() {
    let t = Instant::now();
    let mut m = joined(t);
    m.handle_timeout(t + Duration::from_secs(2));
    let (id, _) = heartbeat(&mut m);
    m.handle_response(id, ok(2, Some(&[0])), t).unwrap();
    let names = m.poll_request().unwrap();
    m.handle_response(
        names.id,
        ConsumerMemberResponse::TopicNames(BTreeMap::new()),
        t,
    )
    .unwrap();
    assert!(m.poll_request().is_none());
    let retry = t + cfg().retry_backoff;
    assert_eq!(m.poll_timeout(), Some(retry));
    m.handle_timeout(retry);
    let again = m.poll_request().unwrap();
    assert_eq!(
        again.request,
        ConsumerMemberRequest::TopicNames {
            topic_ids: vec![TOPIC]
        }
    );
}

#[test]
fn revocation_waits_for_the_commit_before_acknowledging() {
    let t = Instant::now();
    let mut m = owning(t, &[0, 1]);
    m.handle_timeout(t + Duration::from_secs(2));
    let (id, _) = heartbeat(&mut m);
    m.handle_response(id, ok(3, Some(&[1, 2])), t).unwrap();
    assert_eq!(
        events(&mut m),
        [ConsumerMemberEvent::CommitNeeded(tps(&[0]))]
    );
    assert_eq!(m.owned(), tps(&[0, 1]), "still owned until the commit");
    assert!(
        m.poll_request().is_none(),
        "no acknowledgement before the commit"
    );
    // A regular heartbeat meanwhile still reports the old ownership.
    m.handle_timeout(t + Duration::from_secs(2));
    let (hb, req) = heartbeat(&mut m);
    assert_eq!(req.topic_partitions, owned_wire(&[0, 1]));
    m.handle_response(hb, ok(3, None), t).unwrap();
    m.revocation_done(t).unwrap();
    assert_eq!(
        events(&mut m),
        [
            ConsumerMemberEvent::Revoked(tps(&[0])),
            ConsumerMemberEvent::Assigned(tps(&[2])),
            ConsumerMemberEvent::Reconciled { epoch: 3 }
        ]
    );
    let (_, ack) = heartbeat(&mut m);
    assert_eq!(ack.topic_partitions, owned_wire(&[1, 2]));
    m.revocation_done(t).unwrap();
    assert!(events(&mut m).is_empty(), "a second ack is a no-op");
}

#[test]
fn fencing_loses_partitions_without_commit_and_rejoins_at_epoch_0() {
    for code in [ErrorCode::FENCED_MEMBER_EPOCH, ErrorCode::UNKNOWN_MEMBER_ID] {
        let t = Instant::now();
        let mut m = owning(t, &[0, 1]);
        m.handle_timeout(t + Duration::from_secs(2));
        let (id, _) = heartbeat(&mut m);
        m.handle_response(id, error(code), t).unwrap();
        assert_eq!(
            events(&mut m),
            [ConsumerMemberEvent::Lost(tps(&[0, 1]))],
            "{code:?}"
        );
        assert!(m.owned().is_empty());
        assert_eq!(m.state(), ConsumerMemberState::Joining);
        let (_, rejoin) = heartbeat(&mut m);
        assert_eq!(rejoin.member_epoch, 0);
        assert_eq!(rejoin.member_id, "m-1");
        assert_eq!(rejoin.subscribed_topic_names, Some(vec!["t".to_string()]));
    }
}

#[test]
fn fencing_during_a_revocation_drops_the_pending_commit() {
    let t = Instant::now();
    let mut m = owning(t, &[0, 1]);
    m.handle_timeout(t + Duration::from_secs(2));
    let (id, _) = heartbeat(&mut m);
    m.handle_response(id, ok(3, Some(&[1])), t).unwrap();
    assert_eq!(
        events(&mut m),
        [ConsumerMemberEvent::CommitNeeded(tps(&[0]))]
    );
    m.handle_timeout(t + Duration::from_secs(2));
    let (hb, _) = heartbeat(&mut m);
    m.handle_response(hb, error(ErrorCode::FENCED_MEMBER_EPOCH), t)
        .unwrap();
    assert_eq!(events(&mut m), [ConsumerMemberEvent::Lost(tps(&[0, 1]))]);
    m.revocation_done(t).unwrap();
    assert!(events(&mut m).is_empty(), "the late ack revokes nothing");
}

#[test]
fn coordinator_moves_and_transport_errors_find_it_again() {
    let t = Instant::now();
    for how in ["not coordinator", "not available", "transport"] {
        let mut m = owning(t, &[0]);
        m.handle_timeout(t + Duration::from_secs(2));
        let (id, _) = heartbeat(&mut m);
        match how {
            "not coordinator" => m.handle_response(id, error(ErrorCode::NOT_COORDINATOR), t),
            "not available" => {
                m.handle_response(id, error(ErrorCode::COORDINATOR_NOT_AVAILABLE), t)
            }
            _ => m.handle_error(id, t),
        }
        .unwrap();
        assert!(events(&mut m).is_empty(), "{how}: partitions kept");
        assert!(m.poll_request().is_none(), "{how}: backoff first");
        let retry = t + cfg().retry_backoff;
        assert_eq!(
            m.poll_timeout(),
            Some(retry),
            "{how}: no busy loop before the backoff"
        );
        m.handle_timeout(retry);
        let find = m.poll_request().unwrap();
        assert!(matches!(
            find.request,
            ConsumerMemberRequest::FindCoordinator { .. }
        ));
        let found = ConsumerMemberResponse::FindCoordinator {
            error_code: ErrorCode::NONE,
            coordinator: Some(coordinator()),
        };
        m.handle_response(find.id, found, retry).unwrap();
        let (_, req) = heartbeat(&mut m);
        assert_eq!(
            (req.member_epoch, req.topic_partitions),
            (2, owned_wire(&[0])),
            "{how}"
        );
    }
}

#[test]
fn load_in_progress_retries_the_same_coordinator_after_the_backoff() {
    let t = Instant::now();
    let mut m = joined(t);
    m.handle_timeout(t + Duration::from_secs(2));
    let (id, _) = heartbeat(&mut m);
    m.handle_response(id, error(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS), t)
        .unwrap();
    let retry = t + cfg().retry_backoff;
    assert_eq!(m.poll_timeout(), Some(retry));
    m.handle_timeout(retry);
    heartbeat(&mut m);
}

#[test]
fn fatal_codes_end_the_membership() {
    for code in [
        ErrorCode::UNRELEASED_INSTANCE_ID,
        ErrorCode::GROUP_MAX_SIZE_REACHED,
        ErrorCode::UNSUPPORTED_VERSION,
        ErrorCode::GROUP_AUTHORIZATION_FAILED,
    ] {
        let t = Instant::now();
        let mut m = owning(t, &[3]);
        m.handle_timeout(t + Duration::from_secs(2));
        let (id, _) = heartbeat(&mut m);
        m.handle_response(id, error(code), t).unwrap();
        assert_eq!(
            events(&mut m),
            [
                ConsumerMemberEvent::Lost(tps(&[3])),
                ConsumerMemberEvent::Fatal {
                    error_code: code,
                    message: Some("no".into())
                }
            ]
        );
        assert_eq!(m.state(), ConsumerMemberState::Failed);
        assert_eq!(m.poll_timeout(), None);
        assert!(m.leave(t).is_err());
        assert!(m.revocation_done(t).is_err());
    }
}

#[test]
fn leave_revokes_first_then_sends_epoch_minus_one() {
    let t = Instant::now();
    let mut m = owning(t, &[0, 1]);
    m.leave(t).unwrap();
    assert_eq!(
        events(&mut m),
        [ConsumerMemberEvent::CommitNeeded(tps(&[0, 1]))]
    );
    assert!(m.poll_request().is_none(), "the leave waits for the commit");
    m.revocation_done(t).unwrap();
    assert_eq!(events(&mut m), [ConsumerMemberEvent::Revoked(tps(&[0, 1]))]);
    assert_eq!(m.state(), ConsumerMemberState::Leaving);
    let (id, req) = heartbeat(&mut m);
    assert_eq!(
        (req.member_id.as_str(), req.member_epoch),
        ("m-1", LEAVE_EPOCH)
    );
    m.handle_response(id, ok(-1, None), t).unwrap();
    assert_eq!(events(&mut m), [ConsumerMemberEvent::Left]);
    assert_eq!(m.state(), ConsumerMemberState::Left);
    assert!(m.poll_request().is_none());
}

#[test]
fn a_static_member_leaves_with_epoch_minus_two() {
    let t = Instant::now();
    let mut c = cfg();
    c.instance_id = Some("i-1".into());
    let mut m = ConsumerMember::new(c);
    m.join(t).unwrap();
    let find = m.poll_request().unwrap();
    let found = ConsumerMemberResponse::FindCoordinator {
        error_code: ErrorCode::NONE,
        coordinator: Some(coordinator()),
    };
    m.handle_response(find.id, found, t).unwrap();
    let (id, _) = heartbeat(&mut m);
    m.handle_response(id, ok(1, None), t).unwrap();
    m.leave(t).unwrap();
    let (id, req) = heartbeat(&mut m);
    assert_eq!(req.member_epoch, STATIC_LEAVE_EPOCH);
    assert_eq!(req.instance_id.as_deref(), Some("i-1"));
    // A leave that cannot be delivered still ends membership.
    m.handle_error(id, t).unwrap();
    assert_eq!(events(&mut m).last(), Some(&ConsumerMemberEvent::Left));
}

#[test]
fn responses_to_unknown_or_mismatched_requests_are_refused() {
    let t = Instant::now();
    let mut m = joined(t);
    let stray = RequestId(999);
    assert_eq!(
        m.handle_response(stray, ok(9, None), t),
        Err(GroupError::UnknownRequest(stray))
    );
    assert_eq!(
        m.handle_error(stray, t),
        Err(GroupError::UnknownRequest(stray))
    );
    m.handle_timeout(t + Duration::from_secs(2));
    let (id, _) = heartbeat(&mut m);
    let wrong = ConsumerMemberResponse::TopicNames(BTreeMap::new());
    assert!(m.handle_response(id, wrong, t).is_err());
    assert_eq!(m.epoch(), 1, "a refused input changes nothing");
    m.handle_response(id, ok(5, None), t).unwrap();
    assert_eq!(m.epoch(), 5);
}

#[test]
fn hostile_assignments_do_not_panic_and_drop_negative_partitions() {
    let t = Instant::now();
    let mut m = owning(t, &[0]);
    m.handle_timeout(t + Duration::from_secs(2));
    let (id, _) = heartbeat(&mut m);
    let mut answer = ok(3, Some(&[0, -5, 0, 2]));
    if let ConsumerMemberResponse::Heartbeat(r) = &mut answer {
        r.heartbeat_interval_ms = -1;
    }
    m.handle_response(id, answer, t).unwrap();
    assert_eq!(
        events(&mut m),
        [
            ConsumerMemberEvent::Assigned(tps(&[2])),
            ConsumerMemberEvent::Reconciled { epoch: 3 }
        ]
    );
    assert_eq!(
        m.heartbeat_interval(),
        Duration::from_secs(2),
        "a negative interval is ignored"
    );
}

#[test]
fn coordinator_moved_finds_it_again_and_the_next_heartbeat_goes_there() {
    let t = Instant::now();
    let mut m = joined(t);
    assert_eq!(m.coordinator(), Some(&coordinator()));
    // An offset commit the driver sent learnt NOT_COORDINATOR.
    m.coordinator_moved(t);
    assert_eq!(m.coordinator(), None);
    let find = m.poll_request().unwrap();
    assert_eq!(find.target, Target::AnyBroker);
    let moved = Coordinator {
        node_id: 2,
        ..coordinator()
    };
    let found = ConsumerMemberResponse::FindCoordinator {
        error_code: ErrorCode::NONE,
        coordinator: Some(moved.clone()),
    };
    m.handle_response(find.id, found, t).unwrap();
    assert!(
        m.poll_request().is_none(),
        "the heartbeat keeps its interval"
    );
    m.handle_timeout(t + Duration::from_secs(2));
    match m.poll_request() {
        Some(ConsumerOutbound {
            target: Target::Coordinator(c),
            request: ConsumerMemberRequest::Heartbeat(r),
            ..
        }) => {
            assert_eq!(c, moved);
            assert_eq!(r.member_epoch, 1);
        }
        other => panic!("expected a heartbeat to the new coordinator, got {other:?}"),
    }
    // Twice in a row, or after leaving, is a no-op.
    m.coordinator_moved(t);
    m.coordinator_moved(t);
    assert!(!m.is_done());
}
