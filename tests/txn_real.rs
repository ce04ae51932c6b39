//! The transaction state machine (`kafkit::producer::transaction`) driven by
//! hand against real Apache Kafka, before it is wired into the producer: a
//! small loop sends each request it asks for (at the highest version both the
//! machine's range and the broker's allow) and hands back the answer. Three
//! transactions on one partition, committed, aborted, committed, each with a
//! transactional batch from kafkit's record batch encoder; the first also
//! commits a group offset through the transaction. A read_committed kafkit
//! consumer sees the committed records and skips the aborted one; a
//! read_uncommitted one sees all three. A fourth transaction, offsets only,
//! uses transaction protocol v2 (TxnOffsetCommit v5, EndTxn v5 bumping the
//! epoch).
//!
//! Peer: Apache Kafka 4.4.0 (the run's shared node).

mod support;

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafkit::consumer::{Consumer, ConsumerConfig, IsolationLevel};
use kafkit::producer::transaction::{
    Destination, GroupMetadata, Outgoing, TransactionManager, TxnConfig, TxnEvent, TxnOffset,
    TxnRequest, TxnResponse, TxnState,
};
use kafkit::producer::TopicPartition;
use kafkit::protocol::messages::api_versions::ApiVersionsRequest;
use kafkit::protocol::messages::offset_fetch::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic,
};
use kafkit::protocol::messages::produce::{PartitionProduceData, ProduceRequest, TopicProduceData};
use kafkit::protocol::record::{BatchAttributes, BatchHeader, Record, RecordBatch};
use kafkit::protocol::{ErrorCode, Request, VersionRange};
use kafkit::ClientConfig;
use support::kafka;
use support::kafka_golden::Recorder;

const WAIT: Duration = Duration::from_secs(30);

/// The highest version of `R` in `allowed` the broker also supports.
fn version<R: Request>(rec: &Recorder, allowed: VersionRange) -> i16 {
    let theirs = rec.broker.get(&R::API_KEY.0).expect("listed");
    let ours = allowed
        .highest_common(&R::VERSIONS)
        .and_then(|hi| VersionRange::new(allowed.min, hi).highest_common(theirs));
    ours.unwrap_or_else(|| panic!("no common version of {:?} in {allowed:?}", R::API_KEY))
}

/// Looks up the coordinator the machine names (first time for a key, or
/// when it says the coordinator moved); on one node the answer is that
/// node, but the lookup also creates the coordinator's internal topic.
/// Returns the lookup's error, if any.
async fn find(
    rec: &mut Recorder,
    known: &mut std::collections::BTreeSet<String>,
    out: &Outgoing,
) -> Option<ErrorCode> {
    use kafkit::protocol::messages::find_coordinator::{
        FindCoordinatorRequest, KEY_TYPE_GROUP, KEY_TYPE_TRANSACTION,
    };
    let (key_type, key) = match &out.destination {
        Destination::TransactionCoordinator(k) => (KEY_TYPE_TRANSACTION, k),
        Destination::GroupCoordinator(k) => (KEY_TYPE_GROUP, k),
    };
    let tag = format!("{key_type}/{key}");
    if known.contains(&tag) && !out.rediscover {
        return None;
    }
    let v = version::<FindCoordinatorRequest>(
        rec,
        <FindCoordinatorRequest as kafkit::protocol::Message>::VERSIONS,
    );
    let req = FindCoordinatorRequest::for_key(key_type, key, v);
    let found = rec.call_at("find-coordinator", &req, v).await;
    let code = found.coordinator_for(key).error_code;
    if code.is_ok() {
        known.insert(tag);
        return None;
    }
    Some(code)
}

