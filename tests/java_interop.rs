//! Records between kafkit and Apache Kafka's Java client (kafka-clients
//! 4.4.0, `tests/interop/java/Peer.java`) through a real broker
//! (`support::kafka::single()`):
//!
//! - a Java idempotent producer writes keyed records with headers in each
//!   codec (none, gzip, snappy, lz4, zstd), and a kafkit consumer reads every
//!   one exactly as Java acknowledged it (partition, offset, key, value,
//!   headers), in offset order per partition;
//! - a kafkit producer writes keyed records in each codec, a Java consumer
//!   reads them all exactly, and every keyed record sits on the partition
//!   Java's default partitioner picks for its key
//!   (`Utils.toPositive(Utils.murmur2(key)) % partitions`, computed by Java).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use kafkit::admin::TopicPartition;
use kafkit::consumer::{Consumer, ConsumerConfig};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::record::Compression;
use kafkit::ClientConfig;

mod support;
use support::java::{self, create_topic};
use support::kafka;

const CODECS: [(&str, Compression); 5] = [
    ("none", Compression::None),
    ("gzip", Compression::Gzip),
    ("snappy", Compression::Snappy),
    ("lz4", Compression::Lz4),
    ("zstd", Compression::Zstd),
];

/// One record as both sides describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    partition: i32,
    offset: i64,
    key: Option<String>,
    value: String,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

/// The headers Peer.java's `produce` puts on record `i` of `codec`.
fn java_headers(codec: &str, i: u8) -> Vec<(String, Option<Vec<u8>>)> {
    vec![
        ("codec".into(), Some(codec.as_bytes().to_vec())),
        ("seq".into(), Some(i.to_string().into_bytes())),
        ("bin".into(), Some(vec![0, 0xff, i])),
        ("none".into(), None),
    ]
}

/// For every eighth `i`, "|" and 70,000 letters from a small alphabet
/// (compressible, not trivially), else nothing.
fn big(i: usize) -> String {
    if !i.is_multiple_of(8) {
        return String::new();
    }
    let mut x = i as u64 + 1;
    let letters = (0..70_000).map(|_| {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        char::from(b'a' + (x >> 60) as u8)
    });
    std::iter::once('|').chain(letters).collect()
}

