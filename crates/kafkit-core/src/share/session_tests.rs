//! The share session driven through scripted responses in virtual time.

use super::*;
use crate::protocol::messages::share_acknowledge::{
    ShareAcknowledgePartitionResponse, ShareAcknowledgeTopicResponse,
};
use crate::protocol::messages::share_fetch::AcquiredRecords;
use crate::protocol::messages::share_fetch::ShareFetchTopic;
use crate::protocol::messages::share_fetch::{
    ShareFetchPartitionResponse, ShareFetchTopicResponse,
};
use crate::protocol::Uuid;
use crate::share::ShareAcquireMode;
use bytes::Bytes;

const T: Uuid = Uuid([5; 16]);
const LIMITS: ShareFetchLimits = ShareFetchLimits {
    max_wait_ms: 500,
    min_bytes: 1,
    max_bytes: 1 << 20,
    max_records: 500,
    acquire_mode: ShareAcquireMode::BatchOptimized,
};

fn tp(p: i32) -> TopicIdPartition {
    TopicIdPartition {
        topic_id: T,
        partition: p,
    }
}

fn acquired(first: i64, last: i64, count: i16) -> AcquiredRecords {
    AcquiredRecords {
        first_offset: first,
        last_offset: last,
        delivery_count: count,
        ..Default::default()
    }
}

