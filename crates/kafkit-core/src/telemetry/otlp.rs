//! A minimal OTLP metrics encoder: `MetricsData` protobuf bytes with one
//! resource, one instrumentation scope, and sums and gauges of number data
//! points. That is all KIP-714 pushes need; histograms, exemplars and
//! summaries are not written.
//!
//! The protobuf wire format is written by hand (varints, fixed64,
//! length-delimited submessages), so no protobuf crate is needed.
//!
//! Spec: opentelemetry-proto `opentelemetry/proto/metrics/v1/metrics.proto`,
//! `common/v1/common.proto`, `resource/v1/resource.proto`; protobuf
//! encoding guide (wire types 0, 1 and 2).

/// A number data point's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NumberValue {
    /// `as_int` (sfixed64).
    Int(i64),
    /// `as_double`.
    Double(f64),
}

/// One `NumberDataPoint`.
#[derive(Debug, Clone, PartialEq)]
pub struct DataPoint {
    /// String attributes (`KeyValue` with a `string_value`).
    pub attributes: Vec<(String, String)>,
    /// Start of the interval the value covers, ns since the Unix epoch (0: unset).
    pub start_time_unix_nano: u64,
    /// When the value was taken, ns since the Unix epoch.
    pub time_unix_nano: u64,
    /// The value.
    pub value: NumberValue,
}

/// Aggregation temporality of a sum (`AggregationTemporality`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Temporality {
    /// Each point covers the time since the previous push (1).
    Delta,
    /// Each point covers the time since the start (2).
    Cumulative,
}

impl Temporality {
    fn code(self) -> u64 {
        match self {
            Temporality::Delta => 1,
            Temporality::Cumulative => 2,
        }
    }
}

/// The data of one metric.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricData {
    /// A `Gauge`: the last value.
    Gauge(Vec<DataPoint>),
    /// A `Sum`.
    Sum {
        /// The points.
        points: Vec<DataPoint>,
        /// Delta or cumulative.
        temporality: Temporality,
        /// Whether the sum only grows (a counter).
        monotonic: bool,
    },
}

/// One `Metric`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Its name (`org.apache.kafka.producer.record.send.total`).
    pub name: String,
    /// Its description (may be empty).
    pub description: String,
    /// Its unit (may be empty; UCUM, `ms`, `1`).
    pub unit: String,
    /// Its data.
    pub data: MetricData,
}

/// What `MetricsData` wraps around the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// Resource attributes.
    pub resource: Vec<(String, String)>,
    /// Instrumentation scope name.
    pub scope_name: String,
    /// Instrumentation scope version.
    pub scope_version: String,
}

/// `MetricsData { resource_metrics: [ResourceMetrics { resource,
/// scope_metrics: [ScopeMetrics { scope, metrics }] }] }` as protobuf bytes.
pub fn encode_metrics_data(envelope: &Envelope, metrics: &[Metric]) -> Vec<u8> {
    let mut resource = Vec::new();
    for (k, v) in &envelope.resource {
        message(&mut resource, 1, &key_value(k, v));
    }
    let mut scope = Vec::new();
    string(&mut scope, 1, &envelope.scope_name);
    string(&mut scope, 2, &envelope.scope_version);
    let mut scope_metrics = Vec::new();
    message(&mut scope_metrics, 1, &scope);
    for m in metrics {
        message(&mut scope_metrics, 2, &metric(m));
    }
    let mut resource_metrics = Vec::new();
    message(&mut resource_metrics, 1, &resource);
    message(&mut resource_metrics, 2, &scope_metrics);
    let mut out = Vec::new();
    message(&mut out, 1, &resource_metrics);
    out
}

fn metric(m: &Metric) -> Vec<u8> {
    let mut out = Vec::new();
    string(&mut out, 1, &m.name);
    string(&mut out, 2, &m.description);
    string(&mut out, 3, &m.unit);
    let mut data = Vec::new();
    match &m.data {
        MetricData::Gauge(points) => {
            for p in points {
                message(&mut data, 1, &data_point(p));
            }
            message(&mut out, 5, &data);
        }
        MetricData::Sum {
            points,
            temporality,
            monotonic,
        } => {
            for p in points {
                message(&mut data, 1, &data_point(p));
            }
            tag(&mut data, 2, 0);
            varint(&mut data, temporality.code());
            if *monotonic {
                tag(&mut data, 3, 0);
                varint(&mut data, 1);
            }
            message(&mut out, 7, &data);
        }
    }
    out
}

