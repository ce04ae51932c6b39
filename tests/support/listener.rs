//! Helpers for the listener tests.

use std::time::Duration;

use kafkit::consumer::{ConsumerConfig, ConsumerRecord};
use kafkit::listener::ListenerEvent;
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use tokio::sync::mpsc::UnboundedReceiver;

/// A one-broker mock with group versions capped and `topics` created.
pub fn mock_with_topics(
    topics: &[(&str, i32)],
) -> (MockCluster<'static, DefaultProducerContext>, String) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mock = MockCluster::new(1).expect("mock");
    super::cap_mock_group_versions(&mock);
    for (topic, partitions) in topics {
        mock.create_topic(topic, *partitions, 1).expect("topic");
    }
    let bootstrap = mock.bootstrap_servers();
    (mock, bootstrap)
}

/// A group consumer reading from the beginning, with quick timers.
pub fn group_config(group: &str) -> ConsumerConfig {
    ConsumerConfig::group(group)
        .from_beginning()
        .with_session_timeout(Duration::from_secs(6))
        .with_heartbeat_interval(Duration::from_millis(300))
        .with_auto_commit_interval(Duration::from_millis(100))
        .with_fetch_max_wait(Duration::from_millis(100))
}

/// Produces `values` (key `k<i>`) to `topic`, to `partition` if given.
pub async fn produce(
    bootstrap: &str,
    topic: &str,
    partition: Option<i32>,
    values: impl IntoIterator<Item = String>,
) {
    let producer = Producer::connect(ClientConfig::new([bootstrap]), ProducerConfig::default())
        .await
        .expect("producer");
    producer
        .send_all(values.into_iter().enumerate().map(|(i, v)| {
            let r = ProducerRecord::new(topic).key(format!("k{i}")).value(v);
            match partition {
                Some(p) => r.partition(p),
                None => r,
            }
        }))
        .await
        .expect("produced");
    producer.close(Duration::from_secs(5)).await.expect("close");
}

/// The record's value as text.
pub fn value_of(r: &ConsumerRecord) -> String {
    String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()
}

/// The next `n` items, or a panic naming what came when `within` passes.
pub async fn next_n<T: std::fmt::Debug>(
    rx: &mut UnboundedReceiver<T>,
    n: usize,
    within: Duration,
) -> Vec<T> {
    let deadline = tokio::time::Instant::now() + within;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(x)) => out.push(x),
            Ok(None) => panic!("channel closed after {out:?}"),
            Err(_) => panic!("only {} of {n} within {within:?}: {out:?}", out.len()),
        }
    }
    out
}

/// Events until one matches `pred` (returned); panics after `within`.
pub async fn wait_event(
    events: &mut UnboundedReceiver<ListenerEvent>,
    within: Duration,
    mut pred: impl FnMut(&ListenerEvent) -> bool,
) -> ListenerEvent {
    let deadline = tokio::time::Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(e)) if pred(&e) => return e,
            Ok(Some(e)) => seen.push(e),
            Ok(None) => panic!("events ended; seen {seen:?}"),
            Err(_) => panic!("no matching event within {within:?}; seen {seen:?}"),
        }
    }
}

/// The group's committed offsets for partitions `0..partitions` of
/// `topic`, read with librdkafka (no join).
pub async fn committed(
    bootstrap: &str,
    group: &str,
    topic: &str,
    partitions: i32,
) -> Vec<Option<i64>> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
    let (bootstrap, group, topic) = (bootstrap.to_owned(), group.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = rdkafka::config::ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", &group)
            .create()
            .expect("rdkafka consumer");
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition(&topic, p);
        }
        let got = consumer
            .committed_offsets(tpl, Duration::from_secs(10))
            .expect("committed offsets");
        (0..partitions)
            .map(
                |p| match got.find_partition(&topic, p).map(|e| e.offset()) {
                    Some(Offset::Offset(o)) => Some(o),
                    _ => None,
                },
            )
            .collect()
    })
    .await
    .expect("blocking task")
}
