//! The transactional producer against librdkafka's mock cluster, which
//! implements a transaction coordinator (v1: AddPartitionsToTxn,
//! AddOffsetsToTxn, TxnOffsetCommit, EndTxn) and lets a test inject error
//! codes into the next requests of an API. It writes no control markers
//! and keeps no aborted-transaction lists, so visibility is checked on the
//! real broker (tests/real_transactions.rs); here the injected errors are:
//!
//! - no fault: commit, abort (then the next transaction commits), offsets
//!   in a transaction;
//! - the coordinator unavailable or moved (COORDINATOR_NOT_AVAILABLE,
//!   NOT_COORDINATOR, and a real move of the coordinator): found again,
//!   the transaction commits;
//! - CONCURRENT_TRANSACTIONS: retried after the backoff, commits;
//! - PRODUCER_FENCED / INVALID_PRODUCER_EPOCH: fatal, names the id, API and
//!   broker, and the producer refuses further transactions;
//! - abortable errors (TxnOffsetCommit, a failed produce): the commit fails
//!   abortable, abort works, the next transaction commits;
//! - AddOffsetsToTxn / TxnOffsetCommit retried through CONCURRENT_TRANSACTIONS,
//!   NOT_COORDINATOR (the group coordinator looked up again) and
//!   COORDINATOR_LOAD_IN_PROGRESS; `close` ends an open transaction.
//!
//! Every case also checks what the mock recorded receiving (request
//! tracking), so a retry or a rediscovery is seen from the broker's side.
//!
//! Peer: librdkafka 2.12 mock cluster (`rdkafka_mock_handlers.c`).

#[path = "support/mock.rs"]
mod mock;
mod support;

use std::time::{Duration, Instant};

use kafkit::consumer::ConsumerGroupMetadata;
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord, TransactionProtocol};
use kafkit::protocol::{ApiKey, ErrorCode};
use kafkit::{ClientConfig, Error, TopicPartition};
use mock::Mock;
use rdkafka::mocking::MockCoordinator;
use rdkafka::types::{RDKafkaApiKey as Api, RDKafkaRespErr as E};

const TOPIC: &str = "txn";
const BACKOFF: Duration = Duration::from_millis(40);

/// A 3-broker mock with topic `txn` (2 partitions) and request tracking on.
fn mock() -> Mock {
    let mock = Mock::new(3);
    mock.cluster().create_topic(TOPIC, 2, 3).expect("topic");
    mock
}

async fn producer(mock: &Mock, id: &str) -> Producer {
    let client = ClientConfig::new([mock.bootstrap_servers()])
        .with_request_timeout(Duration::from_secs(5))
        .with_reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200));
    let config = ProducerConfig::default()
        .with_transactional_id(id)
        .with_transaction_timeout(Duration::from_secs(10))
        .with_retry_backoff(BACKOFF)
        .with_linger(Duration::from_millis(2));
    Producer::connect(client, config).await.expect("producer")
}

fn record(partition: i32, value: &str) -> ProducerRecord {
    ProducerRecord::new(TOPIC)
        .partition(partition)
        .value(value.to_owned())
}

/// How many requests of `api` the mock received (any broker).
fn count(mock: &Mock, api: ApiKey) -> usize {
    mock.requests().iter().filter(|(_, k)| *k == api.0).count()
}

/// The brokers that received `api`, in arrival order.
fn brokers_of(mock: &Mock, api: ApiKey) -> Vec<i32> {
    mock.requests()
        .iter()
        .filter(|(_, k)| *k == api.0)
        .map(|(b, _)| *b)
        .collect()
}

fn transaction_error(err: &Error) -> &kafkit::producer::TransactionError {
    match err {
        Error::Transaction(t) => t,
        other => panic!("a transaction error, got {other:?}"),
    }
}

/// One transaction: `values` to partition 0, then commit.
async fn commit(p: &Producer, values: &[&str]) {
    p.begin_transaction().await.expect("begin");
    p.send_all(values.iter().map(|v| record(0, v)))
        .await
        .expect("send");
    p.commit_transaction().await.expect("commit");
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.to_owned(),
        partition,
    }
}

