//! A pool of broker connections that reconnects with backoff and jitter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::transport::Transport;
use super::BrokerConnection;
use crate::config::{ClientConfig, MetadataRecoveryStrategy};
use crate::error::{Error, Result};
use crate::metrics::{ConnectionMetrics, NetMetrics};

/// Which broker a pooled connection goes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Target {
    Node(i32),
    Bootstrap(String),
}

#[derive(Debug, Default)]
struct SlotState {
    conn: Option<BrokerConnection>,
    failures: u32,
    retry_at: Option<Instant>,
    /// The last connect error when it was not retriable (authentication,
    /// TLS): returned at once until `retry_at` instead of reconnecting.
    fatal: Option<Error>,
}

/// Connections to the brokers of one cluster, keyed by node id.
///
/// A connection that broke is replaced on the next [`Pool::get`], after an
/// exponential backoff (`reconnect_backoff` doubling up to
/// `reconnect_backoff_max`, with ±20 % jitter) that resets on success.
/// Concurrent callers for the same broker share one connect attempt.
/// A failure that retrying cannot fix (authentication, TLS) waits the
/// longest backoff, and until then callers get that error at once.
#[derive(Debug)]
pub struct Pool {
    config: ClientConfig,
    slots: Mutex<HashMap<Target, Arc<tokio::sync::Mutex<SlotState>>>>,
    addrs: Mutex<HashMap<i32, String>>,
    transport: OnceLock<Result<Transport>>,
    metrics: NetMetrics,
}

impl Pool {
    /// A pool for the cluster `config.bootstrap` points at; connects lazily.
    pub fn new(config: ClientConfig) -> Self {
        Self {
            config,
            slots: Mutex::new(HashMap::new()),
            addrs: Mutex::new(HashMap::new()),
            transport: OnceLock::new(),
            metrics: NetMetrics::default(),
        }
    }

    /// Connects, disconnects and requests per broker and API so far.
    pub fn metrics(&self) -> ConnectionMetrics {
        self.metrics.snapshot()
    }

    /// The configuration the pool connects with.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Replaces the known broker addresses (from metadata). Connections to
    /// brokers whose address changed are closed.
    pub fn set_brokers(&self, brokers: HashMap<i32, String>) {
        let mut addrs = lock(&self.addrs);
        for (id, old) in addrs.iter() {
            if brokers.get(id) != Some(old) {
                if let Some(slot) = lock(&self.slots).remove(&Target::Node(*id)) {
                    if let Ok(state) = slot.try_lock() {
                        if let Some(c) = &state.conn {
                            c.close();
                        }
                    }
                }
            }
        }
        *addrs = brokers;
    }

    /// Adds brokers not known yet (a new leader named by an error
    /// response); known ones are left as they are.
    pub fn add_brokers(&self, brokers: HashMap<i32, String>) {
        let mut addrs = lock(&self.addrs);
        for (id, addr) in brokers {
            addrs.entry(id).or_insert(addr);
        }
    }

