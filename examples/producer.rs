//! The producer, one feature at a time: `send` with a delivery report,
//! keyed records (a key always lands on the same partition), headers, an
//! explicit partition, `send_all`, fire-and-collect with `enqueue` and
//! `flush`, metrics, and `close`.
//!
//! ```text
//! cargo run --example producer                               # in-process mock cluster
//! KAFKA_BROKERS=localhost:9092 cargo run --example producer  # a real cluster
//! ```
//!
//! Without `KAFKA_BROKERS` it starts librdkafka's mock cluster (3 brokers)
//! in this process and creates the topic with 3 partitions. Against a real
//! cluster the topic (`PRODUCER_TOPIC`, default `kafkit-producer-example`)
//! is auto-created on first use (docker-compose.yml's brokers give it 3
//! partitions), or create it beforehand with at least 3 partitions.

use std::collections::BTreeMap;
use std::time::Duration;

use kafkit::producer::{Acks, Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::record::Compression;
use kafkit::ClientConfig;

type BoxError = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let topic =
        std::env::var("PRODUCER_TOPIC").unwrap_or_else(|_| "kafkit-producer-example".to_owned());
    let mut _mock = None;
    let bootstrap = match std::env::var("KAFKA_BROKERS") {
        Ok(brokers) => brokers,
        Err(_) => {
            let mock = rdkafka::mocking::MockCluster::new(3)?;
            mock.create_topic(&topic, 3, 3)?;
            let servers = mock.bootstrap_servers();
            println!("started a 3-broker mock cluster at {servers}");
            _mock = Some(mock);
            servers
        }
    };

    let config = ProducerConfig::default()
        .with_acks(Acks::All) // the default; required by idempotence (also the default)
        .with_linger(Duration::from_millis(10))
        .with_compression(Compression::Lz4);
    let producer = Producer::connect(
        ClientConfig::new([&bootstrap]).with_client_id("kafkit-producer-example"),
        config,
    )
    .await?;

    // 1. One record, awaited: the delivery report says where it went.
    let report = producer
        .send(
            ProducerRecord::new(&topic)
                .key("customer-42")
                .value(r#"{"order":1,"total":12}"#)
                .header("source", "web")
                .header("content-type", "application/json"),
        )
        .await?;
    println!(
        "send: {}/{} at offset {}",
        report.topic, report.partition, report.offset
    );

    // 2. Keyed records: murmur2 of the key picks the partition (as the Java
    //    client does), so every record of a key stays in order on one partition.
    let reports = producer
        .send_all((0..9).map(|i| {
            ProducerRecord::new(&topic)
                .key(format!("customer-{}", i % 3))
                .value(format!("event {i}"))
        }))
        .await?;
    let mut by_key: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for (i, r) in reports.iter().enumerate() {
        by_key
            .entry(format!("customer-{}", i % 3))
            .or_default()
            .push(r.partition);
    }
    for (key, partitions) in &by_key {
        println!("send_all: {key} -> partitions {partitions:?}");
        if partitions.windows(2).any(|w| w.first() != w.last()) {
            return Err(format!("{key} went to several partitions").into());
        }
    }

    // 3. An explicit partition overrides the partitioner.
    let pinned = producer
        .send(ProducerRecord::new(&topic).partition(2).value("pinned"))
        .await?;
    println!("explicit partition: {}/{}", pinned.partition, pinned.offset);

    // 4. Fire and collect: `enqueue` returns once the record is buffered
    //    (backpressure when buffer_memory is full); its future resolves to the
    //    delivery report. `flush` sends everything buffered and waits for it.
    let mut deliveries = Vec::new();
    for i in 0..1000 {
        let record = ProducerRecord::new(&topic).value(format!("bulk {i}")); // no key: sticky partitioner
        deliveries.push(producer.enqueue(record).await?);
    }
    producer.flush().await?;
    let mut per_partition: BTreeMap<i32, usize> = BTreeMap::new();
    let mut failed = 0;
    for delivery in deliveries {
        match delivery.await {
            Ok(r) => *per_partition.entry(r.partition).or_default() += 1,
            Err(e) => {
                failed += 1;
                eprintln!("delivery failed: {e}");
            }
        }
    }
    println!("enqueue + flush: per partition {per_partition:?}, {failed} failed");

    // 5. Metrics, then close: flushes what is left, stops the background task.
    let m = producer.metrics();
    println!(
        "metrics: {} records sent, {} batch bytes, {} retries, {} errors",
        m.records_sent, m.bytes_sent, m.retries, m.errors
    );
    producer.close(Duration::from_secs(10)).await?;
    if failed > 0 {
        return Err(format!("{failed} records failed").into());
    }
    Ok(())
}
