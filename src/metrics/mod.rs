//! One metrics snapshot per client, rendered as Prometheus text.
//!
//! [`crate::producer::Producer::metrics_snapshot`],
//! [`crate::consumer::Consumer::metrics_snapshot`],
//! [`crate::Admin::metrics_snapshot`] and [`crate::Client::metrics_snapshot`]
//! return a [`MetricsSnapshot`]: the client's own counters plus those of the
//! connection pool under it. [`MetricsSnapshot::to_prometheus`] renders the
//! text exposition format; names follow the Java client's metric names
//! (`record-send-total` in the `producer-metrics` group becomes
//! `kafka_producer_record_send_total`), every sample carries a `client_id`
//! label, and latencies come as Java's `_avg`/`_max` in milliseconds plus a
//! `_seconds` summary (`_sum`, `_count`) for rates.
//!
//! Spec: Prometheus text exposition format 0.0.4; the Java client's
//! producer/consumer/connection metrics (KIP-714 lists the same names).

mod latency;
mod net;
mod prometheus;

pub(crate) use latency::LatencyRecorder;
pub use latency::LatencyStats;
pub(crate) use net::{BrokerStats, NetMetrics};
pub use net::{ConnectionMetrics, RequestMetrics};

use crate::consumer::ConsumerMetrics;
use crate::producer::ProducerMetrics;
use prometheus::{labels, Exposition, Kind};

/// Which kind of client a snapshot describes (the metric name prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientKind {
    /// `kafka_producer_…`
    Producer,
    /// `kafka_consumer_…`
    Consumer,
    /// `kafka_admin_client_…`
    Admin,
    /// A bare [`crate::Client`]: `kafka_client_…`
    Client,
}

impl ClientKind {
    fn prefix(self) -> &'static str {
        match self {
            ClientKind::Producer => "kafka_producer",
            ClientKind::Consumer => "kafka_consumer",
            ClientKind::Admin => "kafka_admin_client",
            ClientKind::Client => "kafka_client",
        }
    }
}

/// Every counter of one client at one moment.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// The client id (`client.id`), the `client_id` label.
    pub client_id: String,
    /// Which client this is.
    pub kind: ClientKind,
    /// The producer's counters (producers only).
    pub producer: Option<ProducerMetrics>,
    /// The consumer's counters (consumers only).
    pub consumer: Option<ConsumerMetrics>,
    /// The connection pool's counters.
    pub connections: ConnectionMetrics,
}

impl MetricsSnapshot {
    pub(crate) fn new(client_id: &str, kind: ClientKind, connections: ConnectionMetrics) -> Self {
        Self {
            client_id: client_id.to_owned(),
            kind,
            producer: None,
            consumer: None,
            connections,
        }
    }

    /// The snapshot in the Prometheus text exposition format.
    pub fn to_prometheus(&self) -> String {
        let mut e = Exposition::default();
        let client = labels(&[("client_id", &self.client_id)]);
        if let Some(p) = &self.producer {
            producer(&mut e, &client, p);
        }
        if let Some(c) = &self.consumer {
            consumer(&mut e, &self.client_id, c);
        }
        connections(
            &mut e,
            self.kind.prefix(),
            &self.client_id,
            &self.connections,
        );
        e.render()
    }
}

fn producer(e: &mut Exposition, l: &str, p: &ProducerMetrics) {
    use Kind::{Counter, Gauge};
    let n = |x: u64| x as f64;
    e.sample(
        "kafka_producer_record_send_total",
        "Records acknowledged (or written, with acks=0).",
        Counter,
        l,
        n(p.records_sent),
    );
    e.sample(
        "kafka_producer_byte_total",
        "Record batch bytes sent, retries counted again.",
        Counter,
        l,
        n(p.bytes_sent),
    );
    e.sample(
        "kafka_producer_batch_send_total",
        "Record batches sent, retries counted again.",
        Counter,
        l,
        n(p.batches_sent),
    );
    e.sample(
        "kafka_producer_record_retry_total",
        "Records whose batch was retried, per retry.",
        Counter,
        l,
        n(p.records_retried),
    );
    e.sample(
        "kafka_producer_batch_retry_total",
        "Batch retries.",
        Counter,
        l,
        n(p.retries),
    );
    e.sample(
        "kafka_producer_record_error_total",
        "Records that ended in an error.",
        Counter,
        l,
        n(p.errors),
    );
    e.sample(
        "kafka_producer_requests_in_flight",
        "Batches sent and not yet answered.",
        Gauge,
        l,
        n(p.in_flight),
    );
    e.sample(
        "kafka_producer_records_queued",
        "Records buffered and not yet sent.",
        Gauge,
        l,
        n(p.queued_records),
    );
    e.latency(
        "kafka_producer_record_queue_time",
        "Time a batch waited in the accumulator before its first send.",
        l,
        &p.queue_time,
    );
    e.latency(
        "kafka_producer_request_latency",
        "Produce request latency.",
        l,
        &p.request_latency,
    );
}

