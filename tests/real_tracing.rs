//! The messaging spans (OpenTelemetry semantic conventions) of a real
//! produce and consume, captured by a `tracing` layer of the test's own:
//! `send` spans carry the topic, partition and acknowledged offset,
//! `receive` spans the offset read and the group, `process` spans (the
//! listener's handler calls) the same; no span field holds a key or value.
//!
//! Peer: the broker (`support::kafka::single()`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafkit::consumer::{Consumer, ConsumerRecord};
use kafkit::listener::{Context as HandlerContext, Listener};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

mod support;
use support::kafka;
use support::real::{client, group_config, next_records, topic, WAIT};

/// One closed span: its name and fields (values as text).
#[derive(Debug, Clone)]
struct Captured {
    name: String,
    target: String,
    fields: HashMap<String, String>,
}

#[derive(Default, Clone)]
struct Capture {
    open: Arc<Mutex<HashMap<u64, Captured>>>,
    closed: Arc<Mutex<Vec<Captured>>>,
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut c = Captured {
            name: attrs.metadata().name().to_owned(),
            target: attrs.metadata().target().to_owned(),
            fields: HashMap::new(),
        };
        attrs.record(&mut Fields(&mut c.fields));
        self.open.lock().unwrap().insert(id.into_u64(), c);
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some(c) = self.open.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Fields(&mut c.fields));
        }
    }
    fn on_close(&self, id: Id, _: Context<'_, S>) {
        if let Some(c) = self.open.lock().unwrap().remove(&id.into_u64()) {
            self.closed.lock().unwrap().push(c);
        }
    }
}

impl Capture {
    fn spans(&self, name: &str) -> Vec<Captured> {
        self.closed
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.target == "kafkit::messaging" && c.name == name)
            .cloned()
            .collect()
    }
}

fn field<'a>(c: &'a Captured, name: &str) -> &'a str {
    c.fields
        .get(name)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("{} span without {name}: {c:?}", c.name))
}

// One thread: the spans of spawned tasks reach this thread's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn produce_and_consume_spans_follow_the_messaging_conventions() {
    let Some(k) = kafka::single() else { return };
    let bootstrap = k.bootstrap.clone();
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let topic = topic(&bootstrap, "spans", 1).await;
    let producer = Producer::connect(client(&bootstrap), ProducerConfig::default())
        .await
        .expect("producer");
    const N: usize = 5;
    let reports = producer
        .send_all((0..N).map(|i| {
            ProducerRecord::new(&topic)
                .key(format!("secret-key-{i}"))
                .value(format!("secret-value-{i}"))
        }))
        .await
        .expect("produced");
    producer.close(WAIT).await.expect("close");
    let sends = capture.spans("send");
    assert_eq!(sends.len(), N, "{sends:?}");
    let mut offsets: Vec<i64> = Vec::new();
    for s in &sends {
        assert_eq!(field(s, "messaging.system"), "kafka");
        assert_eq!(field(s, "messaging.operation.type"), "send");
        assert_eq!(field(s, "messaging.destination.name"), topic);
        assert_eq!(field(s, "messaging.destination.partition.id"), "0");
        assert_eq!(field(s, "otel.kind"), "producer");
        offsets.push(field(s, "messaging.kafka.offset").parse().expect("offset"));
    }
    offsets.sort_unstable();
    let acked: Vec<i64> = reports.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, acked);

    let group = kafka::unique("spans-group");
    let mut consumer = Consumer::connect(client(&bootstrap), group_config(&group))
        .await
        .expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    let records = next_records(&mut consumer, N).await;
    consumer.close().await.expect("close");
    let receives = capture.spans("receive");
    assert_eq!(receives.len(), N, "{receives:?}");
    for (s, r) in receives.iter().zip(&records) {
        assert_eq!(field(s, "messaging.system"), "kafka");
        assert_eq!(field(s, "messaging.operation.type"), "receive");
        assert_eq!(field(s, "messaging.destination.name"), topic);
        assert_eq!(field(s, "messaging.destination.partition.id"), "0");
        assert_eq!(field(s, "messaging.kafka.offset"), r.offset.to_string());
        assert_eq!(field(s, "messaging.consumer.group.name"), group);
    }

    // The listener's handler calls are `process` spans.
    let listen_group = kafka::unique("spans-listener");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let listener = Listener::builder(client(&bootstrap), group_config(&listen_group))
        .topic(
            &topic,
            move |record: ConsumerRecord, _ctx: HandlerContext| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(record.offset);
                    Ok(())
                }
            },
        )
        .run()
        .expect("listener");
    for _ in 0..N {
        tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("handled");
    }
    listener
        .shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");
    let processes = capture.spans("process");
    assert!(processes.len() >= N, "{processes:?}");
    for s in &processes {
        assert_eq!(field(s, "messaging.operation.type"), "process");
        assert_eq!(field(s, "messaging.destination.name"), topic);
        assert_eq!(field(s, "messaging.consumer.group.name"), listen_group);
        assert!(field(s, "messaging.kafka.offset").parse::<i64>().is_ok());
    }

    // Never a key or a value.
    for c in capture.closed.lock().unwrap().iter() {
        for v in c.fields.values() {
            assert!(
                !v.contains("secret-"),
                "{} span leaks a key or value: {c:?}",
                c.name
            );
        }
    }
}
