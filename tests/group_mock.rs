//! Consumer groups against librdkafka's mock cluster: kafkit members
//! splitting partitions, rebalancing, committing; mixed with librdkafka
//! members.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafkit::consumer::{Consumer, ConsumerConfig, ConsumerEvent};
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
        .send_all(range.map(|i| ProducerRecord::new(topic).key(format!("k{i}")).value(format!("{i}"))))
        .await
        .expect("produced");
    producer.close(Duration::from_secs(5)).await.expect("close");
}

/// Reads from `consumer` until `until` says stop or `idle` passes without a record.
async fn drain(consumer: &mut Consumer, idle: Duration, mut seen: impl FnMut(TopicPartition, i64, usize) -> bool) {
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
async fn three_members_split_six_partitions_then_one_leaves() {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_test_writer().try_init();
    let mock = MockCluster::new(3).expect("mock");
    cap_mock_group_versions(&mock);
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic("split", 6, 3).expect("topic");
    produce(&bootstrap, "split", 0..600).await;

    let mut members = Vec::new();
    for _ in 0..3 {
        let mut c = Consumer::connect(ClientConfig::new([&bootstrap]), group_config("g-split"))
            .await
            .expect("consumer");
        c.subscribe(&["split"]).expect("subscribe");
        members.push(c);
    }
    // Poll all three concurrently until every record was seen.
    let mut handles = Vec::new();
    for mut c in members {
        handles.push(tokio::spawn(async move {
            let mut got: Vec<(TopicPartition, i64, usize)> = Vec::new();
            let events = c.events().expect("events");
            drain(&mut c, Duration::from_secs(8), |tp, off, i| {
                got.push((tp, off, i));
                true
            })
            .await;
            (c, got, events)
        }));
    }
    let mut all = BTreeMap::new();
    let mut owners: BTreeMap<TopicPartition, usize> = BTreeMap::new();
    let mut consumers = Vec::new();
    let mut event_streams = Vec::new();
    for (n, h) in handles.into_iter().enumerate() {
        let (c, got, events) = h.await.expect("join");
        event_streams.push(events);
        for (tp, _off, i) in got {
            *all.entry(i).or_insert(0) += 1;
            let owner = owners.entry(tp.clone()).or_insert(n);
            assert_eq!(*owner, n, "{tp:?} consumed by two members in a stable group");
        }
        consumers.push(c);
    }
    assert_eq!(all.len(), 600, "every record consumed");
    assert!(all.values().all(|c| *c == 1), "each record once");
    let distinct: BTreeSet<usize> = owners.values().copied().collect();
    assert_eq!(distinct.len(), 3, "all three members got partitions: {owners:?}");

    // One member leaves cleanly (commits on close); the others take over and
    // read what is produced next, nothing lost, nothing twice.
    let leaving = consumers.pop().expect("member");
    event_streams.pop();
    leaving.close().await.expect("close");
    for events in &mut event_streams {
        // The remaining members see the rebalance and a new generation.
        let settled = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(e) = events.recv().await {
                if matches!(e, ConsumerEvent::Assigned { generation_id, .. } if generation_id > 2) {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(settled.ok(), Some(true), "remaining member joined the new generation");
    }
    produce(&bootstrap, "split", 600..900).await;
    let mut handles = Vec::new();
    for mut c in consumers {
        handles.push(tokio::spawn(async move {
            let mut got = Vec::new();
            drain(&mut c, Duration::from_secs(10), |_, _, i| {
                got.push(i);
                true
            })
            .await;
            c.close().await.expect("close");
            got
        }));
    }
    let mut after = BTreeMap::new();
    for h in handles {
        for i in h.await.expect("join") {
            *after.entry(i).or_insert(0) += 1;
        }
    }
    for i in 600..900 {
        assert!(after.contains_key(&i), "record {i} lost after the rebalance");
    }
    // Duplicates only for records consumed but not committed before the rebalance.
    let dup_new = (600..900).filter(|i| after.get(i).copied().unwrap_or(0) > 1).count();
    assert_eq!(dup_new, 0, "records produced after the rebalance are read once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_survive_a_restart() {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_test_writer().try_init();
    let mock = MockCluster::new(1).expect("mock");
    cap_mock_group_versions(&mock);
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic("resume", 2, 1).expect("topic");
    produce(&bootstrap, "resume", 0..100).await;
    let mut c = Consumer::connect(ClientConfig::new([&bootstrap]), group_config("g-resume").with_auto_commit(false))
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
            TopicPartition { topic: "resume".into(), partition: 0 },
            TopicPartition { topic: "resume".into(), partition: 1 },
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
    assert_eq!(got, (100..150).collect::<Vec<_>>(), "resumed after the committed offsets");
    c.close().await.expect("close");
}
