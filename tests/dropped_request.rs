//! A broker that advertises JoinGroup v0-9 and closes the connection
//! whenever it receives JoinGroup v6 or later (librdkafka's mock cluster
//! does this): the consumer backs the JoinGroup off with growing delays,
//! reports the broker, API and version within two attempts, tries one
//! version lower every two drops and joins at v5.

mod support;

use std::time::Duration;

use kafkit::consumer::{Consumer, ConsumerConfig, ConsumerEvent};
use kafkit::error::DroppedRequest;
use kafkit::protocol::ApiKey;
use kafkit::ClientConfig;
use support::dropping::DroppingBroker;
use tokio::time::Instant;

/// What the application saw until the member was assigned its partitions.
struct Seen {
    /// Each report, with how many JoinGroups the broker had received by then.
    reports: Vec<(DroppedRequest, usize)>,
    assigned: bool,
}

async fn consume_until_assigned(broker: &DroppingBroker, within: Duration) -> Seen {
    let mut consumer = Consumer::connect(
        ClientConfig::new([broker.addr.as_str()]),
        ConsumerConfig::group(format!("dropped-{}", std::process::id())),
    )
    .await
    .expect("connect");
    consumer.subscribe(&["dropped-topic"]).expect("subscribe");
    let mut events = consumer.events().expect("events, taken once");
    let mut seen = Seen {
        reports: Vec::new(),
        assigned: false,
    };
    let deadline = Instant::now() + within;
    while !seen.assigned {
        tokio::select! {
            // Keeps the member polling (a group member joins while the
            // application waits for records).
            r = consumer.recv() => panic!("no record expected: {r:?}"),
            Some(event) = events.recv() => match event {
                ConsumerEvent::RequestDropped(d) => seen.reports.push((d, broker.joins().len())),
                ConsumerEvent::Assigned { .. } => seen.assigned = true,
                ConsumerEvent::Crashed { error, .. } => panic!("consumer crashed: {error}"),
                _ => {}
            },
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    drop(consumer);
    seen
}

#[tokio::test]
async fn join_group_the_broker_keeps_dropping_backs_off_reports_and_joins_one_version_lower() {
    let broker = DroppingBroker::start(6);
    let seen = consume_until_assigned(&broker, Duration::from_secs(30)).await;
    let joins = broker.joins();
    let versions: Vec<i16> = joins.iter().map(|(_, v)| *v).collect();

    // Two drops at each of v9..v6, then v5: MEMBER_ID_REQUIRED and the join.
    assert!(
        seen.assigned,
        "never joined; JoinGroup versions sent: {versions:?}"
    );
    assert_eq!(
        versions,
        [9, 9, 8, 8, 7, 7, 6, 6, 5, 5],
        "JoinGroup versions"
    );

    // A report per version, each after its second drop, naming the
    // broker, the API and the version, and the version tried next.
    let reported: Vec<(i16, u32, Option<i16>, usize)> = seen
        .reports
        .iter()
        .map(|(d, joins)| (d.version, d.attempts, d.next_version, *joins))
        .collect();
    let first = &seen.reports.first().expect("a report").0;
    assert_eq!(first.broker, broker.addr);
    assert_eq!(first.api, ApiKey::JOIN_GROUP);
    let text = first.to_string();
    for part in [
        broker.addr.as_str(),
        "JoinGroup v9",
        "2 times",
        "JoinGroup v8",
    ] {
        assert!(text.contains(part), "{text:?} lacks {part:?}");
    }
    assert_eq!(
        reported.iter().map(|r| (r.0, r.1, r.2)).collect::<Vec<_>>(),
        [
            (9, 2, Some(8)),
            (8, 2, Some(7)),
            (7, 2, Some(6)),
            (6, 2, Some(5))
        ]
    );
    // The first report came before the third attempt.
    assert!(
        reported[0].3 <= 2,
        "reported after {} attempts",
        reported[0].3
    );

    // The spacing of the dropped attempts grows: 100 ms doubling, 1 s cap.
    let gaps: Vec<Duration> = joins[..8]
        .windows(2)
        .map(|w| w[1].0.duration_since(w[0].0))
        .collect();
    eprintln!("gaps between the dropped JoinGroups: {gaps:?}");
    let floors = [100u64, 200, 400, 800, 1000, 1000, 1000];
    for (gap, floor) in gaps.iter().zip(floors) {
        // No jitter; allow a little for the clocks' granularity.
        assert!(
            *gap >= Duration::from_millis(floor - 5),
            "gaps {gaps:?} below the backoff {floors:?}"
        );
    }
    for pair in gaps[..4].windows(2) {
        assert!(pair[1] > pair[0], "gaps do not grow: {gaps:?}");
    }
}
