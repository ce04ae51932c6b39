//! Tests of the KIP-848 driver's offset book (`group848_offsets.rs`).

use super::*;
use crate::protocol::messages::offset_commit::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use crate::protocol::messages::offset_fetch::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};

fn tp(p: i32) -> TopicPartition {
    TopicPartition {
        topic: "t".into(),
        partition: p,
    }
}

fn offsets(parts: &[(i32, i64)]) -> Offsets {
    as_offsets(parts.iter().map(|&(p, o)| (tp(p), o)))
}

fn commit_answer(codes: &[(i32, ErrorCode)]) -> OffsetCommitResponse {
    OffsetCommitResponse {
        topics: vec![OffsetCommitResponseTopic {
            name: "t".into(),
            partitions: codes
                .iter()
                .map(|&(p, error_code)| OffsetCommitResponsePartition {
                    partition_index: p,
                    error_code,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn requests_carry_the_member_id_and_epoch() {
    let m = Member {
        group_id: "g",
        member_id: "m-1",
        epoch: 7,
        instance_id: Some("i-1"),
    };
    let c = commit_request(&m, &offsets(&[(0, 5), (1, 9)]));
    assert_eq!(
        (c.generation_id_or_member_epoch, c.member_id.as_str()),
        (7, "m-1")
    );
    assert_eq!(c.group_instance_id.as_deref(), Some("i-1"));
    assert_eq!(c.topics.len(), 1);
    assert_eq!(c.topics[0].partitions.len(), 2);
    let f = fetch_request(&m, &[tp(0), tp(1)].into_iter().collect());
    assert_eq!(f.groups[0].member_id.as_deref(), Some("m-1"));
    assert_eq!(f.groups[0].member_epoch, 7);
}

#[test]
fn commits_of_one_partition_go_one_at_a_time_in_order() {
    let t = Instant::now();
    let mut book = OffsetBook::new(Duration::from_secs(10), Duration::from_millis(100));
    let c1 = book.commit(offsets(&[(0, 1)]), None, t).unwrap();
    let c2 = book.commit(offsets(&[(0, 2), (1, 2)]), None, t).unwrap();
    let c3 = book.commit(offsets(&[(2, 3)]), None, t).unwrap();
    let due: Vec<u64> = book.due_commits(t).into_iter().map(|(id, _)| id).collect();
    assert_eq!(due, vec![c1, c3], "c2 waits behind c1 (partition 0)");
    // c1 hits STALE_MEMBER_EPOCH: retried after the backoff, still ahead of c2.
    let stale = commit_outcome(&commit_answer(&[(0, ErrorCode::STALE_MEMBER_EPOCH)]), "b");
    assert!(book.commit_answered(c1, stale, t).is_none());
    assert!(book.due_commits(t).is_empty());
    let later = t + Duration::from_millis(150);
    let due: Vec<u64> = book
        .due_commits(later)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(due, vec![c1]);
    let ok = commit_outcome(&commit_answer(&[(0, ErrorCode::NONE)]), "b");
    assert!(matches!(book.commit_answered(c1, ok, later), Some(Ok(()))));
    let due: Vec<u64> = book
        .due_commits(later)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(due, vec![c2]);
}

#[test]
fn answers_are_classified() {
    let moved = commit_outcome(&commit_answer(&[(0, ErrorCode::NOT_COORDINATOR)]), "b");
    assert!(matches!(moved, Outcome::CoordinatorMoved));
    let denied = commit_outcome(
        &commit_answer(&[
            (0, ErrorCode::NONE),
            (1, ErrorCode::GROUP_AUTHORIZATION_FAILED),
        ]),
        "b:1",
    );
    match denied {
        Outcome::Done(Err(e)) => assert!(e.to_string().contains("t-1"), "{e}"),
        other => panic!("{other:?}"),
    }
    let fetched = OffsetFetchResponse {
        groups: vec![OffsetFetchResponseGroup {
            group_id: "g".into(),
            topics: vec![OffsetFetchResponseTopic {
                name: "t".into(),
                partitions: vec![
                    OffsetFetchResponsePartition {
                        partition_index: 0,
                        committed_offset: 42,
                        ..Default::default()
                    },
                    OffsetFetchResponsePartition {
                        partition_index: 1,
                        committed_offset: -1,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let wanted = [tp(0), tp(1), tp(2)].into_iter().collect();
    match fetch_outcome(&fetched, "g", &wanted, "b") {
        Outcome::Done(Ok(m)) => {
            assert_eq!(m, [(tp(0), Some(42)), (tp(1), None), (tp(2), None)].into());
        }
        other => panic!("{other:?}"),
    }
    let mut stale = fetched.clone();
    stale.groups[0].error_code = ErrorCode::STALE_MEMBER_EPOCH;
    assert!(matches!(
        fetch_outcome(&stale, "g", &wanted, "b"),
        Outcome::Retry
    ));
}

#[test]
fn lost_partitions_leave_the_unsent_commits() {
    let t = Instant::now();
    let mut book = OffsetBook::new(Duration::from_secs(10), Duration::from_millis(100));
    let (tx, mut rx) = oneshot::channel();
    let only_lost = book.commit(offsets(&[(0, 1)]), Some(tx), t).unwrap();
    let mixed = book.commit(offsets(&[(0, 2), (1, 2)]), None, t).unwrap();
    book.forget(&[tp(0)].into_iter().collect());
    assert!(!book.commit_pending(only_lost));
    assert!(rx.try_recv().expect("answered").is_err());
    let due = book.due_commits(t);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].0, mixed);
    assert_eq!(due[0].1.keys().cloned().collect::<Vec<_>>(), vec![tp(1)]);
}
