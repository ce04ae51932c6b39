//! The consumer's group driver against librdkafka's mock cluster: join,
//! consume from the committed offsets, commit, restart.

use std::time::Duration;

use kafkit::consumer::{Consumer, ConsumerConfig};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord, TopicPartition};
use kafkit::ClientConfig;
use rdkafka::mocking::MockCluster;

mod support;
use support::cap_mock_group_versions;

fn group_config(group: &str) -> ConsumerConfig {
    ConsumerConfig::group(group)
        .from_beginning()
        .with_session_timeout(Duration::from_secs(6))
        .with_heartbeat_interval(Duration::from_millis(300))
        .with_auto_commit_interval(Duration::from_millis(200))
        .with_fetch_max_wait(Duration::from_millis(100))
}

async fn produce(bootstrap: &str, topic: &str, range: std::ops::Range<usize>) {
    let producer = Producer::connect(ClientConfig::new([bootstrap]), ProducerConfig::default())
        .await
        .expect("producer");
    producer
        .send_all(range.map(|i| {
            ProducerRecord::new(topic)
                .key(format!("k{i}"))
                .value(format!("{i}"))
        }))
        .await
        .expect("produced");
    producer.close(Duration::from_secs(5)).await.expect("close");
}

/// Reads from `consumer` until `until` says stop or `idle` passes without a record.
async fn drain(
    consumer: &mut Consumer,
    idle: Duration,
    mut seen: impl FnMut(TopicPartition, i64, usize) -> bool,
) {
    loop {
        match tokio::time::timeout(idle, consumer.recv()).await {
            Ok(Some(Ok(r))) => {
                let i: usize = std::str::from_utf8(r.value.as_deref().unwrap_or_default())
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .expect("value is an index");
                let tp = TopicPartition {
                    topic: r.topic.to_string(),
                    partition: r.partition,
                };
                if !seen(tp, r.offset, i) {
                    return;
                }
            }
            Ok(Some(Err(e))) => panic!("consumer error: {e}"),
            Ok(None) | Err(_) => return,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_survive_a_restart() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mock = MockCluster::new(1).expect("mock");
    cap_mock_group_versions(&mock);
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic("resume", 2, 1).expect("topic");
    produce(&bootstrap, "resume", 0..100).await;
    let mut c = Consumer::connect(
        ClientConfig::new([&bootstrap]),
        group_config("g-resume").with_auto_commit(false),
    )
    .await
    .expect("consumer");
    c.subscribe(&["resume"]).expect("subscribe");
    let mut n = 0;
    drain(&mut c, Duration::from_secs(8), |_, _, _| {
        n += 1;
        n < 100
    })
    .await;
    assert_eq!(n, 100);
    c.mark_processed();
    c.commit().await.expect("manual commit");
    let committed = c
        .committed(vec![
            TopicPartition {
                topic: "resume".into(),
                partition: 0,
            },
            TopicPartition {
                topic: "resume".into(),
                partition: 1,
            },
        ])
        .await
        .expect("committed");
    let total: i64 = committed.values().map(|o| o.unwrap_or(0)).sum();
    assert_eq!(total, 100, "{committed:?}");
    c.close().await.expect("close");

    produce(&bootstrap, "resume", 100..150).await;
    let mut c = Consumer::connect(ClientConfig::new([&bootstrap]), group_config("g-resume"))
        .await
        .expect("consumer");
    c.subscribe(&["resume"]).expect("subscribe");
    let mut got = Vec::new();
    drain(&mut c, Duration::from_secs(8), |_, _, i| {
        got.push(i);
        got.len() < 50
    })
    .await;
    got.sort_unstable();
    assert_eq!(
        got,
        (100..150).collect::<Vec<_>>(),
        "resumed after the committed offsets"
    );
    c.close().await.expect("close");
}

/// A coordinator may hold a JoinGroup until the group's members have all
/// (re)joined, up to the rebalance timeout, which is longer than the
/// request timeout: the member waits for it (it used to time the JoinGroup
/// out after the connection's request timeout, drop the connection and
/// start over, and with a request timeout shorter than the hold it never
/// got in). librdkafka's mock holds the join of a new group for about the
/// session timeout minus a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_held_longer_than_the_request_timeout_completes() {
    let mock = MockCluster::new(1).expect("mock");
    cap_mock_group_versions(&mock);
    mock.create_topic("held", 2, 1).expect("topic");
    let bootstrap = mock.bootstrap_servers();
    let request_timeout = Duration::from_secs(1);
    let client = ClientConfig::new([bootstrap.as_str()]).with_request_timeout(request_timeout);
    let mut consumer = Consumer::connect(client, group_config("held-join"))
        .await
        .expect("consumer");
    let mut events = consumer.events().expect("events");
    consumer.subscribe(&["held"]).expect("subscribe");
    let started = std::time::Instant::now();
    let mut consuming = Box::pin(async move {
        loop {
            if consumer.recv().await.is_none() {
                return;
            }
        }
    });
    let assigned = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            tokio::select! {
                _ = &mut consuming => panic!("consumer stopped"),
                e = events.recv() => match e.expect("events open") {
                    kafkit::consumer::ConsumerEvent::Assigned { partitions, .. } => return partitions,
                    kafkit::consumer::ConsumerEvent::Crashed { error, .. } => panic!("crashed: {error}"),
                    _ => {}
                },
            }
        }
    })
    .await
    .expect("assigned within 30 s");
    let waited = started.elapsed();
    assert_eq!(assigned.len(), 2);
    assert!(
        waited > request_timeout,
        "the mock held the JoinGroup for {waited:?}, longer than the {request_timeout:?} request timeout"
    );
}
