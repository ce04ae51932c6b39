//! Idempotence against the real broker: an idempotent `acks=all` kafkit
//! producer talks to Apache Kafka through the hostile proxy
//! (`support/proxy.rs`), which cuts connections in the middle of Produce
//! requests, both ways:
//!
//! - *before*: the proxy drops the request and the connection, the broker
//!   never sees it; the retry is the first copy;
//! - *after*: the broker wrote the batch and answered, the proxy cuts the
//!   answer in half; kafkit never saw the acknowledgement and retries a
//!   batch the log already holds. Only the broker's sequence check can drop
//!   that copy (librdkafka's mock writes it twice, which is why the mock
//!   could not show this).
//!
//! Afterwards librdkafka reads the topic straight from the broker: every
//! acknowledged record must be there exactly once, at the offset its report
//! gave, in per-partition send order, and nothing unacknowledged may be.

#[path = "support/audit.rs"]
mod audit;
#[path = "support/proxy.rs"]
mod proxy;
mod support;

use std::time::{Duration, Instant};

use audit::{audit, Acked};
use kafkit::admin::{Admin, NewTopic};
use kafkit::producer::{Acks, Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::ApiKey;
use kafkit::ClientConfig;
use proxy::{Fault, Proxy};
use support::kafka;

const PARTITIONS: i32 = 3;
/// Cuts armed: half before the broker sees the request, half after it answered.
const CUTS: usize = 20;
const PER_ROUND: u64 = 60;

/// A one-broker bootstrap (the shared broker, or one started here when the
/// shared one has several nodes: the proxy stands for a single broker).
fn one_broker() -> Option<(String, Option<kafka::Cluster>)> {
    let shared = kafka::single()?;
    if !shared.bootstrap.contains(',') {
        return Some((shared.bootstrap.clone(), None));
    }
    let own = kafka::Cluster::start(1, &[]);
    Some((own.bootstrap.clone(), Some(own)))
}

async fn create_topic(bootstrap: &str, topic: &str) {
    let admin = Admin::connect(ClientConfig::new([bootstrap]))
        .await
        .expect("admin");
    let result = admin
        .create_topics(&[NewTopic::new(topic, PARTITIONS, 1)], false)
        .await
        .expect("create topic");
    assert!(
        result.iter().all(|(_, r)| r.is_ok()),
        "create {topic}: {result:?}"
    );
    admin
        .client()
        .topic(topic, Duration::from_secs(20))
        .await
        .expect("topic ready");
    admin.close();
}

fn producer_config(idempotent: bool) -> ProducerConfig {
    ProducerConfig::default()
        .with_acks(Acks::All)
        .with_idempotence(idempotent)
        .with_max_in_flight(5)
        .with_linger(Duration::from_millis(2))
        .with_retry_backoff(Duration::from_millis(20))
        .with_delivery_timeout(Duration::from_secs(60))
}

type Pending = Vec<(String, kafkit::producer::DeliveryFuture)>;

/// Enqueues `count` records `"k<i % 16>:<i>"` keyed `"k<i % 16>"`.
async fn enqueue(producer: &Producer, topic: &str, n: &mut u64, count: u64, pending: &mut Pending) {
    for i in *n..*n + count {
        let key = format!("k{}", i % 16);
        let value = format!("{key}:{i}");
        let f = producer
            .enqueue(ProducerRecord::new(topic).key(key).value(value.clone()))
            .await
            .expect("enqueue");
        pending.push((value, f));
    }
    *n += count;
}

/// What one run through the cutting proxy gave.
struct Run {
    produced: usize,
    acknowledged: usize,
    read_back: usize,
    cut_before: usize,
    cut_after: usize,
    connections: usize,
    retries: u64,
    log: audit::LogAudit,
}

/// Produces through the proxy while it cuts `CUTS` Produce requests
/// (alternately before the broker and after it wrote), then reads back.
async fn cut_run(direct: &str, idempotent: bool) -> Run {
    let started = Instant::now();
    let topic = kafka::unique("idem-cut");
    create_topic(direct, &topic).await;
    let proxy = Proxy::start(direct.to_owned()).await;
    proxy.advertise_self();
    let via_proxy = format!("127.0.0.1:{}", proxy.port);
    let client = ClientConfig::new([&via_proxy])
        .with_request_timeout(Duration::from_secs(5))
        .with_reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200));
    let producer = Producer::connect(client, producer_config(idempotent))
        .await
        .expect("producer");
    let produce = ApiKey::PRODUCE.0;

    let mut pending = Vec::new();
    let mut n = 0u64;
    // Warm up: producer id and connection in place before the first cut.
    enqueue(&producer, &topic, &mut n, PER_ROUND, &mut pending).await;
    producer.flush().await.expect("warm-up flush");
    for round in 0..CUTS {
        if round % 2 == 0 {
            proxy.arm_request(produce);
        } else {
            proxy.arm(produce, Fault::CutMidFrame);
        }
        enqueue(&producer, &topic, &mut n, PER_ROUND, &mut pending).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The last cuts may wait for a Produce request: keep a trickle going.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !proxy.all_applied() && Instant::now() < deadline {
        enqueue(&producer, &topic, &mut n, 4, &mut pending).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(proxy.all_applied(), "every armed cut applied");

    let produced = pending.len();
    let mut acked = Vec::new();
    for (value, f) in pending {
        let report = tokio::time::timeout(Duration::from_secs(70), f)
            .await
            .unwrap_or_else(|_| panic!("{value}: no delivery report"))
            .unwrap_or_else(|e| panic!("{value} not acknowledged: {e}"));
        acked.push(Acked {
            value,
            partition: report.partition,
            offset: report.offset,
        });
    }
    let metrics = producer.metrics();
    producer.close(Duration::from_secs(5)).await.expect("close");

    let applied = proxy.applied();
    let before = applied
        .iter()
        .filter(|(api, f)| *api == produce && f == "CutRequest")
        .count();
    let after = applied
        .iter()
        .filter(|(api, f)| *api == produce && f == "CutMidFrame")
        .count();
    let read = {
        let (b, t, n) = (direct.to_owned(), topic.clone(), acked.len());
        tokio::task::spawn_blocking(move || support::read_back(&b, &t, PARTITIONS, n))
            .await
            .expect("read back")
    };
    let log = audit(&read, &acked);
    let unknown_offset = acked.iter().filter(|k| k.offset < 0).count();
    eprintln!(
        "idempotence {idempotent} through the proxy: {produced} produced, {} acknowledged \
         ({unknown_offset} without offset), {} read back; Produce cut before the \
         broker: {before}, after it wrote: {after}; connections {}; retries {}; \
         lost {}, duplicated {}, rewritten {}, out of order {}, unacknowledged {}; {:?}",
        acked.len(),
        read.len(),
        proxy.connections(),
        metrics.retries,
        log.lost,
        log.duplicated,
        log.rewritten,
        log.out_of_order,
        log.unacknowledged,
        started.elapsed()
    );
    Run {
        produced,
        acknowledged: acked.len(),
        read_back: read.len(),
        cut_before: before,
        cut_after: after,
        connections: proxy.connections(),
        retries: metrics.retries,
        log,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_cut_before_and_after_the_broker_wrote_is_written_once_in_order() {
    let Some((direct, _own)) = one_broker() else {
        return;
    };
    let run = cut_run(&direct, true).await;
    let log = &run.log;
    assert_eq!(
        run.cut_before,
        CUTS / 2,
        "Produce requests cut before the broker"
    );
    assert_eq!(
        run.cut_after,
        CUTS / 2,
        "Produce responses cut after the broker wrote"
    );
    assert!(run.connections > CUTS, "each cut forced a new connection");
    assert!(run.retries >= CUTS as u64, "retries {}", run.retries);
    assert_eq!(run.acknowledged, run.produced, "every record acknowledged");
    assert!(log.problems.is_empty(), "{:?}", log.problems);
    assert_eq!(log.lost, 0, "acknowledged records missing");
    assert_eq!(log.duplicated, 0, "acknowledged records written twice");
    assert_eq!(
        log.rewritten, 0,
        "a retried batch the broker had written was written again"
    );
    assert_eq!(log.out_of_order, 0, "per-partition order");
    assert_eq!(
        log.unacknowledged, 0,
        "records in the log never acknowledged"
    );
    assert_eq!(
        run.read_back, run.acknowledged,
        "each record exactly once in the log"
    );
}

/// The control: the same cuts without idempotence write the batches cut
/// after the broker wrote them a second time. This shows the cuts land
/// after the write, so the test above proves the broker's de-duplication.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_idempotence_the_same_cuts_write_batches_twice() {
    let Some((direct, _own)) = one_broker() else {
        return;
    };
    let run = cut_run(&direct, false).await;
    assert_eq!(run.cut_after, CUTS / 2);
    assert_eq!(run.acknowledged, run.produced, "every record acknowledged");
    assert_eq!(run.log.lost, 0, "acknowledged records missing");
    assert!(
        run.log.rewritten > 0 && run.read_back > run.acknowledged,
        "the batches cut after the write are in the log twice: {} rewritten, {} read for {} acknowledged",
        run.log.rewritten,
        run.read_back,
        run.acknowledged
    );
}
