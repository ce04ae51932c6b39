//! The listener on a share group (`kafkit::listener::ShareListener`)
//! against real Apache Kafka 4.4.0: `Ok` accepts, `Err` releases and the
//! broker redelivers with a growing delivery count while the partition's
//! other records keep flowing; a record still failing at the last delivery
//! goes to the dead-letter topic (then accepted) or, without one, is
//! rejected and never comes back.
//!
//! Share groups start at the latest offset: each test produces a warm-up
//! record until the listener has handled one, then the records under test.
//!
//! Peer: Apache Kafka 4.4.0 (KRaft), the run's single node (share groups
//! are on by default in 4.x from 4.2).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kafkit::consumer::ConsumerConfig;
use kafkit::listener::dead_letter::{HEADER_ATTEMPTS, HEADER_ORIGINAL_TOPIC};
use kafkit::listener::{DeadLetter, ShareListener, ShareListenerEvent, ShareOutcome};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::share::{ShareConsumerConfig, ShareRecord};
use tokio::sync::mpsc::UnboundedReceiver;

mod support;
use support::kafka;
use support::real::{broker, client, read_topic, text, topic};

/// What the handler does with a value: `bad` always fails, `flaky` fails
/// its first two deliveries, anything else succeeds.
async fn handler(record: ShareRecord) -> kafkit::listener::HandlerResult {
    match text(record.value.as_ref()).as_str() {
        "bad" => Err("bad record".into()),
        "flaky" if record.delivery_count <= 2 => Err("not yet".into()),
        _ => Ok(()),
    }
}

/// One `Handled` event, reduced to what the tests compare.
type Seen = (i16, ShareOutcome);

async fn produce(bootstrap: &str, topic: &str, values: &[&str]) {
    let producer = Producer::connect(client(bootstrap), ProducerConfig::default())
        .await
        .expect("producer");
    producer
        .send_all(
            values
                .iter()
                .map(|v| ProducerRecord::new(topic).partition(0).value(v.to_string())),
        )
        .await
        .expect("produced");
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
}

/// Produces `warm-up` until the listener handled one (its share session is
/// then open and later records are seen).
async fn warm_up(bootstrap: &str, topic: &str, events: &mut UnboundedReceiver<ShareListenerEvent>) {
    let give_up = Instant::now() + Duration::from_secs(40);
    loop {
        produce(bootstrap, topic, &["warm-up"]).await;
        let until = Instant::now() + Duration::from_secs(2);
        while let Ok(Some(e)) = tokio::time::timeout_at(until.into(), events.recv()).await {
            if let ShareListenerEvent::Handled { .. } = e {
                return;
            }
        }
        assert!(
            Instant::now() < give_up,
            "the listener handled nothing in 40 s"
        );
    }
}

/// Collects `Handled` events by value until `done` holds.
async fn collect(
    events: &mut UnboundedReceiver<ShareListenerEvent>,
    values: &BTreeMap<i64, String>,
    done: impl Fn(&BTreeMap<String, Vec<Seen>>) -> bool,
) -> BTreeMap<String, Vec<Seen>> {
    let mut seen: BTreeMap<String, Vec<Seen>> = BTreeMap::new();
    let give_up = Instant::now() + Duration::from_secs(40);
    while !done(&seen) {
        let e = tokio::time::timeout_at(give_up.into(), events.recv())
            .await
            .unwrap_or_else(|_| panic!("not done in 40 s: {seen:?}"))
            .expect("events");
        if let ShareListenerEvent::Handled {
            offset,
            delivery_count,
            outcome,
            ..
        } = e
        {
            if let Some(v) = values.get(&offset) {
                seen.entry(v.clone())
                    .or_default()
                    .push((delivery_count, outcome));
            }
        }
    }
    seen
}

