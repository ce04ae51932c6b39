//! Lag and group commits of a partition that ends in transaction markers
//! and aborted data, on real Apache Kafka 4.4.0.
//!
//! A transactional producer commits 3 records (offsets 0..=2, commit
//! marker at 3), then aborts 2 (offsets 4 and 5, abort marker at 6): the
//! log ends at 7 and its last 4 offsets are nothing a reader is handed
//! under read_committed. Once the consumer processed the last record it
//! was handed, its lag is 0 and its group commits the end (7), as the
//! Java consumer commits its position; before that, nothing past the
//! record still being processed is committed. read_uncommitted sees the
//! aborted records too and ends at the same place. The listener commits
//! the end too: its plain mode through the consumer's processed offsets,
//! its exactly-once mode in the transaction of the last record.
//!
//! Peer: Apache Kafka 4.4.0 (`kafka::single()`).

mod support;

use std::time::Duration;

use kafkit::consumer::{Consumer, ConsumerConfig, ConsumerRecord, IsolationLevel};
use kafkit::listener::{Context, Listener};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::TopicPartition;
use support::kafka;
use support::real::{
    admin, client, create_topics, group_config, next_records, read_topic, text, tp,
};

/// Commits `a`, `b`, `c`, then aborts `x`, `y`, all on partition 0.
async fn commit_then_abort(bootstrap: &str, topic: &str) {
    let config = ProducerConfig::default()
        .with_transactional_id(kafka::unique("lag-txn"))
        .with_transaction_timeout(Duration::from_secs(20))
        .with_linger(Duration::from_millis(2));
    let p = Producer::connect(client(bootstrap), config)
        .await
        .expect("producer");
    p.init_transactions().await.expect("init");
    let record = |v: &str| ProducerRecord::new(topic).partition(0).value(v.to_owned());
    p.begin_transaction().await.expect("begin");
    p.send_all(["a", "b", "c"].map(record)).await.expect("send");
    p.commit_transaction().await.expect("commit");
    p.begin_transaction().await.expect("begin");
    p.send_all(["x", "y"].map(record)).await.expect("send");
    p.abort_transaction().await.expect("abort");
    p.close(Duration::from_secs(10)).await.expect("close");
}

/// Polls (handing nothing more is expected) until `tp`'s lag is 0.
async fn lag_reaches_zero(consumer: &mut Consumer, at: &TopicPartition) -> i64 {
    let mut lag = -1;
    for _ in 0..100 {
        if let Ok(Some(r)) = tokio::time::timeout(Duration::from_millis(100), consumer.recv()).await
        {
            panic!("an extra record: {r:?}");
        }
        lag = consumer
            .lag()
            .await
            .expect("lag")
            .get(at)
            .copied()
            .unwrap_or(-1);
        if lag == 0 {
            break;
        }
    }
    lag
}

