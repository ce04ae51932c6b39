//! When to ask for the subscription, when to push, and what each answer
//! changes.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::collector::{Collector, Sample};
use super::otlp::{encode_metrics_data, Envelope, Metric};
use crate::protocol::messages::get_telemetry_subscriptions::{
    GetTelemetrySubscriptionsRequest, GetTelemetrySubscriptionsResponse,
};
use crate::protocol::messages::push_telemetry::{PushTelemetryRequest, PushTelemetryResponse};
use crate::protocol::record::{compress, Compression};
use crate::protocol::{ErrorCode, Uuid};

/// The push interval when the broker gave none (Java's default, 5 minutes).
pub const DEFAULT_PUSH_INTERVAL: Duration = Duration::from_secs(300);
/// The shortest push interval taken from a broker (its own lower bound).
const MIN_PUSH_INTERVAL: Duration = Duration::from_millis(100);
/// The payload limit when the broker gave none.
const DEFAULT_MAX_BYTES: usize = 1 << 20;

/// What the broker asked this client to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Identifies the subscription set; every push carries it.
    pub subscription_id: i32,
    /// Compression codes the broker accepts, preferred first.
    pub accepted_compression_types: Vec<i8>,
    /// How often to push.
    pub push_interval: Duration,
    /// The largest payload the broker accepts.
    pub telemetry_max_bytes: usize,
    /// Counters as deltas (`true`) or cumulative totals.
    pub delta_temporality: bool,
    /// Metric name prefixes; empty: none, an empty string: all.
    pub requested_metrics: Vec<String>,
}

impl Subscription {
    fn from_response(r: &GetTelemetrySubscriptionsResponse) -> Self {
        let interval = u64::try_from(r.push_interval_ms)
            .ok()
            .filter(|ms| *ms > 0)
            .map_or(DEFAULT_PUSH_INTERVAL, Duration::from_millis);
        Self {
            subscription_id: r.subscription_id,
            accepted_compression_types: r.accepted_compression_types.clone(),
            push_interval: interval.max(MIN_PUSH_INTERVAL),
            telemetry_max_bytes: usize::try_from(r.telemetry_max_bytes)
                .ok()
                .filter(|n| *n > 0)
                .unwrap_or(DEFAULT_MAX_BYTES),
            delta_temporality: r.delta_temporality,
            requested_metrics: r.requested_metrics.clone(),
        }
    }
}

/// What the shell should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this GetTelemetrySubscriptions and hand the answer to
    /// [`TelemetryMachine::handle_subscriptions`].
    GetSubscriptions(GetTelemetrySubscriptionsRequest),
    /// Build a push with [`TelemetryMachine::push_request`] and hand the
    /// answer to [`TelemetryMachine::handle_push`].
    Push {
        /// Whether this is the last push (the client is closing).
        terminating: bool,
    },
    /// Nothing before this moment (or before [`TelemetryMachine::close`]).
    WaitUntil(Instant),
    /// A request is in flight: wait for its answer.
    AwaitResponse,
    /// Finished (terminated, or disabled by the broker's answers).
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    SubscriptionNeeded(Instant),
    SubscriptionInFlight,
    PushNeeded(Instant),
    PushInFlight,
    TerminatingPushNeeded,
    TerminatingPushInFlight,
    Terminated,
    Disabled,
}

/// The KIP-714 client state machine.
///
/// ```text
///        start ──► SubscriptionNeeded(at) ◄───────── errors: at now, after the
///                       │   ▲  ▲                     interval, or (INVALID_*,
///       now ≥ at: Get   ▼   │  │ nothing requested  unknown codes) Disabled
///              SubscriptionInFlight                      │
///                       │ metrics requested              │
///                       ▼                                │
///                 PushNeeded(at) ──now ≥ at: Push──► PushInFlight
///                       ▲                                │ ok: at = now + interval
///                       └────────────────────────────────┘
///   close(): PushNeeded ──► TerminatingPushNeeded ──► TerminatingPushInFlight
///            in flight: after its answer              │ any answer
///            no subscription ─────────────────────────┴──► Terminated
/// ```
///
/// The first push after a subscription waits `interval × jitter` (the shell
/// passes a jitter in 0.5..1.5 so clients started together spread out), and
/// never comes less than an interval after the previous push (Kafka
/// throttles that one, even after a refused push and a new subscription).
#[derive(Debug, Clone)]
pub struct TelemetryMachine {
    state: State,
    client_instance_id: Uuid,
    subscription: Option<Subscription>,
    closing: bool,
    /// When the last (non-terminating) push was answered: the broker
    /// refuses a push that comes less than an interval after the previous
    /// one, even a refused one; counting from the answer keeps that true
    /// whatever the requests' transit times.
    last_push: Option<Instant>,
    collector: Collector,
    envelope: Envelope,
}

