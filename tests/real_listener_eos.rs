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
//!
//! The crash test runs that pipeline (a batch handler) in a child process
//! (this test binary again, in the child role), SIGKILLs it twice while its
//! output shows an open transaction and restarts it with the same
//! transactional id; the output then holds each input's copy exactly once.
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

/// Records in the crash test.
const CRASH_RECORDS: usize = 300;

/// The child's side of the crash test: the exactly-once pipeline from
/// `KAFKIT_EOS_CHILD`'s input to its output (a batch handler: one
/// transaction per fetched batch), running until it is killed.
async fn child_pipeline(spec: &str) {
    let [bootstrap, input, output, group, id] = spec.split(' ').collect::<Vec<_>>()[..] else {
        panic!("KAFKIT_EOS_CHILD: {spec}");
    };
    let out = output.to_owned();
    let handler = move |batch: kafkit::listener::Batch, ctx: kafkit::listener::BatchContext| {
        let out = out.clone();
        async move {
            let n = batch.records.len();
            for (i, r) in batch.records.iter().enumerate() {
                let copy = ProducerRecord::new(&out)
                    .partition(r.partition)
                    .value(text(r.value.as_ref()).to_uppercase());
                if i + 1 == n {
                    // The last one written (and those before it, same partition).
                    ctx.send(copy).await?;
                } else {
                    ctx.produce(copy).await?;
                }
            }
            // The transaction stays open a while after its records are in
            // the log, for the parent's kill to land inside it.
            tokio::time::sleep(Duration::from_millis(150)).await;
            Ok(())
        }
    };
    // A static member: the restarted child takes the killed one's place at
    // once instead of waiting for its session to expire.
    // One input batch (25 records) per fetch: one transaction each.
    let config = group_config(group)
        .with_group_instance_id("eos-child")
        .with_max_partition_fetch_bytes(1);
    let mut listener = Listener::builder(client(bootstrap), config)
        .topic_batch(input, handler)
        .exactly_once(ProducerConfig::default().with_transactional_id(id))
        .run()
        .expect("listener");
    let outcome = listener.wait().await;
    panic!("the child pipeline stopped by itself: {outcome:?}");
}

/// The pipeline process is SIGKILLed twice while its output shows open
/// transactions, restarted each time with the same transactional id (which
/// aborts the killed one's open transaction) and static group member id;
/// the third run finishes. read_committed sees each input's output once,
/// and the group's offsets are the input's end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_pipeline_survives_sigkill_mid_transaction() {
    if let Ok(spec) = std::env::var("KAFKIT_EOS_CHILD") {
        return child_pipeline(&spec).await;
    }
    let Some(bootstrap) = broker() else { return };
    let started = std::time::Instant::now();
    let input = unique("eos-crash-in");
    let output = unique("eos-crash-out");
    create_topics(
        &bootstrap,
        &[(&input, PARTITIONS), (&output, PARTITIONS)],
        1,
    )
    .await;
    let plain = Producer::connect(client(&bootstrap), ProducerConfig::default())
        .await
        .expect("producer");
    for chunk in (0..CRASH_RECORDS).collect::<Vec<_>>().chunks(50) {
        // Awaited per chunk: batches of 25 records per partition.
        plain
            .send_all(chunk.iter().map(|i| {
                ProducerRecord::new(&input)
                    .partition(*i as i32 % PARTITIONS)
                    .value(format!("item {i}"))
            }))
            .await
            .expect("input");
    }
    plain.close(Duration::from_secs(5)).await.expect("close");

    let group = unique("eos-crash-group");
    let spec = format!(
        "{bootstrap} {input} {output} {group} {}",
        unique("eos-crash-id")
    );
    let spawn = || {
        std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "exactly_once_pipeline_survives_sigkill_mid_transaction",
                "--exact",
                "--nocapture",
            ])
            .env("KAFKIT_EOS_CHILD", &spec)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn the pipeline")
    };
    // A read_uncommitted reader of the output: it sees records of open
    // transactions, so a kill right after it saw some lands mid-transaction.
    let mut watcher = kafkit::consumer::Consumer::connect(
        client(&bootstrap),
        ConsumerConfig::default()
            .from_beginning()
            .with_fetch_max_wait(Duration::from_millis(20)),
    )
    .await
    .expect("watcher");
    watcher.assign_topic(&output).await.expect("assign");
    let mut written = 0usize;
    let mut kills = 0;
    for threshold in [CRASH_RECORDS / 4, CRASH_RECORDS / 2] {
        let mut child = spawn();
        while written < threshold {
            match tokio::time::timeout(WAIT, watcher.recv()).await {
                Ok(Some(Ok(_))) => written += 1,
                other => panic!("the pipeline wrote {written} records, then {other:?}"),
            }
        }
        child.kill().expect("SIGKILL"); // std's kill is SIGKILL on unix
        child.wait().expect("reaped");
        kills += 1;
        eprintln!(
            "kill {kills} at {written} records seen, {:?}",
            started.elapsed()
        );
    }
    let mut child = spawn();

    let config = ConsumerConfig::default()
        .from_beginning()
        .with_isolation_level(IsolationLevel::ReadCommitted)
        .with_fetch_max_wait(Duration::from_millis(100));
    let out = read_topic(&bootstrap, &output, CRASH_RECORDS, config).await;
    eprintln!("read back at {:?}", started.elapsed());
    let mut values: Vec<String> = out.values().map(|r| text(r.value.as_ref())).collect();
    values.sort();
    let mut want: Vec<String> = (0..CRASH_RECORDS).map(|i| format!("ITEM {i}")).collect();
    want.sort();
    assert_eq!(
        values, want,
        "read_committed: each output once after {kills} kills"
    );

    let partitions: Vec<_> = (0..PARTITIONS).map(|p| tp(&input, p)).collect();
    let admin = admin(&bootstrap).await;
    let end = Some(CRASH_RECORDS as i64 / 2);
    let want_offsets: BTreeMap<i32, Option<i64>> = (0..PARTITIONS).map(|p| (p, end)).collect();
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
    // The kills cut transactions: their records are in the log, aborted.
    while let Ok(Some(Ok(_))) =
        tokio::time::timeout(Duration::from_millis(500), watcher.recv()).await
    {
        written += 1;
    }
    assert!(
        written > CRASH_RECORDS,
        "{written} records in the output log: no transaction was cut by a kill"
    );
    child.kill().expect("kill the last run");
    child.wait().expect("reaped");
    watcher.close().await.expect("close");
    eprintln!(
        "crash test: {written} records in the output log, {:?}",
        started.elapsed()
    );
}
