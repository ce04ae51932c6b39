//! kafkit's messaging spans (OpenTelemetry semantic conventions) and its
//! metrics in Prometheus text.
//!
//! Produces three records and reads them back; every `send` and `receive`
//! span (target `kafkit::messaging`) is printed on stdout when it closes,
//! with its `messaging.*` fields (`messaging.system=kafka`,
//! `messaging.destination.name`, `messaging.destination.partition.id`,
//! `messaging.kafka.offset`, `messaging.operation.type`, ...). Record keys
//! and values never appear in a span. Then the producer's and consumer's
//! metrics snapshots are printed as Prometheus text.
//!
//! ```text
//! cargo run --example tracing_otel                               # in-process mock cluster
//! KAFKA_BROKERS=localhost:9092 cargo run --example tracing_otel  # a real cluster
//! ```
//!
//! The spans go through `tracing-subscriber`'s `fmt` layer here. To export
//! them to an OpenTelemetry collector instead, add `tracing-opentelemetry`
//! with an OTLP exporter to your application and install its layer in
//! place of (or beside) the `fmt` layer: the field names are already the
//! convention's, and `otel.name` / `otel.kind` give the span name and kind.
//! kafkit itself does not depend on the OpenTelemetry crates (they would
//! pull an HTTP/gRPC stack into every build).

use std::time::Duration;

use kafkit::consumer::{Consumer, ConsumerConfig};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::{ClientConfig, TopicPartition};
use tracing_subscriber::fmt::format::FmtSpan;

type BoxError = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,kafkit::messaging=info".to_owned()),
        )
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .init();
    let topic =
        std::env::var("TRACING_TOPIC").unwrap_or_else(|_| "kafkit-tracing-example".to_owned());
    let mut _mock = None;
    let bootstrap = match std::env::var("KAFKA_BROKERS") {
        Ok(brokers) => brokers,
        Err(_) => {
            let mock = rdkafka::mocking::MockCluster::new(1)?;
            mock.create_topic(&topic, 1, 1)?;
            let servers = mock.bootstrap_servers();
            println!("started a mock cluster at {servers}");
            _mock = Some(mock);
            servers
        }
    };

    let client = ClientConfig::new([&bootstrap]).with_client_id("kafkit-tracing-example");
    let producer = Producer::connect(client.clone(), ProducerConfig::default()).await?;
    let mut first = None;
    for i in 0..3 {
        let record = ProducerRecord::new(&topic)
            .partition(0)
            .key(format!("key-{i}"))
            .value(format!("value-{i}"));
        let report = producer.send(record).await?;
        first.get_or_insert(report.offset);
    }
    let start = first.unwrap_or(0);

    let mut consumer = Consumer::connect(client, ConsumerConfig::default()).await?;
    let tp = TopicPartition {
        topic: topic.clone(),
        partition: 0,
    };
    consumer.assign(vec![(tp, Some(start))])?;
    for _ in 0..3 {
        match tokio::time::timeout(Duration::from_secs(20), consumer.recv()).await {
            Ok(Some(record)) => {
                let record = record?;
                println!(
                    "read {}/{} at {}",
                    record.topic, record.partition, record.offset
                );
            }
            Ok(None) => return Err("consumer closed".into()),
            Err(_) => return Err("no record within 20 s".into()),
        }
    }

    println!("--- producer metrics (Prometheus text) ---");
    print!("{}", producer.metrics_snapshot().to_prometheus());
    println!("--- consumer metrics (Prometheus text) ---");
    print!("{}", consumer.metrics_snapshot().to_prometheus());
    producer.close(Duration::from_secs(5)).await?;
    consumer.close().await?;
    Ok(())
}