    /// Known broker ids.
    pub fn broker_ids(&self) -> Vec<i32> {
        let mut ids: Vec<i32> = lock(&self.addrs).keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// The address of broker `node_id`, if known.
    pub fn broker_addr(&self, node_id: i32) -> Option<String> {
        lock(&self.addrs).get(&node_id).cloned()
    }

    /// A live connection to broker `node_id`, connecting (after backoff) if needed.
    pub async fn get(&self, node_id: i32) -> Result<BrokerConnection> {
        let addr = self
            .broker_addr(node_id)
            .ok_or_else(|| Error::NoBrokers(format!("broker {node_id} is not in the metadata")))?;
        self.connect(Target::Node(node_id), &addr, Some(node_id))
            .await
    }

    /// A live connection to any broker: an open one if there is one, else the
    /// known brokers and then the bootstrap list (resolved again) in turn.
    pub async fn any(&self) -> Result<BrokerConnection> {
        if let Some(conn) = self.open_connection() {
            return Ok(conn);
        }
        let mut last: Option<Error> = None;
        // An error no retry can fix wins over later ones: it is the one to report.
        let keep = |e: Error, last: &mut Option<Error>| {
            if last.as_ref().is_none_or(Error::is_retriable) {
                *last = Some(e);
            }
        };
        let known: Vec<(i32, String)> = lock(&self.addrs)
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        for (id, addr) in known {
            match self.connect(Target::Node(id), &addr, Some(id)).await {
                Ok(c) => return Ok(c),
                Err(e) => keep(e, &mut last),
            }
        }
        let known_any = !lock(&self.addrs).is_empty();
        let bootstrap: &[String] = match self.config.metadata_recovery_strategy {
            MetadataRecoveryStrategy::None if known_any => &[],
            _ => &self.config.bootstrap,
        };
        for addr in bootstrap {
            match self
                .connect(Target::Bootstrap(addr.clone()), addr, None)
                .await
            {
                Ok(c) => return Ok(c),
                Err(e) => keep(e, &mut last),
            }
        }
        Err(match last {
            Some(e) if !e.is_retriable() => e,
            Some(e) => Error::NoBrokers(e.to_string()),
            None => Error::NoBrokers("no bootstrap brokers configured".to_owned()),
        })
    }

    /// A new connection to `addr` of its own (not shared through the pool,
    /// such as a group's coordinator connection), made with the pool's
    /// transport and counted in its metrics.
    pub async fn connect_dedicated(
        &self,
        addr: &str,
        node_id: Option<i32>,
    ) -> Result<BrokerConnection> {
        let transport = self
            .transport
            .get_or_init(|| Transport::new(&self.config.security))
            .clone()?;
        let stats = self.metrics.broker(node_id, addr);
        BrokerConnection::connect_via(addr, node_id, &self.config, &transport, stats).await
    }

    fn open_connection(&self) -> Option<BrokerConnection> {
        let slots: Vec<_> = lock(&self.slots).values().cloned().collect();
        slots.iter().find_map(|slot| {
            let state = slot.try_lock().ok()?;
            state.conn.as_ref().filter(|c| !c.is_closed()).cloned()
        })
    }

    async fn connect(
        &self,
        target: Target,
        addr: &str,
        node_id: Option<i32>,
    ) -> Result<BrokerConnection> {
        let slot = lock(&self.slots).entry(target).or_default().clone();
        let mut state = slot.lock().await;
        if let Some(conn) = state.conn.as_ref().filter(|c| !c.is_closed()) {
            return Ok(conn.clone());
        }
        if let Some(at) = state.retry_at {
            if let Some(e) = state.fatal.as_ref().filter(|_| Instant::now() < at) {
                return Err(e.clone());
            }
            tokio::time::sleep_until(at).await;
        }
        let transport = self
            .transport
            .get_or_init(|| Transport::new(&self.config.security))
            .clone()?;
        let stats = self.metrics.broker(node_id, addr);
        match BrokerConnection::connect_via(addr, node_id, &self.config, &transport, stats).await {
            Ok(conn) => {
                if state.failures > 0 {
                    info!(broker = %addr, node_id, after_failures = state.failures, "reconnected");
                }
                state.failures = 0;
                state.retry_at = None;
                state.fatal = None;
                state.conn = Some(conn.clone());
                Ok(conn)
            }
            Err(e) => {
                state.failures = state.failures.saturating_add(1);
                let wait = if e.is_retriable() {
                    self.backoff(state.failures)
                } else {
                    jitter(self.config.reconnect_backoff_max)
                };
                warn!(broker = %addr, node_id, failures = state.failures, retry_in = ?wait, error = %e, "connect failed");
                state.retry_at = Some(Instant::now() + wait);
                state.fatal = (!e.is_retriable()).then(|| e.clone());
                state.conn = None;
                Err(e)
            }
        }
    }

    fn backoff(&self, failures: u32) -> Duration {
        let base = self.config.reconnect_backoff;
        let exp = base.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
        let capped = exp.min(self.config.reconnect_backoff_max);
        jitter(capped)
    }

    /// KIP-1102 rebootstrap: forgets the known brokers and closes every
    /// connection, so the next [`Pool::any`] starts from the bootstrap list
    /// (resolved again).
    pub fn rebootstrap(&self) {
        lock(&self.addrs).clear();
        self.close_all();
    }

    /// Closes every connection.
    pub fn close_all(&self) {
        let slots: Vec<_> = lock(&self.slots).drain().map(|(_, s)| s).collect();
        for slot in slots {
            if let Ok(state) = slot.try_lock() {
                if let Some(c) = &state.conn {
                    debug!(broker = %c.addr(), "closing");
                    c.close();
                }
            }
        }
    }
}

/// ±20 % jitter from a cheap per-call random source (no `rand` dependency).
fn jitter(d: Duration) -> Duration {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u64(d.as_nanos() as u64);
    let r = (h.finish() % 401) as f64 / 1000.0; // 0.0..=0.4
    d.mul_f64(0.8 + r)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let pool = Pool::new(
            ClientConfig::new(["x:1"])
                .with_reconnect_backoff(Duration::from_millis(100), Duration::from_secs(1)),
        );
        let b1 = pool.backoff(1);
        let b3 = pool.backoff(3);
        let b20 = pool.backoff(20);
        assert!(
            b1 >= Duration::from_millis(80) && b1 <= Duration::from_millis(120),
            "{b1:?}"
        );
        assert!(
            b3 >= Duration::from_millis(320) && b3 <= Duration::from_millis(480),
            "{b3:?}"
        );
        assert!(b20 <= Duration::from_millis(1200), "{b20:?}");
    }
}