fn fetch_response(parts: Vec<(i32, Vec<AcquiredRecords>, ErrorCode)>) -> ShareFetchResponse {
    ShareFetchResponse {
        acquisition_lock_timeout_ms: 30_000,
        responses: vec![ShareFetchTopicResponse {
            topic_id: T,
            partitions: parts
                .into_iter()
                .map(|(p, acq, ack_err)| ShareFetchPartitionResponse {
                    partition_index: p,
                    acknowledge_error_code: ack_err,
                    records: Bytes::from_static(b"r"),
                    acquired_records: acq,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// An acknowledgement batch as (first, last, types).
type Batch = (i64, i64, Vec<i8>);

/// (partition, acknowledgement batches) of a request.
fn summary(topics: &[ShareFetchTopic]) -> Vec<(i32, Vec<Batch>)> {
    topics
        .iter()
        .flat_map(|t| &t.partitions)
        .map(|p| {
            let batches = p
                .acknowledgement_batches
                .iter()
                .map(|b| (b.first_offset, b.last_offset, b.acknowledge_types.clone()))
                .collect();
            (p.partition_index, batches)
        })
        .collect()
}

#[test]
fn a_session_opens_then_piggybacks_acknowledgements_on_the_next_fetch() {
    let t0 = Instant::now();
    let mut s = ShareSession::new("g", "m");
    s.set_partitions([tp(0), tp(1)]);
    let open = s.fetch_request(&LIMITS).unwrap();
    assert_eq!(open.share_session_epoch, 0);
    assert_eq!(summary(&open.topics), [(0, vec![]), (1, vec![])]);
    assert_eq!(open.member_id.as_deref(), Some("m"));
    // One request at a time.
    assert!(s.fetch_request(&LIMITS).is_err());
    let out = s
        .on_fetch_response(
            t0,
            fetch_response(vec![(0, vec![acquired(0, 2, 1)], ErrorCode::NONE)]),
        )
        .unwrap();
    assert_eq!(out.acquired.len(), 1);
    assert_eq!(
        (s.epoch(), s.held(), s.lock_timeout()),
        (1, 3, Duration::from_secs(30))
    );
    assert_eq!(s.delivery_count(tp(0), 1), Some(1));

    s.acknowledge(tp(0), 0, AcknowledgeType::Accept).unwrap();
    s.acknowledge(tp(0), 1, AcknowledgeType::Release).unwrap();
    s.acknowledge(tp(0), 2, AcknowledgeType::Reject).unwrap();
    assert_eq!(
        s.acknowledge(tp(1), 0, AcknowledgeType::Accept),
        Err(ShareSessionError::NotAcquired {
            partition: tp(1),
            offset: 0
        })
    );
    let next = s.fetch_request(&LIMITS).unwrap();
    assert_eq!(next.share_session_epoch, 1);
    // Incremental: only the partition with acknowledgements is named.
    assert_eq!(summary(&next.topics), [(0, vec![(0, 2, vec![1, 2, 3])])]);
    let out = s
        .on_fetch_response(
            t0 + Duration::from_secs(1),
            fetch_response(vec![(0, vec![acquired(1, 1, 2)], ErrorCode::NONE)]),
        )
        .unwrap();
    assert_eq!(out.acks.len(), 1);
    assert_eq!(out.acks[0].error, ErrorCode::NONE);
    assert_eq!(out.acks[0].offsets.len(), 3);
    // The released record came back, delivered a second time.
    assert_eq!((s.epoch(), s.held()), (2, 1));
    assert_eq!(s.delivery_count(tp(0), 1), Some(2));
}

#[test]
fn share_acknowledge_when_not_fetching_and_close_releases_what_is_held() {
    let t0 = Instant::now();
    let mut s = ShareSession::new("g", "m");
    // No session yet: nothing to acknowledge in, and closing sends nothing.
    assert_eq!(s.acknowledge_request().unwrap(), None);
    s.set_partitions([tp(0)]);
    s.fetch_request(&LIMITS).unwrap();
    s.on_fetch_response(
        t0,
        fetch_response(vec![(0, vec![acquired(10, 13, 1)], ErrorCode::NONE)]),
    )
    .unwrap();
    s.acknowledge(tp(0), 10, AcknowledgeType::Accept).unwrap();
    let ack = s.acknowledge_request().unwrap().expect("pending");
    assert_eq!(ack.share_session_epoch, 1);
    assert_eq!(summary(&ack.topics), [(0, vec![(10, 10, vec![1])])]);
    let out = s
        .on_acknowledge_response(
            t0,
            ShareAcknowledgeResponse {
                responses: vec![ShareAcknowledgeTopicResponse {
                    topic_id: T,
                    partitions: vec![ShareAcknowledgePartitionResponse {
                        partition_index: 0,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(out.acks[0].offsets, [(10, AcknowledgeType::Accept)]);
    assert_eq!((s.epoch(), s.held()), (2, 3));
    // A fetch response cannot answer a ShareAcknowledge.
    assert!(s.on_fetch_response(t0, fetch_response(vec![])).is_err());

    s.acknowledge(tp(0), 12, AcknowledgeType::Reject).unwrap();
    let close = s.close_request().unwrap().expect("a session to close");
    assert_eq!(close.share_session_epoch, -1);
    assert_eq!(summary(&close.topics), [(0, vec![(11, 13, vec![2, 3, 2])])]);
    let out = s
        .on_acknowledge_response(t0, ShareAcknowledgeResponse::default())
        .unwrap();
    assert_eq!(out.acks[0].offsets.len(), 3);
    assert_eq!((s.epoch(), s.held()), (-1, 0));
    assert!(s.fetch_request(&LIMITS).is_err(), "closed");
}

#[test]
fn a_lost_session_reopens_with_every_partition_and_drops_what_it_held() {
    let t0 = Instant::now();
    let mut s = ShareSession::new("g", "m");
    s.set_partitions([tp(0), tp(1)]);
    s.fetch_request(&LIMITS).unwrap();
    s.on_fetch_response(
        t0,
        fetch_response(vec![(1, vec![acquired(0, 0, 1)], ErrorCode::NONE)]),
    )
    .unwrap();
    s.acknowledge(tp(1), 0, AcknowledgeType::Accept).unwrap();
    s.fetch_request(&LIMITS).unwrap();
    let out = s
        .on_fetch_response(
            t0,
            ShareFetchResponse {
                error_code: ErrorCode::SHARE_SESSION_NOT_FOUND,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(out.error, ErrorCode::SHARE_SESSION_NOT_FOUND);
    assert_eq!(out.acks[0].error, ErrorCode::SHARE_SESSION_NOT_FOUND);
    assert_eq!((s.epoch(), s.held()), (0, 0));
    let reopen = s.fetch_request(&LIMITS).unwrap();
    assert_eq!(reopen.share_session_epoch, 0);
    assert_eq!(summary(&reopen.topics), [(0, vec![]), (1, vec![])]);
    // A dropped connection fails the request the same way.
    let out = s.on_failure(ErrorCode::NETWORK_EXCEPTION);
    assert_eq!(out.api, Some(ApiKey::SHARE_FETCH));
    assert_eq!(s.epoch(), 0);
}

#[test]
fn partitions_leaving_the_assignment_are_forgotten_once_they_hold_nothing() {
    let t0 = Instant::now();
    let mut s = ShareSession::new("g", "m");
    s.set_partitions([tp(0), tp(1)]);
    s.fetch_request(&LIMITS).unwrap();
    s.on_fetch_response(
        t0,
        fetch_response(vec![(1, vec![acquired(5, 5, 1)], ErrorCode::NONE)]),
    )
    .unwrap();
    s.set_partitions([tp(0), tp(2)]);
    // Partition 1 still holds offset 5: kept in the session for now.
    let r = s.fetch_request(&LIMITS).unwrap();
    assert_eq!(summary(&r.topics), [(2, vec![])]);
    assert!(r.forgotten_topics_data.is_empty());
    s.on_fetch_response(t0, fetch_response(vec![])).unwrap();
    s.acknowledge(tp(1), 5, AcknowledgeType::Release).unwrap();
    let r = s.fetch_request(&LIMITS).unwrap();
    assert_eq!(summary(&r.topics), [(1, vec![(5, 5, vec![2])])]);
    s.on_fetch_response(t0, fetch_response(vec![])).unwrap();
    let r = s.fetch_request(&LIMITS).unwrap();
    assert!(r.topics.is_empty());
    assert_eq!(r.forgotten_topics_data[0].partitions, [1]);
    s.on_fetch_response(t0, fetch_response(vec![])).unwrap();
    assert_eq!(s.epoch(), 4);
}

#[test]
fn locks_expire_in_virtual_time_and_acknowledgement_errors_are_reported() {
    let t0 = Instant::now();
    let mut s = ShareSession::new("g", "m");
    s.set_partitions([tp(0)]);
    s.fetch_request(&LIMITS).unwrap();
    s.on_fetch_response(
        t0,
        fetch_response(vec![(0, vec![acquired(0, 3, 1)], ErrorCode::NONE)]),
    )
    .unwrap();
    s.acknowledge(tp(0), 0, AcknowledgeType::Accept).unwrap();
    assert_eq!(s.expire(t0 + Duration::from_secs(29)), 0);
    s.fetch_request(&LIMITS).unwrap();
    // The broker no longer had offset 0 for this member.
    let out = s
        .on_fetch_response(
            t0 + Duration::from_secs(29),
            fetch_response(vec![(0, vec![], ErrorCode::INVALID_RECORD_STATE)]),
        )
        .unwrap();
    assert_eq!(out.acks[0].error, ErrorCode::INVALID_RECORD_STATE);
    assert_eq!(s.held(), 3);
    assert_eq!(s.expire(t0 + Duration::from_secs(30)), 3);
    assert_eq!(
        s.acknowledge(tp(0), 1, AcknowledgeType::Accept),
        Err(ShareSessionError::NotAcquired {
            partition: tp(0),
            offset: 1
        })
    );
}

#[test]
fn a_hostile_acquired_range_is_refused_without_allocating() {
    let t0 = Instant::now();
    let mut s = ShareSession::new("g", "m");
    s.set_partitions([tp(0)]);
    s.fetch_request(&LIMITS).unwrap();
    let err = s
        .on_fetch_response(
            t0,
            fetch_response(vec![(0, vec![acquired(0, i64::MAX, 1)], ErrorCode::NONE)]),
        )
        .unwrap_err();
    assert!(matches!(err, ShareSessionError::BadRange { .. }));
    assert_eq!(s.held(), 0);
    // The session itself continues.
    assert_eq!(s.epoch(), 1);
}

#[test]
fn a_response_with_a_hostile_range_gives_back_what_it_acquired() {
    let t0 = Instant::now();
    let mut s = ShareSession::new("g", "m");
    s.set_partitions([tp(0), tp(1)]);
    s.fetch_request(&LIMITS).unwrap();
    // Partition 1's good range and partition 0's good range come with a
    // hostile one: the response is refused, so its records are never
    // delivered, and an implicit-mode poll must not accept them unseen.
    let err = s
        .on_fetch_response(
            t0,
            fetch_response(vec![
                (
                    0,
                    vec![acquired(0, 2, 1), acquired(5, i64::MAX, 1)],
                    ErrorCode::NONE,
                ),
                (1, vec![acquired(10, 11, 1)], ErrorCode::NONE),
            ]),
        )
        .unwrap_err();
    assert!(matches!(err, ShareSessionError::BadRange { .. }));
    assert!(
        err.is_retriable(),
        "a broker's impossible range is retriable"
    );
    assert_eq!(s.acknowledge_held(AcknowledgeType::Accept), 0);
    let r = s.fetch_request(&LIMITS).unwrap();
    assert_eq!(
        summary(&r.topics),
        [(0, vec![(0, 2, vec![2])]), (1, vec![(10, 11, vec![2])])]
    );
}

#[test]
fn gaps_are_acknowledged_with_the_records_of_the_fetch() {
    let t0 = Instant::now();
    let mut s = ShareSession::new("g", "m");
    s.set_partitions([tp(0)]);
    s.fetch_request(&LIMITS).unwrap();
    s.on_fetch_response(
        t0,
        fetch_response(vec![(0, vec![acquired(0, 3, 1)], ErrorCode::NONE)]),
    )
    .unwrap();
    // Offset 3 was a transaction marker: no record delivered for it.
    assert_eq!(s.mark_gaps(tp(0), &[0, 1, 2]), 1);
    assert_eq!(s.acknowledge_held(AcknowledgeType::Accept), 3);
    let r = s.fetch_request(&LIMITS).unwrap();
    assert_eq!(summary(&r.topics), [(0, vec![(0, 3, vec![1, 1, 1, 0])])]);
}

fn ack_response(parts: Vec<(i32, ErrorCode)>, lock_ms: i32) -> ShareAcknowledgeResponse {
    ShareAcknowledgeResponse {
        acquisition_lock_timeout_ms: lock_ms,
        responses: vec![ShareAcknowledgeTopicResponse {
            topic_id: T,
            partitions: parts
                .into_iter()
                .map(|(p, error_code)| ShareAcknowledgePartitionResponse {
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

/// A session open on partitions 0 and 1 at `t0` holding 10..=13 of
/// partition 0, acquired with a 3 s lock.
fn holding(t0: Instant) -> ShareSession {
    let mut s = ShareSession::new("g", "m");
    s.set_partitions([tp(0), tp(1)]);
    s.fetch_request(&LIMITS).unwrap();
    s.on_fetch_response(t0, fetch_response(vec![])).unwrap();
    s.fetch_request(&LIMITS).unwrap();
    let mut resp = fetch_response(vec![(0, vec![acquired(10, 13, 1)], ErrorCode::NONE)]);
    resp.acquisition_lock_timeout_ms = 3_000;
    s.on_fetch_response(t0, resp).unwrap();
    assert_eq!((s.epoch(), s.held()), (2, 4));
    s
}

#[test]
fn a_renewal_by_share_acknowledge_keeps_the_record_held_past_its_first_lock() {
    let t0 = Instant::now();
    let mut s = holding(t0);
    let at = |ms| t0 + Duration::from_millis(ms);
    s.acknowledge(tp(0), 10, AcknowledgeType::Renew).unwrap();
    s.acknowledge(tp(0), 11, AcknowledgeType::Accept).unwrap();
    let req = s.acknowledge_request().unwrap().expect("pending");
    assert!(req.is_renew_ack);
    assert_eq!(summary(&req.topics), [(0, vec![(10, 11, vec![4, 1])])]);
    // In flight: no second acknowledgement of a renewing offset.
    assert!(matches!(
        s.acknowledge(tp(0), 10, AcknowledgeType::Accept),
        Err(ShareSessionError::AckInFlight { .. })
    ));
    // The broker answers at 2 s with the lock duration it renewed for.
    let out = s
        .on_acknowledge_response(at(2_000), ack_response(vec![(0, ErrorCode::NONE)], 3_000))
        .unwrap();
    assert_eq!(
        out.acks[0].offsets,
        [(10, AcknowledgeType::Renew), (11, AcknowledgeType::Accept)]
    );
    assert_eq!(s.held(), 3, "10 renewed, 12 and 13 held, 11 settled");
    // At 4 s the first lock (3 s) is gone but the renewed one holds (5 s).
    assert_eq!(s.expire(at(4_000)), 2, "12 and 13 expire");
    assert_eq!(s.delivery_count(tp(0), 10), Some(1));
    // Accepted afterwards: no renew flag, and it is settled.
    s.acknowledge(tp(0), 10, AcknowledgeType::Accept).unwrap();
    let req = s.acknowledge_request().unwrap().expect("pending");
    assert!(!req.is_renew_ack);
    s.on_acknowledge_response(at(4_500), ack_response(vec![], 0))
        .unwrap();
    assert_eq!(s.held(), 0);
    // A hostile negative lock duration is ignored: the last good one stays.
    s.fetch_request(&LIMITS).unwrap();
    let mut resp = fetch_response(vec![(0, vec![acquired(20, 20, 1)], ErrorCode::NONE)]);
    resp.acquisition_lock_timeout_ms = i32::MIN;
    s.on_fetch_response(at(5_000), resp).unwrap();
    assert_eq!(s.lock_timeout(), Duration::from_millis(3_000));
    assert_eq!(s.expire(at(7_999)), 0);
    assert_eq!(s.expire(at(8_000)), 1);
}

#[test]
fn a_pending_renewal_makes_the_next_fetch_renew_only() {
    let t0 = Instant::now();
    let at = |ms| t0 + Duration::from_millis(ms);
    let mut s = holding(t0);
    s.acknowledge(tp(0), 12, AcknowledgeType::Renew).unwrap();
    s.acknowledge(tp(0), 13, AcknowledgeType::Reject).unwrap();
    let limits = ShareFetchLimits {
        acquire_mode: ShareAcquireMode::RecordLimit,
        ..LIMITS
    };
    let req = s.fetch_request(&limits).unwrap();
    assert!(req.is_renew_ack);
    assert_eq!(
        (
            req.max_wait_ms,
            req.min_bytes,
            req.max_bytes,
            req.max_records
        ),
        (0, 0, 0, 0),
        "the broker refuses a renewing fetch that asks for records"
    );
    assert_eq!(req.share_session_epoch, 2);
    assert_eq!(summary(&req.topics), [(0, vec![(12, 13, vec![4, 3])])]);
    // The broker only applies the acknowledgements; the lock is now 4 s.
    let mut resp = fetch_response(vec![(0, vec![], ErrorCode::NONE)]);
    resp.acquisition_lock_timeout_ms = 4_000;
    let out = s.on_fetch_response(at(2_500), resp).unwrap();
    assert!(out.acquired.is_empty());
    assert_eq!(s.lock_timeout(), Duration::from_millis(4_000));
    assert_eq!(s.expire(at(6_000)), 2, "10 and 11 kept their first lock");
    assert_eq!((s.held(), s.epoch()), (1, 3));
    assert_eq!(s.expire(at(6_500)), 1, "12 renewed until 6.5 s");
    // Nothing to renew: a normal fetch in the configured acquire mode.
    let req = s.fetch_request(&limits).unwrap();
    assert!(!req.is_renew_ack);
    assert_eq!((req.max_records, req.share_acquire_mode), (500, 1));
}

#[test]
fn a_refused_or_lost_renewal_gives_the_record_up() {
    let t0 = Instant::now();
    let at = |ms| t0 + Duration::from_millis(ms);
    let mut s = holding(t0);
    // The lock had already expired at the broker: INVALID_RECORD_STATE.
    s.acknowledge(tp(0), 10, AcknowledgeType::Renew).unwrap();
    s.acknowledge_request().unwrap().expect("pending");
    let out = s
        .on_acknowledge_response(
            at(3_500),
            ack_response(vec![(0, ErrorCode::INVALID_RECORD_STATE)], 3_000),
        )
        .unwrap();
    assert_eq!(out.acks[0].error, ErrorCode::INVALID_RECORD_STATE);
    assert_eq!(s.delivery_count(tp(0), 10), None);
    assert_eq!(s.held(), 3);
    // A renewal whose request failed: the session starts over.
    s.acknowledge(tp(0), 11, AcknowledgeType::Renew).unwrap();
    s.acknowledge_request().unwrap().expect("pending");
    let out = s.on_failure(ErrorCode::NETWORK_EXCEPTION);
    assert_eq!(out.acks[0].offsets, [(11, AcknowledgeType::Renew)]);
    assert_eq!((s.held(), s.epoch()), (0, 0));
    // Reopening carries no renewal and the broker's old lock duration stays.
    let req = s.fetch_request(&LIMITS).unwrap();
    assert!(!req.is_renew_ack && !s.has_pending_renew());
    assert_eq!(s.lock_timeout(), Duration::from_millis(3_000));
}