fn dash_is_none(s: &str) -> Option<String> {
    (s != "-").then(|| s.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_idempotent_producer_each_codec_to_kafkit_consumer() {
    let Some(k) = kafka::single() else { return };
    const PARTITIONS: i32 = 3;
    const PER_CODEC: u8 = 40;
    let topic = kafka::unique("java-to-kafkit");
    create_topic(&k.bootstrap, &topic, PARTITIONS).await;

    let started = std::time::Instant::now();
    let mut args = vec!["produce", k.bootstrap.as_str(), topic.as_str(), "40"];
    args.extend(CODECS.iter().map(|(name, _)| *name));
    let owned: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let lines = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = owned.iter().map(String::as_str).collect();
        java::run(&args)
    })
    .await
    .expect("java producer");
    eprintln!("Java produced in {:?}", started.elapsed());
    let mut sent: Vec<Seen> = lines
        .iter()
        .filter(|l| l.first().map(String::as_str) == Some("sent") && l.len() == 6)
        .map(|l| {
            let (codec, value) = (&l[1], &l[5]);
            let i: u8 = value
                .split('|')
                .next()
                .and_then(|v| v.rsplit_once('-'))
                .and_then(|(_, i)| i.parse().ok())
                .expect("value <codec>-<i>");
            Seen {
                partition: l[2].parse().expect("partition"),
                offset: l[3].parse().expect("offset"),
                key: dash_is_none(&l[4]),
                value: value.clone(),
                headers: java_headers(codec, i),
            }
        })
        .collect();
    let total = CODECS.len() * usize::from(PER_CODEC);
    assert_eq!(
        sent.len(),
        total,
        "Java acknowledged every record: {lines:?}"
    );
    sent.sort_by_key(|s| (s.partition, s.offset));

    let mut consumer = Consumer::connect(
        ClientConfig::new([k.bootstrap.as_str()]),
        ConsumerConfig::default(),
    )
    .await
    .expect("consumer");
    let assignment = (0..PARTITIONS)
        .map(|partition| {
            let tp = TopicPartition {
                topic: topic.clone(),
                partition,
            };
            (tp, Some(0))
        })
        .collect();
    consumer.assign(assignment).expect("assign");
    let mut read: BTreeMap<i32, Vec<Seen>> = BTreeMap::new();
    for _ in 0..total {
        let r = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
            .await
            .expect("a record within 60 s")
            .expect("stream open")
            .expect("record");
        let text = |b: Option<&Bytes>| b.map(|b| String::from_utf8_lossy(b).into_owned());
        read.entry(r.partition).or_default().push(Seen {
            partition: r.partition,
            offset: r.offset,
            key: text(r.key.as_ref()),
            value: text(r.value.as_ref()).unwrap_or_default(),
            headers: r
                .header_pairs()
                .into_iter()
                .map(|(k, v)| (k, v.map(|v| v.to_vec())))
                .collect(),
        });
    }
    consumer.close().await.expect("close");
    for (partition, records) in &read {
        assert!(
            records.windows(2).all(|w| w[0].offset < w[1].offset),
            "partition {partition} read in offset order"
        );
    }
    let read: Vec<Seen> = read.into_values().flatten().collect();
    assert_eq!(read.len(), sent.len());
    for (got, want) in read.iter().zip(&sent) {
        assert_eq!(got, want, "kafkit read what Java wrote");
    }
    let used: std::collections::BTreeSet<i32> = read.iter().map(|r| r.partition).collect();
    assert_eq!(used.len(), PARTITIONS as usize, "every partition used");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkit_keyed_producer_each_codec_to_java_consumer_on_javas_partitions() {
    let Some(k) = kafka::single() else { return };
    const PARTITIONS: i32 = 7;
    const PER_CODEC: usize = 40;
    let topic = kafka::unique("kafkit-to-java");
    create_topic(&k.bootstrap, &topic, PARTITIONS).await;

    let mut sent: BTreeMap<(i32, i64), Seen> = BTreeMap::new();
    for (codec, compression) in CODECS {
        let producer = Producer::connect(
            ClientConfig::new([k.bootstrap.as_str()]),
            ProducerConfig::default()
                .with_compression(compression)
                .with_batch_size(1 << 20)
                .with_linger(Duration::from_millis(20)),
        )
        .await
        .expect("producer");
        let records: Vec<(String, String, ProducerRecord)> = (0..PER_CODEC)
            .map(|i| {
                // Keys of several lengths, so murmur2's tail bytes all count.
                let key = format!("{codec}-key-{}", "x".repeat(i % 5) + &i.to_string());
                // Every eighth value spans several of the codecs' blocks.
                let value = format!("{codec}-{i}") + &big(i);
                let record = ProducerRecord::new(topic.as_str())
                    .key(key.clone())
                    .value(value.clone())
                    .header("codec", codec);
                (key, value, record)
            })
            .collect();
        let reports = producer
            .send_all(records.iter().map(|(_, _, r)| r.clone()))
            .await
            .expect("sent");
        for ((key, value, _), report) in records.into_iter().zip(reports) {
            let seen = Seen {
                partition: report.partition,
                offset: report.offset,
                key: Some(key),
                value,
                headers: vec![("codec".into(), Some(codec.as_bytes().to_vec()))],
            };
            sent.insert((report.partition, report.offset), seen);
        }
        producer
            .close(Duration::from_secs(10))
            .await
            .expect("close");
    }
    let total = CODECS.len() * PER_CODEC;
    assert_eq!(sent.len(), total, "one offset per record");

    let started = std::time::Instant::now();
    let (bootstrap, t) = (k.bootstrap.clone(), topic.clone());
    let lines = tokio::task::spawn_blocking(move || {
        java::run(&["consume", &bootstrap, &t, &total.to_string()])
    })
    .await
    .expect("java consumer");
    eprintln!("Java consumed in {:?}", started.elapsed());
    assert_eq!(
        lines.first().map(|l| l.join(" ")),
        Some(format!("partitions {PARTITIONS}"))
    );
    let mut read = 0;
    for l in lines.iter().filter(|l| l[0] == "rec") {
        assert_eq!(l.len(), 7, "a rec line: {l:?}");
        let (partition, offset): (i32, i64) = (l[1].parse().unwrap(), l[2].parse().unwrap());
        let want = sent
            .get(&(partition, offset))
            .unwrap_or_else(|| panic!("Java read {l:?}, which kafkit did not write there"));
        assert_eq!(want.key.as_deref(), Some(l[3].as_str()), "{l:?}");
        assert_eq!(want.value, l[4], "{l:?}");
        let codec = want.value.split('-').next().unwrap_or_default();
        assert_eq!(l[6], format!("codec={codec}"), "headers: {l:?}");
        assert_eq!(
            l[5],
            partition.to_string(),
            "kafkit put key {} on partition {partition}, Java's default partitioner picks {}",
            l[3],
            l[5]
        );
        read += 1;
    }
    assert_eq!(read, total, "Java read every record once");
    let used: std::collections::BTreeSet<i32> = sent.keys().map(|(p, _)| *p).collect();
    assert_eq!(
        used.len(),
        PARTITIONS as usize,
        "keys spread over every partition"
    );
}
