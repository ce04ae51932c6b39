//! kafkit's key partitioning against librdkafka's: records with many kinds of
//! keys are produced to librdkafka's mock cluster by rdkafka's
//! `FutureProducer` with `partitioner=murmur2_random` (librdkafka's
//! Java-compatible partitioner), and the partition each delivery report names
//! must be the one `partition_for_key` computes.

use std::collections::BTreeMap;
use std::time::Duration;

use kafkit::producer::partitioner::{partition_for_key, DefaultPartitioner, Partitioner};
use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};

/// Topics and their partition counts.
const TOPICS: [(&str, i32); 2] = [("seven", 7), ("twelve", 12)];

/// About 160 keys: ASCII, UTF-8, binary of every length 0..=40, runs of
/// 0x00/0xff (bytes with the high bit set catch sign-extension bugs), the
/// empty key and long keys.
fn keys() -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = Vec::new();
    keys.push(Vec::new());
    for i in 0..80 {
        keys.push(format!("key-{i}").into_bytes());
    }
    for word in [
        "21",
        "foobar",
        "a-little-bit-long-string",
        "a-little-bit-longer-string",
        "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
        "h\u{e9}llo w\u{f6}rld",
        "\u{1f980} crab",
        "order/2024-01-01/000042",
    ] {
        keys.push(word.as_bytes().to_vec());
    }
    for len in 1..=8 {
        keys.push(vec![0xff; len]);
        keys.push(vec![0x00; len]);
        keys.push((0..len).map(|i| 0x80 + u8::try_from(i).unwrap()).collect());
    }
    // Pseudo-random binary keys of every length up to 40 (a fixed xorshift so
    // the run is reproducible).
    let mut state: u64 = 0x0123_4567_89ab_cdef;
    let mut next_byte = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state.to_le_bytes()[0]
    };
    for len in 0..=40 {
        keys.push((0..len).map(|_| next_byte()).collect());
    }
    for len in [100, 255, 256, 1023, 4097, 65_537] {
        keys.push((0..len).map(|_| next_byte()).collect());
    }
    keys.push("x".repeat(10_000).into_bytes());
    keys
}

#[tokio::test]
async fn keyed_partitions_match_librdkafka_murmur2_random() {
    let mock = MockCluster::new(3).expect("mock cluster");
    for (topic, partitions) in TOPICS {
        mock.create_topic(topic, partitions, 1)
            .expect("create topic");
    }
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", mock.bootstrap_servers())
        .set("partitioner", "murmur2_random")
        .set("message.timeout.ms", "20000")
        .set("linger.ms", "5")
        .create()
        .expect("producer");

    let keys = keys();
    assert!(keys.len() >= 150, "{} keys", keys.len());
    let mut pending = Vec::new();
    for (topic, partitions) in TOPICS {
        for key in &keys {
            let record = FutureRecord::to(topic).key(key).payload("v");
            let delivery = producer
                .send_result(record)
                .map_err(|(e, _)| e)
                .expect("enqueue");
            pending.push((topic, partitions, key, delivery));
        }
    }

    let kafkit = DefaultPartitioner::with_seed(1);
    let mut per_partition: BTreeMap<(&str, i32), usize> = BTreeMap::new();
    let mut mismatches = Vec::new();
    for (topic, partitions, key, delivery) in pending {
        let delivered = tokio::time::timeout(Duration::from_secs(30), delivery)
            .await
            .expect("delivery within 30 s")
            .expect("delivery report")
            .map_err(|(e, _)| e)
            .expect("delivered");
        let ours = partition_for_key(key, partitions);
        // The trait object the producer will call agrees too.
        let via_trait = kafkit.partition(topic, Some(key), partitions, &[]);
        if delivered.partition != ours || via_trait != ours {
            mismatches.push((topic, key.len(), delivered.partition, ours, via_trait));
        }
        *per_partition
            .entry((topic, delivered.partition))
            .or_default() += 1;
    }
    assert!(
        mismatches.is_empty(),
        "(topic, key len, librdkafka, kafkit, trait): {mismatches:?}"
    );

    // Not vacuous: the keys spread over every partition of both topics.
    for (topic, partitions) in TOPICS {
        for p in 0..partitions {
            assert!(
                per_partition.contains_key(&(topic, p)),
                "{topic}/{p} got no record: {per_partition:?}"
            );
        }
    }
    let total: usize = per_partition.values().sum();
    assert_eq!(total, 2 * keys.len());
}