fn data_point(p: &DataPoint) -> Vec<u8> {
    let mut out = Vec::new();
    if p.start_time_unix_nano != 0 {
        tag(&mut out, 2, 1);
        out.extend_from_slice(&p.start_time_unix_nano.to_le_bytes());
    }
    tag(&mut out, 3, 1);
    out.extend_from_slice(&p.time_unix_nano.to_le_bytes());
    match p.value {
        NumberValue::Double(d) => {
            tag(&mut out, 4, 1);
            out.extend_from_slice(&d.to_le_bytes());
        }
        NumberValue::Int(i) => {
            tag(&mut out, 6, 1);
            out.extend_from_slice(&i.to_le_bytes());
        }
    }
    for (k, v) in &p.attributes {
        message(&mut out, 7, &key_value(k, v));
    }
    out
}

/// `KeyValue { key, value: AnyValue { string_value } }`.
fn key_value(k: &str, v: &str) -> Vec<u8> {
    let mut any = Vec::new();
    string(&mut any, 1, v);
    let mut out = Vec::new();
    string(&mut out, 1, k);
    message(&mut out, 2, &any);
    out
}

fn tag(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire_type));
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v & 0x7f) as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited field; proto3 leaves empty strings out.
fn string(out: &mut Vec<u8>, field: u32, s: &str) {
    if !s.is_empty() {
        message(out, field, s.as_bytes());
    }
}

fn message(out: &mut Vec<u8>, field: u32, body: &[u8]) {
    tag(out, field, 2);
    varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_little_endian_base_128() {
        let mut out = Vec::new();
        varint(&mut out, 1);
        varint(&mut out, 300);
        varint(&mut out, u64::MAX);
        assert_eq!(
            out,
            [1, 0xac, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
    }

    /// Bytes worked out by hand from the .proto field numbers.
    #[test]
    fn one_delta_counter_encodes_field_by_field() {
        let m = Metric {
            name: "a".into(),
            description: String::new(),
            unit: String::new(),
            data: MetricData::Sum {
                points: vec![DataPoint {
                    attributes: vec![("k".into(), "v".into())],
                    start_time_unix_nano: 1,
                    time_unix_nano: 2,
                    value: NumberValue::Int(5),
                }],
                temporality: Temporality::Delta,
                monotonic: true,
            },
        };
        let point: Vec<u8> = [
            &[0x11, 1, 0, 0, 0, 0, 0, 0, 0][..],
            &[0x19, 2, 0, 0, 0, 0, 0, 0, 0],
            &[0x31, 5, 0, 0, 0, 0, 0, 0, 0],
            &[0x3a, 8, 0x0a, 1, b'k', 0x12, 3, 0x0a, 1, b'v'],
        ]
        .concat();
        let mut sum = vec![0x0a, point.len() as u8];
        sum.extend_from_slice(&point);
        sum.extend_from_slice(&[0x10, 1, 0x18, 1]);
        let mut metric = vec![0x0a, 1, b'a', 0x3a, sum.len() as u8];
        metric.extend_from_slice(&sum);
        let env = Envelope {
            resource: Vec::new(),
            scope_name: "s".into(),
            scope_version: String::new(),
        };
        let mut scope_metrics = vec![0x0a, 3, 0x0a, 1, b's', 0x12, metric.len() as u8];
        scope_metrics.extend_from_slice(&metric);
        let mut rm = vec![0x0a, 0, 0x12, scope_metrics.len() as u8];
        rm.extend_from_slice(&scope_metrics);
        let mut want = vec![0x0a, rm.len() as u8];
        want.extend_from_slice(&rm);
        assert_eq!(encode_metrics_data(&env, &[m]), want);
    }

    #[test]
    fn gauge_doubles_use_field_4_and_no_start_time() {
        let m = Metric {
            name: "g".into(),
            description: "d".into(),
            unit: "ms".into(),
            data: MetricData::Gauge(vec![DataPoint {
                attributes: Vec::new(),
                start_time_unix_nano: 0,
                time_unix_nano: 9,
                value: NumberValue::Double(1.5),
            }]),
        };
        let mut want = vec![0x0a, 1, b'g', 0x12, 1, b'd', 0x1a, 2, b'm', b's'];
        let mut point = vec![0x19, 9, 0, 0, 0, 0, 0, 0, 0, 0x21];
        point.extend_from_slice(&1.5f64.to_le_bytes());
        want.extend_from_slice(&[0x2a, point.len() as u8 + 2, 0x0a, point.len() as u8]);
        want.extend_from_slice(&point);
        assert_eq!(metric(&m), want);
    }
}
