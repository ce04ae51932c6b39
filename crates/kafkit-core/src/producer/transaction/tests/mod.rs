//! Every transition and error class, in virtual time (a fixed base instant
//! plus durations; nothing sleeps).

use std::time::{Duration, Instant};

use super::handlers::{CLIENT_ADD_PARTITIONS_VERSIONS, V2_VERSION};
use super::*;
use crate::protocol::messages::add_offsets_to_txn::AddOffsetsToTxnResponse;
use crate::protocol::messages::add_partitions_to_txn::AddPartitionsToTxnResponse;
use crate::protocol::messages::add_partitions_to_txn::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use crate::protocol::messages::end_txn::{EndTxnRequest, EndTxnResponse};
use crate::protocol::messages::init_producer_id::InitProducerIdResponse;
use crate::protocol::messages::txn_offset_commit::TxnOffsetCommitResponse;
use crate::protocol::messages::txn_offset_commit::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use crate::protocol::ErrorCode;
use crate::protocol::VersionRange;

mod errors;

pub(super) const BACKOFF: Duration = Duration::from_millis(100);

/// The transaction coordinator of "tx-1".
pub(super) fn txn() -> Destination {
    Destination::TransactionCoordinator("tx-1".into())
}

pub(super) fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.into(),
        partition,
    }
}

pub(super) fn manager() -> TransactionManager {
    TransactionManager::new(TxnConfig::new("tx-1")).expect("valid config")
}

pub(super) fn init_ok(producer_id: i64, epoch: i16) -> TxnResponse {
    TxnResponse::InitProducerId(InitProducerIdResponse {
        producer_id,
        producer_epoch: epoch,
        ..Default::default()
    })
}

