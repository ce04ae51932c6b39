//! Random scripts of responses, failures, clock moves and application
//! calls: the member never panics, its events always describe its
//! assignment, and it never asks to be woken in the past.

use std::collections::VecDeque;

use proptest::prelude::*;

use super::*;

const CODES: [ErrorCode; 10] = [
    ErrorCode::NONE,
    ErrorCode::NONE,
    ErrorCode::NOT_COORDINATOR,
    ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
    ErrorCode::REBALANCE_IN_PROGRESS,
    ErrorCode::UNKNOWN_MEMBER_ID,
    ErrorCode::ILLEGAL_GENERATION,
    ErrorCode::MEMBER_ID_REQUIRED,
    ErrorCode::FENCED_INSTANCE_ID,
    ErrorCode::GROUP_AUTHORIZATION_FAILED,
];

#[derive(Debug, Clone)]
enum Step {
    Advance(u16),
    Answer {
        code: usize,
        leader: bool,
        assigned: u8,
    },
    Fail,
    Poll,
    Commit,
    Close,
    Metadata(i32),
    Subscribe(bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0u16..4000).prop_map(Step::Advance),
        6 => (0..CODES.len(), any::<bool>(), any::<u8>())
            .prop_map(|(code, leader, assigned)| Step::Answer { code, leader, assigned }),
        1 => Just(Step::Fail),
        2 => Just(Step::Poll),
        2 => Just(Step::Commit),
        1 => Just(Step::Close),
        1 => (0i32..6).prop_map(Step::Metadata),
        1 => any::<bool>().prop_map(Step::Subscribe),
    ]
}

/// A response of the right API for `out`, with `code` where it applies.
fn answer(out: &Outbound, code: ErrorCode, leader: bool, assigned: u8) -> GroupResponse {
    match &out.request {
        GroupRequest::FindCoordinator(_) => {
            let mut r = found(1 + i32::from(assigned % 3));
            if code.is_coordinator_moved() || code == ErrorCode::GROUP_AUTHORIZATION_FAILED {
                r.error_code = code;
            }
            GroupResponse::FindCoordinator(r)
        }
        GroupRequest::JoinGroup(req) => {
            if code.is_ok() {
                let id = if req.member_id.is_empty() {
                    "me"
                } else {
                    &req.member_id
                };
                let mut r = join_ok(
                    i32::from(assigned),
                    id,
                    if leader { id } else { "x" },
                    &req.protocols[0].name,
                );
                if leader {
                    r.members = vec![
                        JoinGroupResponseMember {
                            member_id: id.into(),
                            metadata: req.protocols[0].metadata.clone(),
                            ..JoinGroupResponseMember::default()
                        },
                        leader_member("x", &["t"], &[], -1),
                    ];
                }
                GroupResponse::JoinGroup(r)
            } else {
                GroupResponse::JoinGroup(join_error(code, "me"))
            }
        }
        GroupRequest::SyncGroup(_) => {
            if code.is_ok() {
                let list: Vec<(&str, i32)> = (0..4)
                    .filter(|p| assigned & (1 << p) != 0)
                    .map(|p| ("t", p))
                    .collect();
                GroupResponse::SyncGroup(sync_ok(&list))
            } else {
                GroupResponse::SyncGroup(sync_error(code))
            }
        }
        GroupRequest::Heartbeat(_) => GroupResponse::Heartbeat(heartbeat(code)),
        GroupRequest::LeaveGroup(_) => GroupResponse::LeaveGroup(LeaveGroupResponse {
            error_code: code,
            ..LeaveGroupResponse::default()
        }),
        GroupRequest::OffsetCommit(req) => GroupResponse::OffsetCommit(commit_response(req, code)),
        GroupRequest::OffsetFetch(_) => GroupResponse::OffsetFetch(Default::default()),
    }
}

/// Tracks the assignment the events describe.
#[derive(Default)]
struct Observer {
    owned: BTreeSet<TopicPartition>,
    closed: bool,
}

impl Observer {
    fn see(&mut self, e: &GroupEvent) -> Result<(), TestCaseError> {
        prop_assert!(!self.closed, "event after Closed: {:?}", e);
        match e {
            GroupEvent::Assigned { partitions, .. } => {
                prop_assert!(
                    self.owned.is_disjoint(partitions),
                    "assigned twice: {:?}",
                    partitions
                );
                self.owned.extend(partitions.iter().cloned());
            }
            GroupEvent::Revoked { partitions } | GroupEvent::Lost { partitions, .. } => {
                prop_assert!(
                    partitions.is_subset(&self.owned),
                    "gave up {:?} not owned",
                    partitions
                );
                self.owned.retain(|p| !partitions.contains(p));
            }
            GroupEvent::CommitNeeded { partitions, .. } => {
                prop_assert!(partitions.is_subset(&self.owned));
            }
            GroupEvent::Closed => self.closed = true,
            _ => {}
        }
        Ok(())
    }
}

fn run(cfg: GroupConfig, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut h = Harness::new(cfg);
    let mut pending: VecDeque<Outbound> = VecDeque::new();
    let mut seen = Observer::default();
    h.poll();
    for s in steps {
        match s {
            Step::Advance(ms) => h.advance(Duration::from_millis(u64::from(ms) * 10)),
            Step::Answer {
                code,
                leader,
                assigned,
            } => {
                if let Some(out) = pending.pop_front() {
                    let code = CODES.get(code).copied().unwrap_or(ErrorCode::NONE);
                    let r = answer(&out, code, leader, assigned);
                    h.m.handle_response(out.id, r, h.now)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                }
            }
            Step::Fail => {
                if let Some(out) = pending.pop_front() {
                    let e = Disconnected { broker: "b".into() };
                    h.m.handle_error(out.id, &e, h.now)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                }
            }
            Step::Poll => {
                let _ = h.m.poll(h.now);
            }
            Step::Commit => {
                let _ = h.m.commit(offsets(&[("t", 0, 1)]), h.now);
            }
            Step::Close => {
                h.m.close(h.now)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            Step::Metadata(n) => {
                let _ = h.m.set_metadata([("t", n)], h.now);
            }
            Step::Subscribe(two) => {
                let topics: &[&str] = if two { &["t", "u"] } else { &["t"] };
                let _ = h.m.subscribe(topics.iter().copied(), h.now);
            }
        }
        pending.extend(h.requests());
        for e in h.events() {
            seen.see(&e)?;
        }
        prop_assert_eq!(&seen.owned, h.m.assignment());
        if let Some(at) = h.m.poll_timeout() {
            prop_assert!(
                at > h.now,
                "asks to be woken in the past in {:?}",
                h.m.state()
            );
        }
        if seen.closed {
            prop_assert!(h.m.is_closed());
            prop_assert!(h.requests().is_empty());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn eager_member_survives_random_scripts(steps in proptest::collection::vec(step(), 0..80)) {
        run(config(), steps)?;
    }

    #[test]
    fn cooperative_member_survives_random_scripts(steps in proptest::collection::vec(step(), 0..80)) {
        run(cooperative_config(), steps)?;
    }

    #[test]
    fn static_member_survives_random_scripts(steps in proptest::collection::vec(step(), 0..80)) {
        let mut cfg = cooperative_config();
        cfg.group_instance_id = Some("i".into());
        cfg.static_member_leaves = true;
        run(cfg, steps)?;
    }
}