impl TelemetryMachine {
    /// A machine that asks for its subscription at `now`; `envelope` names
    /// the resource and scope of every push; `start_unix_nano` is the
    /// client's start (cumulative sums count from it).
    pub fn new(now: Instant, start_unix_nano: u64, envelope: Envelope) -> Self {
        Self {
            state: State::SubscriptionNeeded(now),
            client_instance_id: Uuid::ZERO,
            subscription: None,
            closing: false,
            last_push: None,
            collector: Collector::new(start_unix_nano),
            envelope,
        }
    }

    /// The client instance id the broker assigned (zero until then).
    pub fn client_instance_id(&self) -> Uuid {
        self.client_instance_id
    }

    /// The current subscription, if any.
    pub fn subscription(&self) -> Option<&Subscription> {
        self.subscription.as_ref()
    }

    /// Whether the broker's answers turned telemetry off.
    pub fn is_disabled(&self) -> bool {
        self.state == State::Disabled
    }

    /// The next thing to do at `now`.
    pub fn poll(&mut self, now: Instant) -> Step {
        match self.state {
            State::SubscriptionNeeded(at) if now >= at => {
                self.state = State::SubscriptionInFlight;
                Step::GetSubscriptions(GetTelemetrySubscriptionsRequest {
                    client_instance_id: self.client_instance_id,
                    ..Default::default()
                })
            }
            State::PushNeeded(at) if now >= at => {
                self.state = State::PushInFlight;
                Step::Push { terminating: false }
            }
            State::SubscriptionNeeded(at) | State::PushNeeded(at) => Step::WaitUntil(at),
            State::TerminatingPushNeeded => {
                self.state = State::TerminatingPushInFlight;
                Step::Push { terminating: true }
            }
            State::SubscriptionInFlight | State::PushInFlight | State::TerminatingPushInFlight => {
                Step::AwaitResponse
            }
            State::Terminated | State::Disabled => Step::Done,
        }
    }

    /// The client is closing: push once more, marked terminating, if there
    /// is a subscription with metrics; else stop.
    pub fn close(&mut self) {
        self.closing = true;
        self.state = match self.state {
            State::PushNeeded(_) => State::TerminatingPushNeeded,
            State::SubscriptionNeeded(_) => State::Terminated,
            other => other,
        };
    }

    /// The answer to a GetTelemetrySubscriptions (`None`: no answer, the
    /// request failed on the connection). `jitter` (clamped to 0.5..1.5)
    /// scales the wait before the first push.
    pub fn handle_subscriptions(
        &mut self,
        now: Instant,
        answer: Option<&GetTelemetrySubscriptionsResponse>,
        jitter: f64,
    ) {
        if self.state != State::SubscriptionInFlight {
            return;
        }
        let Some(r) = answer else {
            return self.after_error(now, None, 0);
        };
        if !r.error_code.is_ok() {
            return self.after_error(now, Some(r.error_code), r.throttle_time_ms);
        }
        if self.client_instance_id.is_zero() && !r.client_instance_id.is_zero() {
            self.client_instance_id = r.client_instance_id;
        }
        let sub = Subscription::from_response(r);
        let interval = sub.push_interval;
        let wanted = !sub.requested_metrics.is_empty();
        self.subscription = Some(sub);
        self.state = match (wanted, self.closing) {
            (true, true) => State::TerminatingPushNeeded,
            (false, true) => State::Terminated,
            (true, false) => {
                let at = now + interval.mul_f64(jitter.clamp(0.5, 1.5));
                State::PushNeeded(self.last_push.map_or(at, |last| at.max(last + interval)))
            }
            (false, false) => State::SubscriptionNeeded(now + interval),
        };
    }

