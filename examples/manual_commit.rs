//! Manual commits in a listener, as Midway's `@KafkaListener` docs show them
//! with `autoCommit: false`: on success the handler commits the record's
//! offset + 1; on failure it commits the failing record's *own* offset
//! ("read this one next") and returns `Err`. The record is then delivered
//! again: 2 deliveries in total when the second one succeeds, never 1,
//! never an endless loop.
//!
//! ```text
//! cargo run --example manual_commit                               # in-process mock cluster
//! KAFKA_BROKERS=localhost:9092 cargo run --example manual_commit  # a real cluster
//! ```
//!
//! Without `KAFKA_BROKERS` it starts librdkafka's mock cluster in this
//! process. `tests/listener_manual_commit.rs` runs [`run`] and checks the
//! delivery counts.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafkit::consumer::{ConsumerConfig, ConsumerRecord};
use kafkit::listener::{Context, Listener, RetryPolicy};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::ClientConfig;
use tokio::sync::mpsc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Records produced; the one at `FAILING` fails on its first delivery.
const RECORDS: i64 = 5;
const FAILING: i64 = 2;

/// What happened, per offset.
#[derive(Debug, Default)]
pub struct Report {
    /// Deliveries of each offset.
    pub deliveries: BTreeMap<i64, u32>,
    /// The committed offset the failing delivery left (read back right
    /// after its commit): the failing record's own offset.
    pub committed_on_failure: Option<i64>,
    /// The committed offset after the last record.
    pub committed_at_end: Option<i64>,
}

#[allow(dead_code)] // the integration test uses `run` only
#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let suffix = std::process::id();
    let topic = format!("kafkit-manual-commit-{suffix}");
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
            mock.create_topic(&topic, 1, 1)?;
            let servers = mock.bootstrap_servers();
            println!("started a mock cluster at {servers}");
            _mock = Some(mock);
            servers
        }
    };
    let report = run(&bootstrap, &topic, &format!("{topic}-group")).await?;
    for (offset, n) in &report.deliveries {
        println!("offset {offset}: {n} deliveries");
    }
    println!(
        "committed after the failure: {:?}; at the end: {:?}",
        report.committed_on_failure, report.committed_at_end
    );
    Ok(())
}

/// Produces [`RECORDS`] records to `topic` (one partition) and consumes
/// them with a manual-commit listener in `group`.
pub async fn run(bootstrap: &str, topic: &str, group: &str) -> Result<Report, BoxError> {
    let producer =
        Producer::connect(ClientConfig::new([bootstrap]), ProducerConfig::default()).await?;
    producer
        .send_all((0..RECORDS).map(|i| {
            ProducerRecord::new(topic)
                .partition(0)
                .value(format!("order-{i}"))
        }))
        .await?;
    producer.close(Duration::from_secs(5)).await?;

    // (offset, succeeded, committed offset read back after the handler's commit)
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel::<(i64, bool, Option<i64>)>();
    let failed_once = Arc::new(AtomicBool::new(false));
    let handler = move |record: ConsumerRecord, ctx: Context| {
        let seen = seen_tx.clone();
        let failed_once = failed_once.clone();
        async move {
            let tp = ctx.topic_partition().clone();
            let fail = record.offset == FAILING && !failed_once.swap(true, Ordering::SeqCst);
            if fail {
                // Midway's pattern: commit the failing message's own offset, then fail.
                ctx.commit_offsets([(tp, record.offset)]).await?;
                let committed = ctx.committed().await?;
                let _ = seen.send((record.offset, false, committed));
                return Err("processing failed".into());
            }
            ctx.commit_offsets([(tp, record.offset + 1)]).await?;
            let committed = ctx.committed().await?;
            let _ = seen.send((record.offset, true, committed));
            Ok(())
        }
    };
    let mut listener = Listener::builder(
        ClientConfig::new([bootstrap]),
        ConsumerConfig::group(group)
            .from_beginning()
            .with_auto_commit(false)
            .with_fetch_max_wait(Duration::from_millis(100)),
    )
    .topic(topic, handler)
    .retry(RetryPolicy::new(3, Duration::from_millis(100)))
    .run()?;
    let _events = listener.events();

    let mut report = Report::default();
    let mut done = 0;
    while done < RECORDS {
        let next = tokio::time::timeout(Duration::from_secs(30), seen_rx.recv()).await;
        let Ok(Some((offset, ok, committed))) = next else {
            return Err(format!("stuck after {report:?}").into());
        };
        *report.deliveries.entry(offset).or_default() += 1;
        if ok {
            done += 1;
            report.committed_at_end = committed;
        } else {
            report.committed_on_failure = committed;
        }
    }
    listener.shutdown(Duration::from_secs(10)).await?;
    Ok(report)
}
