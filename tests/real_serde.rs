//! Typed payloads (the `serde` feature) against the run's real Apache Kafka
//! broker: orders written with `ProducerRecord::json`, read back with
//! `ConsumerRecord::json` and by a listener handed `Order` values; a record
//! that is not an order never reaches the handler and is dead-lettered at
//! once (a permanent handler error), with no panic.
//!
//! Peer: the broker (`support::kafka::single()`).
#![cfg(feature = "serde")]

use std::time::Duration;

use kafkit::listener::{self, DeadLetter, Listener, ListenerEvent, RetryPolicy};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};

mod support;
use support::kafka::unique;
use support::real::{broker, client, group_config, read_topic, topic, WAIT};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Order {
    id: u64,
    item: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_orders_round_trip_and_a_bad_one_is_dead_lettered() {
    let Some(bootstrap) = broker() else { return };
    let topic = topic(&bootstrap, "orders-json", 1).await;
    let orders: Vec<Order> = (1..=3)
        .map(|id| Order {
            id,
            item: format!("item-{id}"),
        })
        .collect();
    let producer = Producer::connect(client(&bootstrap), ProducerConfig::default())
        .await
        .expect("producer");
    for (i, order) in orders.iter().enumerate() {
        let record = ProducerRecord::new(&topic)
            .key(format!("o-{}", order.id))
            .json(order)
            .expect("encode");
        producer.send(record).await.expect("send");
        if i == 0 {
            // Not an order: the listener must dead-letter it, not panic.
            let bad = ProducerRecord::new(&topic).value(&b"{\"id\":\"x\"}"[..]);
            producer.send(bad).await.expect("send");
        }
    }

    // The plain consumer reads them back typed.
    let read = read_topic(&bootstrap, &topic, 4, group_config(&unique("json-read"))).await;
    let decoded: Vec<Result<Order, String>> = read
        .values()
        .map(|r| r.json::<Order>().map_err(|e| e.to_string()))
        .collect();
    assert_eq!(decoded[0], Ok(orders[0].clone()));
    assert!(
        decoded[1]
            .as_ref()
            .is_err_and(|e| e.starts_with("cannot decode the payload: invalid type: string")),
        "{decoded:?}"
    );
    assert_eq!(decoded[2..], [Ok(orders[1].clone()), Ok(orders[2].clone())]);

    // The listener hands the handler `Order`s.
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut l = Listener::builder(
        client(&bootstrap),
        group_config(&unique("json-listen")).from_beginning(),
    )
    .topic(
        &topic,
        listener::json(move |order: Order, record, _ctx| {
            let seen = seen_tx.clone();
            async move {
                let _ = seen.send((order, record.offset));
                Ok(())
            }
        }),
    )
    .retry(RetryPolicy::new(3, Duration::from_millis(50)))
    .dead_letter(DeadLetter::default_topic())
    .run()
    .expect("listener");
    let mut events = l.events().expect("events");
    let mut handled = Vec::new();
    while handled.len() < 3 {
        let got = tokio::time::timeout(WAIT, seen_rx.recv()).await;
        handled.push(got.expect("an order in time").expect("open"));
    }
    let dead = tokio::time::timeout(WAIT, async {
        while let Some(e) = events.recv().await {
            match e {
                ListenerEvent::DeadLettered { .. } | ListenerEvent::Retrying { .. } => return e,
                _ => {}
            }
        }
        panic!("events ended")
    })
    .await
    .expect("the bad record in time");
    l.shutdown(Duration::from_secs(10)).await.expect("shutdown");
    assert_eq!(
        handled,
        [
            (orders[0].clone(), 0),
            (orders[1].clone(), 2),
            (orders[2].clone(), 3)
        ]
    );
    let ListenerEvent::DeadLettered {
        offset,
        attempts,
        error,
        destination,
        ..
    } = dead
    else {
        panic!("retried a record that cannot decode: {dead:?}")
    };
    assert_eq!((offset, attempts), (1, 1));
    assert!(error.starts_with("cannot decode the payload"), "{error}");
    assert_eq!(destination, Some(format!("{topic}.dlt")));
    let dlt = read_topic(
        &bootstrap,
        &format!("{topic}.dlt"),
        1,
        group_config(&unique("json-dlt")),
    )
    .await;
    let dead_value = dlt.values().next().and_then(|r| r.value.clone());
    assert_eq!(dead_value.as_deref(), Some(&b"{\"id\":\"x\"}"[..]));
}