pub(super) fn added(topic: &str, partitions: &[(i32, ErrorCode)]) -> TxnResponse {
    TxnResponse::AddPartitionsToTxn(AddPartitionsToTxnResponse {
        results_by_topic_v3_and_below: vec![AddPartitionsToTxnTopicResult {
            name: topic.into(),
            results_by_partition: partitions
                .iter()
                .map(
                    |&(partition_index, partition_error_code)| AddPartitionsToTxnPartitionResult {
                        partition_index,
                        partition_error_code,
                        ..Default::default()
                    },
                )
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    })
}

pub(super) fn ended(error: ErrorCode, producer_id: i64, epoch: i16) -> TxnResponse {
    TxnResponse::EndTxn(EndTxnResponse {
        error_code: error,
        producer_id,
        producer_epoch: epoch,
        ..Default::default()
    })
}

pub(super) fn offsets_committed(error: ErrorCode) -> TxnResponse {
    TxnResponse::TxnOffsetCommit(TxnOffsetCommitResponse {
        topics: vec![TxnOffsetCommitResponseTopic {
            name: "in".into(),
            partitions: vec![TxnOffsetCommitResponsePartition {
                partition_index: 0,
                error_code: error,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// A machine taken through init to `Ready` (producer 42, epoch 0).
pub(super) fn ready(t0: Instant) -> TransactionManager {
    let mut m = manager();
    m.init_transactions().expect("init");
    assert_eq!(m.state(), TxnState::Initializing);
    let init = m.poll_request(t0).expect("InitProducerId");
    assert_eq!(init.destination, txn(), "to the coordinator of the id");
    assert!(!init.rediscover);
    assert_eq!(m.poll_request(t0), None, "one request in flight");
    let TxnRequest::InitProducerId(req) = &init.request else {
        panic!("{init:?}");
    };
    assert_eq!(req.transactional_id.as_deref(), Some("tx-1"));
    assert_eq!(req.transaction_timeout_ms, 60_000);
    m.on_response(init_ok(42, 0), t0).expect("init");
    assert_eq!(m.state(), TxnState::Ready);
    assert_eq!(
        m.poll_event(),
        Some(TxnEvent::Initialized {
            producer_id: 42,
            epoch: 0
        })
    );
    assert_eq!(m.producer_id_and_epoch(), (42, 0));
    m
}

/// Sends the queued EndTxn and answers it without error.
pub(super) fn end_ok(
    m: &mut TransactionManager,
    t: Instant,
    committed: bool,
    next: (i64, i16),
) -> Outgoing {
    let out = m.poll_request(t).expect("EndTxn");
    let TxnRequest::EndTxn(req) = &out.request else {
        panic!("{out:?}");
    };
    assert_eq!(req.committed, committed);
    m.on_response(ended(ErrorCode::NONE, next.0, next.1), t)
        .expect("end");
    out
}

#[test]
fn init_finds_the_coordinator_then_gets_a_producer_id() {
    let m = ready(Instant::now());
    assert!(!m.is_v2());
    assert!(!m.has_in_flight());
}

#[test]
fn v1_adds_each_partition_before_produce_then_commits() {
    let t0 = Instant::now();
    let mut m = ready(t0);
    m.begin_transaction().expect("begin");
    assert_eq!(m.state(), TxnState::InTransaction);
    assert_eq!(m.add_partition(tp("out", 1)), Ok(false));
    assert_eq!(m.add_partition(tp("out", 0)), Ok(false));
    assert!(!m.is_partition_ready(&tp("out", 0)));
    let out = m.poll_request(t0).expect("AddPartitionsToTxn");
    assert_eq!(out.versions, CLIENT_ADD_PARTITIONS_VERSIONS);
    assert_eq!(out.destination, txn());
    let TxnRequest::AddPartitionsToTxn(req) = &out.request else {
        panic!("{out:?}");
    };
    assert_eq!(req.v3_and_below_producer_id, 42);
    assert_eq!(
        req.v3_and_below_topics[0].partitions,
        [0, 1],
        "one request for both"
    );
    // Added while the first request is in flight: queued for the next one.
    assert_eq!(m.add_partition(tp("other", 0)), Ok(false));
    m.on_response(
        added("out", &[(0, ErrorCode::NONE), (1, ErrorCode::NONE)]),
        t0,
    )
    .expect("added");
    assert_eq!(
        m.poll_event(),
        Some(TxnEvent::PartitionsAdded(vec![tp("out", 0), tp("out", 1)]))
    );
    assert!(m.is_partition_ready(&tp("out", 1)));
    assert_eq!(
        m.add_partition(tp("out", 1)),
        Ok(true),
        "already in the transaction"
    );
    let next = m.poll_request(t0).expect("the second add");
    let TxnRequest::AddPartitionsToTxn(req) = &next.request else {
        panic!("{next:?}");
    };
    assert_eq!(req.v3_and_below_topics[0].name, "other");
    m.on_response(added("other", &[(0, ErrorCode::NONE)]), t0)
        .expect("added");
    m.commit().expect("commit");
    assert_eq!(m.state(), TxnState::Committing);
    let out = end_ok(&mut m, t0, true, (-1, -1));
    assert_eq!(
        out.versions,
        VersionRange::new(0, 4),
        "v1 stops EndTxn at v4"
    );
    assert_eq!(m.state(), TxnState::Ready);
    assert_eq!(m.producer_id_and_epoch(), (42, 0), "v1 keeps the epoch");
    let events: Vec<_> = std::iter::from_fn(|| m.poll_event()).collect();
    assert_eq!(events.last(), Some(&TxnEvent::Committed));
}

#[test]
fn v2_adds_partitions_implicitly_and_end_txn_bumps_the_epoch() {
    let t0 = Instant::now();
    let mut m = ready(t0);
    m.set_transaction_version(2);
    m.begin_transaction().expect("begin");
    assert!(m.is_v2());
    assert_eq!(m.add_partition(tp("out", 0)), Ok(true), "KIP-890: implicit");
    assert_eq!(m.poll_request(t0), None, "no AddPartitionsToTxn");
    let group = GroupMetadata {
        group_id: "g".into(),
        generation_id: 7,
        member_id: "m-1".into(),
        group_instance_id: Some("static".into()),
    };
    let offset = TxnOffset {
        partition: tp("in", 0),
        offset: 10,
        leader_epoch: 2,
        metadata: None,
    };
    m.send_offsets(vec![offset], group).expect("offsets");
    let out = m
        .poll_request(t0)
        .expect("TxnOffsetCommit without AddOffsetsToTxn");
    assert_eq!(out.destination, Destination::GroupCoordinator("g".into()));
    assert_eq!(out.versions, VersionRange::new(V2_VERSION, V2_VERSION));
    let TxnRequest::TxnOffsetCommit(req) = &out.request else {
        panic!("{out:?}");
    };
    assert_eq!(
        (req.generation_id_or_member_epoch, req.member_id.as_str()),
        (7, "m-1")
    );
    assert_eq!(req.group_instance_id.as_deref(), Some("static"));
    assert_eq!(req.topics[0].partitions[0].committed_offset, 10);
    assert_eq!(req.topics[0].partitions[0].committed_leader_epoch, 2);
    m.on_response(offsets_committed(ErrorCode::NONE), t0)
        .expect("committed");
    assert_eq!(m.poll_event(), Some(TxnEvent::OffsetsSent));
    m.commit().expect("commit");
    let out = end_ok(&mut m, t0, true, (42, 1));
    assert_eq!(out.destination, txn());
    assert_eq!(out.versions, VersionRange::new(5, 5));
    assert_eq!(m.producer_id_and_epoch(), (42, 1), "the bumped epoch");
    assert_eq!(m.poll_event(), Some(TxnEvent::Committed));
}

#[test]
fn v1_send_offsets_adds_the_group_then_commits_to_its_coordinator() {
    let t0 = Instant::now();
    let mut m = ready(t0);
    m.begin_transaction().expect("begin");
    let group = GroupMetadata {
        group_id: "g".into(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
    };
    m.send_offsets(Vec::new(), group).expect("offsets");
    let out = m.poll_request(t0).expect("AddOffsetsToTxn");
    let TxnRequest::AddOffsetsToTxn(req) = &out.request else {
        panic!("{out:?}");
    };
    assert_eq!((req.group_id.as_str(), req.producer_id), ("g", 42));
    assert_eq!(out.destination, txn());
    m.on_response(
        TxnResponse::AddOffsetsToTxn(AddOffsetsToTxnResponse::default()),
        t0,
    )
    .expect("added");
    let out = m.poll_request(t0).expect("TxnOffsetCommit");
    assert_eq!(out.destination, Destination::GroupCoordinator("g".into()));
    assert_eq!(out.versions, VersionRange::new(0, 4));
    m.on_response(offsets_committed(ErrorCode::NONE), t0)
        .expect("ok");
    m.abort().expect("abort");
    end_ok(&mut m, t0, false, (-1, -1));
    assert_eq!(m.state(), TxnState::Ready);
}

/// Begins a v1 transaction with one partition whose add is in flight.
pub(super) fn adding(t0: Instant) -> TransactionManager {
    let mut m = ready(t0);
    m.begin_transaction().expect("begin");
    assert_eq!(m.add_partition(tp("out", 0)), Ok(false));
    assert!(m.poll_request(t0).is_some());
    m
}

#[test]
fn not_coordinator_finds_the_coordinator_again_after_the_backoff() {
    for error in [
        ErrorCode::NOT_COORDINATOR,
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
    ] {
        let t0 = Instant::now();
        let mut m = adding(t0);
        m.on_response(added("out", &[(0, error)]), t0)
            .expect("answer");
        assert_eq!(m.state(), TxnState::InTransaction);
        assert_eq!(m.next_deadline(), Some(t0 + BACKOFF));
        assert_eq!(m.poll_request(t0 + BACKOFF / 2), None, "backing off");
        let again = m.poll_request(t0 + BACKOFF).expect("retry");
        assert_eq!(again.destination, txn());
        assert!(again.rediscover, "find the coordinator again: {error:?}");
        let TxnRequest::AddPartitionsToTxn(req) = &again.request else {
            panic!("{again:?}");
        };
        assert_eq!(req.v3_and_below_topics[0].partitions, [0]);
    }
}

#[test]
fn concurrent_transactions_and_loading_retry_the_same_coordinator() {
    for error in [
        ErrorCode::CONCURRENT_TRANSACTIONS,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
    ] {
        let t0 = Instant::now();
        let mut m = adding(t0);
        m.on_response(added("out", &[(0, error)]), t0)
            .expect("answer");
        assert_eq!(m.poll_request(t0), None);
        let again = m.poll_request(t0 + BACKOFF).expect("retry");
        assert_eq!(again.destination, txn(), "{error:?}");
        assert!(!again.rediscover, "the same coordinator: {error:?}");
        assert!(matches!(again.request, TxnRequest::AddPartitionsToTxn(_)));
    }
}

#[test]
fn init_retries_while_the_coordinator_loads() {
    let t0 = Instant::now();
    let mut m = manager();
    m.init_transactions().expect("init");
    m.poll_request(t0).expect("init");
    let loading = TxnResponse::InitProducerId(InitProducerIdResponse {
        error_code: ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        ..Default::default()
    });
    m.on_response(loading, t0).expect("answer");
    assert_eq!(m.state(), TxnState::Initializing);
    let again = m.poll_request(t0 + BACKOFF).expect("init again");
    assert!(matches!(again.request, TxnRequest::InitProducerId(_)));
    m.on_response(init_ok(1, 0), t0 + BACKOFF).expect("ok");
    assert_eq!(m.state(), TxnState::Ready);
}

#[test]
fn bump_epoch_sends_init_producer_id_with_the_current_id_and_epoch() {
    let t0 = Instant::now();
    let mut m = ready(t0);
    m.bump_epoch().expect("ready");
    assert_eq!(m.state(), TxnState::Initializing);
    let out = m.poll_request(t0).expect("InitProducerId");
    assert_eq!(out.destination, txn());
    let TxnRequest::InitProducerId(req) = &out.request else {
        panic!("{out:?}");
    };
    assert_eq!((req.producer_id, req.producer_epoch), (42, 0));
    m.on_response(init_ok(42, 1), t0).expect("fits");
    assert_eq!(m.state(), TxnState::Ready);
    assert_eq!(m.producer_id_and_epoch(), (42, 1));
    assert_eq!(
        m.poll_event(),
        Some(TxnEvent::Initialized {
            producer_id: 42,
            epoch: 1
        })
    );
    m.begin_transaction().expect("begin");
    assert!(matches!(
        m.bump_epoch(),
        Err(TxnError::InvalidTransition {
            state: TxnState::InTransaction,
            ..
        })
    ));
}
