//! A [`MetricsSnapshot`] as KIP-714 samples, named as the Java client's
//! metrics are pushed: `org.apache.kafka.` + the group without `-metrics` +
//! the metric name, dashes as dots (`producer-metrics` /
//! `record-queue-time-avg` → `org.apache.kafka.producer.record.queue.time.avg`).
//! Only metrics kafkit measures are pushed; an average or maximum of
//! something not measured yet is left out rather than sent as zero.

use kafkit_core::telemetry::otlp::NumberValue;
use kafkit_core::telemetry::{Sample, SampleKind};

use crate::consumer::ConsumerMetrics;
use crate::metrics::{ClientKind, ConnectionMetrics, LatencyStats, MetricsSnapshot};
use crate::producer::ProducerMetrics;

/// The samples of `s`, all names under `org.apache.kafka.<client>.`.
pub(crate) fn samples(s: &MetricsSnapshot) -> Vec<Sample> {
    let prefix = match s.kind {
        ClientKind::Producer => "org.apache.kafka.producer.",
        ClientKind::Consumer => "org.apache.kafka.consumer.",
        ClientKind::Admin => "org.apache.kafka.admin.client.",
        ClientKind::Client => "org.apache.kafka.client.",
    };
    let mut out = Samples {
        prefix,
        list: Vec::new(),
    };
    if let Some(p) = &s.producer {
        producer(&mut out, p);
    }
    if let Some(c) = &s.consumer {
        consumer(&mut out, c);
    }
    connections(&mut out, &s.connections);
    out.list
}

struct Samples {
    prefix: &'static str,
    list: Vec<Sample>,
}

impl Samples {
    fn push(
        &mut self,
        name: &str,
        kind: SampleKind,
        value: NumberValue,
        description: &'static str,
    ) {
        self.with(name, kind, value, description, Vec::new());
    }

    fn with(
        &mut self,
        name: &str,
        kind: SampleKind,
        value: NumberValue,
        description: &'static str,
        attributes: Vec<(String, String)>,
    ) {
        let unit = if name.contains("latency") || name.contains("time") {
            "ms"
        } else {
            ""
        };
        self.list.push(Sample {
            name: format!("{}{name}", self.prefix),
            kind,
            attributes,
            value,
            description,
            unit,
        });
    }

    fn counter(&mut self, name: &str, n: u64, description: &'static str) {
        let v = NumberValue::Int(i64::try_from(n).unwrap_or(i64::MAX));
        self.push(name, SampleKind::Counter, v, description);
    }

    fn gauge(&mut self, name: &str, n: u64, description: &'static str) {
        let v = NumberValue::Int(i64::try_from(n).unwrap_or(i64::MAX));
        self.push(name, SampleKind::Gauge, v, description);
    }

    /// `<name>.avg` and `<name>.max` in ms, when anything was measured.
    fn latency(&mut self, name: &str, l: &LatencyStats, attributes: Vec<(String, String)>) {
        if l.count == 0 {
            return;
        }
        let ms = |d: std::time::Duration| NumberValue::Double(d.as_secs_f64() * 1000.0);
        self.with(
            &format!("{name}.avg"),
            SampleKind::Gauge,
            ms(l.avg()),
            "Average, in ms.",
            attributes.clone(),
        );
        self.with(
            &format!("{name}.max"),
            SampleKind::Gauge,
            ms(l.max),
            "Maximum, in ms.",
            attributes,
        );
    }
}

fn producer(out: &mut Samples, p: &ProducerMetrics) {
    out.counter("record.send.total", p.records_sent, "Records sent.");
    out.counter("byte.total", p.bytes_sent, "Record batch bytes sent.");
    out.counter("record.retry.total", p.records_retried, "Records retried.");
    out.counter("record.error.total", p.errors, "Records that failed.");
    out.gauge("requests.in.flight", p.in_flight, "Batches in flight.");
    out.latency("record.queue.time", &p.queue_time, Vec::new());
    out.latency("request.latency", &p.request_latency, Vec::new());
}

fn consumer(out: &mut Samples, c: &ConsumerMetrics) {
    let records = "fetch.manager.records.consumed.total";
    out.counter(records, c.records_consumed, "Records consumed.");
    let bytes = "fetch.manager.bytes.consumed.total";
    out.counter(bytes, c.bytes_consumed, "Bytes consumed.");
    out.counter("fetch.manager.fetch.total", c.fetches, "Fetch requests.");
    out.latency("fetch.manager.fetch.latency", &c.fetch_latency, Vec::new());
    let mut max = 0;
    for p in &c.lag {
        let attributes = vec![
            ("topic".to_owned(), p.topic.clone()),
            ("partition".to_owned(), p.partition.to_string()),
        ];
        let lag = NumberValue::Int(p.lag);
        let what = "Records behind the high watermark.";
        out.with(
            "fetch.manager.records.lag",
            SampleKind::Gauge,
            lag,
            what,
            attributes,
        );
        max = max.max(p.lag);
    }
    if !c.lag.is_empty() {
        let lag = NumberValue::Int(max);
        out.push(
            "fetch.manager.records.lag.max",
            SampleKind::Gauge,
            lag,
            "Largest lag.",
        );
    }
    out.counter("coordinator.rebalance.total", c.rebalances, "Rebalances.");
    out.counter("coordinator.commit.total", c.commits, "Offset commits.");
    out.latency("coordinator.commit.latency", &c.commit_latency, Vec::new());
}

fn connections(out: &mut Samples, c: &ConnectionMetrics) {
    out.counter(
        "connection.creation.total",
        c.connects,
        "Connections opened.",
    );
    out.counter(
        "connection.close.total",
        c.disconnects,
        "Connections closed.",
    );
    let mut nodes: Vec<i32> = c.requests.iter().filter_map(|r| r.node_id).collect();
    nodes.sort_unstable();
    nodes.dedup();
    for node in nodes {
        let latency = c
            .requests
            .iter()
            .filter(|r| r.node_id == Some(node))
            .fold(LatencyStats::default(), |acc, r| acc.merged(&r.latency));
        let attributes = vec![("node_id".to_owned(), node.to_string())];
        out.latency("node.request.latency", &latency, attributes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn producer_names_follow_the_java_groups() {
        let mut s = MetricsSnapshot::new("me", ClientKind::Producer, ConnectionMetrics::default());
        let p = ProducerMetrics {
            records_sent: 7,
            queue_time: LatencyStats {
                count: 2,
                sum: Duration::from_millis(6),
                max: Duration::from_millis(5),
            },
            ..Default::default()
        };
        s.producer = Some(p);
        let got = samples(&s);
        let find = |n: &str| got.iter().find(|x| x.name == n).map(|x| x.value);
        assert_eq!(
            find("org.apache.kafka.producer.record.send.total"),
            Some(NumberValue::Int(7))
        );
        assert_eq!(
            find("org.apache.kafka.producer.record.queue.time.avg"),
            Some(NumberValue::Double(3.0))
        );
        assert_eq!(
            find("org.apache.kafka.producer.record.queue.time.max"),
            Some(NumberValue::Double(5.0))
        );
        // Nothing measured: no request latency rather than a made-up zero.
        assert_eq!(find("org.apache.kafka.producer.request.latency.avg"), None);
    }
}
