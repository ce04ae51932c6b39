//! The listener against librdkafka's mock cluster: per-topic handlers,
//! redelivery with backoff, dead letters, skip, batches.
//! (Eviction and restarts: tests/listener_lifecycle.rs.)

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafkit::consumer::{Consumer, ConsumerConfig, ConsumerRecord};
use kafkit::listener::dead_letter::{
    HEADER_ATTEMPTS, HEADER_ERROR, HEADER_ORIGINAL_OFFSET, HEADER_ORIGINAL_PARTITION,
    HEADER_ORIGINAL_TOPIC,
};
use kafkit::listener::{
    Batch, BatchContext, Context, DeadLetter, HandlerError, Listener, ListenerEvent, RetryPolicy,
};
use kafkit::ClientConfig;
use tokio::sync::mpsc;

mod support;
use support::listener::{
    committed, group_config, mock_with_topics, next_n, produce, value_of, wait_event,
};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_topic_reaches_its_own_handler() {
    let (mock, bootstrap) = mock_with_topics(&[("orders", 2), ("audit", 1)]);
    produce(
        &bootstrap,
        "orders",
        None,
        (0..10).map(|i| format!("order-{i}")),
    )
    .await;
    produce(
        &bootstrap,
        "audit",
        None,
        (0..5).map(|i| format!("audit-{i}")),
    )
    .await;

    let (tx, mut rx) = mpsc::unbounded_channel::<(&'static str, String, String)>();
    let (orders_tx, audit_tx) = (tx.clone(), tx);
    let mut listener = Listener::builder(ClientConfig::new([&bootstrap]), group_config("g-two"))
        .topic("orders", move |r: ConsumerRecord, ctx: Context| {
            let tx = orders_tx.clone();
            async move {
                let _ = tx.send(("orders", ctx.topic().to_owned(), value_of(&r)));
                Ok(())
            }
        })
        .topic("audit", move |r: ConsumerRecord, ctx: Context| {
            let tx = audit_tx.clone();
            async move {
                let _ = tx.send(("audit", ctx.topic().to_owned(), value_of(&r)));
                Ok(())
            }
        })
        .run()
        .expect("listener");
    let mut events = listener.events().expect("events");

    let got = next_n(&mut rx, 15, WAIT).await;
    let mut by_handler: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (handler, topic, value) in got {
        assert_eq!(
            handler, topic,
            "handler of {handler} got a record of {topic}"
        );
        by_handler.entry(handler).or_default().push(value);
    }
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(by_handler.remove("orders").unwrap_or_default()),
        sorted((0..10).map(|i| format!("order-{i}")).collect())
    );
    assert_eq!(
        sorted(by_handler.remove("audit").unwrap_or_default()),
        sorted((0..5).map(|i| format!("audit-{i}")).collect())
    );
    listener
        .shutdown(Duration::from_secs(10))
        .await
        .expect("clean shutdown");
    let last = wait_event(&mut events, WAIT, |e| {
        matches!(e, ListenerEvent::Stopped { .. })
    })
    .await;
    assert_eq!(last, ListenerEvent::Stopped { error: None });
    assert_eq!(
        committed(&bootstrap, "g-two", "orders", 2)
            .await
            .iter()
            .flatten()
            .sum::<i64>(),
        10
    );
    drop(mock);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_record_is_redelivered_in_place_and_never_committed_past() {
    let (mock, bootstrap) = mock_with_topics(&[("payments", 1)]);
    // One batch per record and one batch per fetch: records after the
    // failing one are already queued for the listener when it seeks back.
    for i in 0..5 {
        produce(&bootstrap, "payments", Some(0), [i.to_string()]).await;
    }

    // (offset, attempt, committed offset seen by a failing delivery)
    let (tx, mut rx) = mpsc::unbounded_channel::<(i64, u32, Option<i64>)>();
    let failures = Arc::new(AtomicU32::new(0));
    let handler = move |r: ConsumerRecord, ctx: Context| {
        let (tx, failures) = (tx.clone(), failures.clone());
        async move {
            if r.offset == 2 && failures.load(Ordering::SeqCst) < 2 {
                failures.fetch_add(1, Ordering::SeqCst);
                let committed = ctx.committed().await?;
                let _ = tx.send((r.offset, ctx.attempt(), committed));
                return Err("not yet".into());
            }
            let _ = tx.send((r.offset, ctx.attempt(), None));
            Ok(())
        }
    };
    let mut listener = Listener::builder(
        ClientConfig::new([&bootstrap]),
        group_config("g-retry").with_max_partition_fetch_bytes(1),
    )
    .topic("payments", handler)
    .retry(RetryPolicy::new(5, Duration::from_millis(150)))
    .run()
    .expect("listener");
    let mut events = listener.events().expect("events");

    let got = next_n(&mut rx, 7, WAIT).await;
    let order: Vec<(i64, u32)> = got.iter().map(|(o, a, _)| (*o, *a)).collect();
    assert_eq!(
        order,
        vec![(0, 1), (1, 1), (2, 1), (2, 2), (2, 3), (3, 1), (4, 1)],
        "3 deliveries of offset 2, in place, the partition's order kept"
    );
    for (offset, _, c) in &got {
        if *offset == 2 {
            assert!(
                c.is_none_or(|c| c <= 2),
                "committed past the failing record: {c:?}"
            );
        }
    }
    let retry = wait_event(&mut events, WAIT, |e| {
        matches!(e, ListenerEvent::Retrying { .. })
    })
    .await;
    match retry {
        ListenerEvent::Retrying {
            offset, attempt, ..
        } => assert_eq!((offset, attempt), (2, 1)),
        other => panic!("{other:?}"),
    }
    listener
        .shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");
    assert_eq!(
        committed(&bootstrap, "g-retry", "payments", 1).await,
        vec![Some(5)]
    );
    drop(mock);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_record_goes_to_the_dead_letter_topic_with_headers() {
    let (mock, bootstrap) = mock_with_topics(&[("invoices", 1), ("invoices.dlt", 1)]);
    let producer = kafkit::producer::Producer::connect(
        ClientConfig::new([&bootstrap]),
        kafkit::producer::ProducerConfig::default(),
    )
    .await
    .expect("producer");
    producer
        .send_all((0..5).map(|i| {
            let r = kafkit::producer::ProducerRecord::new("invoices")
                .partition(0)
                .key(format!("k{i}"))
                .value(i.to_string());
            if i == 2 {
                r.header("trace", "abc")
            } else {
                r
            }
        }))
        .await
        .expect("produced");
    producer.close(Duration::from_secs(5)).await.expect("close");

    let (tx, mut rx) = mpsc::unbounded_channel::<(i64, u32)>();
    let handler = move |r: ConsumerRecord, ctx: Context| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((r.offset, ctx.attempt()));
            if r.offset == 2 {
                return Err("boom".into());
            }
            Ok(())
        }
    };
    let mut listener = Listener::builder(ClientConfig::new([&bootstrap]), group_config("g-dlt"))
        .topic("invoices", handler)
        .retry(RetryPolicy::new(3, Duration::from_millis(50)))
        .dead_letter(DeadLetter::default_topic())
        .run()
        .expect("listener");
    let mut events = listener.events().expect("events");

    let got = next_n(&mut rx, 7, WAIT).await;
    assert_eq!(
        got,
        vec![(0, 1), (1, 1), (2, 1), (2, 2), (2, 3), (3, 1), (4, 1)]
    );
    let dead = wait_event(&mut events, WAIT, |e| {
        matches!(e, ListenerEvent::DeadLettered { .. })
    })
    .await;
    match dead {
        ListenerEvent::DeadLettered {
            offset,
            attempts,
            destination,
            error,
            ..
        } => {
            assert_eq!((offset, attempts), (2, 3));
            assert_eq!(destination.as_deref(), Some("invoices.dlt"));
            assert_eq!(error, "boom");
        }
        other => panic!("{other:?}"),
    }
    listener
        .shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");
    assert_eq!(
        committed(&bootstrap, "g-dlt", "invoices", 1).await,
        vec![Some(5)]
    );

    // Read the dead letter back.
    let mut reader = Consumer::connect(
        ClientConfig::new([&bootstrap]),
        ConsumerConfig::default().from_beginning(),
    )
    .await
    .expect("reader");
    reader.assign_topic("invoices.dlt").await.expect("assign");
    let letter = tokio::time::timeout(WAIT, reader.recv())
        .await
        .expect("a dead letter arrives")
        .expect("open")
        .expect("record");
    assert_eq!(letter.key.as_deref(), Some(&b"k2"[..]));
    assert_eq!(letter.value.as_deref(), Some(&b"2"[..]));
    let header = |name: &str| {
        letter
            .header(name)
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    };
    assert_eq!(
        header("trace").as_deref(),
        Some("abc"),
        "original headers kept"
    );
    assert_eq!(header(HEADER_ORIGINAL_TOPIC).as_deref(), Some("invoices"));
    assert_eq!(header(HEADER_ORIGINAL_PARTITION).as_deref(), Some("0"));
    assert_eq!(header(HEADER_ORIGINAL_OFFSET).as_deref(), Some("2"));
    assert_eq!(header(HEADER_ERROR).as_deref(), Some("boom"));
    assert_eq!(header(HEADER_ATTEMPTS).as_deref(), Some("3"));
    reader.close().await.expect("close");
    drop(mock);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_error_with_skip_moves_on_at_once() {
    let (mock, bootstrap) = mock_with_topics(&[("events", 1)]);
    produce(&bootstrap, "events", Some(0), (0..5).map(|i| i.to_string())).await;
    let (tx, mut rx) = mpsc::unbounded_channel::<(i64, u32)>();
    let handler = move |r: ConsumerRecord, ctx: Context| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((r.offset, ctx.attempt()));
            if r.offset == 2 {
                return Err(HandlerError::permanent("unparsable"));
            }
            Ok(())
        }
    };
    let mut listener = Listener::builder(ClientConfig::new([&bootstrap]), group_config("g-skip"))
        .topic("events", handler)
        .retry(RetryPolicy::new(5, Duration::from_millis(50)))
        .dead_letter(DeadLetter::Skip)
        .run()
        .expect("listener");
    let mut events = listener.events().expect("events");
    let got = next_n(&mut rx, 5, WAIT).await;
    assert_eq!(
        got,
        vec![(0, 1), (1, 1), (2, 1), (3, 1), (4, 1)],
        "no retry"
    );
    let skipped = wait_event(&mut events, WAIT, |e| {
        matches!(e, ListenerEvent::DeadLettered { .. })
    })
    .await;
    assert!(
        matches!(
            &skipped,
            ListenerEvent::DeadLettered { offset: 2, attempts: 1, destination: None, error, .. }
                if error == "unparsable"
        ),
        "{skipped:?}"
    );
    listener
        .shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");
    assert_eq!(
        committed(&bootstrap, "g-skip", "events", 1).await,
        vec![Some(5)]
    );
    drop(mock);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_handler_resumes_after_the_resolved_offsets() {
    let (mock, bootstrap) = mock_with_topics(&[("audit", 1)]);
    produce(&bootstrap, "audit", Some(0), (0..10).map(|i| i.to_string())).await;

    // (offsets of the batch, attempt, resolved before failing (None = Ok))
    let (tx, mut rx) = mpsc::unbounded_channel::<(Vec<i64>, u32, Option<Option<i64>>)>();
    let failed = Arc::new(AtomicU32::new(0));
    let handler = move |batch: Batch, ctx: BatchContext| {
        let (tx, failed) = (tx.clone(), failed.clone());
        async move {
            let offsets: Vec<i64> = batch.records.iter().map(|r| r.offset).collect();
            if offsets.contains(&4) && failed.fetch_add(1, Ordering::SeqCst) == 0 {
                // Records before 4 were handled; 4 fails.
                if batch.first_offset() <= 3 {
                    ctx.resolve_offset(3);
                }
                let _ = tx.send((offsets, ctx.attempt(), Some(ctx.resolved())));
                return Err("offset 4 failed".into());
            }
            let _ = tx.send((offsets, ctx.attempt(), None));
            Ok(())
        }
    };
    let mut listener = Listener::builder(ClientConfig::new([&bootstrap]), group_config("g-batch"))
        .topic_batch("audit", handler)
        .retry(RetryPolicy::new(3, Duration::from_millis(50)))
        .run()
        .expect("listener");
    let mut events = listener.events().expect("events");

    let mut done: Vec<i64> = Vec::new();
    let mut failing_seen = false;
    let mut after_failure: Option<Vec<i64>> = None;
    while done.len() < 10 {
        let (offsets, _, outcome) = next_n(&mut rx, 1, WAIT).await.remove(0);
        match outcome {
            Some(resolved) => {
                failing_seen = true;
                done.extend(
                    offsets
                        .iter()
                        .filter(|o| resolved.is_some_and(|r| **o <= r)),
                );
            }
            None => {
                if failing_seen && after_failure.is_none() {
                    after_failure = Some(offsets.clone());
                }
                done.extend(offsets);
            }
        }
    }
    assert!(failing_seen);
    assert_eq!(
        after_failure.and_then(|o| o.first().copied()),
        Some(4),
        "redelivery starts at the first unresolved record"
    );
    assert_eq!(
        done,
        (0..10).collect::<Vec<_>>(),
        "each record handled once, in order"
    );
    let retry = wait_event(&mut events, WAIT, |e| {
        matches!(e, ListenerEvent::Retrying { .. })
    })
    .await;
    assert!(
        matches!(retry, ListenerEvent::Retrying { offset: 4, .. }),
        "{retry:?}"
    );
    listener
        .shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");
    assert_eq!(
        committed(&bootstrap, "g-batch", "audit", 1).await,
        vec![Some(10)]
    );
    drop(mock);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_partitions_flow_while_one_waits_for_its_retry() {
    let (mock, bootstrap) = mock_with_topics(&[("shipments", 2)]);
    produce(&bootstrap, "shipments", Some(0), ["p0-0".to_owned()]).await;
    produce(
        &bootstrap,
        "shipments",
        Some(1),
        (0..5).map(|i| format!("p1-{i}")),
    )
    .await;
    // (partition, offset, attempt, succeeded)
    let (tx, mut rx) = mpsc::unbounded_channel::<(i32, i64, u32, bool)>();
    let handler = move |r: ConsumerRecord, ctx: Context| {
        let tx = tx.clone();
        async move {
            let fail = r.partition == 0 && ctx.attempt() == 1;
            let _ = tx.send((r.partition, r.offset, ctx.attempt(), !fail));
            if fail {
                return Err("try later".into());
            }
            Ok(())
        }
    };
    let mut listener = Listener::builder(ClientConfig::new([&bootstrap]), group_config("g-flow"))
        .topic("shipments", handler)
        .retry(RetryPolicy::new(2, Duration::from_secs(2)))
        .run()
        .expect("listener");
    let _events = listener.events();
    let got = next_n(&mut rx, 7, WAIT).await;
    let first_failure = got
        .iter()
        .position(|d| !d.3)
        .expect("partition 0 failed once");
    let retried = got
        .iter()
        .position(|d| d.0 == 0 && d.2 == 2)
        .expect("partition 0 retried");
    let p1: Vec<usize> = got
        .iter()
        .enumerate()
        .filter(|(_, d)| d.0 == 1)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(p1.len(), 5, "{got:?}");
    assert!(first_failure < retried, "{got:?}");
    assert!(
        p1.iter().all(|i| *i < retried),
        "partition 1 drained during partition 0's backoff: {got:?}"
    );
    listener
        .shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");
    assert_eq!(
        committed(&bootstrap, "g-flow", "shipments", 2).await,
        vec![Some(1), Some(5)]
    );
    drop(mock);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_pause_holds_the_partition_until_resumed_and_panics_are_failures() {
    let (mock, bootstrap) = mock_with_topics(&[("jobs", 1)]);
    produce(&bootstrap, "jobs", Some(0), (0..4).map(|i| i.to_string())).await;
    let (tx, mut rx) = mpsc::unbounded_channel::<(i64, u32)>();
    let (resume_tx, mut resume_rx) = mpsc::unbounded_channel();
    let handler = move |r: ConsumerRecord, ctx: Context| {
        let (tx, resume_tx) = (tx.clone(), resume_tx.clone());
        async move {
            let _ = tx.send((r.offset, ctx.attempt()));
            if r.offset == 0 && ctx.attempt() == 1 {
                panic!("first delivery of offset 0 panics");
            }
            if r.offset == 1 {
                let _ = resume_tx.send(ctx.pause());
            }
            Ok(())
        }
    };
    let mut listener = Listener::builder(ClientConfig::new([&bootstrap]), group_config("g-pause"))
        .topic("jobs", handler)
        .retry(RetryPolicy::new(3, Duration::from_millis(50)))
        .run()
        .expect("listener");
    let _events = listener.events();
    assert_eq!(next_n(&mut rx, 3, WAIT).await, vec![(0, 1), (0, 2), (1, 1)]);
    let resume = next_n(&mut resume_rx, 1, WAIT).await.remove(0);
    // Paused: nothing more arrives (a bounded look; a false pass at worst).
    assert!(
        tokio::time::timeout(Duration::from_millis(700), rx.recv())
            .await
            .is_err(),
        "a record arrived while the partition was paused"
    );
    resume.resume();
    assert_eq!(next_n(&mut rx, 2, WAIT).await, vec![(2, 1), (3, 1)]);
    listener
        .shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");
    drop(mock);
}
