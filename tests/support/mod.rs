//! Helpers shared by the broker-facing integration tests.
#![allow(dead_code)]

pub mod child_member;
pub mod dropping;
pub mod golden;
pub mod java;
pub mod kafka;
pub mod kafka_golden;
pub mod kafka_scenario;
pub mod kafka_share;
pub mod kafka_sweep;
pub mod kafka_sweep_groups;
pub mod kafka_sweep_kip848;
pub mod kafka_txn;
pub mod kip848;
pub mod listener;
pub mod members;
pub mod raw;
pub mod real;
pub mod scripted;
pub mod share_broker;
pub mod tansu;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig as RdConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

/// One record as librdkafka read it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBack {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

/// Reads every record of `topic` (all `partitions`) from the beginning with
/// librdkafka, until `expected` records arrived or nothing new came for 3 s.
pub fn read_back(bootstrap: &str, topic: &str, partitions: i32, expected: usize) -> Vec<ReadBack> {
    let consumer: BaseConsumer = RdConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("readback-{topic}"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("rdkafka consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let mut last_progress = Instant::now();
    let hard_deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < hard_deadline && last_progress.elapsed() < Duration::from_secs(3) {
        if out.len() >= expected && last_progress.elapsed() > Duration::from_millis(500) {
            break;
        }
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            out.push(ReadBack {
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
            });
            last_progress = Instant::now();
        }
    }
    out
}

/// Checks what was read against what was acknowledged: every acknowledged
/// value is present, no value appears twice, and within each partition the
/// values of one key appear in the order they were sent (values are
/// `"<key>:<n>"` with `n` increasing per key). Returns (lost, duplicated).
pub fn check_exactly_once_in_order(read: &[ReadBack], acknowledged: &[String]) -> (usize, usize) {
    check_exactly_once(read, acknowledged, true)
}

/// Like [`check_exactly_once_in_order`]; order is checked only when `ordered`.
pub fn check_exactly_once(
    read: &[ReadBack],
    acknowledged: &[String],
    ordered: bool,
) -> (usize, usize) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut last_per_key: BTreeMap<(i32, String), u64> = BTreeMap::new();
    let mut sorted = read.to_vec();
    sorted.sort_by_key(|r| (r.partition, r.offset));
    for r in &sorted {
        let v = String::from_utf8(r.value.clone().unwrap_or_default()).unwrap_or_default();
        *seen.entry(v.clone()).or_default() += 1;
        if let Some((key, n)) = v.rsplit_once(':') {
            let n: u64 = n.parse().unwrap_or(0);
            let slot = last_per_key
                .entry((r.partition, key.to_owned()))
                .or_insert(0);
            assert!(
                !ordered || n >= *slot,
                "order broken in partition {} for key {key}: {n} after {}",
                r.partition,
                *slot
            );
            *slot = n;
        }
    }
    let lost = acknowledged
        .iter()
        .filter(|v| !seen.contains_key(*v))
        .count();
    let duplicated = seen.values().filter(|c| **c > 1).count();
    (lost, duplicated)
}

/// Caps the group APIs whose flexible versions librdkafka 2.12's mock
/// advertises but cannot parse: its JoinGroup (v6) and SyncGroup (v4)
/// handlers read the protocol/assignment counts as `int32` instead of
/// compact arrays, and its LeaveGroup handler reads a single member id even
/// at v3+ (rdkafka_mock_handlers.c). Real brokers have none of these bugs.
pub fn cap_mock_group_versions<C: rdkafka::ClientContext>(
    mock: &rdkafka::mocking::MockCluster<'_, C>,
) {
    use rdkafka::types::RDKafkaApiKey;
    for (api, max) in [
        (RDKafkaApiKey::JoinGroup, 5),
        (RDKafkaApiKey::SyncGroup, 3),
        (RDKafkaApiKey::LeaveGroup, 2),
    ] {
        mock.apiversion(api, None, Some(max))
            .expect("cap mock version");
    }
}
