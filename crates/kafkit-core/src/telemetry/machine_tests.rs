//! The machine driven in virtual time.

use super::*;
use crate::telemetry::otlp::NumberValue;
use crate::telemetry::SampleKind;

const ID: Uuid = Uuid([7; 16]);

fn subscribed(interval_ms: i32, metrics: &[&str]) -> GetTelemetrySubscriptionsResponse {
    GetTelemetrySubscriptionsResponse {
        client_instance_id: ID,
        subscription_id: 42,
        accepted_compression_types: vec![0],
        push_interval_ms: interval_ms,
        telemetry_max_bytes: 1 << 20,
        delta_temporality: true,
        requested_metrics: metrics.iter().map(|m| (*m).to_owned()).collect(),
        ..Default::default()
    }
}

fn sample(name: &str) -> Sample {
    Sample {
        name: name.into(),
        kind: SampleKind::Counter,
        attributes: Vec::new(),
        value: NumberValue::Int(3),
        description: "",
        unit: "",
    }
}

/// A machine that has its subscription and waits to push at `t0 + 1 s`.
fn ready(t0: Instant) -> TelemetryMachine {
    let mut m = TelemetryMachine::new(t0, 1, Envelope::default());
    assert!(matches!(m.poll(t0), Step::GetSubscriptions(r) if r.client_instance_id.is_zero()));
    assert_eq!(m.poll(t0), Step::AwaitResponse);
    m.handle_subscriptions(t0, Some(&subscribed(1000, &[""])), 1.0);
    m
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn asks_then_pushes_every_interval_with_the_assigned_id() {
    let t0 = Instant::now();
    let mut m = ready(t0);
    assert_eq!(m.client_instance_id(), ID);
    assert_eq!(m.poll(t0), Step::WaitUntil(t0 + ms(1000)));
    assert_eq!(m.poll(t0 + ms(1000)), Step::Push { terminating: false });
    let req = m
        .push_request(vec![sample("x")], 5, false)
        .expect("subscribed");
    assert_eq!((req.client_instance_id, req.subscription_id), (ID, 42));
    assert!(!req.metrics.is_empty());
    m.handle_push(t0 + ms(1010), Some(&PushTelemetryResponse::default()));
    assert_eq!(m.poll(t0 + ms(1010)), Step::WaitUntil(t0 + ms(2010)));
}

#[test]
fn jitter_spreads_the_first_push_and_is_clamped() {
    let t0 = Instant::now();
    for (jitter, wait) in [(0.5, 500), (1.5, 1500), (9.0, 1500), (-1.0, 500)] {
        let mut m = TelemetryMachine::new(t0, 0, Envelope::default());
        m.poll(t0);
        m.handle_subscriptions(t0, Some(&subscribed(1000, &["a"])), jitter);
        assert_eq!(m.poll(t0), Step::WaitUntil(t0 + ms(wait)), "{jitter}");
    }
}

#[test]
fn nothing_requested_means_asking_again_after_the_interval() {
    let t0 = Instant::now();
    let mut m = TelemetryMachine::new(t0, 0, Envelope::default());
    m.poll(t0);
    m.handle_subscriptions(t0, Some(&subscribed(2000, &[])), 1.0);
    assert_eq!(m.poll(t0), Step::WaitUntil(t0 + ms(2000)));
    assert!(matches!(
        m.poll(t0 + ms(2000)),
        Step::GetSubscriptions(r) if r.client_instance_id == ID
    ));
}

fn after_push_error(code: ErrorCode, throttle_ms: i32) -> (TelemetryMachine, Instant) {
    let t0 = Instant::now();
    let mut m = ready(t0);
    let t1 = t0 + ms(1000);
    assert_eq!(m.poll(t1), Step::Push { terminating: false });
    let answer = PushTelemetryResponse {
        error_code: code,
        throttle_time_ms: throttle_ms,
        ..Default::default()
    };
    m.handle_push(t1, Some(&answer));
    (m, t1)
}

#[test]
fn unknown_subscription_and_compression_ask_again_at_once() {
    for code in [
        ErrorCode::UNKNOWN_SUBSCRIPTION_ID,
        ErrorCode::UNSUPPORTED_COMPRESSION_TYPE,
    ] {
        let (mut m, t1) = after_push_error(code, 0);
        assert!(matches!(m.poll(t1), Step::GetSubscriptions(_)), "{code:?}");
        // The next push keeps an interval after the refused one, jitter or not.
        m.handle_subscriptions(t1 + ms(10), Some(&subscribed(1000, &[""])), 0.5);
        assert_eq!(m.poll(t1 + ms(10)), Step::WaitUntil(t1 + ms(1000)));
    }
}

#[test]
fn throttling_and_too_large_wait_the_interval_or_the_throttle() {
    let (mut m, t1) = after_push_error(ErrorCode::THROTTLING_QUOTA_EXCEEDED, 0);
    assert_eq!(m.poll(t1), Step::WaitUntil(t1 + ms(1000)));
    let (mut m, t1) = after_push_error(ErrorCode::THROTTLING_QUOTA_EXCEEDED, 5000);
    assert_eq!(m.poll(t1), Step::WaitUntil(t1 + ms(5000)));
    let (mut m, t1) = after_push_error(ErrorCode::TELEMETRY_TOO_LARGE, 0);
    assert_eq!(m.poll(t1), Step::WaitUntil(t1 + ms(1000)));
}

#[test]
fn invalid_record_and_unknown_errors_disable_telemetry() {
    for code in [
        ErrorCode::INVALID_RECORD,
        ErrorCode::INVALID_REQUEST,
        ErrorCode(-99),
    ] {
        let (mut m, t1) = after_push_error(code, 0);
        assert!(m.is_disabled(), "{code:?}");
        assert_eq!(m.poll(t1 + DEFAULT_PUSH_INTERVAL), Step::Done);
    }
}

#[test]
fn no_answer_asks_again_after_the_interval() {
    let t0 = Instant::now();
    let mut m = ready(t0);
    let t1 = t0 + ms(1000);
    m.poll(t1);
    m.handle_push(t1, None);
    assert_eq!(m.poll(t1), Step::WaitUntil(t1 + ms(1000)));
    let mut fresh = TelemetryMachine::new(t0, 0, Envelope::default());
    fresh.poll(t0);
    fresh.handle_subscriptions(t0, None, 1.0);
    assert_eq!(fresh.poll(t0), Step::WaitUntil(t0 + DEFAULT_PUSH_INTERVAL));
}

#[test]
fn close_pushes_once_more_marked_terminating_then_stops() {
    let t0 = Instant::now();
    let mut m = ready(t0);
    m.close();
    assert_eq!(m.poll(t0), Step::Push { terminating: true });
    let req = m
        .push_request(vec![sample("x")], 5, true)
        .expect("subscribed");
    assert!(req.terminating);
    m.handle_push(t0, Some(&PushTelemetryResponse::default()));
    assert_eq!(m.poll(t0), Step::Done);
}

#[test]
fn close_during_a_push_terminates_after_its_answer() {
    let t0 = Instant::now();
    let mut m = ready(t0);
    let t1 = t0 + ms(1000);
    assert_eq!(m.poll(t1), Step::Push { terminating: false });
    m.close();
    assert_eq!(m.poll(t1), Step::AwaitResponse);
    m.handle_push(t1, Some(&PushTelemetryResponse::default()));
    assert_eq!(m.poll(t1), Step::Push { terminating: true });
    // A failed push while closing ends without a terminating push.
    let (mut failed, t2) = {
        let mut m = ready(t0);
        m.poll(t1);
        m.close();
        (m, t1)
    };
    failed.handle_push(t2, None);
    assert_eq!(failed.poll(t2), Step::Done);
}

#[test]
fn close_without_a_subscription_stops_at_once() {
    let t0 = Instant::now();
    let mut m = TelemetryMachine::new(t0 + ms(10), 0, Envelope::default());
    m.close();
    assert_eq!(m.poll(t0), Step::Done);
    let mut asking = TelemetryMachine::new(t0, 0, Envelope::default());
    asking.poll(t0);
    asking.close();
    asking.handle_subscriptions(t0, Some(&subscribed(1000, &["a"])), 1.0);
    assert_eq!(asking.poll(t0), Step::Push { terminating: true });
}

#[test]
fn payloads_are_cut_to_the_brokers_limit() {
    let t0 = Instant::now();
    let mut m = TelemetryMachine::new(t0, 0, Envelope::default());
    m.poll(t0);
    let mut small = subscribed(1000, &[""]);
    small.telemetry_max_bytes = 200;
    m.handle_subscriptions(t0, Some(&small), 1.0);
    let many: Vec<Sample> = (0..50).map(|i| sample(&format!("metric.{i}"))).collect();
    let req = m.push_request(many, 1, false).expect("subscribed");
    assert!(!req.metrics.is_empty() && req.metrics.len() <= 200);
}

#[test]
fn hostile_intervals_and_limits_fall_back_to_defaults() {
    let t0 = Instant::now();
    let mut m = TelemetryMachine::new(t0, 0, Envelope::default());
    m.poll(t0);
    let mut odd = subscribed(-5, &["a"]);
    odd.telemetry_max_bytes = -1;
    m.handle_subscriptions(t0, Some(&odd), 1.0);
    let sub = m.subscription().expect("subscribed");
    assert_eq!(sub.push_interval, DEFAULT_PUSH_INTERVAL);
    assert_eq!(sub.telemetry_max_bytes, DEFAULT_MAX_BYTES);
    let mut m = TelemetryMachine::new(t0, 0, Envelope::default());
    m.poll(t0);
    m.handle_subscriptions(t0, Some(&subscribed(1, &["a"])), 1.0);
    assert_eq!(
        m.subscription().map(|s| s.push_interval),
        Some(MIN_PUSH_INTERVAL)
    );
}

#[test]
fn pushes_are_compressed_with_the_first_accepted_codec_this_build_has() {
    use crate::telemetry::otlp::encode_metrics_data;
    let t0 = Instant::now();
    let zstd: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
    let lz4: &[u8] = &[0x04, 0x22, 0x4d, 0x18];
    let gzip: &[u8] = &[0x1f, 0x8b];
    for (accepted, want, magic) in [
        (vec![4, 3, 1, 2], Compression::Zstd, zstd),
        (vec![3, 4], Compression::Lz4, lz4),
        (vec![9, -1, 1], Compression::Gzip, gzip),
    ] {
        let mut m = TelemetryMachine::new(t0, 0, Envelope::default());
        m.poll(t0);
        let mut sub = subscribed(1000, &[""]);
        sub.accepted_compression_types = accepted.clone();
        m.handle_subscriptions(t0, Some(&sub), 1.0);
        let req = m
            .push_request(vec![sample("x")], 5, false)
            .expect("subscribed");
        assert_eq!(
            i16::from(req.compression_type),
            i16::from(want.id()),
            "{accepted:?}"
        );
        assert!(
            req.metrics.starts_with(magic),
            "{accepted:?}: {:?}",
            req.metrics
        );
    }
    // Nothing accepted: the OTLP bytes as they are.
    let mut m = TelemetryMachine::new(t0, 0, Envelope::default());
    m.poll(t0);
    let mut sub = subscribed(1000, &[""]);
    sub.accepted_compression_types = Vec::new();
    m.handle_subscriptions(t0, Some(&sub), 1.0);
    let req = m
        .push_request(vec![sample("x")], 5, false)
        .expect("subscribed");
    assert_eq!(req.compression_type, 0);
    let metrics = Collector::new(0).collect(vec![sample("x")], &[String::new()], true, 5);
    assert_eq!(
        req.metrics,
        encode_metrics_data(&Envelope::default(), &metrics)
    );
}
