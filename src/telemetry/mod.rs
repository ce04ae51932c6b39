//! Client metrics push (KIP-714): one background task per producer or
//! consumer drives [`kafkit_core::telemetry::TelemetryMachine`] over one
//! broker connection.
//!
//! The task starts when [`crate::ClientConfig::enable_metrics_push`] is on
//! (the default, as in Java). It asks a broker for the client's subscription
//! only if that broker lists both GetTelemetrySubscriptions and
//! PushTelemetry (brokers do once a client telemetry plugin is configured);
//! otherwise it ends at once and sends nothing. Pushes carry the client's
//! [`crate::metrics::MetricsSnapshot`] as OTLP metrics named as Java names
//! them (see `names.rs`). Closing the client sends one last push marked
//! terminating, within the close's time limit; dropping it stops the task.
//!
//! Spec: KIP-714 (Client metrics and observability).

mod names;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafkit_core::telemetry::otlp::Envelope;
use kafkit_core::telemetry::{Step, TelemetryMachine};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, warn, Instrument};

use crate::cluster::Client;
use crate::connection::BrokerConnection;
use crate::metrics::MetricsSnapshot;
use crate::protocol::messages::get_telemetry_subscriptions::GetTelemetrySubscriptionsRequest;
use crate::protocol::messages::push_telemetry::PushTelemetryRequest;
use crate::protocol::Request;

/// Reads the client's metrics at push time; `None` once the client is gone.
pub(crate) type SnapshotSource = Arc<dyn Fn() -> Option<MetricsSnapshot> + Send + Sync>;

/// The push task of one client; dropping it stops the task.
#[derive(Debug)]
pub(crate) struct Telemetry {
    closing: watch::Sender<bool>,
    /// Whether the broker asked for metrics (a terminating push is due on close).
    subscribed: Arc<AtomicBool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Telemetry {
    /// Starts the task for a client on `client`, unless metrics push is off;
    /// `resource` holds the KIP's client resource labels that are set
    /// (`group_id`, `transactional_id`, ...), `None` values left out.
    pub(crate) fn start(
        client: &Client,
        source: SnapshotSource,
        resource: &[(&str, Option<&str>)],
    ) -> Option<Self> {
        if !client.config().enable_metrics_push {
            return None;
        }
        let (closing, closing_rx) = watch::channel(false);
        let span = tracing::debug_span!("telemetry", client_id = %client.config().client_id);
        let resource = resource
            .iter()
            .filter_map(|(k, v)| Some(((*k).to_owned(), (*v)?.to_owned())))
            .collect();
        let subscribed = Arc::new(AtomicBool::new(false));
        let shell = Shell {
            client: client.clone(),
            source,
            subscribed: subscribed.clone(),
        };
        let task = tokio::spawn(run(shell, resource, closing_rx).instrument(span));
        Some(Self {
            closing,
            subscribed,
            task: Mutex::new(Some(task)),
        })
    }

    /// Sends the terminating push (if subscribed) and waits for the task,
    /// at most `limit`; then stops it. Without a subscription it stops the
    /// task at once (nothing is due, and the broker may be unreachable).
    pub(crate) async fn close(&self, limit: Duration) {
        let _ = self.closing.send(true);
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(mut task) = task {
            if !self.subscribed.load(Ordering::Acquire) {
                task.abort();
                return;
            }
            if tokio::time::timeout(limit, &mut task).await.is_err() {
                debug!(?limit, "telemetry: terminating push did not finish in time");
                task.abort();
            }
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
    }
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// 0.5..1.5 from the clock's low bits: spreads the first pushes of clients
/// started together (no randomness needed beyond that).
fn jitter() -> f64 {
    let n = unix_nanos() % 1000;
    0.5 + (n as f64) / 1000.0
}

/// A connection to a broker that lists both telemetry APIs; `None` when
/// the broker does not (telemetry is then off for this client).
async fn telemetry_broker(client: &Client) -> Option<BrokerConnection> {
    let conn = match client.pool().any().await {
        Ok(c) => c,
        Err(e) => {
            debug!(error = %e, "telemetry: no broker");
            return None;
        }
    };
    let listed = conn
        .version_for::<GetTelemetrySubscriptionsRequest>()
        .is_ok()
        && conn.version_for::<PushTelemetryRequest>().is_ok();
    if !listed {
        debug!(broker = %conn.addr(), "telemetry: the broker does not offer KIP-714; not pushing");
        return None;
    }
    Some(conn)
}

/// What the task works with besides the machine.
struct Shell {
    client: Client,
    source: SnapshotSource,
    subscribed: Arc<AtomicBool>,
}

async fn run(shell: Shell, resource: Vec<(String, String)>, mut closing: watch::Receiver<bool>) {
    let Shell {
        client,
        source,
        subscribed,
    } = shell;
    let Some(mut conn) = telemetry_broker(&client).await else {
        return;
    };
    let envelope = Envelope {
        resource,
        scope_name: "kafkit".to_owned(),
        scope_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let mut machine = TelemetryMachine::new(Instant::now().into_std(), unix_nanos(), envelope);
    let mut told = false;
    loop {
        if !told && *closing.borrow() {
            machine.close();
            told = true;
        }
        if conn.is_closed() {
            match telemetry_broker(&client).await {
                Some(c) => conn = c,
                None => return,
            }
        }
        match machine.poll(Instant::now().into_std()) {
            Step::Done | Step::AwaitResponse => return,
            Step::WaitUntil(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(Instant::from_std(at)) => {}
                    changed = closing.changed() => if changed.is_err() { return },
                }
            }
            Step::GetSubscriptions(req) => {
                let answer = send(&conn, &req).await;
                machine.handle_subscriptions(Instant::now().into_std(), answer.as_ref(), jitter());
                let wanted = machine
                    .subscription()
                    .is_some_and(|s| !s.requested_metrics.is_empty());
                subscribed.store(wanted, Ordering::Release);
                if let Some(s) = machine.subscription() {
                    debug!(id = s.subscription_id, interval = ?s.push_interval,
                        metrics = ?s.requested_metrics, "telemetry: subscribed");
                }
            }
            Step::Push { terminating } => {
                let Some(snapshot) = source() else { return };
                let samples = names::samples(&snapshot);
                let Some(req) = machine.push_request(samples, unix_nanos(), terminating) else {
                    return;
                };
                let answer = send(&conn, &req).await;
                if let Some(a) = answer.as_ref().filter(|a| !a.error_code.is_ok()) {
                    debug!(broker = %conn.addr(), error = ?a.error_code, terminating,
                        "telemetry: push refused");
                }
                machine.handle_push(Instant::now().into_std(), answer.as_ref());
            }
        }
        if machine.is_disabled() {
            warn!(broker = %conn.addr(), "telemetry: the broker's answer turned metrics push off");
        }
    }
}

/// Sends `req`; `None` (logged) when no answer came.
async fn send<R: Request>(conn: &BrokerConnection, req: &R) -> Option<R::Response> {
    match conn.send(req).await {
        Ok(r) => Some(r),
        Err(e) => {
            debug!(broker = %conn.addr(), api = ?R::API_KEY, error = %e, "telemetry: no answer");
            None
        }
    }
}
