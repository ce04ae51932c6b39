//! The transactional producer on real Apache Kafka 4.4.0, once per
//! transaction protocol: a node formatted with `transaction.version=1`
//! (AddPartitionsToTxn, AddOffsetsToTxn, EndTxn v4; the protocol of Kafka
//! 3.x and Redpanda) and one with `transaction.version=2` (KIP-890: Produce
//! v12 adds the partition, EndTxn v5 bumps the epoch).
//!
//! - commit, abort, commit: read_committed readers (kafkit and the Java
//!   client) see the committed records only, read_uncommitted sees all of
//!   them with the control records' offsets skipped; the offsets sent with
//!   the committed transaction are what OffsetFetch returns, the aborted
//!   transaction's are not;
//! - the Java client's transactional producer (commits and aborts) read by
//!   kafkit: read_committed sees the committed records, read_uncommitted
//!   every data record, and the positions end past the last marker;
//! - fencing: a second producer with the same transactional id fences the
//!   first, whose commit fails with a fatal fenced error and whose open
//!   transaction never becomes visible.
//!
//! Peers: Apache Kafka 4.4.0 (one node per protocol, owned by this test
//! process), kafka-clients 4.4.0 (`tests/interop/java/Peer.java`).

mod support;

use std::sync::OnceLock;
use std::time::Duration;

use kafkit::consumer::{ConsumerConfig, ConsumerGroupMetadata, IsolationLevel};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord, TransactionProtocol};
use kafkit::{Error, TopicPartition};
use support::kafka::{self, Cluster};
use support::real::{admin, client, create_topics, read_topic, text, tp};

/// One node per `transaction.version`, started once per test process
/// (stopped when the process exits: `--watch`).
fn node(version: u8) -> Option<&'static str> {
    static V1: OnceLock<Option<Cluster>> = OnceLock::new();
    static V2: OnceLock<Option<Cluster>> = OnceLock::new();
    let cell = if version == 1 { &V1 } else { &V2 };
    let v = version.to_string();
    cell.get_or_init(|| {
        kafka::can_start().then(|| Cluster::start(1, &["--transaction-version", &v]))
    })
    .as_ref()
    .map(|c| c.bootstrap.as_str())
}

fn protocol(version: u8) -> TransactionProtocol {
    if version == 1 {
        TransactionProtocol::V1
    } else {
        TransactionProtocol::V2
    }
}

async fn producer(bootstrap: &str, id: &str) -> Producer {
    let config = ProducerConfig::default()
        .with_transactional_id(id)
        .with_transaction_timeout(Duration::from_secs(20))
        .with_linger(Duration::from_millis(2));
    Producer::connect(client(bootstrap), config)
        .await
        .expect("producer")
}

fn record(topic: &str, partition: i32, value: &str) -> ProducerRecord {
    ProducerRecord::new(topic)
        .partition(partition)
        .value(value.to_owned())
}

