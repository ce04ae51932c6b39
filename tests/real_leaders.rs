//! Leaders and replicas on an owned 3-node Apache Kafka cluster, one rack
//! per node (`broker.rack=r<N>`, `replica.selector.class` the rack-aware
//! selector):
//!
//! - KIP-392: a consumer with `client.rack` set to a follower's rack is
//!   sent to that follower (`preferred_read_replica`) and fetches there;
//! - KIP-951: when a partition's leadership moves (a replica reorder and a
//!   preferred election, by Apache Kafka's Java admin client in
//!   `tests/interop/java/MoveLeader.java`), the producer and a consumer
//!   follow the new leader the old one names in its NOT_LEADER_OR_FOLLOWER
//!   answer, without a Metadata request (counted by the metrics snapshot).
//!
//! Peer: an owned cluster (`kafka::Cluster::start(3, ..)`) and the Java
//! admin client.

use std::time::Duration;

use kafkit::consumer::{Consumer, ConsumerConfig};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::ApiKey;
use kafkit::{ClientConfig, TopicPartition};

mod support;
use support::kafka;
use support::real::{create_topics, next_records, WAIT};

fn client(bootstrap: &str) -> ClientConfig {
    // No periodic refresh during the test: every Metadata request counted
    // is one the client chose to send.
    ClientConfig::new([bootstrap]).with_metadata_max_age(Duration::from_secs(600))
}

async fn produce(producer: &Producer, topic: &str, from: usize, n: usize) {
    producer
        .send_all((from..from + n).map(|i| {
            ProducerRecord::new(topic)
                .partition(0)
                .value(format!("v{i}"))
        }))
        .await
        .expect("produced");
}

fn metadata_requests(consumer_or_producer: &kafkit::metrics::MetricsSnapshot) -> u64 {
    consumer_or_producer
        .connections
        .request_count(ApiKey::METADATA)
}

/// Moves the leadership of `topic`/0 to `node` with the Java admin client.
async fn move_leader(bootstrap: &str, topic: &str, node: i32) {
    let source = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/java/MoveLeader.java"
    );
    let args = [
        "-XX:TieredStopAtLevel=1".to_owned(),
        "-XX:+UseSerialGC".to_owned(),
        "-cp".to_owned(),
        kafka::classpath(),
        source.to_owned(),
        bootstrap.to_owned(),
        topic.to_owned(),
        "0".to_owned(),
        node.to_string(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("java")
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run java")
    })
    .await
    .expect("java");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(&format!("leader {node}")),
        "MoveLeader: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetches_follow_the_rack_and_clients_follow_a_moved_leader() {
    if !kafka::can_start() {
        return;
    }
    support::real::init_tracing();
    let selector =
        "replica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector";
    let cluster = tokio::task::spawn_blocking(move || {
        kafka::Cluster::start(
            3,
            &[
                "--set",
                selector,
                "--set-node",
                "1",
                "broker.rack=r1",
                "--set-node",
                "2",
                "broker.rack=r2",
                "--set-node",
                "3",
                "broker.rack=r3",
            ],
        )
    })
    .await
    .expect("cluster");
    let bootstrap = cluster.bootstrap.clone();
    let topic = kafka::unique("leaders");
    create_topics(&bootstrap, &[(&topic, 1)], 3).await;
    let tp = TopicPartition {
        topic: topic.clone(),
        partition: 0,
    };

    let producer = Producer::connect(client(&bootstrap), ProducerConfig::default())
        .await
        .expect("producer");
    produce(&producer, &topic, 0, 20).await;
    let leader = producer
        .client()
        .metadata()
        .leader(&topic, 0)
        .expect("a leader");

    // KIP-392: a consumer in a follower's rack reads from that follower.
    let follower = (1..=3).find(|n| *n != leader).expect("a follower");
    let other = (1..=3)
        .find(|n| *n != leader && *n != follower)
        .expect("a third node");
    let mut racked = ConsumerConfig::default().with_fetch_max_wait(Duration::from_millis(100));
    racked.rack = Some(format!("r{follower}"));
    let mut near = Consumer::connect(client(&bootstrap), racked)
        .await
        .expect("consumer");
    near.assign(vec![(tp.clone(), Some(0))]).expect("assign");
    let first = next_records(&mut near, 20).await;
    assert_eq!(first.last().map(|r| r.offset), Some(19));
    produce(&producer, &topic, 20, 20).await;
    let more = next_records(&mut near, 20).await;
    assert_eq!(more.last().map(|r| r.offset), Some(39));
    let c = near.metrics_snapshot().connections;
    let (at_leader, at_follower, at_other) = (
        c.request_count_to(leader, ApiKey::FETCH),
        c.request_count_to(follower, ApiKey::FETCH),
        c.request_count_to(other, ApiKey::FETCH),
    );
    assert!(
        at_follower >= 2 && at_other == 0 && at_leader <= 2,
        "fetches: leader {leader} {at_leader}, follower {follower} {at_follower}, other {other} {at_other}"
    );
    near.close().await.expect("close");

    // KIP-951: the leadership moves; producer and consumer follow the hint.
    let mut plain = Consumer::connect(
        client(&bootstrap),
        ConsumerConfig::default().with_fetch_max_wait(Duration::from_millis(100)),
    )
    .await
    .expect("consumer");
    plain.assign(vec![(tp.clone(), Some(40))]).expect("assign");
    produce(&producer, &topic, 40, 5).await;
    let before_move = next_records(&mut plain, 5).await;
    assert_eq!(before_move.first().map(|r| r.offset), Some(40));
    // A refresh started by `assign` or the first send may still be on its
    // way under load: the baseline is taken once the counts stay put.
    let settled = || async {
        let mut last = (u64::MAX, u64::MAX);
        loop {
            let now = (
                metadata_requests(&producer.metrics_snapshot()),
                metadata_requests(&plain.metrics_snapshot()),
            );
            if now == last {
                return now;
            }
            last = now;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    let (producer_metadata, consumer_metadata) = settled().await;

    move_leader(&bootstrap, &topic, other).await;
    produce(&producer, &topic, 45, 20).await;
    let after_move = next_records(&mut plain, 20).await;
    assert_eq!(after_move.last().map(|r| r.offset), Some(64));

    let p = producer.metrics_snapshot();
    assert_eq!(producer.client().metadata().leader(&topic, 0), Some(other));
    assert!(p.connections.request_count_to(other, ApiKey::PRODUCE) >= 1);
    assert!(
        p.producer.is_some_and(|m| m.retries >= 1),
        "the old leader refused a batch: {:?}",
        p.producer
    );
    assert_eq!(
        metadata_requests(&p),
        producer_metadata,
        "producer refreshed metadata"
    );
    let c = plain.metrics_snapshot();
    assert!(c.connections.request_count_to(other, ApiKey::FETCH) >= 1);
    assert_eq!(
        metadata_requests(&c),
        consumer_metadata,
        "consumer refreshed metadata"
    );
    plain.close().await.expect("close");
    producer.close(WAIT).await.expect("close");
}