/// The offsets the values under test land at (after the warm-ups).
async fn offsets_of(bootstrap: &str, topic: &str, values: &[&str]) -> BTreeMap<i64, String> {
    let producer = Producer::connect(client(bootstrap), ProducerConfig::default())
        .await
        .expect("producer");
    let reports = producer
        .send_all(
            values
                .iter()
                .map(|v| ProducerRecord::new(topic).partition(0).value(v.to_string())),
        )
        .await
        .expect("produced");
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
    reports
        .iter()
        .zip(values)
        .map(|(r, v)| (r.offset, v.to_string()))
        .collect()
}

#[tokio::test]
async fn failures_are_redelivered_by_the_broker_then_dead_lettered() {
    let Some(b) = broker() else { return };
    let topic = topic(&b, "share-listener-dlt", 1).await;
    let dlt = format!("{topic}.dlt");
    support::real::create_topics(&b, &[(&dlt, 1)], 1).await;
    let mut listener = ShareListener::builder(
        client(&b),
        ShareConsumerConfig::new(kafka::unique("share-listener-dlt")),
        [topic.clone()],
        handler,
    )
    .max_deliveries(3)
    .dead_letter(DeadLetter::default_topic())
    .run();
    let mut events = listener.events().expect("events");
    warm_up(&b, &topic, &mut events).await;
    let values = offsets_of(&b, &topic, &["bad", "flaky", "good"]).await;
    let seen = collect(&mut events, &values, |s| {
        s.get("bad").is_some_and(|v| v.len() == 3)
            && s.get("flaky").is_some_and(|v| v.len() == 3)
            && s.contains_key("good")
    })
    .await;
    use ShareOutcome::*;
    assert_eq!(
        seen["bad"],
        [(1, Released), (2, Released), (3, DeadLettered(dlt.clone()))]
    );
    assert_eq!(seen["flaky"], [(1, Released), (2, Released), (3, Accepted)]);
    assert_eq!(seen["good"], [(1, Accepted)], "not held up by the failures");
    listener
        .shutdown(Duration::from_secs(20))
        .await
        .expect("clean shutdown");
    let letters = read_topic(&b, &dlt, 1, ConsumerConfig::default()).await;
    let letter = letters.values().next().expect("one dead letter");
    assert_eq!(text(letter.value.as_ref()), "bad");
    let header = |name: &str| {
        letter
            .header_pairs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| text(v.as_ref()))
    };
    assert_eq!(
        header(HEADER_ORIGINAL_TOPIC).as_deref(),
        Some(topic.as_str())
    );
    assert_eq!(header(HEADER_ATTEMPTS).as_deref(), Some("3"));
}

#[tokio::test]
async fn without_a_dead_letter_topic_the_last_failure_rejects() {
    let Some(b) = broker() else { return };
    let topic = topic(&b, "share-listener-reject", 1).await;
    let mut listener = ShareListener::builder(
        client(&b),
        ShareConsumerConfig::new(kafka::unique("share-listener-reject")),
        [topic.clone()],
        handler,
    )
    .max_deliveries(2)
    .run();
    let mut events = listener.events().expect("events");
    warm_up(&b, &topic, &mut events).await;
    let values = offsets_of(&b, &topic, &["bad", "after"]).await;
    let mut seen = collect(&mut events, &values, |s| {
        s.get("bad").is_some_and(|v| v.len() == 2) && s.contains_key("after")
    })
    .await;
    // A rejected record is archived: nothing more of it within 3 s.
    let quiet = Instant::now() + Duration::from_secs(3);
    while let Ok(Some(e)) = tokio::time::timeout_at(quiet.into(), events.recv()).await {
        if let ShareListenerEvent::Handled { offset, .. } = e {
            assert!(
                !values.contains_key(&offset),
                "redelivered: {e:?}",
                e = offset
            );
        }
    }
    use ShareOutcome::*;
    assert_eq!(
        seen.remove("bad").expect("bad"),
        [(1, Released), (2, Rejected)]
    );
    assert_eq!(seen.remove("after").expect("after"), [(1, Accepted)]);
    listener
        .shutdown(Duration::from_secs(20))
        .await
        .expect("clean shutdown");
}
