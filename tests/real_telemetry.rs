//! KIP-714 client metrics push against real Apache Kafka 4.4.0.
//!
//! A broker only offers GetTelemetrySubscriptions and PushTelemetry with a
//! client telemetry plugin, so this file starts its own node with
//! `tests/interop/java/TelemetryDump.java` (compiled here, put on the
//! broker's classpath, configured as a metrics reporter). The plugin decodes
//! every push with the OTLP protobuf classes in kafka-clients and appends
//! what it found to a file, which the tests read. Subscriptions are created
//! with kafkit's IncrementalAlterConfigs codec on resource type
//! CLIENT_METRICS (16), matched to each test's client id.
//!
//! Peer: Apache Kafka 4.4.0 (own node) and the run's shared broker (no
//! plugin); librdkafka's mock cluster (offers the APIs, subscribes nothing).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kafkit::connection::BrokerConnection;
use kafkit::consumer::{Consumer, ConsumerConfig};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::messages::get_telemetry_subscriptions::GetTelemetrySubscriptionsRequest;
use kafkit::protocol::messages::incremental_alter_configs::{
    AlterConfigsResource, AlterableConfig, IncrementalAlterConfigsRequest,
};
use kafkit::protocol::{ApiKey, ErrorCode};
use kafkit::{Client, ClientConfig};

mod support;
use support::kafka;
use support::real::topic;

const RESOURCE_CLIENT_METRICS: i8 = 16;
const OP_SET: i8 = 0;

/// The plugin's classes, compiled once per source into the target dir.
fn plugin() -> PathBuf {
    let source =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/java/TelemetryDump.java");
    let text = std::fs::read(&source).expect("TelemetryDump.java");
    let hash = text.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("telemetry-dump-{hash:016x}"));
    if dir.join("TelemetryDump.class").is_file() {
        return dir;
    }
    let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
    let status = Command::new("javac")
        .arg("-d")
        .arg(&tmp)
        .args(["-cp", &kafka::classpath()])
        .arg(&source)
        .stdin(Stdio::null())
        .status()
        .expect("javac runs (a JDK 17+ is needed)");
    assert!(status.success(), "javac TelemetryDump.java failed");
    if std::fs::rename(&tmp, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    dir
}

/// The node with the plugin and the file it writes; `None` to skip.
fn telemetry_broker() -> Option<&'static (kafka::Cluster, PathBuf)> {
    static CELL: OnceLock<Option<(kafka::Cluster, PathBuf)>> = OnceLock::new();
    CELL.get_or_init(|| {
        if !kafka::can_start() {
            return None;
        }
        let classes = plugin();
        let dump = std::env::temp_dir()
            .join(kafka::unique("kafkit-telemetry"))
            .with_extension("tsv");
        let set_file = format!("kafkit.telemetry.dump.file={}", dump.display());
        let cluster = kafka::Cluster::start(
            1,
            &[
                "--classpath",
                classes.to_str().expect("UTF-8 path"),
                "--set",
                "metric.reporters=TelemetryDump",
                "--set",
                &set_file,
            ],
        );
        Some((cluster, dump))
    })
    .as_ref()
}