fn group(id: &str) -> ConsumerGroupMetadata {
    ConsumerGroupMetadata {
        group_id: id.to_owned(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_abort_commit_and_offsets_without_faults() {
    let mock = mock();
    mock.start_request_tracking();
    let p = producer(&mock, "plain").await;
    p.init_transactions().await.expect("init");

    p.begin_transaction().await.expect("begin 1");
    assert_eq!(p.transaction_protocol(), Some(TransactionProtocol::V1));
    let sent = p
        .send_all([record(0, "a"), record(0, "b"), record(1, "c")])
        .await
        .expect("send 1");
    assert!(sent.iter().all(|r| r.offset >= 0));
    p.send_offsets_to_transaction([(tp(TOPIC, 0), 7)], &group("g-plain"))
        .await
        .expect("offsets");
    p.commit_transaction().await.expect("commit 1");

    p.begin_transaction().await.expect("begin 2");
    p.send_all([record(0, "x"), record(1, "y")])
        .await
        .expect("send 2");
    p.abort_transaction().await.expect("abort 2");

    commit(&p, &["d"]).await;
    p.close(Duration::from_secs(5)).await.expect("close");

    assert_eq!(count(&mock, ApiKey::INIT_PRODUCER_ID), 1);
    // v1: each transaction adds its partitions once, one request per first
    // send to a partition (2 + 2 + 1).
    assert_eq!(count(&mock, ApiKey::ADD_PARTITIONS_TO_TXN), 5);
    assert_eq!(count(&mock, ApiKey::ADD_OFFSETS_TO_TXN), 1);
    assert_eq!(count(&mock, ApiKey::TXN_OFFSET_COMMIT), 1);
    assert_eq!(count(&mock, ApiKey::END_TXN), 3, "commit, abort, commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_errors_are_retried_after_finding_the_coordinator_again() {
    let mock = mock();
    let cluster = mock.cluster();
    cluster.request_errors(
        Api::FindCoordinator,
        &[
            E::RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
            E::RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
        ],
    );
    cluster.request_errors(Api::InitProducerId, &[E::RD_KAFKA_RESP_ERR_NOT_COORDINATOR]);
    cluster.request_errors(
        Api::AddPartitionsToTxn,
        &[E::RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE],
    );
    cluster.request_errors(Api::EndTxn, &[E::RD_KAFKA_RESP_ERR_NOT_COORDINATOR]);
    mock.start_request_tracking();
    let p = producer(&mock, "moved").await;
    p.init_transactions()
        .await
        .expect("init despite the errors");
    commit(&p, &["a", "b"]).await;

    // Each error sent the producer back to FindCoordinator: 2 failed
    // lookups + the first good one + one after each of the 3 answers.
    assert_eq!(count(&mock, ApiKey::FIND_COORDINATOR), 6);
    assert_eq!(count(&mock, ApiKey::INIT_PRODUCER_ID), 2);
    assert_eq!(count(&mock, ApiKey::ADD_PARTITIONS_TO_TXN), 2);
    assert_eq!(count(&mock, ApiKey::END_TXN), 2);

    // A real move: the coordinator is now another broker; the old one
    // answers NOT_COORDINATOR and the producer follows.
    let old = *brokers_of(&mock, ApiKey::END_TXN)
        .last()
        .expect("an EndTxn");
    let new = if old == 3 { 1 } else { old + 1 };
    cluster
        .coordinator(MockCoordinator::Transaction("moved".into()), new)
        .expect("move the coordinator");
    mock.start_request_tracking();
    commit(&p, &["c"]).await;
    assert_eq!(
        brokers_of(&mock, ApiKey::ADD_PARTITIONS_TO_TXN),
        [old, new],
        "the old coordinator said NOT_COORDINATOR, the new one took it"
    );
    assert_eq!(count(&mock, ApiKey::FIND_COORDINATOR), 1);
    assert_eq!(brokers_of(&mock, ApiKey::END_TXN), [new]);
    p.close(Duration::from_secs(5)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transactions_is_retried_after_the_backoff() {
    let mock = mock();
    let p = producer(&mock, "concurrent").await;
    p.init_transactions().await.expect("init");
    let cluster = mock.cluster();
    let busy = [E::RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS; 3];
    cluster.request_errors(Api::AddPartitionsToTxn, &busy);
    cluster.request_errors(Api::EndTxn, &busy);
    mock.start_request_tracking();
    let started = Instant::now();
    commit(&p, &["a"]).await;
    let took = started.elapsed();
    assert_eq!(count(&mock, ApiKey::ADD_PARTITIONS_TO_TXN), 4);
    assert_eq!(count(&mock, ApiKey::END_TXN), 4);
    assert_eq!(
        count(&mock, ApiKey::FIND_COORDINATOR),
        0,
        "the coordinator did not move"
    );
    assert!(
        took >= BACKOFF * 6,
        "6 retries after a backoff each: {took:?}"
    );
    p.close(Duration::from_secs(5)).await.expect("close");
}

/// The fatal error's details, and that the producer refuses to go on.
async fn assert_fenced(p: &Producer, err: &Error, id: &str, api: ApiKey, code: ErrorCode) {
    let t = transaction_error(err);
    assert!(t.is_fatal() && t.is_fenced(), "{err}");
    assert_eq!(t.transactional_id, id);
    assert_eq!(t.api, Some(api), "{err}");
    assert_eq!(t.code, Some(code), "{err}");
    assert!(t.broker.is_some(), "names the broker: {err}");
    let text = err.to_string();
    assert!(text.contains(id), "{text}");
    assert!(text.contains(t.broker.as_deref().unwrap_or("?")), "{text}");
    let again = p.begin_transaction().await.expect_err("unusable");
    assert!(transaction_error(&again).is_fatal(), "{again}");
    let refused = p.commit_transaction().await.expect_err("unusable");
    assert!(transaction_error(&refused).is_fatal(), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_fenced_on_end_txn_is_fatal() {
    let mock = mock();
    let p = producer(&mock, "fenced-end").await;
    p.init_transactions().await.expect("init");
    mock.cluster()
        .request_errors(Api::EndTxn, &[E::RD_KAFKA_RESP_ERR_PRODUCER_FENCED]);
    mock.start_request_tracking();
    p.begin_transaction().await.expect("begin");
    p.send(record(0, "a")).await.expect("send");
    let err = p.commit_transaction().await.expect_err("fenced");
    assert_fenced(
        &p,
        &err,
        "fenced-end",
        ApiKey::END_TXN,
        ErrorCode::PRODUCER_FENCED,
    )
    .await;
    assert_eq!(count(&mock, ApiKey::END_TXN), 1, "not retried");
    let _ = p.close(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_producer_epoch_on_add_partitions_is_fatal() {
    let mock = mock();
    let p = producer(&mock, "fenced-add").await;
    p.init_transactions().await.expect("init");
    mock.cluster().request_errors(
        Api::AddPartitionsToTxn,
        &[E::RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH],
    );
    mock.start_request_tracking();
    p.begin_transaction().await.expect("begin");
    let err = p.send(record(1, "a")).await.expect_err("fenced");
    assert_fenced(
        &p,
        &err,
        "fenced-add",
        ApiKey::ADD_PARTITIONS_TO_TXN,
        ErrorCode::INVALID_PRODUCER_EPOCH,
    )
    .await;
    assert_eq!(
        count(&mock, ApiKey::ADD_PARTITIONS_TO_TXN),
        1,
        "not retried"
    );
    assert_eq!(count(&mock, ApiKey::PRODUCE), 0, "nothing written");
    let _ = p.close(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abortable_txn_offset_commit_then_abort_then_commit() {
    let mock = mock();
    let p = producer(&mock, "abortable-offsets").await;
    p.init_transactions().await.expect("init");
    mock.cluster().request_errors(
        Api::TxnOffsetCommit,
        &[E::RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID],
    );
    mock.start_request_tracking();
    p.begin_transaction().await.expect("begin");
    p.send(record(0, "a")).await.expect("send");
    let err = p
        .send_offsets_to_transaction([(tp(TOPIC, 0), 3)], &group("g-ab"))
        .await
        .expect_err("the group rejected the offsets");
    let t = transaction_error(&err);
    assert!(t.is_abortable(), "{err}");
    assert_eq!(t.api, Some(ApiKey::TXN_OFFSET_COMMIT), "{err}");
    assert_eq!(t.code, Some(ErrorCode::UNKNOWN_MEMBER_ID), "{err}");
    let refused = p.commit_transaction().await.expect_err("cannot commit");
    assert!(transaction_error(&refused).is_abortable(), "{refused}");
    assert_eq!(count(&mock, ApiKey::END_TXN), 0, "no EndTxn(commit) sent");
    p.abort_transaction().await.expect("abort");
    assert_eq!(count(&mock, ApiKey::END_TXN), 1);
    commit(&p, &["b"]).await;
    assert_eq!(count(&mock, ApiKey::END_TXN), 2);
    p.close(Duration::from_secs(5)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_produce_makes_the_commit_abortable() {
    let mock = mock();
    let p = producer(&mock, "abortable-produce").await;
    p.init_transactions().await.expect("init");
    mock.cluster().request_errors(
        Api::Produce,
        &[E::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED],
    );
    mock.start_request_tracking();
    p.begin_transaction().await.expect("begin");
    let sent = p.send(record(0, "a")).await;
    assert!(sent.is_err(), "the record failed: {sent:?}");
    let err = p.commit_transaction().await.expect_err("cannot commit");
    let t = transaction_error(&err);
    assert!(t.is_abortable(), "{err}");
    assert_eq!(t.partition, Some((TOPIC.to_owned(), 0)), "{err}");
    assert_eq!(count(&mock, ApiKey::END_TXN), 0, "no EndTxn(commit) sent");
    p.abort_transaction().await.expect("abort");
    // The failed record took its sequence number with it: the abort asks
    // for a new epoch (InitProducerId with the current id, KIP-360).
    assert_eq!(count(&mock, ApiKey::INIT_PRODUCER_ID), 1);
    commit(&p, &["b", "c"]).await;
    assert_eq!(count(&mock, ApiKey::END_TXN), 2, "abort, then commit");
    p.close(Duration::from_secs(5)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_are_retried_through_group_coordinator_errors() {
    let mock = mock();
    let p = producer(&mock, "offsets-retried").await;
    p.init_transactions().await.expect("init");
    let cluster = mock.cluster();
    cluster.request_errors(
        Api::AddOffsetsToTxn,
        &[E::RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS],
    );
    cluster.request_errors(
        Api::TxnOffsetCommit,
        &[
            E::RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
            E::RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
        ],
    );
    mock.start_request_tracking();
    p.begin_transaction().await.expect("begin");
    p.send(record(0, "a")).await.expect("send");
    p.send_offsets_to_transaction([(tp(TOPIC, 1), 4)], &group("g-retried"))
        .await
        .expect("offsets despite the errors");
    p.commit_transaction().await.expect("commit");
    assert_eq!(count(&mock, ApiKey::ADD_OFFSETS_TO_TXN), 2);
    assert_eq!(count(&mock, ApiKey::TXN_OFFSET_COMMIT), 3);
    // The group coordinator was looked up, then again after NOT_COORDINATOR
    // (a coordinator still loading is asked again without a lookup).
    assert_eq!(count(&mock, ApiKey::FIND_COORDINATOR), 2);
    p.close(Duration::from_secs(5)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_aborts_the_open_transaction() {
    let mock = mock();
    let p = producer(&mock, "closed-open").await;
    p.init_transactions().await.expect("init");
    mock.start_request_tracking();
    p.begin_transaction().await.expect("begin");
    p.send(record(1, "never committed")).await.expect("send");
    p.close(Duration::from_secs(5)).await.expect("close");
    // The mock's record has no request body, so the abort flag itself is
    // not checked here (tests/real_transactions.rs reads what became visible).
    assert_eq!(
        count(&mock, ApiKey::END_TXN),
        1,
        "the transaction ended on close"
    );
}