/// Sends one request the machine asked for; returns the answer for it.
async fn send(rec: &mut Recorder, out: &Outgoing) -> TxnResponse {
    let allowed = out.versions;
    match &out.request {
        TxnRequest::InitProducerId(req) => {
            let v = version::<kafkit::protocol::messages::init_producer_id::InitProducerIdRequest>(
                rec, allowed,
            );
            TxnResponse::InitProducerId(rec.call_at("init-producer-id", req, v).await)
        }
        TxnRequest::AddPartitionsToTxn(req) => {
            let v = version::<
                kafkit::protocol::messages::add_partitions_to_txn::AddPartitionsToTxnRequest,
            >(rec, allowed);
            assert!(v <= 3, "a client sends AddPartitionsToTxn v0-3");
            TxnResponse::AddPartitionsToTxn(rec.call_at("add-partitions", req, v).await)
        }
        TxnRequest::AddOffsetsToTxn(req) => {
            let v = version::<kafkit::protocol::messages::add_offsets_to_txn::AddOffsetsToTxnRequest>(
                rec, allowed,
            );
            TxnResponse::AddOffsetsToTxn(rec.call_at("add-offsets", req, v).await)
        }
        TxnRequest::TxnOffsetCommit(req) => {
            let v = version::<kafkit::protocol::messages::txn_offset_commit::TxnOffsetCommitRequest>(
                rec, allowed,
            );
            TxnResponse::TxnOffsetCommit(rec.call_at("txn-offset-commit", req, v).await)
        }
        TxnRequest::EndTxn(req) => {
            let v = version::<kafkit::protocol::messages::end_txn::EndTxnRequest>(rec, allowed);
            TxnResponse::EndTxn(rec.call_at("end-txn", req, v).await)
        }
        other => panic!("a request the loop does not know: {other:?}"),
    }
}

/// Runs the machine until `done` accepts an event; returns the events seen.
async fn drive(
    rec: &mut Recorder,
    m: &mut TransactionManager,
    done: impl Fn(&TxnEvent) -> bool,
) -> Vec<TxnEvent> {
    let deadline = Instant::now() + WAIT;
    let mut events = Vec::new();
    let mut known = std::collections::BTreeSet::new();
    loop {
        while let Some(event) = m.poll_event() {
            let finished = done(&event);
            events.push(event);
            if finished {
                return events;
            }
        }
        assert!(
            Instant::now() < deadline,
            "stuck in {:?}: {events:?}",
            m.state()
        );
        match m.poll_request(Instant::now()) {
            Some(out) => {
                if let Some(code) = find(rec, &mut known, &out).await {
                    m.on_coordinator_error(code, Instant::now());
                    continue;
                }
                let answer = send(rec, &out).await;
                m.on_response(answer, Instant::now())
                    .expect("the answer fits");
            }
            None => {
                let until = m.next_deadline().unwrap_or_else(Instant::now);
                let wait = until.saturating_duration_since(Instant::now());
                tokio::time::sleep(wait.max(Duration::from_millis(5))).await;
            }
        }
    }
}

/// A transactional batch of one record at `sequence`.
fn batch(m: &TransactionManager, sequence: i32, value: &str) -> Bytes {
    let (producer_id, producer_epoch) = m.producer_id_and_epoch();
    let batch = RecordBatch {
        header: BatchHeader {
            attributes: BatchAttributes {
                transactional: true,
                ..Default::default()
            },
            base_timestamp: 1_765_000_000_000,
            max_timestamp: 1_765_000_000_000,
            producer_id,
            producer_epoch,
            base_sequence: sequence,
            ..Default::default()
        },
        records: vec![Record {
            value: Some(Bytes::from(value.to_string())),
            ..Default::default()
        }],
    };
    let mut bytes = BytesMut::new();
    batch.encode(&mut bytes).expect("encode");
    bytes.freeze()
}

/// What the transactions write to.
struct Target {
    txn_id: String,
    tp: TopicPartition,
    group: String,
}

