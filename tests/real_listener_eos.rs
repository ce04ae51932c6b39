//! The listener's exactly-once mode (`ListenerBuilder::exactly_once`) on
//! the run's real Apache Kafka broker: a consume-transform-produce pipeline
//! from an input topic to an output topic. The handler writes each record's
//! upper-cased copy through its context, then fails once on one record
//! (after writing its copy: the aborted copy must never be visible to
//! `read_committed`) and always, permanently, on another (dead-lettered in
//! the transaction that moves the offset past it). At the end a
//! read_committed reader finds every other input's output exactly once,
//! the dead letter exactly once, a read_uncommitted reader finds the
//! aborted copy too, and the group's committed offsets are the input's end.
//!
//! Peer: Apache Kafka 4.4.0 (`support::kafka::single()`).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use kafkit::consumer::{ConsumerConfig, ConsumerRecord, IsolationLevel};
use kafkit::listener::{Context, DeadLetter, HandlerError, Listener, ListenerEvent, RetryPolicy};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use support::kafka::unique;
use support::real::{
    admin, broker, client, create_topics, group_config, read_topic, text, tp, WAIT,
};

const RECORDS: usize = 30;
const PARTITIONS: i32 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_listener_aborts_a_failed_record_and_commits_each_output_once() {
    let Some(bootstrap) = broker() else { return };
    let input = unique("eos-in");
    let output = unique("eos-out");
    create_topics(
        &bootstrap,
        &[
            (&input, PARTITIONS),
            (&output, PARTITIONS),
            (&format!("{input}.dlt"), 1),
        ],
        1,
    )
    .await;
    let plain = Producer::connect(client(&bootstrap), ProducerConfig::default())
        .await
        .expect("producer");
    plain
        .send_all((0..RECORDS).map(|i| {
            ProducerRecord::new(&input)
                .partition(i as i32 % PARTITIONS)
                .value(format!("item {i}"))
        }))
        .await
        .expect("input");
    plain.close(Duration::from_secs(5)).await.expect("close");

    let group = unique("eos-group");
    let out = output.clone();
    let handler = move |record: ConsumerRecord, ctx: Context| {
        let out = out.clone();
        async move {
            let value = text(record.value.as_ref());
            assert!(ctx.is_exactly_once());
            let copy = ProducerRecord::new(&out)
                .partition(record.partition)
                .value(value.to_uppercase());
            if value == "item 13" || value == "item 20" {
                // Written before the failure, so the abort has data to abort.
                ctx.send(copy).await?;
            } else {
                ctx.produce(copy).await?;
            }
            if value == "item 13" && ctx.attempt() == 1 {
                return Err("a failure after writing the output".into());
            }
            if value == "item 20" {
                return Err(HandlerError::permanent("never processable"));
            }
            Ok(())
        }
    };
    let mut listener = Listener::builder(client(&bootstrap), group_config(&group))
        .topic(&input, handler)
        .retry(RetryPolicy::new(3, Duration::from_millis(50)))
        .dead_letter(DeadLetter::default_topic())
        .exactly_once(
            ProducerConfig::default()
                .with_transactional_id(unique("eos-listener"))
                .with_linger(Duration::from_millis(1)),
        )
        .run()
        .expect("listener");
    let mut events = listener.events().expect("events");

    // Read the output as it commits: every input but the dead one, once.
    let config = ConsumerConfig::default()
        .from_beginning()
        .with_isolation_level(IsolationLevel::ReadCommitted)
        .with_fetch_max_wait(Duration::from_millis(100));
    let out = read_topic(&bootstrap, &output, RECORDS - 1, config).await;
    let mut values: Vec<String> = out.values().map(|r| text(r.value.as_ref())).collect();
    values.sort();
    let mut want: Vec<String> = (0..RECORDS)
        .filter(|i| *i != 20)
        .map(|i| format!("ITEM {i}"))
        .collect();
    want.sort();
    assert_eq!(values, want, "read_committed: each output once");

    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(e);
    }
    assert!(
        seen.iter()
            .any(|e| matches!(e, ListenerEvent::Retrying { attempt: 1, .. })),
        "item 13 was redelivered: {seen:?}"
    );
    assert!(
        seen.iter().any(|e| matches!(
            e,
            ListenerEvent::DeadLettered { destination: Some(d), .. } if *d == format!("{input}.dlt")
        )),
        "item 20 was dead-lettered: {seen:?}"
    );

    // The group's offsets are the input's end once the last transaction is in.
    let partitions: Vec<_> = (0..PARTITIONS).map(|p| tp(&input, p)).collect();
    let admin = admin(&bootstrap).await;
    let want_offsets: BTreeMap<i32, Option<i64>> = (0..PARTITIONS)
        .map(|p| (p, Some(RECORDS as i64 / 2)))
        .collect();
    let mut offsets = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while offsets != want_offsets && tokio::time::Instant::now() < deadline {
        offsets = admin
            .committed_offsets(&group, &partitions)
            .await
            .expect("offset fetch")
            .into_iter()
            .map(|(tp, r)| (tp.partition, r.ok().flatten()))
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        offsets, want_offsets,
        "committed offsets at the input's end"
    );
    admin.close();
    listener
        .shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");

    // The dead letter, once, committed.
    let config = ConsumerConfig::default().with_isolation_level(IsolationLevel::ReadCommitted);
    let dead = read_topic(&bootstrap, &format!("{input}.dlt"), 1, config).await;
    let dead: Vec<String> = dead.values().map(|r| text(r.value.as_ref())).collect();
    assert_eq!(dead, ["item 20"]);

    // The aborted copies are in the log: item 13's first one and item 20's
    // only one (a permanent failure is not retried).
    let config = ConsumerConfig::default().with_isolation_level(IsolationLevel::ReadUncommitted);
    let all = read_topic(&bootstrap, &output, RECORDS + 1, config).await;
    let thirteen = all
        .values()
        .filter(|r| text(r.value.as_ref()) == "ITEM 13")
        .count();
    assert_eq!(thirteen, 2, "the aborted copy and the committed one");
    let twenty = all
        .values()
        .filter(|r| text(r.value.as_ref()) == "ITEM 20")
        .count();
    assert_eq!(twenty, 1, "aborted, never committed");
}
