//! The real-broker rig itself (`scripts/kafka.sh`, `tests/support/kafka.rs`):
//! the shared single node and 3-node cluster answer with every broker, a
//! record goes through each, and an owned cluster's node can be killed and
//! restarted. Peer: Apache Kafka (KRaft) from Maven Central.

use std::time::Duration;

use kafkit::admin::TopicPartition;
use kafkit::consumer::{Consumer, ConsumerConfig};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::{Client, ClientConfig};

mod support;
use support::kafka;

const WAIT: Duration = Duration::from_secs(60);

async fn round_trip(bootstrap: &str, expected_brokers: usize) {
    let config = ClientConfig::new([bootstrap]);
    let client = Client::connect(config.clone()).await.expect("connect");
    let metadata = client.refresh_metadata().await.expect("metadata");
    assert_eq!(
        metadata.brokers.len(),
        expected_brokers,
        "brokers in {bootstrap}: {metadata:?}"
    );
    assert!(
        metadata.controller_id.is_some_and(|c| c >= 0),
        "a controller: {metadata:?}"
    );
    client.close();

    let topic = kafka::unique("rig");
    let producer = Producer::connect(config.clone(), ProducerConfig::default())
        .await
        .expect("producer");
    let report = producer
        .send(
            ProducerRecord::new(topic.as_str())
                .key("k")
                .value("hello real kafka"),
        )
        .await
        .expect("send (auto-created topic)");
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");

    let mut consumer = Consumer::connect(config, ConsumerConfig::default())
        .await
        .expect("consumer");
    consumer
        .assign(vec![(
            TopicPartition {
                topic: topic.clone(),
                partition: report.partition,
            },
            Some(report.offset),
        )])
        .expect("assign");
    let record = tokio::time::timeout(WAIT, consumer.recv())
        .await
        .expect("a record within 60 s")
        .expect("stream open")
        .expect("record");
    assert_eq!(record.offset, report.offset);
    assert_eq!(record.value.as_deref(), Some(&b"hello real kafka"[..]));
    consumer.close().await.expect("close");
}

#[tokio::test]
async fn the_single_node_broker_serves_a_record() {
    let Some(k) = kafka::single() else { return };
    let expected = if k.origin == "KAFKA_BROKERS" { 0 } else { 1 };
    if expected == 0 {
        return round_trip_any(&k.bootstrap).await;
    }
    round_trip(&k.bootstrap, 1).await;
}

#[tokio::test]
async fn the_three_node_cluster_lists_three_brokers_and_serves_a_record() {
    let Some(k) = kafka::cluster() else { return };
    if k.origin == "KAFKA_BROKERS" {
        return round_trip_any(&k.bootstrap).await;
    }
    round_trip(&k.bootstrap, 3).await;
}

/// A user's own cluster: any number of brokers.
async fn round_trip_any(bootstrap: &str) {
    let client = Client::connect(ClientConfig::new([bootstrap]))
        .await
        .expect("connect");
    let n = client
        .refresh_metadata()
        .await
        .expect("metadata")
        .brokers
        .len();
    client.close();
    round_trip(bootstrap, n).await;
}

#[tokio::test]
async fn an_owned_node_can_be_killed_and_restarted() {
    if !kafka::can_start() {
        return;
    }
    let cluster = tokio::task::spawn_blocking(|| kafka::Cluster::start(1, &[]))
        .await
        .expect("start");
    round_trip(&cluster.bootstrap, 1).await;
    let first = cluster.pid(1);
    cluster.kill(1);
    cluster.restart(1);
    assert_ne!(cluster.pid(1), first, "a new process");
    assert!(
        cluster.wait_ready(90),
        "node 1 back; log {}",
        cluster.log(1).display()
    );
    round_trip(&cluster.bootstrap, 1).await;
}
