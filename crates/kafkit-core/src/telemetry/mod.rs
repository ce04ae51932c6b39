//! Client metrics push (KIP-714), sans-IO.
//!
//! A broker with a client telemetry plugin subscribes clients to metrics
//! (GetTelemetrySubscriptions: which name prefixes, how often, delta or
//! cumulative counters); the client pushes them as OTLP `MetricsData`
//! (PushTelemetry), and once more, marked terminating, when it closes.
//!
//! - [`TelemetryMachine`] decides when to ask, when to push, how to back
//!   off after each error code, and the terminating push; it takes `now`.
//! - [`Collector`] turns the client's samples into OTLP metrics: filtered
//!   by the requested prefixes, counters as deltas since the last push or as
//!   totals since the start, as the subscription asks.
//! - [`otlp`] writes the protobuf bytes.
//!
//! Spec: KIP-714 (Client metrics and observability); opentelemetry-proto
//! metrics v1.

mod collector;
mod machine;
pub mod otlp;

pub use collector::{Collector, Sample, SampleKind};
pub use machine::{Step, Subscription, TelemetryMachine, DEFAULT_PUSH_INTERVAL};
