//! Samples to OTLP metrics: prefix filter and counter temporality.

use std::collections::HashMap;

use super::otlp::{DataPoint, Metric, MetricData, NumberValue, Temporality};

/// Whether a sample is a counter (an OTLP monotonic sum) or a gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleKind {
    /// Only grows: pushed as a delta or a cumulative sum.
    Counter,
    /// A current value (an average, a maximum, a queue length).
    Gauge,
}

/// One value of one metric, as the client reads it at a moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The KIP-714 name (`org.apache.kafka.producer.record.send.total`).
    pub name: String,
    /// Counter or gauge.
    pub kind: SampleKind,
    /// Attributes (`node.id`, `topic`, `partition`).
    pub attributes: Vec<(String, String)>,
    /// The value: counters are totals since the client started.
    pub value: NumberValue,
    /// A one-line description.
    pub description: &'static str,
    /// The unit (`ms`, `1`, `By`), or empty.
    pub unit: &'static str,
}

/// A series: a metric name and its attributes.
type SeriesKey = (String, Vec<(String, String)>);

/// Remembers what was pushed so counters can go as deltas.
#[derive(Debug, Clone)]
pub struct Collector {
    start_unix_nano: u64,
    /// Per (name, attributes): the total last pushed and when.
    last: HashMap<SeriesKey, (NumberValue, u64)>,
}

impl Collector {
    /// A collector for a client that started at `start_unix_nano`.
    pub fn new(start_unix_nano: u64) -> Self {
        Self {
            start_unix_nano,
            last: HashMap::new(),
        }
    }

    /// The metrics of `samples` whose names start with one of `prefixes`
    /// (an empty prefix matches all), counters as deltas since the previous
    /// collection when `delta`, else as totals since the start. Samples of
    /// one name become the points of one metric, in first-seen order.
    pub fn collect(
        &mut self,
        samples: Vec<Sample>,
        prefixes: &[String],
        delta: bool,
        now_unix_nano: u64,
    ) -> Vec<Metric> {
        let mut out: Vec<Metric> = Vec::new();
        for s in samples {
            if !prefixes.iter().any(|p| s.name.starts_with(p.as_str())) {
                continue;
            }
            let point = self.point(&s, delta, now_unix_nano);
            let at = match out.iter().position(|m| m.name == s.name) {
                Some(at) => at,
                None => {
                    out.push(empty_metric(&s, delta));
                    out.len() - 1
                }
            };
            if let Some(m) = out.get_mut(at) {
                match &mut m.data {
                    MetricData::Gauge(points) | MetricData::Sum { points, .. } => {
                        points.push(point);
                    }
                }
            }
        }
        out
    }

    fn point(&mut self, s: &Sample, delta: bool, now: u64) -> DataPoint {
        let (value, start) = match s.kind {
            SampleKind::Gauge => (s.value, 0),
            SampleKind::Counter => {
                let key = (s.name.clone(), s.attributes.clone());
                let previous = self.last.insert(key, (s.value, now));
                match previous {
                    Some((before, at)) if delta => (difference(s.value, before), at),
                    _ => (s.value, self.start_unix_nano),
                }
            }
        };
        DataPoint {
            attributes: s.attributes.clone(),
            start_time_unix_nano: start,
            time_unix_nano: now,
            value,
        }
    }
}

fn empty_metric(s: &Sample, delta: bool) -> Metric {
    let data = match s.kind {
        SampleKind::Gauge => MetricData::Gauge(Vec::new()),
        SampleKind::Counter => MetricData::Sum {
            points: Vec::new(),
            temporality: if delta {
                Temporality::Delta
            } else {
                Temporality::Cumulative
            },
            monotonic: true,
        },
    };
    Metric {
        name: s.name.clone(),
        description: s.description.to_owned(),
        unit: s.unit.to_owned(),
        data,
    }
}

/// `now - before` for a counter; a counter that went down (reset) counts
/// from zero again.
fn difference(now: NumberValue, before: NumberValue) -> NumberValue {
    match (now, before) {
        (NumberValue::Int(a), NumberValue::Int(b)) if a >= b => NumberValue::Int(a - b),
        (NumberValue::Double(a), NumberValue::Double(b)) if a >= b => NumberValue::Double(a - b),
        _ => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(name: &str, v: i64) -> Sample {
        Sample {
            name: name.into(),
            kind: SampleKind::Counter,
            attributes: Vec::new(),
            value: NumberValue::Int(v),
            description: "",
            unit: "",
        }
    }

    fn values(ms: &[Metric]) -> Vec<(String, NumberValue, u64)> {
        ms.iter()
            .flat_map(|m| match &m.data {
                MetricData::Gauge(p) | MetricData::Sum { points: p, .. } => p
                    .iter()
                    .map(|p| (m.name.clone(), p.value, p.start_time_unix_nano))
                    .collect::<Vec<_>>(),
            })
            .collect()
    }

    #[test]
    fn deltas_cover_the_time_since_the_previous_push() {
        let mut c = Collector::new(10);
        let all = vec![String::new()];
        let first = c.collect(vec![counter("a.total", 5)], &all, true, 100);
        assert_eq!(
            values(&first),
            [("a.total".into(), NumberValue::Int(5), 10)]
        );
        let second = c.collect(vec![counter("a.total", 12)], &all, true, 200);
        assert_eq!(
            values(&second),
            [("a.total".into(), NumberValue::Int(7), 100)]
        );
        // A counter that went down is a reset: its value counts from zero.
        let third = c.collect(vec![counter("a.total", 3)], &all, true, 300);
        assert_eq!(
            values(&third),
            [("a.total".into(), NumberValue::Int(3), 200)]
        );
        assert!(matches!(
            &third[0].data,
            MetricData::Sum {
                temporality: Temporality::Delta,
                monotonic: true,
                ..
            }
        ));
    }

    #[test]
    fn cumulative_sums_start_at_the_client_start() {
        let mut c = Collector::new(10);
        let all = vec![String::new()];
        c.collect(vec![counter("a", 5)], &all, false, 100);
        let second = c.collect(vec![counter("a", 12)], &all, false, 200);
        assert_eq!(values(&second), [("a".into(), NumberValue::Int(12), 10)]);
    }

    #[test]
    fn prefixes_filter_and_same_names_share_a_metric() {
        let mut c = Collector::new(0);
        let on_node = |n: &str| {
            let mut s = counter("p.node.request.total", 1);
            s.attributes = vec![("node.id".into(), n.into())];
            s
        };
        let samples = vec![on_node("1"), counter("q.other", 1), on_node("2")];
        let picked = c.collect(samples.clone(), &["p.".to_owned()], true, 5);
        assert_eq!(picked.len(), 1);
        assert_eq!(values(&picked).len(), 2);
        assert!(
            c.collect(samples, &[], true, 6).is_empty(),
            "no prefixes: nothing"
        );
    }
}
