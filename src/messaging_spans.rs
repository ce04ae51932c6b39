//! `tracing` spans named and shaped after the OpenTelemetry messaging
//! semantic conventions, so an OpenTelemetry bridge (`tracing-opentelemetry`)
//! exports them as Kafka messaging spans without a mapping of its own.
//!
//! Every span has target [`TARGET`] and level INFO (filter it with
//! `kafkit::messaging=off` to turn them off) and these fields:
//! `messaging.system = "kafka"`, `messaging.operation.type` (`send`,
//! `receive` or `process`), `messaging.operation.name`,
//! `messaging.destination.name` (the topic),
//! `messaging.destination.partition.id`, `messaging.kafka.offset` (for a
//! send, recorded once the broker acknowledged it), `messaging.client.id`,
//! `messaging.consumer.group.name` (consumers in a group),
//! `otel.name` (`"<operation> <topic>"`) and `otel.kind` (`producer` or
//! `consumer`). Record keys, values and headers never go into a span.
//!
//! Spec: OpenTelemetry semantic conventions for messaging (Kafka), v1.27+.

use tracing::Span;

/// The `tracing` target of the messaging spans.
pub const TARGET: &str = "kafkit::messaging";

/// A producer's `send` span for one record; the offset is recorded later.
pub(crate) fn send(client_id: &str, topic: &str, partition: i32) -> Span {
    tracing::info_span!(
        target: TARGET,
        "send",
        otel.name = %format_args!("send {topic}"),
        otel.kind = "producer",
        messaging.system = "kafka",
        messaging.operation.type = "send",
        messaging.operation.name = "send",
        messaging.destination.name = %topic,
        messaging.destination.partition.id = partition,
        messaging.client.id = %client_id,
        messaging.kafka.offset = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    )
}

/// Whether a span at INFO can be enabled at all (the compile-time and the
/// global maximum level): the first test `tracing`'s span macros make,
/// inlined here so the consumer skips its per-record `receive` call (and
/// building its arguments) when tracing is off.
#[inline]
pub(crate) fn info_may_be_enabled() -> bool {
    use tracing::level_filters::{LevelFilter, STATIC_MAX_LEVEL};
    tracing::Level::INFO <= STATIC_MAX_LEVEL && tracing::Level::INFO <= LevelFilter::current()
}

/// A consumer's `receive` span for one record handed to the application.
pub(crate) fn receive(
    client_id: &str,
    group: Option<&str>,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Span {
    tracing::info_span!(
        target: TARGET,
        "receive",
        otel.name = %format_args!("poll {topic}"),
        otel.kind = "consumer",
        messaging.system = "kafka",
        messaging.operation.type = "receive",
        messaging.operation.name = "poll",
        messaging.destination.name = %topic,
        messaging.destination.partition.id = partition,
        messaging.kafka.offset = offset,
        messaging.client.id = %client_id,
        messaging.consumer.group.name = group,
    )
}

/// A listener's `process` span around one handler call (one record, or a
/// batch starting at `offset` with `count` records).
pub(crate) fn process(
    group: Option<&str>,
    topic: &str,
    partition: i32,
    offset: i64,
    count: usize,
) -> Span {
    tracing::info_span!(
        target: TARGET,
        "process",
        otel.name = %format_args!("process {topic}"),
        otel.kind = "consumer",
        messaging.system = "kafka",
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.destination.name = %topic,
        messaging.destination.partition.id = partition,
        messaging.kafka.offset = offset,
        messaging.batch.message_count = count,
        messaging.consumer.group.name = group,
    )
}