/// The group's committed offset of `tp`, once the broker has settled it
/// (markers are written after EndTxn answers).
async fn committed(
    bootstrap: &str,
    group: &str,
    at: &TopicPartition,
    want: Option<i64>,
) -> Option<i64> {
    let admin = admin(bootstrap).await;
    let mut got = None;
    for _ in 0..50 {
        let answer = admin
            .committed_offsets(group, std::slice::from_ref(at))
            .await
            .expect("offset fetch");
        got = answer
            .into_iter()
            .next()
            .and_then(|(_, r)| r.ok())
            .flatten();
        if got == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    admin.close();
    got
}

/// Commit (3 records on partition 0, 1 on partition 1, offsets 5), abort
/// (2 records, offsets 9), commit (1 record): who sees what.
async fn commit_abort_commit(version: u8) {
    let Some(bootstrap) = node(version) else {
        return;
    };
    let topic = kafka::unique(&format!("txn-v{version}"));
    let input = kafka::unique(&format!("txn-in-v{version}"));
    create_topics(bootstrap, &[(&topic, 2), (&input, 1)], 1).await;
    let group = kafka::unique("txn-group");
    let meta = ConsumerGroupMetadata {
        group_id: group.clone(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
    };
    let consumed = tp(&input, 0);
    let p = producer(bootstrap, &kafka::unique("txn-id")).await;
    assert!(p.transaction_protocol().is_none(), "before begin");
    p.init_transactions().await.expect("init");

    p.begin_transaction().await.expect("begin 1");
    assert_eq!(p.transaction_protocol(), Some(protocol(version)));
    let sent = p
        .send_all(
            ["c1-a", "c1-b", "c1-c"]
                .into_iter()
                .map(|v| record(&topic, 0, v))
                .chain([record(&topic, 1, "c1-p1")]),
        )
        .await
        .expect("send 1");
    p.send_offsets_to_transaction([(consumed.clone(), 5)], &meta)
        .await
        .expect("offsets 1");
    p.commit_transaction().await.expect("commit 1");
    assert_eq!(
        committed(bootstrap, &group, &consumed, Some(5)).await,
        Some(5)
    );

    p.begin_transaction().await.expect("begin 2");
    p.send_all(["a-a", "a-b"].into_iter().map(|v| record(&topic, 0, v)))
        .await
        .expect("send 2");
    p.send_offsets_to_transaction([(consumed.clone(), 9)], &meta)
        .await
        .expect("offsets 2");
    p.abort_transaction().await.expect("abort 2");

    p.begin_transaction().await.expect("begin 3");
    p.send(record(&topic, 0, "c2")).await.expect("send 3");
    p.commit_transaction().await.expect("commit 3");
    p.close(Duration::from_secs(10)).await.expect("close");
    assert_eq!(
        committed(bootstrap, &group, &consumed, Some(5)).await,
        Some(5),
        "the aborted transaction's offsets are dropped"
    );

    let config = ConsumerConfig::default().with_isolation_level(IsolationLevel::ReadCommitted);
    let read = read_topic(bootstrap, &topic, 5, config).await;
    let p0: Vec<(i64, String)> = read
        .iter()
        .filter(|((p, _), _)| *p == 0)
        .map(|((_, o), r)| (*o, text(r.value.as_ref())))
        .collect();
    let values: Vec<&str> = p0.iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(values, ["c1-a", "c1-b", "c1-c", "c2"], "read_committed");
    assert_eq!(p0[0].0, sent[0].offset);
    // c1-a..c at 0..2, the commit marker at 3, a-a/a-b at 4-5, the abort
    // marker at 6, c2 at 7.
    assert_eq!(
        p0[3].0,
        p0[2].0 + 5,
        "the aborted records and two markers between"
    );

    let config = ConsumerConfig::default().with_isolation_level(IsolationLevel::ReadUncommitted);
    let read = read_topic(bootstrap, &topic, 7, config).await;
    let p0: Vec<(i64, String)> = read
        .iter()
        .filter(|((p, _), _)| *p == 0)
        .map(|((_, o), r)| (*o, text(r.value.as_ref())))
        .collect();
    let start = p0[0].0;
    let expected: Vec<(i64, String)> = [
        (0, "c1-a"),
        (1, "c1-b"),
        (2, "c1-c"),
        (4, "a-a"),
        (5, "a-b"),
        (7, "c2"),
    ]
    .into_iter()
    .map(|(o, v)| (start + o, v.to_owned()))
    .collect();
    assert_eq!(
        p0, expected,
        "read_uncommitted: every record, no control record"
    );

    // The node runs, so java does too.
    {
        let lines = support::java::run(&["consume-committed", bootstrap, &topic, "5"]);
        let mut java: Vec<(String, String)> = lines
            .iter()
            .filter(|l| l.first().map(String::as_str) == Some("rec"))
            .map(|l| (l[1].clone(), l[4].clone()))
            .collect();
        java.sort();
        let want: Vec<(String, String)> = [
            ("0", "c1-a"),
            ("0", "c1-b"),
            ("0", "c1-c"),
            ("0", "c2"),
            ("1", "c1-p1"),
        ]
        .into_iter()
        .map(|(p, v)| (p.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(java, want, "the Java client, read_committed");
    }
}

/// A second producer with the same id fences the first mid-transaction.
async fn fencing(version: u8) {
    let Some(bootstrap) = node(version) else {
        return;
    };
    let topic = kafka::unique(&format!("txn-fence-v{version}"));
    create_topics(bootstrap, &[(&topic, 1)], 1).await;
    let id = kafka::unique("txn-fenced");
    let zombie = producer(bootstrap, &id).await;
    zombie.init_transactions().await.expect("init zombie");
    zombie.begin_transaction().await.expect("begin zombie");
    zombie
        .send(record(&topic, 0, "zombie"))
        .await
        .expect("written, not committed");

    let fresh = producer(bootstrap, &id).await;
    fresh
        .init_transactions()
        .await
        .expect("init fences the zombie");

    let err = zombie.commit_transaction().await.expect_err("fenced");
    let Error::Transaction(t) = &err else {
        panic!("a transaction error: {err:?}");
    };
    assert!(t.is_fatal() && t.is_fenced(), "{err}");
    assert_eq!(t.transactional_id, id);
    assert!(t.api.is_some(), "names the API: {err}");
    let again = zombie.begin_transaction().await.expect_err("unusable");
    assert!(
        matches!(&again, Error::Transaction(t) if t.is_fatal()),
        "{again}"
    );
    let _ = zombie.close(Duration::from_secs(5)).await;

    fresh.begin_transaction().await.expect("begin fresh");
    fresh.send(record(&topic, 0, "fresh")).await.expect("send");
    fresh.commit_transaction().await.expect("commit fresh");
    fresh.close(Duration::from_secs(10)).await.expect("close");

    let config = ConsumerConfig::default().with_isolation_level(IsolationLevel::ReadCommitted);
    let read = read_topic(bootstrap, &topic, 1, config).await;
    let values: Vec<String> = read.values().map(|r| text(r.value.as_ref())).collect();
    assert_eq!(values, ["fresh"], "nothing of the fenced transaction");
}

#[tokio::test]
async fn v1_commit_abort_commit_visibility_and_offsets() {
    commit_abort_commit(1).await;
}

#[tokio::test]
async fn v2_commit_abort_commit_visibility_and_offsets() {
    commit_abort_commit(2).await;
}

#[tokio::test]
async fn v1_a_second_producer_fences_the_first() {
    fencing(1).await;
}

#[tokio::test]
async fn v2_a_second_producer_fences_the_first() {
    fencing(2).await;
}

/// Offsets sent with a live group member's metadata (KIP-447): committed
/// with the transaction; a generation the group does not have makes the
/// transaction abortable, and the producer carries on after the abort.
async fn offsets_with_group_metadata(version: u8) {
    let Some(bootstrap) = node(version) else {
        return;
    };
    let input = kafka::unique(&format!("txn-meta-in-v{version}"));
    let output = kafka::unique(&format!("txn-meta-out-v{version}"));
    create_topics(bootstrap, &[(&input, 1), (&output, 1)], 1).await;
    let plain = Producer::connect(client(bootstrap), ProducerConfig::default())
        .await
        .expect("producer");
    plain
        .send_all((0..3).map(|i| record(&input, 0, &format!("in-{i}"))))
        .await
        .expect("input");
    plain.close(Duration::from_secs(5)).await.expect("close");

    let group = kafka::unique("txn-meta-group");
    let mut consumer = kafkit::consumer::Consumer::connect(
        client(bootstrap),
        support::real::group_config(&group).with_auto_commit(false),
    )
    .await
    .expect("consumer");
    consumer.subscribe(&[&input]).expect("subscribe");
    support::real::next_records(&mut consumer, 3).await;
    let meta = consumer.group_metadata().expect("a group consumer");
    assert_eq!(meta.group_id, group);
    assert!(meta.generation_id >= 1, "{meta:?}");
    assert!(!meta.member_id.is_empty(), "{meta:?}");

    let p = producer(bootstrap, &kafka::unique("txn-meta-id")).await;
    p.init_transactions().await.expect("init");
    p.begin_transaction().await.expect("begin");
    p.send(record(&output, 0, "out")).await.expect("send");
    let consumed = tp(&input, 0);
    p.send_offsets_to_transaction([(consumed.clone(), 3)], &meta)
        .await
        .expect("offsets with the member's generation");
    p.commit_transaction().await.expect("commit");
    assert_eq!(
        committed(bootstrap, &group, &consumed, Some(3)).await,
        Some(3)
    );

    let stale = ConsumerGroupMetadata {
        generation_id: meta.generation_id + 5,
        ..meta.clone()
    };
    p.begin_transaction().await.expect("begin 2");
    let err = p
        .send_offsets_to_transaction([(consumed.clone(), 1)], &stale)
        .await
        .expect_err("a generation the group does not have");
    assert!(
        matches!(&err, Error::Transaction(t) if t.is_abortable()),
        "{err}"
    );
    let commit = p.commit_transaction().await.expect_err("must abort");
    assert!(
        matches!(&commit, Error::Transaction(t) if t.is_abortable()),
        "{commit}"
    );
    p.abort_transaction().await.expect("abort");
    p.begin_transaction().await.expect("usable after the abort");
    p.send(record(&output, 0, "after")).await.expect("send");
    p.commit_transaction().await.expect("commit 3");
    p.close(Duration::from_secs(10)).await.expect("close");
    assert_eq!(
        committed(bootstrap, &group, &consumed, Some(3)).await,
        Some(3)
    );
    consumer.close().await.expect("close consumer");

    let config = ConsumerConfig::default().with_isolation_level(IsolationLevel::ReadCommitted);
    let read = read_topic(bootstrap, &output, 2, config).await;
    let values: Vec<String> = read.values().map(|r| text(r.value.as_ref())).collect();
    assert_eq!(values, ["out", "after"]);
}

#[tokio::test]
async fn v1_offsets_with_the_consumer_group_metadata() {
    offsets_with_group_metadata(1).await;
}

#[tokio::test]
async fn v2_offsets_with_the_consumer_group_metadata() {
    offsets_with_group_metadata(2).await;
}

/// The Java client's transactional producer (kafka-clients 4.4.0, which
/// picks v1 or v2 from the cluster as kafkit does) commits some
/// transactions and aborts others on a 2-partition topic, the last one
/// aborted. kafkit's read_committed consumer sees exactly the committed
/// records, in order per partition; its read_uncommitted consumer sees every
/// data record and no control record; both end with their fetch positions
/// at the high watermark, past the last (abort) marker.
async fn java_transactions_read_by_kafkit(version: u8) {
    let Some(bootstrap) = node(version) else {
        return;
    };
    let topic = kafka::unique(&format!("txn-java-v{version}"));
    create_topics(bootstrap, &[(&topic, 2)], 1).await;
    let id = kafka::unique("txn-java-id");
    let lines = support::java::run(&["txn-produce", bootstrap, &topic, &id, "c3,a2,c2,a3,c1,a2"]);
    let outcomes: Vec<String> = lines
        .iter()
        .filter(|l| l.first().map(String::as_str) == Some("txn"))
        .map(|l| l[2].clone())
        .collect();
    assert_eq!(
        outcomes,
        ["commit", "abort", "commit", "abort", "commit", "abort"]
    );

    // Record i of transaction t went to partition i % 2.
    let committed_p0 = ["t0-c-0", "t0-c-2", "t2-c-0", "t4-c-0"];
    let committed_p1 = ["t0-c-1", "t2-c-1"];
    let all_p0 = [
        "t0-c-0", "t0-c-2", "t1-a-0", "t2-c-0", "t3-a-0", "t3-a-2", "t4-c-0", "t5-a-0",
    ];
    let all_p1 = ["t0-c-1", "t1-a-1", "t2-c-1", "t3-a-1", "t5-a-1"];
    for (isolation, p0, p1) in [
        (
            IsolationLevel::ReadCommitted,
            &committed_p0[..],
            &committed_p1[..],
        ),
        (IsolationLevel::ReadUncommitted, &all_p0[..], &all_p1[..]),
    ] {
        let config = ConsumerConfig::default()
            .from_beginning()
            .with_isolation_level(isolation)
            .with_fetch_max_wait(Duration::from_millis(100));
        let mut consumer = kafkit::consumer::Consumer::connect(client(bootstrap), config)
            .await
            .expect("consumer");
        consumer.assign_topic(&topic).await.expect("assign");
        let read = support::real::next_records_of(&mut consumer, p0.len() + p1.len(), &topic).await;
        support::real::assert_no_more(&mut consumer, Duration::from_millis(500)).await;
        for (partition, want) in [(0, p0), (1, p1)] {
            let got: Vec<(i64, String)> = read
                .iter()
                .filter(|r| r.partition == partition)
                .map(|r| (r.offset, text(r.value.as_ref())))
                .collect();
            let values: Vec<&str> = got.iter().map(|(_, v)| v.as_str()).collect();
            assert_eq!(values, want, "{isolation:?}, partition {partition}");
            assert!(
                got.windows(2).all(|w| w[0].0 < w[1].0),
                "offsets increase: {got:?}"
            );
        }
        // Partition 0 ends with the abort marker of t5 at 13, partition 1
        // with t5's at 9: the positions move past them.
        let mut positions = Default::default();
        for _ in 0..50 {
            positions = consumer.positions().await.expect("positions");
            let at_end = |p: i32| {
                positions
                    .get(&tp(&topic, p))
                    .is_some_and(|(pos, hw)| *pos == Some(*hw))
            };
            if at_end(0) && at_end(1) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            positions.get(&tp(&topic, 0)),
            Some(&(Some(14), 14)),
            "{isolation:?}: {positions:?}"
        );
        assert_eq!(
            positions.get(&tp(&topic, 1)),
            Some(&(Some(10), 10)),
            "{isolation:?}: {positions:?}"
        );
        consumer.close().await.expect("close");
    }
}

#[tokio::test]
async fn v1_java_transactions_read_by_kafkit() {
    java_transactions_read_by_kafkit(1).await;
}

#[tokio::test]
async fn v2_java_transactions_read_by_kafkit() {
    java_transactions_read_by_kafkit(2).await;
}