/// One transaction writing `value` (at `sequence`) to the target partition
/// and committing the group's `offset` of partition 1 with it; commits or
/// aborts. Returns the record's offset.
async fn transaction(
    rec: &mut Recorder,
    m: &mut TransactionManager,
    to: &Target,
    (sequence, value): (i32, &str),
    offset: i64,
    commit: bool,
) -> i64 {
    m.begin_transaction().expect("begin");
    assert_eq!(m.add_partition(to.tp.clone()), Ok(false), "v1: added first");
    let events = drive(rec, m, |e| matches!(e, TxnEvent::PartitionsAdded(_))).await;
    assert_eq!(events, [TxnEvent::PartitionsAdded(vec![to.tp.clone()])]);
    assert!(m.is_partition_ready(&to.tp));
    let produce = ProduceRequest {
        transactional_id: Some(to.txn_id.clone()),
        acks: -1,
        timeout_ms: 10_000,
        topic_data: vec![TopicProduceData {
            name: to.tp.topic.clone(),
            partition_data: vec![PartitionProduceData {
                index: to.tp.partition,
                records: Some(batch(m, sequence, value)),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let resp = rec
        .call_until(
            "produce",
            &produce,
            support::kafka_scenario::produce_settled,
        )
        .await;
    let p = &resp.responses[0].partition_responses[0];
    assert_eq!(
        p.error_code,
        ErrorCode::NONE,
        "transactional produce: {resp:?}"
    );
    let written = p.base_offset;
    let offsets = vec![TxnOffset {
        partition: TopicPartition {
            topic: to.tp.topic.clone(),
            partition: 1,
        },
        offset,
        leader_epoch: -1,
        metadata: Some(value.to_string()),
    }];
    let meta = GroupMetadata {
        group_id: to.group.clone(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
    };
    m.send_offsets(offsets, meta).expect("offsets");
    let events = drive(rec, m, |e| *e == TxnEvent::OffsetsSent).await;
    assert_eq!(events, [TxnEvent::OffsetsSent]);
    if commit {
        m.commit().expect("commit");
        drive(rec, m, |e| *e == TxnEvent::Committed).await;
    } else {
        m.abort().expect("abort");
        drive(rec, m, |e| *e == TxnEvent::Aborted).await;
    }
    assert_eq!(m.state(), TxnState::Ready);
    written
}

/// The group's committed offset of partition 1 (stable: no open transaction).
async fn committed_offset(rec: &mut Recorder, to: &Target) -> (i64, Option<String>) {
    let fetch = OffsetFetchRequest {
        groups: vec![OffsetFetchRequestGroup {
            group_id: to.group.clone(),
            member_epoch: -1,
            topics: Some(vec![OffsetFetchRequestTopic {
                name: to.tp.topic.clone(),
                partition_indexes: vec![1],
                ..Default::default()
            }]),
            ..Default::default()
        }],
        require_stable: true,
        ..Default::default()
    };
    let fetched = rec
        .call_until("offset-fetch", &fetch, |r| {
            // The markers are written after EndTxn answers.
            let mut partitions = r
                .groups
                .iter()
                .flat_map(|g| &g.topics)
                .flat_map(|t| &t.partitions);
            partitions.all(|p| p.error_code != ErrorCode::UNSTABLE_OFFSET_COMMIT)
        })
        .await;
    let p = &fetched.groups[0].topics[0].partitions[0];
    assert_eq!(p.error_code, ErrorCode::NONE, "{fetched:?}");
    (p.committed_offset, p.metadata.clone())
}

/// An offsets-only transaction with transaction protocol v2: TxnOffsetCommit
/// v5 without AddOffsetsToTxn, then EndTxn v5 (which bumps the epoch).
async fn v2_offsets_only(rec: &mut Recorder, m: &mut TransactionManager, to: &Target, level: i16) {
    m.set_transaction_version(level);
    m.begin_transaction().expect("begin");
    assert!(m.is_v2());
    let offsets = vec![TxnOffset {
        partition: TopicPartition {
            topic: to.tp.topic.clone(),
            partition: 1,
        },
        offset: 10,
        leader_epoch: -1,
        metadata: None,
    }];
    let meta = GroupMetadata {
        group_id: to.group.clone(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
    };
    m.send_offsets(offsets, meta).expect("offsets");
    m.commit().expect("commit");
    let events = drive(rec, m, |e| *e == TxnEvent::Committed).await;
    assert_eq!(events, [TxnEvent::OffsetsSent, TxnEvent::Committed]);
    assert_eq!(committed_offset(rec, to).await.0, 10);
}

/// The values a consumer at `isolation` reads from partition 0, up to `count`.
async fn read(
    bootstrap: &str,
    tp: &TopicPartition,
    isolation: IsolationLevel,
    count: usize,
) -> Vec<(i64, String)> {
    let config = ConsumerConfig::default().with_isolation_level(isolation);
    let mut consumer = Consumer::connect(ClientConfig::new([bootstrap]), config)
        .await
        .expect("consumer");
    consumer
        .assign(vec![(tp.clone(), Some(0))])
        .expect("assign");
    let mut got = Vec::new();
    while got.len() < count {
        let record = tokio::time::timeout(WAIT, consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("{isolation:?}: only {got:?} within 30 s"))
            .expect("open")
            .expect("record");
        let value =
            String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()).into_owned();
        got.push((record.offset, value));
    }
    got
}

#[tokio::test]
async fn the_state_machine_commits_and_aborts_on_a_real_broker() {
    let Some(k) = kafka::single() else { return };
    let addr = k.bootstrap.split(',').next().expect("a broker").to_string();
    let topic = kafka::unique("txn-real");
    let group = kafka::unique("txn-real-group");
    let txn_id = kafka::unique("txn-real-id");
    let mut rec = Recorder::connect(&addr).await;
    support::kafka_scenario::create_topic(&mut rec, &topic).await;
    let hello = ApiVersionsRequest {
        client_software_name: "kafkit".into(),
        client_software_version: "txn-real".into(),
        ..Default::default()
    };
    let features = rec.call("api-versions", &hello).await;
    let level = features
        .finalized_features
        .iter()
        .find(|f| f.name == "transaction.version")
        .map_or(0, |f| f.max_version);
    eprintln!("the broker's finalized transaction.version: {level}");
    // Transaction protocol v1 for the records: v2 adds partitions through
    // Produce v12, which kafkit does not implement yet.
    let mut m = TransactionManager::new(TxnConfig::new(txn_id.clone())).expect("config");
    m.set_transaction_version(1);
    m.init_transactions().expect("init");
    let events = drive(&mut rec, &mut m, |e| {
        matches!(e, TxnEvent::Initialized { .. })
    })
    .await;
    let (producer_id, epoch) = m.producer_id_and_epoch();
    assert_eq!(events, [TxnEvent::Initialized { producer_id, epoch }]);
    assert!(producer_id >= 0);

    let to = Target {
        txn_id,
        tp: TopicPartition {
            topic: topic.clone(),
            partition: 0,
        },
        group,
    };
    let c1 = transaction(&mut rec, &mut m, &to, (0, "committed 1"), 7, true).await;
    assert_eq!(
        committed_offset(&mut rec, &to).await,
        (7, Some("committed 1".into()))
    );
    let a1 = transaction(&mut rec, &mut m, &to, (1, "aborted"), 8, false).await;
    assert_eq!(
        committed_offset(&mut rec, &to).await,
        (7, Some("committed 1".into())),
        "the aborted transaction's offset commit is dropped"
    );
    let c2 = transaction(&mut rec, &mut m, &to, (2, "committed 2"), 9, true).await;
    assert_eq!(committed_offset(&mut rec, &to).await.0, 9);
    assert!(c1 < a1 && a1 < c2, "{c1} {a1} {c2}");
    assert_eq!(
        m.producer_id_and_epoch(),
        (producer_id, epoch),
        "v1 keeps the epoch"
    );

    // Transaction protocol v2 (a 4.4.0 broker finalizes transaction.version 2
    // by default) for an offsets-only transaction.
    if k.origin != "KAFKA_BROKERS" {
        assert!(
            level >= 2,
            "the rig's broker formats with transaction.version 2"
        );
    }
    if level >= 2 {
        v2_offsets_only(&mut rec, &mut m, &to, level).await;
        let bumped = (producer_id, epoch + 1);
        assert_eq!(
            m.producer_id_and_epoch(),
            bumped,
            "EndTxn v5 bumped the epoch (KIP-890)"
        );
    }

    let tp = &to.tp;
    let committed = read(&addr, tp, IsolationLevel::ReadCommitted, 2).await;
    assert_eq!(
        committed,
        [
            (c1, "committed 1".to_string()),
            (c2, "committed 2".to_string())
        ],
        "read_committed skips the aborted record"
    );
    let everything = read(&addr, tp, IsolationLevel::ReadUncommitted, 3).await;
    let values: Vec<&str> = everything.iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(values, ["committed 1", "aborted", "committed 2"]);
}
