//! The listener against the run's real Apache Kafka broker, beyond what
//! `cluster_suite` covers (retries then a dead letter with its headers) and
//! the manual-commit example (`listener_manual_commit`): the restart policy
//! on a crash the broker causes. A session timeout under the broker's
//! `group.min.session.timeout.ms` makes every JoinGroup fail with
//! INVALID_SESSION_TIMEOUT, a non-retriable crash: the listener restarts
//! its consumer as often as the policy allows, then stops with that error.
//! (Recovering within the limit needs a crash that goes away, injected on
//! the mock in `listener_lifecycle`.)
//!
//! Peer: the broker (`support::kafka::single()`).

use std::time::Duration;

use kafkit::consumer::ConsumerRecord;
use kafkit::listener::{Context, Listener, ListenerError, ListenerEvent, RestartPolicy};

mod support;
use support::kafka::unique;
use support::real::{broker, client, group_config, topic, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_policy_stops_after_its_limit_on_a_refused_join() {
    let Some(bootstrap) = broker() else { return };
    let topic = topic(&bootstrap, "crashy", 1).await;
    let config = group_config(&unique("crashy"))
        .with_session_timeout(Duration::from_secs(2))
        .with_heartbeat_interval(Duration::from_millis(300));
    let mut listener = Listener::builder(client(&bootstrap), config)
        .topic(&topic, |_r: ConsumerRecord, _ctx: Context| async { Ok(()) })
        .restart(RestartPolicy::new(2, Duration::from_millis(20)))
        .run()
        .expect("listener");
    let mut events = listener.events().expect("events");
    let outcome = tokio::time::timeout(WAIT, listener.wait())
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
    let crashes = seen
        .iter()
        .filter(|e| {
            matches!(
                e,
                ListenerEvent::Crashed {
                    retriable: false,
                    ..
                }
            )
        })
        .count();
    let restarts: Vec<u32> = seen
        .iter()
        .filter_map(|e| match e {
            ListenerEvent::Restarting { restart, .. } => Some(*restart),
            _ => None,
        })
        .collect();
    assert_eq!(crashes, 3, "the first run and two restarts: {seen:?}");
    assert_eq!(restarts, [1, 2], "{seen:?}");
    assert!(
        matches!(seen.last(), Some(ListenerEvent::Stopped { error: Some(e) }) if e.to_string().contains("INVALID_SESSION_TIMEOUT")),
        "{seen:?}"
    );
}