fn consumer(e: &mut Exposition, client_id: &str, c: &ConsumerMetrics) {
    use Kind::{Counter, Gauge};
    let l = labels(&[("client_id", client_id)]);
    let n = |x: u64| x as f64;
    e.sample(
        "kafka_consumer_fetch_manager_records_consumed_total",
        "Records handed to the application.",
        Counter,
        &l,
        n(c.records_consumed),
    );
    e.sample(
        "kafka_consumer_fetch_manager_bytes_consumed_total",
        "Record bytes handed to the application.",
        Counter,
        &l,
        n(c.bytes_consumed),
    );
    e.sample(
        "kafka_consumer_fetch_manager_fetch_total",
        "Fetch requests.",
        Counter,
        &l,
        n(c.fetches),
    );
    e.latency(
        "kafka_consumer_fetch_manager_fetch_latency",
        "Fetch request latency.",
        &l,
        &c.fetch_latency,
    );
    let mut max = 0;
    for p in &c.lag {
        let partition = p.partition.to_string();
        let pl = labels(&[
            ("client_id", client_id),
            ("topic", &p.topic),
            ("partition", &partition),
        ]);
        e.sample(
            "kafka_consumer_fetch_manager_records_lag",
            "High watermark minus the consumer's position, per partition.",
            Gauge,
            &pl,
            p.lag as f64,
        );
        max = max.max(p.lag);
    }
    e.sample(
        "kafka_consumer_fetch_manager_records_lag_max",
        "The largest partition lag.",
        Gauge,
        &l,
        max as f64,
    );
    e.sample(
        "kafka_consumer_coordinator_rebalance_total",
        "Assignments received from the group.",
        Counter,
        &l,
        n(c.rebalances),
    );
    e.sample(
        "kafka_consumer_coordinator_commit_total",
        "OffsetCommit requests.",
        Counter,
        &l,
        n(c.commits),
    );
    e.latency(
        "kafka_consumer_coordinator_commit_latency",
        "OffsetCommit request latency.",
        &l,
        &c.commit_latency,
    );
}

fn connections(e: &mut Exposition, prefix: &str, client_id: &str, c: &ConnectionMetrics) {
    use Kind::Counter;
    let l = labels(&[("client_id", client_id)]);
    e.sample(
        &format!("{prefix}_connection_creation_total"),
        "Connections opened.",
        Counter,
        &l,
        c.connects as f64,
    );
    e.sample(
        &format!("{prefix}_connection_close_total"),
        "Connections closed or broken.",
        Counter,
        &l,
        c.disconnects as f64,
    );
    e.sample(
        &format!("{prefix}_connection_creation_failure_total"),
        "Connection attempts that failed.",
        Counter,
        &l,
        c.connect_failures as f64,
    );
    for r in &c.requests {
        let node = r.node_id.unwrap_or(-1).to_string();
        let api = r
            .api
            .name()
            .map_or_else(|| r.api.0.to_string(), str::to_owned);
        let rl = labels(&[
            ("client_id", client_id),
            ("node_id", &node),
            ("broker", &r.broker),
            ("api", &api),
        ]);
        e.sample(
            &format!("{prefix}_node_request_total"),
            "Requests per broker and API.",
            Counter,
            &rl,
            r.count as f64,
        );
        e.sample(
            &format!("{prefix}_node_request_error_total"),
            "Requests per broker and API that got no answer.",
            Counter,
            &rl,
            r.errors as f64,
        );
        e.latency(
            &format!("{prefix}_node_request_latency"),
            "Request latency per broker and API.",
            &rl,
            &r.latency,
        );
    }
}