    /// The push to send: the metrics of `samples` the subscription asks
    /// for, as OTLP bytes compressed with the first codec the broker accepts
    /// that this build has (none if there is none), no larger than the
    /// broker's limit (metrics at the end are left out until it fits).
    /// `None` without a subscription.
    pub fn push_request(
        &mut self,
        samples: Vec<Sample>,
        now_unix_nano: u64,
        terminating: bool,
    ) -> Option<PushTelemetryRequest> {
        let sub = self.subscription.as_ref()?;
        let mut metrics = self.collector.collect(
            samples,
            &sub.requested_metrics,
            sub.delta_temporality,
            now_unix_nano,
        );
        let codec = preferred_compression(&sub.accepted_compression_types);
        let mut payload = encoded(&self.envelope, &metrics, codec);
        while payload.1.len() > sub.telemetry_max_bytes && !metrics.is_empty() {
            metrics.truncate(metrics.len() / 2);
            payload = encoded(&self.envelope, &metrics, codec);
        }
        let (codec, metrics) = payload;
        Some(PushTelemetryRequest {
            client_instance_id: self.client_instance_id,
            subscription_id: sub.subscription_id,
            terminating,
            compression_type: i8::try_from(codec.id()).unwrap_or(0),
            metrics,
            ..Default::default()
        })
    }

    /// The answer to a push (`None`: no answer).
    pub fn handle_push(&mut self, now: Instant, answer: Option<&PushTelemetryResponse>) {
        match self.state {
            State::TerminatingPushInFlight => self.state = State::Terminated,
            State::PushInFlight => {
                self.last_push = Some(now);
                self.after_push(now, answer);
            }
            _ => {}
        }
    }

    fn after_push(&mut self, now: Instant, answer: Option<&PushTelemetryResponse>) {
        match answer {
            Some(r) if r.error_code.is_ok() => {
                let interval = self.interval();
                self.state = if self.closing {
                    State::TerminatingPushNeeded
                } else {
                    State::PushNeeded(now + interval)
                };
            }
            Some(r) => self.after_error(now, Some(r.error_code), r.throttle_time_ms),
            None => self.after_error(now, None, 0),
        }
    }

    fn interval(&self) -> Duration {
        self.subscription
            .as_ref()
            .map_or(DEFAULT_PUSH_INTERVAL, |s| s.push_interval)
    }

    /// KIP-714's error table: ask again now (the subscription or the
    /// accepted compression changed), after the interval (throttled, too
    /// large, no answer), or never (the broker cannot take what this client
    /// sends, or an error the KIP does not name).
    fn after_error(&mut self, now: Instant, code: Option<ErrorCode>, throttle_ms: i32) {
        if self.closing {
            self.state = State::Terminated;
            return;
        }
        let throttle = Duration::from_millis(u64::try_from(throttle_ms).unwrap_or(0));
        let later = now + self.interval().max(throttle);
        self.state = match code {
            None => State::SubscriptionNeeded(later),
            Some(ErrorCode::UNKNOWN_SUBSCRIPTION_ID | ErrorCode::UNSUPPORTED_COMPRESSION_TYPE) => {
                State::SubscriptionNeeded(now)
            }
            Some(ErrorCode::TELEMETRY_TOO_LARGE | ErrorCode::THROTTLING_QUOTA_EXCEEDED) => {
                State::SubscriptionNeeded(later)
            }
            Some(_) => State::Disabled,
        };
    }
}

/// The first codec the broker accepts (its list is in its order of
/// preference) that this build can write; none when there is none.
fn preferred_compression(accepted: &[i8]) -> Compression {
    accepted
        .iter()
        .filter_map(|id| u8::try_from(*id).ok())
        .filter_map(|id| Compression::from_id(id).ok())
        .find(|c| c.is_enabled())
        .unwrap_or(Compression::None)
}

/// `metrics` as OTLP bytes compressed with `codec` (uncompressed if that fails).
fn encoded(envelope: &Envelope, metrics: &[Metric], codec: Compression) -> (Compression, Bytes) {
    let plain = encode_metrics_data(envelope, metrics);
    let mut out = BytesMut::new();
    match compress(codec, &plain, &mut out) {
        Ok(()) => (codec, out.freeze()),
        Err(_) => (Compression::None, Bytes::from(plain)),
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