async fn ends_past_the_markers(isolation: IsolationLevel, expected: &[&str]) {
    let Some(k) = kafka::single() else {
        return;
    };
    let bootstrap = k.bootstrap.as_str();
    let topic = kafka::unique("txn-lag");
    create_topics(bootstrap, &[(&topic, 1)], 1).await;
    commit_then_abort(bootstrap, &topic).await;
    let at = tp(&topic, 0);

    let group = kafka::unique("txn-lag-group");
    let config = group_config(&group)
        .with_auto_commit(false)
        .with_isolation_level(isolation);
    let mut consumer = Consumer::connect(client(bootstrap), config)
        .await
        .expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    let read = next_records(&mut consumer, expected.len()).await;
    let values: Vec<String> = read.iter().map(|r| text(r.value.as_ref())).collect();
    assert_eq!(values, expected);

    // The last record is handed, not processed: nothing past it counts.
    let last = read.last().expect("a record").offset;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        consumer.processed_offsets().get(&at),
        Some(&last),
        "the record being processed is not committed"
    );
    consumer.commit().await.expect("commit");
    let committed = consumer.committed(vec![at.clone()]).await.expect("fetch");
    assert_eq!(committed.get(&at), Some(&Some(last)));

    // Processed (the next poll marks it): the markers and aborted data
    // after it count too.
    assert_eq!(lag_reaches_zero(&mut consumer, &at).await, 0, "lag");
    let (position, high_watermark) = consumer.positions().await.expect("positions")[&at];
    assert_eq!(high_watermark, 7, "3 + marker + 2 + marker");
    assert_eq!(position, Some(7));
    assert_eq!(consumer.processed_offsets().get(&at), Some(&7));
    consumer.commit().await.expect("commit");
    let committed = consumer.committed(vec![at.clone()]).await.expect("fetch");
    assert_eq!(committed.get(&at), Some(&Some(7)), "committed the end");
    consumer.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_committed_lag_and_commit_reach_the_end_past_an_abort() {
    ends_past_the_markers(IsolationLevel::ReadCommitted, &["a", "b", "c"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_uncommitted_lag_and_commit_reach_the_end_past_the_marker() {
    ends_past_the_markers(IsolationLevel::ReadUncommitted, &["a", "b", "c", "x", "y"]).await;
}

/// The group's committed offset of `at` once it is `want` (or the last seen).
async fn committed_becomes(bootstrap: &str, group: &str, at: &TopicPartition, want: i64) -> i64 {
    let admin = admin(bootstrap).await;
    let mut got = -1;
    for _ in 0..100 {
        let answer = admin
            .committed_offsets(group, std::slice::from_ref(at))
            .await
            .expect("offset fetch");
        got = answer
            .into_iter()
            .next()
            .and_then(|(_, r)| r.ok().flatten())
            .unwrap_or(-1);
        if got == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    admin.close();
    got
}

/// A listener (exactly-once or not) copying the input upper-cased.
async fn listener_commits_the_end(exactly_once: bool) {
    let Some(k) = kafka::single() else {
        return;
    };
    let bootstrap = k.bootstrap.as_str();
    let input = kafka::unique("txn-lag-in");
    let output = kafka::unique("txn-lag-out");
    create_topics(bootstrap, &[(&input, 1), (&output, 1)], 1).await;
    commit_then_abort(bootstrap, &input).await;
    let group = kafka::unique("txn-lag-listener");
    let config = group_config(&group).with_isolation_level(IsolationLevel::ReadCommitted);
    let out = output.clone();
    let handler = move |record: ConsumerRecord, ctx: Context| {
        let out = out.clone();
        async move {
            let value = text(record.value.as_ref()).to_uppercase();
            if ctx.is_exactly_once() {
                ctx.send(ProducerRecord::new(&out).partition(0).value(value))
                    .await?;
            }
            Ok(())
        }
    };
    let mut builder = Listener::builder(client(bootstrap), config).topic(&input, handler);
    if exactly_once {
        builder = builder.exactly_once(
            ProducerConfig::default()
                .with_transactional_id(kafka::unique("txn-lag-eos"))
                .with_linger(Duration::from_millis(1)),
        );
    }
    let listener = builder.run().expect("listener");
    let at = tp(&input, 0);
    let got = committed_becomes(bootstrap, &group, &at, 7).await;
    assert_eq!(got, 7, "the group committed the input's end");
    listener
        .shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");
    if exactly_once {
        let config = ConsumerConfig::default().with_isolation_level(IsolationLevel::ReadCommitted);
        let copies = read_topic(bootstrap, &output, 3, config).await;
        let copies: Vec<String> = copies.values().map(|r| text(r.value.as_ref())).collect();
        assert_eq!(copies, ["A", "B", "C"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_commits_the_end_past_an_abort() {
    listener_commits_the_end(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_listener_commits_the_end_past_an_abort() {
    listener_commits_the_end(true).await;
}
