//! The listener's lifecycle against librdkafka's mock cluster: slow
//! handlers and `max_poll_interval`, crashes and the restart policy.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafkit::consumer::ConsumerRecord;
use kafkit::listener::{Context, Listener, ListenerError, ListenerEvent, RestartPolicy};
use kafkit::ClientConfig;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use tokio::sync::mpsc;

mod support;
use support::listener::{group_config, mock_with_topics, next_n, produce};

const WAIT: Duration = Duration::from_secs(30);
const MAX_POLL: Duration = Duration::from_millis(1500);
/// How long the first delivery of offset 0 works: well over `MAX_POLL`.
const SLOW: Duration = Duration::from_millis(4000);

/// A group config whose crashed members leave the mock's group quickly
/// (a failed member sends no LeaveGroup; the next one waits for its session
/// to expire before the group can rebalance).
fn short_session(group: &str) -> kafkit::consumer::ConsumerConfig {
    group_config(group)
        .with_session_timeout(Duration::from_secs(4))
        .with_heartbeat_interval(Duration::from_millis(300))
}

/// Runs a listener whose handler spends `SLOW` on the first delivery of
/// offset 0 (calling `heartbeat()` every 100 ms if `heartbeat`), until the
/// three records are handled; returns the delivered offsets and the events.
async fn slow_handler(group: &str, heartbeat: bool) -> (Vec<i64>, Vec<ListenerEvent>) {
    let topic = format!("{group}-topic");
    let (mock, bootstrap) = mock_with_topics(&[(topic.as_str(), 1)]);
    produce(&bootstrap, &topic, Some(0), (0..3).map(|i| i.to_string())).await;
    let (tx, mut rx) = mpsc::unbounded_channel::<i64>();
    let slow_done = Arc::new(AtomicBool::new(false));
    let handler = move |r: ConsumerRecord, ctx: Context| {
        let (tx, slow_done) = (tx.clone(), slow_done.clone());
        async move {
            if r.offset == 0 && !slow_done.swap(true, Ordering::SeqCst) {
                let until = tokio::time::Instant::now() + SLOW;
                while tokio::time::Instant::now() < until {
                    if heartbeat {
                        ctx.heartbeat();
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            let _ = tx.send(r.offset);
            Ok(())
        }
    };
    let mut listener = Listener::builder(
        ClientConfig::new([&bootstrap]),
        group_config(group).with_max_poll_interval(MAX_POLL),
    )
    .topic(topic.as_str(), handler)
    .run()
    .expect("listener");
    let mut events = listener.events().expect("events");
    let mut delivered = Vec::new();
    while !delivered.contains(&2) {
        delivered.extend(next_n(&mut rx, 1, WAIT).await);
    }
    listener
        .shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");
    let mut seen = Vec::new();
    while let Some(e) = events.recv().await {
        seen.push(e);
    }
    drop(mock);
    (delivered, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_handler_calling_heartbeat_stays_in_the_group() {
    let (delivered, events) = slow_handler("g-heartbeat", true).await;
    assert_eq!(delivered, vec![0, 1, 2], "{events:?}");
    assert!(
        !events.iter().any(|e| matches!(
            e,
            ListenerEvent::PollTimeoutExpired | ListenerEvent::Lost { .. }
        )),
        "{events:?}"
    );
    let assigned = events
        .iter()
        .filter(|e| matches!(e, ListenerEvent::Assigned { .. }))
        .count();
    assert_eq!(assigned, 1, "no rejoin: {events:?}");
    assert_eq!(events.last(), Some(&ListenerEvent::Stopped { error: None }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_handler_without_heartbeat_is_evicted_and_rejoins() {
    let (delivered, events) = slow_handler("g-evicted", false).await;
    let expired = events
        .iter()
        .position(|e| *e == ListenerEvent::PollTimeoutExpired)
        .unwrap_or_else(|| panic!("no eviction event: {events:?}"));
    let lost = events
        .iter()
        .position(|e| matches!(e, ListenerEvent::Lost { .. }))
        .unwrap_or_else(|| panic!("partitions not lost: {events:?}"));
    let reassigned = events
        .iter()
        .rposition(
            |e| matches!(e, ListenerEvent::Assigned { partitions, .. } if !partitions.is_empty()),
        )
        .unwrap_or_else(|| panic!("never assigned: {events:?}"));
    assert!(
        reassigned > expired && reassigned > lost,
        "rejoined after the eviction: {events:?}"
    );
    // Offset 0 was lost before it could be committed: it comes again.
    assert_eq!(delivered, vec![0, 0, 1, 2], "{events:?}");
}

/// Queues `n` GROUP_AUTHORIZATION_FAILED answers to Heartbeat: each one
/// fails a consumer's group member once it joined (a non-retriable crash).
/// (Heartbeat because the mock's injected FindCoordinator and JoinGroup
/// errors carry null strings where the protocol has none: they would fail
/// to decode instead.)
fn fail_heartbeats(
    mock: &rdkafka::mocking::MockCluster<'_, rdkafka::producer::DefaultProducerContext>,
    n: usize,
) {
    mock.request_errors(
        RDKafkaApiKey::Heartbeat,
        &vec![RDKafkaRespErr::RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED; n],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_policy_stops_after_its_limit() {
    let (mock, bootstrap) = mock_with_topics(&[("crashy", 1)]);
    fail_heartbeats(&mock, 10);
    let mut listener = Listener::builder(ClientConfig::new([&bootstrap]), short_session("g-crash"))
        .topic("crashy", |_r: ConsumerRecord, _ctx: Context| async {
            Ok(())
        })
        .restart(RestartPolicy::new(2, Duration::from_millis(20)))
        .run()
        .expect("listener");
    let mut events = listener.events().expect("events");
    // Each new member waits for the failed one's session to expire.
    let outcome = tokio::time::timeout(WAIT * 2, listener.wait())
        .await
        .expect("stops by itself");
    assert!(
        matches!(
            outcome,
            Err(ListenerError::Crashed {
                retriable: false,
                ..
            })
        ),
        "{outcome:?}"
    );
    let mut seen = Vec::new();
    while let Some(e) = events.recv().await {
        seen.push(e);
    }
    let crashes: Vec<bool> = seen
        .iter()
        .filter_map(|e| match e {
            ListenerEvent::Crashed { retriable, .. } => Some(*retriable),
            _ => None,
        })
        .collect();
    let restarts: Vec<u32> = seen
        .iter()
        .filter_map(|e| match e {
            ListenerEvent::Restarting { restart, .. } => Some(*restart),
            _ => None,
        })
        .collect();
    assert_eq!(
        crashes,
        vec![false; 3],
        "first run and two restarts: {seen:?}"
    );
    assert_eq!(restarts, vec![1, 2], "{seen:?}");
    assert!(
        matches!(seen.last(), Some(ListenerEvent::Stopped { error: Some(e) }) if e.to_string().contains("GROUP_AUTHORIZATION_FAILED")),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_policy_recovers_from_crashes_within_its_limit() {
    let (mock, bootstrap) = mock_with_topics(&[("recovers", 1)]);
    fail_heartbeats(&mock, 2);
    let (tx, mut rx) = mpsc::unbounded_channel::<i64>();
    let mut listener =
        Listener::builder(ClientConfig::new([&bootstrap]), short_session("g-recover"))
            .topic("recovers", move |r: ConsumerRecord, _ctx: Context| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(r.offset);
                    Ok(())
                }
            })
            .restart(RestartPolicy::new(5, Duration::from_millis(20)))
            .run()
            .expect("listener");
    let mut events = listener.events().expect("events");
    for restart in 1..=2 {
        let e = support::listener::wait_event(&mut events, WAIT * 2, |e| {
            matches!(e, ListenerEvent::Restarting { .. })
        })
        .await;
        assert!(
            matches!(e, ListenerEvent::Restarting { restart: r, .. } if r == restart),
            "{e:?}"
        );
    }
    // The third consumer is healthy: it gets the partition and its records.
    support::listener::wait_event(
        &mut events,
        WAIT * 2,
        |e| matches!(e, ListenerEvent::Assigned { partitions, .. } if !partitions.is_empty()),
    )
    .await;
    produce(
        &bootstrap,
        "recovers",
        Some(0),
        (0..3).map(|i| i.to_string()),
    )
    .await;
    assert_eq!(next_n(&mut rx, 3, WAIT).await, vec![0, 1, 2]);
    listener
        .shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");
    let mut seen = Vec::new();
    while let Some(e) = events.recv().await {
        seen.push(e);
    }
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, ListenerEvent::Crashed { .. })),
        "no third crash: {seen:?}"
    );
    assert_eq!(seen.last(), Some(&ListenerEvent::Stopped { error: None }));
    drop(mock);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_listener_is_not_evicted() {
    let (mock, bootstrap) = mock_with_topics(&[("quiet", 1)]);
    let (tx, mut rx) = mpsc::unbounded_channel::<i64>();
    let mut listener = Listener::builder(
        ClientConfig::new([&bootstrap]),
        group_config("g-quiet").with_max_poll_interval(MAX_POLL),
    )
    .topic("quiet", move |r: ConsumerRecord, _ctx: Context| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(r.offset);
            Ok(())
        }
    })
    .run()
    .expect("listener");
    let mut events = listener.events().expect("events");
    support::listener::wait_event(
        &mut events,
        WAIT,
        |e| matches!(e, ListenerEvent::Assigned { partitions, .. } if !partitions.is_empty()),
    )
    .await;
    // Nothing to read for over two poll intervals: waiting for records is polling.
    tokio::time::sleep(MAX_POLL * 2 + Duration::from_millis(500)).await;
    produce(&bootstrap, "quiet", Some(0), ["late".to_owned()]).await;
    assert_eq!(next_n(&mut rx, 1, WAIT).await, vec![0]);
    listener
        .shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");
    let mut seen = Vec::new();
    while let Some(e) = events.recv().await {
        seen.push(e);
    }
    assert!(
        !seen.iter().any(|e| matches!(
            e,
            ListenerEvent::PollTimeoutExpired | ListenerEvent::Lost { .. }
        )),
        "{seen:?}"
    );
    drop(mock);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cancels_a_stuck_handler_and_commits_what_was_processed() {
    let (mock, bootstrap) = mock_with_topics(&[("stuck", 1)]);
    produce(&bootstrap, "stuck", Some(0), (0..3).map(|i| i.to_string())).await;
    let (tx, mut rx) = mpsc::unbounded_channel::<i64>();
    let mut listener = Listener::builder(
        ClientConfig::new([&bootstrap]),
        // No auto-commit: what is committed comes from the shutdown.
        group_config("g-stuck").with_auto_commit(false),
    )
    .topic("stuck", move |r: ConsumerRecord, _ctx: Context| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(r.offset);
            if r.offset == 1 {
                std::future::pending::<()>().await; // never finishes
            }
            Ok(())
        }
    })
    .run()
    .expect("listener");
    let _events = listener.events();
    assert_eq!(next_n(&mut rx, 2, WAIT).await, vec![0, 1]);
    let deadline = Duration::from_secs(3);
    let started = tokio::time::Instant::now();
    listener
        .shutdown(deadline)
        .await
        .expect("stopped within the deadline");
    assert!(started.elapsed() <= deadline + Duration::from_millis(100));
    assert_eq!(
        support::listener::committed(&bootstrap, "g-stuck", "stuck", 1).await,
        vec![Some(1)],
        "offset 0 committed, the cancelled record not"
    );
    drop(mock);
}
