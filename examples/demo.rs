//! kafkit's demo: produce a stream of keyed records, then read them back with
//! a group of consumers, and report what happened.
//!
//! ```text
//! cargo run --example demo                                   # in-process mock cluster
//! KAFKA_BROKERS=localhost:9092 cargo run --example demo      # a real cluster
//! ```
//!
//! Without `KAFKA_BROKERS` it starts librdkafka's mock cluster (3 brokers) in
//! this process and creates the topic with 6 partitions. Against a real
//! cluster it creates the topic (6 partitions, the broker's default
//! replication factor) unless it exists; without `DEMO_TOPIC` the topic is
//! this run's own (`kafkit-demo-<run>`), deleted again when the run passes,
//! so every run reads only its own records and takes the same time on a
//! long-lived cluster (a failed run leaves it for inspection).
//!
//! The consume half starts `DEMO_CONSUMERS` consumers in one new group
//! (auto-commit every second, from the beginning), each in its own task,
//! prints the group's lag and read rate every second, and stops once every
//! record the producer got acknowledged has been read (each record carries a
//! `demo` header with the run and its index) or removed by the broker's
//! retention, or after `DEMO_TIMEOUT_S`. It exits with an error if a record
//! is lost: acknowledged, at or above its partition's log start offset, and
//! never read.
//!
//! Retention: a broker may delete a partition's oldest records before they
//! are read (the log start offset, which ListOffsets "earliest" returns,
//! moves past them). Those are counted as "removed by the broker's
//! retention", not as lost. librdkafka's mock cluster keeps at most 5 MiB
//! (and 100,000 batches) per partition; the default workload (100,000
//! records, about 14 MB spread over 6 partitions, the fullest holding about
//! 20 % of them) stays well inside it, so a default run on the mock removes
//! nothing. Raise `DEMO_RECORDS` past about 180,000 and the mock starts
//! dropping the oldest batches of its fullest partition; the demo then says
//! how many.
//!
//! On the mock, about one run in eight takes 10 s longer and reads some
//! records twice: a follower whose SyncGroup reaches the mock after the
//! group went stable gets INVALID_REQUEST (the mock's classic group state
//! check, rdkafka_mock_cgrp.c; Apache Kafka answers it), rejoins, and the
//! mock holds the new rebalance for just under the session timeout (about
//! 9 s of the 10 s here) unless every member rejoins sooner. The
//! records read before it and not yet committed are read again; none is lost.
//!
//! Settings (environment): `DEMO_TOPIC` (kafkit-demo; on a real cluster
//! kafkit-demo-<run>), `DEMO_RECORDS`
//! (100000), `DEMO_VALUE_BYTES` (100), `DEMO_COMPRESSION`
//! (none|gzip|snappy|lz4|zstd), `DEMO_ACKS` (all|1|0), `DEMO_CONSUMERS` (3),
//! `DEMO_TIMEOUT_S` (120).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafkit::admin::{Admin, NewTopic, OffsetSpec, TopicPartition};
use kafkit::producer::{Acks, Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::record::Compression;
use kafkit::protocol::ErrorCode;
use kafkit::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::types::RDKafkaApiKey;

#[path = "demo/consume.rs"]
mod consume;

type BoxError = Box<dyn std::error::Error>;

struct Settings {
    topic: String,
    records: usize,
    value_bytes: usize,
    compression: Compression,
    acks: Acks,
    consumers: usize,
    timeout: Duration,
    /// Tags this run's records (header `demo` = `<run>:<index>`) and names the group.
    run: String,
}

impl Settings {
    fn from_env() -> Result<Self, BoxError> {
        let var = |name: &str, default: &str| std::env::var(name).unwrap_or(default.to_owned());
        let compression = match var("DEMO_COMPRESSION", "none").as_str() {
            "none" => Compression::None,
            "gzip" => Compression::Gzip,
            "snappy" => Compression::Snappy,
            "lz4" => Compression::Lz4,
            "zstd" => Compression::Zstd,
            other => return Err(format!("unknown DEMO_COMPRESSION {other:?}").into()),
        };
        let acks = match var("DEMO_ACKS", "all").as_str() {
            "all" | "-1" => Acks::All,
            "1" => Acks::Leader,
            "0" => Acks::None,
            other => return Err(format!("unknown DEMO_ACKS {other:?}").into()),
        };
        Ok(Self {
            topic: var("DEMO_TOPIC", ""),
            records: var("DEMO_RECORDS", "100000").parse()?,
            value_bytes: var("DEMO_VALUE_BYTES", "100").parse()?,
            compression,
            acks,
            consumers: var("DEMO_CONSUMERS", "3").parse::<usize>()?.max(1),
            timeout: Duration::from_secs(var("DEMO_TIMEOUT_S", "120").parse()?),
            run: format!(
                "{:x}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_millis()
            ),
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut settings = Settings::from_env()?;
    let real = std::env::var("KAFKA_BROKERS").is_ok();
    // A topic of the run's own on a real cluster, unless one was named.
    let own_topic = settings.topic.is_empty() && real;
    if settings.topic.is_empty() {
        settings.topic = if real {
            format!("kafkit-demo-{}", settings.run)
        } else {
            "kafkit-demo".to_owned()
        };
    }

    // The cluster: KAFKA_BROKERS, or a mock cluster living as long as `main`.
    let mut _mock = None;
    let bootstrap = match std::env::var("KAFKA_BROKERS") {
        Ok(brokers) => {
            create_topic(&brokers, &settings.topic).await?;
            brokers
        }
        Err(_) => {
            let mock = MockCluster::new(3)?;
            // librdkafka's mock advertises flexible group API versions its
            // handlers cannot parse; keep kafkit on the ones it can.
            for (api, max) in [
                (RDKafkaApiKey::JoinGroup, 5),
                (RDKafkaApiKey::SyncGroup, 3),
                (RDKafkaApiKey::LeaveGroup, 2),
            ] {
                mock.apiversion(api, None, Some(max))?;
            }
            mock.create_topic(&settings.topic, 6, 3)?;
            let servers = mock.bootstrap_servers();
            println!("started a 3-broker mock cluster at {servers}");
            _mock = Some(mock);
            servers
        }
    };

    let delivered = produce(&bootstrap, &settings).await?;
    consume::run(&bootstrap, &settings, delivered).await?;
    if own_topic {
        delete_topic(&bootstrap, &settings.topic).await;
    }
    Ok(())
}

/// Waits (up to 10 s) until every partition of a new topic has a leader
/// that answers ListOffsets: producing before that starts with
/// NOT_LEADER_OR_FOLLOWER retries (and their backoff). A nicety, not needed
/// for correctness: the producer retries those batches in order and
/// delivers every record (tests/real_producer_new_topic.rs).
async fn wait_for_leaders(admin: &Admin, topic: &str) {
    let partitions: Vec<TopicPartition> = (0..6)
        .map(|partition| TopicPartition {
            topic: topic.to_owned(),
            partition,
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let ready = admin
            .list_offsets(&partitions, OffsetSpec::Latest)
            .await
            .is_ok_and(|rows| rows.iter().all(|(_, r)| r.is_ok()));
        if ready {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Deletes the run's own topic; a failure is only reported.
async fn delete_topic(bootstrap: &str, topic: &str) {
    let result = match Admin::connect(ClientConfig::new([bootstrap])).await {
        Ok(admin) => {
            let r = admin.delete_topics(&[topic.to_owned()]).await;
            admin.close();
            r.map(|rows| rows.into_iter().find_map(|(_, r)| r.err()))
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(None) => println!("deleted topic {topic}"),
        Ok(Some(e)) | Err(e) => eprintln!("could not delete topic {topic}: {e}"),
    }
}

/// Creates `topic` with 6 partitions on a real cluster unless it exists.
async fn create_topic(bootstrap: &str, topic: &str) -> Result<(), BoxError> {
    let admin = Admin::connect(ClientConfig::new([bootstrap]))
        .await?
        .with_timeout(Duration::from_secs(30));
    let result = admin
        .create_topics(&[NewTopic::new(topic, 6, -1)], false)
        .await?
        .into_iter()
        .next()
        .map(|(_, r)| r);
    let created = matches!(result, Some(Ok(())));
    if created {
        wait_for_leaders(&admin, topic).await;
    }
    admin.close();
    match result {
        Some(Ok(())) => println!("created topic {topic} (6 partitions)"),
        Some(Err(e)) if e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => {
            println!("topic {topic} exists; earlier runs' records are read and skipped");
        }
        Some(Err(e)) => return Err(e.into()),
        None => return Err(format!("no CreateTopics result for {topic}").into()),
    }
    Ok(())
}

/// Where the broker wrote one acknowledged record: partition and offset.
pub(crate) type Written = Option<(i32, i64)>;

/// Sends the records; returns where the broker wrote each one it
/// acknowledged (`None`: not acknowledged).
async fn produce(bootstrap: &str, s: &Settings) -> Result<Vec<Written>, BoxError> {
    let config = ProducerConfig::default()
        .with_acks(s.acks)
        .with_compression(s.compression)
        .with_linger(Duration::from_millis(5))
        .with_batch_size(256 * 1024)
        .with_buffer_memory(256 * 1024 * 1024);
    let producer = Producer::connect(ClientConfig::new([bootstrap]), config).await?;
    println!(
        "producing {} records of {} B to {} (acks {:?}, compression {})",
        s.records,
        s.value_bytes,
        s.topic,
        s.acks,
        s.compression.name()
    );

    let values = sample_values(s.value_bytes);
    let started = Instant::now();
    let mut payload_bytes = 0usize;
    let mut deliveries = Vec::with_capacity(s.records);
    for (i, value) in (0..s.records).zip(values.iter().cycle()) {
        let key = Bytes::from(format!("user-{}", i % 1000));
        let value = value.clone();
        payload_bytes += key.len() + value.len();
        let record = ProducerRecord::new(&s.topic)
            .key(key)
            .value(value)
            .header("demo", format!("{}:{i}", s.run));
        deliveries.push(producer.enqueue(record).await?);
    }

    // partition -> (records, last offset); error text -> count
    let mut partitions: BTreeMap<i32, (u64, i64)> = BTreeMap::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut delivered: Vec<Written> = vec![None; s.records];
    for (i, delivery) in deliveries.into_iter().enumerate() {
        match delivery.await {
            Ok(report) => {
                if let Some(d) = delivered.get_mut(i) {
                    *d = Some((report.partition, report.offset));
                }
                let entry = partitions.entry(report.partition).or_insert((0, -1));
                entry.0 += 1;
                entry.1 = entry.1.max(report.offset);
            }
            Err(e) => *errors.entry(e.to_string()).or_default() += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();

    println!(
        "\n{} records in {elapsed:.2} s: {:.0} records/s, {:.1} MB/s",
        s.records,
        s.records as f64 / elapsed,
        payload_bytes as f64 / elapsed / 1e6
    );
    println!("\npartition  records  last offset");
    for (partition, (count, last)) in &partitions {
        println!("{partition:>9}  {count:>7}  {last:>11}");
    }
    if errors.is_empty() {
        println!("no errors");
    }
    for (error, count) in &errors {
        println!("{count} records failed: {error}");
    }
    let m = producer.metrics();
    println!(
        "\nproducer metrics: {} records sent, {} batch bytes, {} retries, {} errors",
        m.records_sent, m.bytes_sent, m.retries, m.errors
    );
    producer.close(Duration::from_secs(10)).await?;
    Ok(delivered)
}

/// 64 pseudo-random values of `size` letters (a-p): some repetition for the codecs.
fn sample_values(size: usize) -> Vec<Bytes> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut letter = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        b'a' + (state % 16) as u8
    };
    (0..64)
        .map(|_| (0..size).map(|_| letter()).collect::<Vec<u8>>().into())
        .collect()
}
