//! The producer against librdkafka's mock cluster, checked by consuming
//! with librdkafka (an independent client).

use std::collections::HashMap;
use std::time::Duration;

use kafkit::producer::{Acks, Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::record::Compression;
use kafkit::ClientConfig;
use rdkafka::config::ClientConfig as RdConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;

/// (partition, create timestamp, key, value, headers) of one consumed record.
type Consumed = (
    i32,
    Option<i64>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Vec<(String, Vec<u8>)>,
);

/// Everything in `topic`, read from the beginning by an rdkafka consumer.
fn consume_all(bootstrap: &str, topic: &str, expected: usize) -> Vec<Consumed> {
    let consumer: BaseConsumer = RdConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("verify-{topic}"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("rdkafka consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while out.len() < expected && std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let headers = m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                        .collect()
                })
                .unwrap_or_default();
            let created = match m.timestamp() {
                rdkafka::Timestamp::CreateTime(ms) => Some(ms),
                _ => None,
            };
            out.push((
                m.partition(),
                created,
                m.key().map(<[u8]>::to_vec),
                m.payload().map(<[u8]>::to_vec),
                headers,
            ));
        }
    }
    out
}

async fn produce_and_verify(compression: Compression, acks: Acks) {
    let mock = MockCluster::new(3).expect("mock");
    let topic = format!("p-{}-{:?}", compression.name(), acks);
    mock.create_topic(&topic, 4, 3).expect("topic");
    let bootstrap = mock.bootstrap_servers();
    let producer = Producer::connect(
        ClientConfig::new([&bootstrap]),
        ProducerConfig::default()
            .with_compression(compression)
            .with_acks(acks),
    )
    .await
    .expect("producer");
    let n = 500;
    let records = (0..n).map(|i| {
        ProducerRecord::new(&topic)
            .key(format!("key-{}", i % 37))
            .value(format!("value-{i}"))
            .header("seq", i.to_string())
            .timestamp(1_700_000_000_000 + i as i64)
    });
    let reports = producer.send_all(records).await.expect("delivered");
    assert_eq!(reports.len(), n);
    producer.close(Duration::from_secs(5)).await.expect("close");
    let consumed = tokio::task::spawn_blocking(move || consume_all(&bootstrap, &topic, n))
        .await
        .expect("join");
    assert_eq!(consumed.len(), n, "every record read back");
    let mut by_key_partition: HashMap<Vec<u8>, i32> = HashMap::new();
    for (partition, created, key, value, headers) in &consumed {
        let key = key.clone().expect("key");
        // a key always lands on one partition
        assert_eq!(
            *by_key_partition.entry(key.clone()).or_insert(*partition),
            *partition
        );
        let value = String::from_utf8(value.clone().expect("value")).expect("utf8");
        let i: usize = value.trim_start_matches("value-").parse().expect("index");
        assert_eq!(key, format!("key-{}", i % 37).into_bytes());
        assert_eq!(
            headers,
            &vec![("seq".to_owned(), i.to_string().into_bytes())]
        );
        assert_eq!(
            *created,
            Some(1_700_000_000_000 + i as i64),
            "create timestamp kept"
        );
    }
    if acks != Acks::None {
        for r in &reports {
            assert!(r.offset >= 0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produces_uncompressed_records_read_back_by_librdkafka() {
    produce_and_verify(Compression::None, Acks::All).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produces_gzip() {
    produce_and_verify(Compression::Gzip, Acks::All).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produces_lz4() {
    produce_and_verify(Compression::Lz4, Acks::Leader).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produces_snappy() {
    produce_and_verify(Compression::Snappy, Acks::All).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produces_zstd() {
    produce_and_verify(Compression::Zstd, Acks::All).await;
}
