//! The producer against the run's real Apache Kafka broker: every codec at
//! every acks level, keys on the Java client's murmur2 partition, headers
//! and timestamps, read back exactly (kafkit's consumer, then librdkafka's
//! for the record count); the idempotent producer's batches as the broker
//! stored them (producer id, epoch, gapless sequences per partition).
//!
//! Peer: the broker (`support::kafka::single()`). Faults and the 3-node
//! cluster are in other files (`cluster_suite`'s `three::` cases use
//! replication factor 3 with acks=all).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use kafkit::consumer::ConsumerConfig;
use kafkit::producer::partitioner::partition_for_key;
use kafkit::producer::{Acks, DeliveryReport, Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::messages::fetch::{FetchPartition, FetchRequest, FetchTopic};
use kafkit::protocol::record::{BatchView, Compression, DecodeOptions};
use kafkit::Client;

mod support;
use support::kafka;
use support::real::{admin, broker, client, create_topics, read_topic, text, WAIT};

const PARTITIONS: i32 = 3;
const RECORDS: usize = 200;
const T0: i64 = 1_700_000_000_000;

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// Record `i`: key `key-<i % 17>`, value `v-<i>`, two headers, a timestamp.
fn record(topic: &str, i: usize) -> ProducerRecord {
    ProducerRecord::new(topic)
        .key(format!("key-{}", i % 17))
        .value(format!("v-{i}"))
        .header("seq", i.to_string())
        .header("kind", if i.is_multiple_of(2) { "even" } else { "odd" })
        .timestamp(T0 + i as i64)
}

/// Produces [`RECORDS`] records with `config` and returns the reports.
async fn produce(bootstrap: &str, topic: &str, config: ProducerConfig) -> Vec<DeliveryReport> {
    let producer = Producer::connect(client(bootstrap), config)
        .await
        .expect("producer");
    let reports = producer
        .send_all((0..RECORDS).map(|i| record(topic, i)))
        .await
        .unwrap_or_else(|e| panic!("{topic}: {e}"));
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
    reports
}

/// Reads `topic` back and checks every record against what was sent: its
/// partition (murmur2 of the key), key, value, headers, timestamp, the
/// order of each partition, and the offset its report gave (acks 1/all).
async fn verify(bootstrap: &str, topic: &str, acks: Acks, reports: &[DeliveryReport]) {
    let read = read_topic(bootstrap, topic, RECORDS, ConsumerConfig::default()).await;
    let mut last_in_partition: BTreeMap<i32, usize> = BTreeMap::new();
    for r in read.values() {
        let i: usize = text(r.header("seq").as_ref()).parse().expect("seq header");
        let key = format!("key-{}", i % 17);
        assert_eq!(text(r.key.as_ref()), key, "{topic}");
        assert_eq!(text(r.value.as_ref()), format!("v-{i}"), "{topic}");
        assert_eq!(
            r.partition,
            partition_for_key(key.as_bytes(), PARTITIONS),
            "{topic}: {key} off its murmur2 partition"
        );
        let kind = if i.is_multiple_of(2) { "even" } else { "odd" };
        assert_eq!(
            r.header_pairs(),
            [
                ("seq".to_owned(), Some(Bytes::from(i.to_string()))),
                ("kind".to_owned(), Some(Bytes::from(kind)))
            ],
            "{topic}"
        );
        assert_eq!(r.timestamp, T0 + i as i64, "{topic}: create time kept");
        // Offsets increase with the send order within a partition.
        if let Some(before) = last_in_partition.insert(r.partition, i) {
            assert!(before < i, "{topic}: {i} after {before} in {}", r.partition);
        }
        let report = reports.get(i).expect("a report per record");
        assert_eq!(report.partition, r.partition, "{topic}: report of {i}");
        if acks != Acks::None {
            assert_eq!(report.offset, r.offset, "{topic}: report of {i}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_at_every_acks_level_reads_back_exactly() {
    let Some(bootstrap) = broker() else { return };
    let mut runs = Vec::new();
    for codec in CODECS {
        for acks in [Acks::None, Acks::Leader, Acks::All] {
            let topic = kafka::unique(&format!("produce-{}-{acks:?}", codec.name()));
            runs.push((topic, codec, acks));
        }
    }
    let topics: Vec<(&str, i32)> = runs
        .iter()
        .map(|(t, ..)| (t.as_str(), PARTITIONS))
        .collect();
    create_topics(&bootstrap, &topics, 1).await;
    let mut tasks = tokio::task::JoinSet::new();
    for (topic, codec, acks) in runs {
        let bootstrap = bootstrap.clone();
        tasks.spawn(async move {
            // Idempotence asked for everywhere: it applies with acks=all.
            let config = ProducerConfig::default()
                .with_compression(codec)
                .with_acks(acks)
                .with_idempotence(true)
                .with_linger(Duration::from_millis(5));
            let reports = produce(&bootstrap, &topic, config).await;
            verify(&bootstrap, &topic, acks, &reports).await;
            topic
        });
    }
    let mut done = Vec::new();
    while let Some(topic) = tasks.join_next().await {
        done.push(topic.expect("a codec/acks run panicked"));
    }
    assert_eq!(done.len(), CODECS.len() * 3);
    // An independent reader agrees on the count of one of them.
    let last = done.pop().expect("a topic");
    let rd = tokio::task::spawn_blocking(move || {
        support::read_back(&bootstrap, &last, PARTITIONS, RECORDS)
    })
    .await
    .expect("librdkafka reader");
    assert_eq!(rd.len(), RECORDS, "librdkafka read back");
}

/// The batches of `partition` from offset 0, as the broker stored them.
async fn stored_batches(client: &Client, topic: &str, partition: i32) -> Vec<BatchView> {
    let metadata = client.topic(topic, WAIT).await.expect("metadata");
    let leader = client.leader(topic, partition).await.expect("leader");
    let request = FetchRequest {
        max_wait_ms: 100,
        min_bytes: 1,
        max_bytes: 8 << 20,
        topics: vec![FetchTopic {
            topic: topic.to_owned(),
            topic_id: metadata.id,
            partitions: vec![FetchPartition {
                partition,
                fetch_offset: 0,
                partition_max_bytes: 8 << 20,
                ..FetchPartition::default()
            }],
            ..FetchTopic::default()
        }],
        ..FetchRequest::default()
    };
    let response = leader.send(&request).await.expect("fetch");
    let part = &response.responses[0].partitions[0];
    assert!(part.error_code.is_ok(), "fetch: {:?}", part.error_code);
    let mut rest = part.records.clone().unwrap_or_default();
    let mut batches = Vec::new();
    // Each batch: base offset (8 bytes), length (4), then `length` bytes.
    while rest.len() >= 12 {
        let length = i32::from_be_bytes(rest[8..12].try_into().expect("4 bytes"));
        let end = 12 + usize::try_from(length).expect("a positive length");
        if end > rest.len() {
            break; // a partial batch at the end of the response
        }
        let batch = rest.split_to(end);
        batches.push(BatchView::decode(batch, &DecodeOptions::default()).expect("batch"));
    }
    batches
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_batches_carry_a_producer_id_and_gapless_sequences() {
    let Some(bootstrap) = broker() else { return };
    let topic = kafka::unique("idempotent");
    create_topics(&bootstrap, &[(&topic, PARTITIONS)], 1).await;
    // Small batches, several per partition and several in flight.
    let config = ProducerConfig::default()
        .with_idempotence(true)
        .with_batch_size(512)
        .with_linger(Duration::from_millis(1));
    produce(&bootstrap, &topic, config).await;
    let client = Client::connect(client(&bootstrap)).await.expect("client");
    let mut producer_ids = Vec::new();
    let mut total = 0;
    for partition in 0..PARTITIONS {
        let batches = stored_batches(&client, &topic, partition).await;
        let mut next_sequence = 0;
        for b in &batches {
            let h = &b.header;
            assert!(h.producer_id >= 0, "partition {partition}: {h:?}");
            assert!(h.producer_epoch >= 0, "partition {partition}: {h:?}");
            assert_eq!(
                h.base_sequence, next_sequence,
                "partition {partition}: {h:?}"
            );
            assert_eq!(h.base_offset, i64::from(next_sequence), "one producer only");
            next_sequence += i32::try_from(b.record_count()).expect("count");
            producer_ids.push(h.producer_id);
        }
        total += usize::try_from(next_sequence).expect("count");
    }
    client.close();
    assert_eq!(total, RECORDS, "every record in a sequenced batch");
    producer_ids.dedup();
    assert_eq!(producer_ids.len(), 1, "one producer id: {producer_ids:?}");
    assert!(total > 3 * 3, "several batches per partition");
}

/// The producer's per-topic routes (partition count, partitions with a
/// leader; cached per metadata version) follow the client's metadata: a
/// partition past the count is refused, and once a refresh shows the
/// partitions added to the topic, a record goes to one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_follow_partitions_added_to_the_topic() {
    let Some(bootstrap) = broker() else { return };
    let topic = kafka::unique("grown");
    create_topics(&bootstrap, &[(&topic, 1)], 1).await;
    // The client knows the topic before the producer's first record, so
    // that record's route comes from the cache, not from waiting for it.
    let shared = Client::connect(client(&bootstrap)).await.expect("client");
    shared.track_topics([topic.clone()]);
    shared.refresh_metadata().await.expect("refresh");
    let producer = Producer::with_client(shared.clone(), ProducerConfig::default());
    let third = || ProducerRecord::new(&topic).value("c").partition(2);
    let first = producer
        .send(ProducerRecord::new(&topic).value("a").partition(0))
        .await
        .expect("partition 0");
    assert_eq!((first.partition, first.offset), (0, 0));
    let refused = producer.send(third()).await;
    assert!(
        matches!(
            refused,
            Err(kafkit::Error::Record {
                partition: Some(2),
                ..
            })
        ),
        "{refused:?}"
    );
    let admin = admin(&bootstrap).await;
    let created = admin
        .create_partitions(&[(topic.clone(), 3)], false)
        .await
        .expect("create partitions");
    for (name, result) in created {
        result.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    admin.close();
    // The broker answering metadata may learn of the new partitions a
    // moment after the call returns.
    let deadline = tokio::time::Instant::now() + WAIT;
    let report = loop {
        producer.client().refresh_metadata().await.expect("refresh");
        match producer.send(third()).await {
            Ok(report) => break report,
            Err(kafkit::Error::Record { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("partition 2 of {topic}: {e}"),
        }
    };
    assert_eq!((report.partition, report.offset), (2, 0));
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
    shared.close();
}
