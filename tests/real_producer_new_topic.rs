//! The idempotent producer (the default: acks=all, idempotence on) into a
//! topic created a moment earlier on real Apache Kafka: the first Produce
//! requests meet NOT_LEADER_OR_FOLLOWER while the partitions load. A broker
//! that knows nothing of the producer on a partition takes any first
//! sequence, so before the fix a batch pipelined behind a refused sequence-0
//! batch was written first and sequence 0 then failed with
//! OUT_OF_ORDER_SEQUENCE_NUMBER on every retry (records lost, and written out
//! of order). 32 partitions make that window wide enough to hit in most runs
//! (6 hit it in about one run in three). Every record must be acknowledged and
//! read back exactly once, at its acknowledged offset, in the order it was
//! sent per key.
//!
//! Peer: Apache Kafka 4.4.0 (KRaft), the run's shared single node and the
//! shared 3-node cluster.

use std::collections::BTreeMap;
use std::time::Duration;

use kafkit::admin::{Admin, NewTopic};
use kafkit::consumer::{Consumer, ConsumerConfig};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::ClientConfig;

mod support;
use support::kafka;

const PARTITIONS: i32 = 32;
const TASKS: usize = 4;
const PER_TASK: usize = 5000;
const ROUNDS: usize = 3;
/// About a hundred bytes a value, like the demo: many batches in flight.
const PAD: &str =
    "padding-padding-padding-padding-padding-padding-padding-padding-padding-padding-pad";

/// Creates a fresh topic and, without waiting for its leaders, produces
/// `TASKS * PER_TASK` keyed records from several tasks at once; returns
/// (partition, offset) per (task, index).
async fn produce_into_new_topic(
    bootstrap: &str,
    topic: &str,
    replication: i16,
) -> BTreeMap<(usize, usize), (i32, i64)> {
    let config = ClientConfig::new([bootstrap]);
    let admin = Admin::connect(config.clone())
        .await
        .expect("admin")
        .with_timeout(Duration::from_secs(30));
    let created = admin
        .create_topics(&[NewTopic::new(topic, PARTITIONS, replication)], false)
        .await
        .expect("CreateTopics");
    for (name, r) in created {
        r.unwrap_or_else(|e| panic!("create {name}: {e}"));
    }
    admin.close();

    let producer = Producer::connect(
        config,
        ProducerConfig::default().with_linger(Duration::from_millis(2)),
    )
    .await
    .expect("producer");
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let producer = producer.clone();
        let topic = topic.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut pending = Vec::with_capacity(PER_TASK);
            for i in 0..PER_TASK {
                let record = ProducerRecord::new(topic.as_str())
                    .key(format!("key-{task}-{}", i % 16))
                    .value(format!("{task}:{i}:{PAD}"));
                pending.push(producer.enqueue(record).await.expect("enqueue"));
            }
            let mut written = Vec::with_capacity(PER_TASK);
            for (i, p) in pending.into_iter().enumerate() {
                match p.await {
                    Ok(r) => written.push(((task, i), (r.partition, r.offset))),
                    Err(e) => panic!("record {task}:{i} not acknowledged: {e}"),
                }
            }
            written
        }));
    }
    let mut all = BTreeMap::new();
    for t in tasks {
        all.extend(t.await.expect("producing task"));
    }
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
    all
}

/// Reads the whole topic back; checks every acknowledged record is there
/// exactly once, at its acknowledged offset, and that each key's records
/// come in the order they were sent.
async fn read_back(bootstrap: &str, topic: &str, written: &BTreeMap<(usize, usize), (i32, i64)>) {
    let consumer = Consumer::connect(
        ClientConfig::new([bootstrap]),
        ConsumerConfig::default().from_beginning(),
    )
    .await
    .expect("consumer");
    let mut consumer = consumer;
    consumer.assign_topic(topic).await.expect("assign");
    let mut seen: BTreeMap<(usize, usize), (i32, i64)> = BTreeMap::new();
    let mut last_per_key: BTreeMap<String, usize> = BTreeMap::new();
    let total = TASKS * PER_TASK;
    let mut read = 0;
    while read < total {
        let record = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("records within 30 s")
            .expect("stream open")
            .expect("record");
        read += 1;
        let value = String::from_utf8(record.value.as_deref().unwrap_or_default().to_vec())
            .expect("utf-8 value");
        let mut parts = value.split(':');
        let (task, i) = (parts.next().expect("task"), parts.next().expect("index"));
        let id: (usize, usize) = (task.parse().expect("task"), i.parse().expect("index"));
        let key = String::from_utf8_lossy(record.key.as_deref().unwrap_or_default()).into_owned();
        if let Some(prev) = last_per_key.insert(key.clone(), id.1) {
            assert!(prev < id.1, "{key}: {prev} read before {}", id.1);
        }
        let at = (record.partition, record.offset);
        assert!(seen.insert(id, at).is_none(), "{id:?} read twice");
        assert_eq!(written.get(&id), Some(&at), "{id:?} acknowledged elsewhere");
    }
    assert_eq!(seen.len(), total);
    // Nothing more than what was acknowledged.
    let extra = tokio::time::timeout(Duration::from_millis(200), consumer.recv()).await;
    assert!(
        extra.is_err(),
        "a record beyond the acknowledged ones: {extra:?}"
    );
}

async fn rounds(bootstrap: &str, replication: i16, name: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    for round in 0..ROUNDS {
        let topic = kafka::unique(name);
        let written = produce_into_new_topic(bootstrap, &topic, replication).await;
        assert_eq!(written.len(), TASKS * PER_TASK, "round {round}");
        read_back(bootstrap, &topic, &written).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producer_into_a_topic_created_a_moment_ago() {
    let Some(k) = kafka::single() else { return };
    rounds(&k.bootstrap, 1, "new-topic-1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producer_into_a_new_topic_on_three_nodes() {
    let Some(k) = kafka::cluster() else { return };
    rounds(&k.bootstrap, 3, "new-topic-3").await;
}
