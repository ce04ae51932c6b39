//! A group consumer as a `Stream`, with auto-commit and lag.
//!
//! Produces a few hundred keyed records tagged with this run's id, then
//! reads them back with a consumer in group `kafkit-consumer-example`:
//! `StreamExt::next` on the `Consumer`, group events printed as they come,
//! the lag per partition every 100 records. A record counts as processed
//! when the next one is asked for; auto-commit stores processed offsets
//! every second (and `close` commits the rest and leaves the group). The
//! example stops once it has read every record of this run, and prints the
//! group's committed offsets next to each partition's end.
//!
//! ```text
//! cargo run --example consumer                               # in-process mock cluster
//! KAFKA_BROKERS=localhost:9092 cargo run --example consumer  # a real cluster
//! ```
//!
//! Without `KAFKA_BROKERS` it starts librdkafka's mock cluster in this
//! process. Against a real cluster the topic (`CONSUMER_TOPIC`, default
//! `kafkit-consumer-example`) is auto-created, or create it beforehand;
//! records of earlier runs are read too (and skipped by the count).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use futures_util::StreamExt;
use kafkit::consumer::{Consumer, ConsumerConfig, ConsumerEvent};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::ClientConfig;

type BoxError = Box<dyn std::error::Error>;

const RECORDS: usize = 300;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let topic =
        std::env::var("CONSUMER_TOPIC").unwrap_or_else(|_| "kafkit-consumer-example".to_owned());
    let mut _mock = None;
    let bootstrap = match std::env::var("KAFKA_BROKERS") {
        Ok(brokers) => brokers,
        Err(_) => {
            let mock = rdkafka::mocking::MockCluster::new(1)?;
            // librdkafka 2.12's mock advertises group API versions it cannot parse.
            use rdkafka::types::RDKafkaApiKey as Api;
            for (api, max) in [
                (Api::JoinGroup, 5),
                (Api::SyncGroup, 3),
                (Api::LeaveGroup, 2),
            ] {
                mock.apiversion(api, None, Some(max))?;
            }
            mock.create_topic(&topic, 3, 1)?;
            let servers = mock.bootstrap_servers();
            println!("started a mock cluster at {servers}");
            _mock = Some(mock);
            servers
        }
    };

    // Records of this run carry its id in a header.
    let run = format!("{}-{}", std::process::id(), now_ms());
    let producer =
        Producer::connect(ClientConfig::new([&bootstrap]), ProducerConfig::default()).await?;
    producer
        .send_all((0..RECORDS).map(|i| {
            ProducerRecord::new(&topic)
                .key(format!("sensor-{}", i % 7))
                .value(format!("reading {i}"))
                .header("run", run.clone())
        }))
        .await?;
    producer.close(Duration::from_secs(5)).await?;
    println!("produced {RECORDS} records to {topic} (run {run})");

    let mut consumer = Consumer::connect(
        ClientConfig::new([&bootstrap]),
        ConsumerConfig::group("kafkit-consumer-example")
            .from_beginning() // with no committed offset, start at the oldest record
            .with_auto_commit_interval(Duration::from_secs(1))
            .with_fetch_max_wait(Duration::from_millis(100)),
    )
    .await?;
    let mut events = consumer.events().ok_or("events taken")?;
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                ConsumerEvent::Assigned { partitions, .. } if partitions.is_empty() => {}
                event => println!("event: {event:?}"),
            }
        }
    });
    consumer.subscribe(&[&topic])?;

    let mut seen = HashSet::new();
    let mut per_partition: BTreeMap<i32, usize> = BTreeMap::new();
    let mut read = 0usize;
    while seen.len() < RECORDS {
        let next = tokio::time::timeout(Duration::from_secs(30), consumer.next()).await;
        let record = match next {
            Ok(Some(record)) => record?,
            Ok(None) => return Err("consumer closed".into()),
            Err(_) => return Err(format!("stuck after {} of {RECORDS}", seen.len()).into()),
        };
        read += 1;
        if record.header("run").as_deref() == Some(run.as_bytes()) {
            seen.insert(record.value.clone());
            *per_partition.entry(record.partition).or_default() += 1;
        }
        if read.is_multiple_of(100) {
            println!("read {read}; lag {}", format_lag(&consumer).await?);
        }
    }
    consumer.mark_processed(); // the last record is processed too
    println!(
        "read all {RECORDS} records of this run ({read} in total); per partition {per_partition:?}"
    );
    println!("lag {}", format_lag(&consumer).await?);

    // Let auto-commit run once more: the group's committed offsets are then
    // the processed ones (here, the end of each partition).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let processed = consumer.processed_offsets();
    let positions = consumer.positions().await?;
    let committed = consumer
        .committed(positions.keys().cloned().collect())
        .await?;
    for (tp, offset) in &committed {
        let end = positions.get(tp).map_or(-1, |(_, hw)| *hw);
        println!(
            "{}/{}: committed {offset:?}, end {end}",
            tp.topic, tp.partition
        );
        if let Some(done) = processed.get(tp) {
            if *offset != Some(*done) {
                return Err(format!("auto-commit left {offset:?}, processed {done}").into());
            }
        }
    }
    consumer.close().await?; // commits what was processed, leaves the group
    Ok(())
}

/// "partition:lag" pairs, sorted.
async fn format_lag(consumer: &Consumer) -> kafkit::Result<String> {
    let lag: BTreeMap<i32, i64> = consumer
        .lag()
        .await?
        .into_iter()
        .map(|(tp, lag)| (tp.partition, lag))
        .collect();
    Ok(lag
        .iter()
        .map(|(p, l)| format!("{p}:{l}"))
        .collect::<Vec<_>>()
        .join(" "))
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}