/// Subscribes clients whose id is `client_id` to `metrics` every `interval_ms`,
/// and waits until the broker hands that subscription out.
async fn subscribe(bootstrap: &str, client_id: &str, metrics: &str, interval_ms: u32) {
    let set = |name: &str, value: &str| AlterableConfig {
        name: name.to_owned(),
        config_operation: OP_SET,
        value: Some(value.to_owned()),
        ..Default::default()
    };
    let req = IncrementalAlterConfigsRequest {
        resources: vec![AlterConfigsResource {
            resource_type: RESOURCE_CLIENT_METRICS,
            resource_name: client_id.to_owned(),
            configs: vec![
                set("metrics", metrics),
                set("interval.ms", &interval_ms.to_string()),
                set("match", &format!("client_id={client_id}")),
            ],
            ..Default::default()
        }],
        ..Default::default()
    };
    let admin = Client::connect(ClientConfig::new([bootstrap]).with_metrics_push(false))
        .await
        .expect("client");
    let resp = admin.send_any(&req).await.expect("IncrementalAlterConfigs");
    for r in &resp.responses {
        assert_eq!(r.error_code, ErrorCode::NONE, "{:?}", r.error_message);
    }
    admin.close();
    // The subscription reaches the broker through the metadata log: ask as
    // that client until it is handed out.
    let config = ClientConfig::new([bootstrap]).with_client_id(client_id);
    let conn = BrokerConnection::connect(bootstrap, None, &config)
        .await
        .expect("connect");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = conn
            .send(&GetTelemetrySubscriptionsRequest::default())
            .await
            .expect("GetTelemetrySubscriptions");
        assert_eq!(got.error_code, ErrorCode::NONE);
        if got.requested_metrics == [metrics] {
            assert!(
                !got.client_instance_id.is_zero(),
                "the broker assigns an id"
            );
            assert_eq!(got.push_interval_ms, i32::try_from(interval_ms).unwrap());
            // kafkit compresses with the first of these it has (zstd on 4.4.0).
            eprintln!("accepted compression: {:?}", got.accepted_compression_types);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "subscription never handed out: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    conn.close();
}

/// One decoded point the plugin wrote.
#[derive(Debug, Clone)]
struct Point {
    instance: String,
    terminating: bool,
    name: String,
    kind: String,
    value: f64,
    /// `time_unix_nano`: the points of one push share it.
    time: String,
}

/// The plugin's lines for `client_id`: payload lines (instance, terminating,
/// content type, bytes, metric count) and points.
fn dump_of(file: &Path, client_id: &str) -> (Vec<Vec<String>>, Vec<Point>) {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut payloads = Vec::new();
    let mut points = Vec::new();
    for line in text.lines() {
        let f: Vec<String> = line.split('\t').map(str::to_owned).collect();
        assert_ne!(f[0], "error", "the plugin could not decode a push: {line}");
        if f.get(1).map(String::as_str) != Some(client_id) {
            continue;
        }
        match f[0].as_str() {
            "payload" => payloads.push(f[2..].to_vec()),
            "resource" => {}
            "metric" if f.len() >= 10 => points.push(Point {
                instance: f[2].clone(),
                terminating: f[3] == "true",
                name: f[4].clone(),
                kind: f[5].clone(),
                value: f[6].parse().unwrap_or_else(|_| panic!("value in {line}")),
                time: f[9].clone(),
            }),
            _ => panic!("unexpected line {line}"),
        }
    }
    (payloads, points)
}

/// The resource attributes of every push of `client_id`.
fn resources_of(file: &Path, client_id: &str) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f.len() >= 5 && f[0] == "resource" && f[1] == client_id)
        .map(|f| f[4].to_owned())
        .collect()
}

async fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(t) = probe() {
            return t;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn sum_of(points: &[Point], name: &str) -> f64 {
    points
        .iter()
        .filter(|p| p.name == name)
        .map(|p| p.value)
        .sum()
}

const SENT: &str = "org.apache.kafka.producer.record.send.total";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribed_producer_pushes_its_metrics_and_a_terminating_push() {
    support::real::init_tracing();
    let Some((cluster, dump)) = telemetry_broker() else {
        return;
    };
    let bootstrap = cluster.bootstrap.as_str();
    let client_id = kafka::unique("tel-producer");
    subscribe(bootstrap, &client_id, "org.apache.kafka.producer.", 1000).await;
    let topic = topic(bootstrap, "telemetry", 1).await;
    let config = ClientConfig::new([bootstrap]).with_client_id(&client_id);
    let producer = Producer::connect(config, ProducerConfig::default())
        .await
        .expect("producer");
    let started = Instant::now();
    let records = (0..20).map(|i| ProducerRecord::new(&topic).value(format!("v{i}")));
    producer.send_all(records).await.expect("sent");
    // Counters go as deltas (the broker's default): the pushes add up to 20.
    let points = wait_for("record.send.total to reach 20", || {
        let (_, points) = dump_of(dump, &client_id);
        (sum_of(&points, SENT) == 20.0).then_some(points)
    })
    .await;
    eprintln!(
        "pushes added up to 20 records after {:?}",
        started.elapsed()
    );
    assert!(points
        .iter()
        .all(|p| p.name.starts_with("org.apache.kafka.producer.")));
    assert!(points
        .iter()
        .filter(|p| p.name == SENT)
        .all(|p| p.kind == "sum-delta"));
    let queue = points
        .iter()
        .find(|p| p.name == "org.apache.kafka.producer.record.queue.time.avg")
        .expect("record queue time pushed");
    assert!(queue.kind == "gauge" && queue.value >= 0.0, "{queue:?}");
    assert!(
        points
            .iter()
            .any(|p| p.name == "org.apache.kafka.producer.node.request.latency.max"),
        "node request latency pushed"
    );
    let instance = points[0].instance.clone();
    assert!(
        points.iter().all(|p| p.instance == instance),
        "one instance id"
    );
    assert!(!points.iter().any(|p| p.terminating));

    producer.close(Duration::from_secs(5)).await.expect("close");
    let (payloads, _) = dump_of(dump, &client_id);
    let sent = producer.metrics_snapshot().connections;
    assert_eq!(
        sent.request_count(ApiKey::PUSH_TELEMETRY),
        payloads.len() as u64,
        "every push was taken (none throttled)"
    );
    assert_eq!(sent.request_count(ApiKey::GET_TELEMETRY_SUBSCRIPTIONS), 1);
    let terminating: Vec<_> = payloads.iter().filter(|p| p[1] == "true").collect();
    assert_eq!(terminating.len(), 1, "one terminating push: {payloads:?}");
    assert_eq!(
        payloads.last(),
        terminating.last().copied(),
        "and it is the last"
    );
    // The broker names uncompressed OTLP protobuf `OTLP`.
    assert!(payloads.iter().all(|p| p[2] == "OTLP"), "{payloads:?}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        dump_of(dump, &client_id).0.len(),
        payloads.len(),
        "nothing after close"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_pushes_only_the_requested_prefix() {
    support::real::init_tracing();
    let Some((cluster, dump)) = telemetry_broker() else {
        return;
    };
    let bootstrap = cluster.bootstrap.as_str();
    let client_id = kafka::unique("tel-consumer");
    let prefix = "org.apache.kafka.consumer.fetch.manager.";
    subscribe(bootstrap, &client_id, prefix, 500).await;
    let topic = topic(bootstrap, "telemetry-c", 1).await;
    let producer = Producer::connect(
        ClientConfig::new([bootstrap]).with_metrics_push(false),
        ProducerConfig::default(),
    )
    .await
    .expect("producer");
    let records = (0..5).map(|i| ProducerRecord::new(&topic).value(format!("v{i}")));
    producer.send_all(records).await.expect("sent");
    producer.close(Duration::from_secs(5)).await.expect("close");
    let config = ClientConfig::new([bootstrap]).with_client_id(&client_id);
    let group = kafka::unique("tel-group");
    let mut consumer = Consumer::connect(config, ConsumerConfig::group(&group))
        .await
        .expect("consumer");
    consumer
        .assign(vec![(support::real::tp(&topic, 0), Some(0))])
        .expect("assign");
    for _ in 0..5 {
        tokio::time::timeout(Duration::from_secs(15), consumer.recv())
            .await
            .expect("a record in time")
            .expect("a record")
            .expect("a good record");
    }
    let consumed = "org.apache.kafka.consumer.fetch.manager.records.consumed.total";
    let points = wait_for("records.consumed.total to reach 5", || {
        let (_, points) = dump_of(dump, &client_id);
        (sum_of(&points, consumed) == 5.0).then_some(points)
    })
    .await;
    assert!(
        points.iter().all(|p| p.name.starts_with(prefix)),
        "{points:?}"
    );
    // KIP-714's client resource labels: the group, and nothing unset.
    let resources = resources_of(dump, &client_id);
    assert!(!resources.is_empty());
    assert!(
        resources.iter().all(|r| r == &format!("group_id={group}")),
        "{resources:?}"
    );
    consumer.close().await.expect("close");
    let (payloads, _) = dump_of(dump, &client_id);
    assert_eq!(payloads.iter().filter(|p| p[1] == "true").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_push_off_sends_nothing() {
    support::real::init_tracing();
    let Some((cluster, dump)) = telemetry_broker() else {
        return;
    };
    let bootstrap = cluster.bootstrap.as_str();
    let client_id = kafka::unique("tel-off");
    subscribe(bootstrap, &client_id, "org.apache.kafka.", 500).await;
    let topic = topic(bootstrap, "telemetry-off", 1).await;
    let config = ClientConfig::new([bootstrap])
        .with_client_id(&client_id)
        .with_metrics_push(false);
    let producer = Producer::connect(config, ProducerConfig::default())
        .await
        .expect("producer");
    producer
        .send(ProducerRecord::new(&topic).value("v"))
        .await
        .expect("sent");
    // Three push intervals (the longest first-push jitter is 1.5).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let conns = producer.metrics_snapshot().connections;
    assert_eq!(conns.request_count(ApiKey::GET_TELEMETRY_SUBSCRIPTIONS), 0);
    assert_eq!(conns.request_count(ApiKey::PUSH_TELEMETRY), 0);
    producer.close(Duration::from_secs(5)).await.expect("close");
    assert!(
        dump_of(dump, &client_id).0.is_empty(),
        "no push from {client_id}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_without_the_apis_gets_no_telemetry_requests() {
    let Some(k) = kafka::single() else {
        return;
    };
    let topic = topic(&k.bootstrap, "telemetry-none", 1).await;
    let producer = Producer::connect(
        ClientConfig::new([k.bootstrap.as_str()]),
        ProducerConfig::default(),
    )
    .await
    .expect("producer");
    let conn = producer.client().pool().any().await.expect("a broker");
    assert!(
        conn.broker_versions(ApiKey::PUSH_TELEMETRY).is_none(),
        "the shared broker has no telemetry plugin"
    );
    producer
        .send(ProducerRecord::new(&topic).value("v"))
        .await
        .expect("sent");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let conns = producer.metrics_snapshot().connections;
    assert_eq!(conns.request_count(ApiKey::GET_TELEMETRY_SUBSCRIPTIONS), 0);
    assert!(conns.request_count(ApiKey::PRODUCE) > 0);
    producer.close(Duration::from_secs(5)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_subscription_is_fetched_again_and_followed() {
    support::real::init_tracing();
    let Some((cluster, dump)) = telemetry_broker() else {
        return;
    };
    let bootstrap = cluster.bootstrap.as_str();
    let client_id = kafka::unique("tel-change");
    subscribe(bootstrap, &client_id, "org.apache.kafka.producer.", 500).await;
    let topic = topic(bootstrap, "telemetry-change", 1).await;
    let config = ClientConfig::new([bootstrap]).with_client_id(&client_id);
    let producer = Producer::connect(config, ProducerConfig::default())
        .await
        .expect("producer");
    producer
        .send(ProducerRecord::new(&topic).value("v"))
        .await
        .expect("sent");
    let queue = "org.apache.kafka.producer.record.queue.time.max";
    let before = wait_for("a push under the first subscription", || {
        let (_, points) = dump_of(dump, &client_id);
        points
            .iter()
            .any(|p| p.name == queue)
            .then_some(points.len())
    })
    .await;
    // A new metrics list changes the subscription id: the next push is
    // refused with UNKNOWN_SUBSCRIPTION_ID and the client asks again.
    subscribe(bootstrap, &client_id, SENT, 500).await;
    // A push under the new subscription carries that one metric only.
    wait_for("a push under the second subscription", || {
        let (_, points) = dump_of(dump, &client_id);
        let later = points.get(before..)?;
        later
            .iter()
            .any(|p| {
                later
                    .iter()
                    .filter(|q| q.time == p.time)
                    .all(|q| q.name == SENT)
            })
            .then_some(())
    })
    .await;
    let conns = producer.metrics_snapshot().connections;
    assert!(
        conns.request_count(ApiKey::GET_TELEMETRY_SUBSCRIPTIONS) >= 2,
        "the client asked again: {:?}",
        conns.request_count(ApiKey::GET_TELEMETRY_SUBSCRIPTIONS)
    );
    producer.close(Duration::from_secs(5)).await.expect("close");
    let (payloads, points) = dump_of(dump, &client_id);
    assert_eq!(payloads.iter().filter(|p| p[1] == "true").count(), 1);
    let sent = producer.metrics_snapshot().connections;
    assert_eq!(
        sent.request_count(ApiKey::PUSH_TELEMETRY) - payloads.len() as u64,
        1,
        "one push refused (UNKNOWN_SUBSCRIPTION_ID), none throttled"
    );
    let terminating: Vec<_> = points.iter().filter(|p| p.terminating).collect();
    assert!(
        !terminating.is_empty() && terminating.iter().all(|p| p.name == SENT),
        "the terminating push follows the new subscription: {terminating:?}"
    );
}

/// librdkafka's mock cluster offers both APIs but subscribes no metrics
/// (and a 5-minute interval): one GetTelemetrySubscriptions, no push, and
/// `close` does not wait for a terminating push that is not due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_subscription_means_no_push_and_no_wait_on_close() {
    let mock = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    mock.create_topic("telemetry-mock", 1, 1).expect("topic");
    let producer = Producer::connect(
        ClientConfig::new([mock.bootstrap_servers()]),
        ProducerConfig::default(),
    )
    .await
    .expect("producer");
    producer
        .send(ProducerRecord::new("telemetry-mock").value("v"))
        .await
        .expect("sent");
    wait_for("the subscription request", || {
        let c = producer.metrics_snapshot().connections;
        (c.request_count(ApiKey::GET_TELEMETRY_SUBSCRIPTIONS) == 1).then_some(())
    })
    .await;
    let started = Instant::now();
    producer.close(Duration::from_secs(5)).await.expect("close");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    let c = producer.metrics_snapshot().connections;
    assert_eq!(c.request_count(ApiKey::GET_TELEMETRY_SUBSCRIPTIONS), 1);
    assert_eq!(c.request_count(ApiKey::PUSH_TELEMETRY), 0);
}
