//! A listener with two topics, retries and a dead-letter topic.
//!
//! ```text
//! cargo run --example listener                               # in-process mock cluster
//! KAFKA_BROKERS=localhost:9092 cargo run --example listener  # a real cluster
//! ```
//!
//! `orders` records are handled one at a time: an order whose value is not
//! a number fails; it is delivered 3 times (100 ms, then 200 ms apart, its
//! partition paused meanwhile while the other partition keeps flowing) and
//! then written to `orders.dlt` with the error and attempt count in its
//! headers. `audit` records are handled a batch at a time. The example
//! prints the listener's events and reads the dead letter back.
//!
//! Without `KAFKA_BROKERS` it starts librdkafka's mock cluster in this
//! process; against a real cluster the topics are auto-created (or create
//! `orders`, `orders.dlt` and `audit` beforehand).

use std::time::Duration;

use kafkit::consumer::{Consumer, ConsumerConfig, ConsumerRecord};
use kafkit::listener::{
    dead_letter, Batch, BatchContext, Context, DeadLetter, Listener, ListenerEvent, RetryPolicy,
};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::ClientConfig;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut _mock = None;
    let bootstrap = match std::env::var("KAFKA_BROKERS") {
        Ok(brokers) => brokers,
        Err(_) => {
            let mock = rdkafka::mocking::MockCluster::new(1)?;
            // librdkafka 2.12's mock advertises group API versions it cannot parse.
            use rdkafka::types::RDKafkaApiKey as Api;
            for (api, max) in [
                (Api::JoinGroup, 5),
                (Api::SyncGroup, 3),
                (Api::LeaveGroup, 2),
            ] {
                mock.apiversion(api, None, Some(max))?;
            }
            for (topic, partitions) in [("orders", 2), ("orders.dlt", 1), ("audit", 1)] {
                mock.create_topic(topic, partitions, 1)?;
            }
            let servers = mock.bootstrap_servers();
            println!("started a mock cluster at {servers}");
            _mock = Some(mock);
            servers
        }
    };

    let producer =
        Producer::connect(ClientConfig::new([&bootstrap]), ProducerConfig::default()).await?;
    let orders = ["10", "25", "not-a-number", "7"];
    producer
        .send_all(orders.iter().enumerate().map(|(i, v)| {
            ProducerRecord::new("orders")
                .key(format!("customer-{i}"))
                .value(*v)
        }))
        .await?;
    producer
        .send_all((0..5).map(|i| ProducerRecord::new("audit").value(format!("audit-{i}"))))
        .await?;
    producer.close(Duration::from_secs(5)).await?;

    let mut listener = Listener::builder(
        ClientConfig::new([&bootstrap]),
        ConsumerConfig::group("kafkit-listener-example")
            .from_beginning()
            .with_fetch_max_wait(Duration::from_millis(100)),
    )
    .topic("orders", handle_order)
    .topic_batch("audit", handle_audit)
    .retry(RetryPolicy::new(3, Duration::from_millis(100)))
    .dead_letter(DeadLetter::default_topic())
    .run()?;
    let mut events = listener.events().ok_or("events taken")?;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), events.recv())
            .await
            .map_err(|_| "no dead letter within 30 s")?
            .ok_or("listener stopped")?;
        println!("event: {event:?}");
        if matches!(event, ListenerEvent::DeadLettered { .. }) {
            break;
        }
    }
    listener.shutdown(Duration::from_secs(10)).await?;
    while let Some(event) = events.recv().await {
        println!("event: {event:?}");
    }

    let mut reader = Consumer::connect(
        ClientConfig::new([&bootstrap]),
        ConsumerConfig::default().from_beginning(),
    )
    .await?;
    reader.assign_topic("orders.dlt").await?;
    let letter = tokio::time::timeout(Duration::from_secs(10), reader.recv())
        .await?
        .ok_or("reader closed")??;
    println!(
        "dead letter: {:?}",
        letter.value.as_deref().map(String::from_utf8_lossy)
    );
    for name in [
        dead_letter::HEADER_ORIGINAL_TOPIC,
        dead_letter::HEADER_ORIGINAL_PARTITION,
        dead_letter::HEADER_ORIGINAL_OFFSET,
        dead_letter::HEADER_ERROR,
        dead_letter::HEADER_ATTEMPTS,
    ] {
        let value = letter.header(name).unwrap_or_default();
        println!("  {name}: {}", String::from_utf8_lossy(&value));
    }
    reader.close().await?;
    Ok(())
}

async fn handle_order(record: ConsumerRecord, ctx: Context) -> kafkit::listener::HandlerResult {
    let text = std::str::from_utf8(record.value.as_deref().unwrap_or_default())?;
    let amount: u64 = text.parse()?; // fails for "not-a-number": redelivered, then dead-lettered
    println!(
        "order {amount} from {}/{} at {} (delivery {})",
        ctx.topic(),
        ctx.partition(),
        ctx.offset(),
        ctx.attempt()
    );
    Ok(())
}

async fn handle_audit(batch: Batch, ctx: BatchContext) -> kafkit::listener::HandlerResult {
    for record in &batch.records {
        ctx.heartbeat();
        ctx.resolve_offset(record.offset);
    }
    println!(
        "audit batch {}/{}: offsets {}..={}",
        batch.topic,
        batch.partition,
        batch.first_offset(),
        batch.last_offset()
    );
    Ok(())
}
