//! Connection counters: connects, disconnects and requests per broker and API.
//!
//! Every connection of a pool shares its broker's [`BrokerStats`] (a
//! reconnect keeps counting where the last connection stopped); the request
//! path touches only atomics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::latency::{LatencyRecorder, LatencyStats};
use crate::protocol::ApiKey;

/// API keys below this get their own counters (Kafka's keys stay well below).
const API_SLOTS: usize = 128;

/// A snapshot of the connection counters of one pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionMetrics {
    /// Connections opened (version negotiation and authentication done).
    pub connects: u64,
    /// Connections that ended (closed by either side or broken).
    pub disconnects: u64,
    /// Connection attempts that failed.
    pub connect_failures: u64,
    /// Requests per broker and API, for every pair with at least one request.
    pub requests: Vec<RequestMetrics>,
}

impl ConnectionMetrics {
    /// Requests answered (or failed) for `api`, summed over every broker.
    pub fn request_count(&self, api: ApiKey) -> u64 {
        self.requests
            .iter()
            .filter(|r| r.api == api)
            .map(|r| r.count)
            .sum()
    }

    /// Requests for `api` sent to broker `node_id`.
    pub fn request_count_to(&self, node_id: i32, api: ApiKey) -> u64 {
        self.requests
            .iter()
            .filter(|r| r.api == api && r.node_id == Some(node_id))
            .map(|r| r.count)
            .sum()
    }

    /// Latency of the answered `api` requests, over every broker.
    pub fn latency(&self, api: ApiKey) -> LatencyStats {
        self.requests
            .iter()
            .filter(|r| r.api == api)
            .fold(LatencyStats::default(), |acc, r| acc.merged(&r.latency))
    }
}

/// Requests of one API to one broker.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestMetrics {
    /// The broker's node id (`None` for a bootstrap connection).
    pub node_id: Option<i32>,
    /// The broker's address.
    pub broker: String,
    /// The API.
    pub api: ApiKey,
    /// Requests sent (answered, failed or, with acks=0, written).
    pub count: u64,
    /// Requests that got no answer (timeout, broken connection).
    pub errors: u64,
    /// Time from queueing the request to its answer, for answered ones.
    pub latency: LatencyStats,
}

#[derive(Debug, Default)]
struct ApiStats {
    count: AtomicU64,
    errors: AtomicU64,
    latency: LatencyRecorder,
}

/// The counters of one broker, shared by its successive connections.
#[derive(Debug)]
pub(crate) struct BrokerStats {
    node_id: Option<i32>,
    addr: String,
    connects: AtomicU64,
    disconnects: AtomicU64,
    connect_failures: AtomicU64,
    apis: Vec<ApiStats>,
}

impl BrokerStats {
    pub fn new(node_id: Option<i32>, addr: &str) -> Self {
        Self {
            node_id,
            addr: addr.to_owned(),
            connects: AtomicU64::new(0),
            disconnects: AtomicU64::new(0),
            connect_failures: AtomicU64::new(0),
            apis: (0..API_SLOTS).map(|_| ApiStats::default()).collect(),
        }
    }

    fn api(&self, api: ApiKey) -> Option<&ApiStats> {
        usize::try_from(api.0).ok().and_then(|i| self.apis.get(i))
    }

    pub fn connected(&self) {
        self.connects.fetch_add(1, Ordering::Relaxed);
    }

    pub fn disconnected(&self) {
        self.disconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connect_failed(&self) {
        self.connect_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// A request was answered after `latency`.
    pub fn answered(&self, api: ApiKey, latency: Duration) {
        if let Some(s) = self.api(api) {
            s.count.fetch_add(1, Ordering::Relaxed);
            s.latency.record(latency);
        }
    }

    /// A request was written and needs no answer.
    pub fn written(&self, api: ApiKey) {
        if let Some(s) = self.api(api) {
            s.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A request got no answer.
    pub fn failed(&self, api: ApiKey) {
        if let Some(s) = self.api(api) {
            s.count.fetch_add(1, Ordering::Relaxed);
            s.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The connection counters of one pool, one [`BrokerStats`] per broker.
#[derive(Debug, Default)]
pub(crate) struct NetMetrics {
    brokers: Mutex<Vec<Arc<BrokerStats>>>,
}

impl NetMetrics {
    /// The counters of the broker at `addr` (made on first use).
    pub fn broker(&self, node_id: Option<i32>, addr: &str) -> Arc<BrokerStats> {
        let mut brokers = self.brokers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = brokers
            .iter()
            .find(|b| b.node_id == node_id && b.addr == addr)
        {
            return b.clone();
        }
        let b = Arc::new(BrokerStats::new(node_id, addr));
        brokers.push(b.clone());
        b
    }

    pub fn snapshot(&self) -> ConnectionMetrics {
        let brokers = self.brokers.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = ConnectionMetrics::default();
        for b in brokers.iter() {
            out.connects += b.connects.load(Ordering::Relaxed);
            out.disconnects += b.disconnects.load(Ordering::Relaxed);
            out.connect_failures += b.connect_failures.load(Ordering::Relaxed);
            for (key, s) in (0i16..).zip(b.apis.iter()) {
                let count = s.count.load(Ordering::Relaxed);
                if count == 0 {
                    continue;
                }
                out.requests.push(RequestMetrics {
                    node_id: b.node_id,
                    broker: b.addr.clone(),
                    api: ApiKey(key),
                    count,
                    errors: s.errors.load(Ordering::Relaxed),
                    latency: s.latency.stats(),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_broker_and_api_survive_reconnects() {
        let net = NetMetrics::default();
        let b1 = net.broker(Some(1), "h:1");
        b1.connected();
        b1.answered(ApiKey::FETCH, Duration::from_millis(3));
        b1.disconnected();
        let again = net.broker(Some(1), "h:1");
        assert!(Arc::ptr_eq(&b1, &again));
        again.connected();
        again.failed(ApiKey::FETCH);
        net.broker(None, "boot:9").written(ApiKey::PRODUCE);
        net.broker(None, "boot:9")
            .answered(ApiKey(-1), Duration::ZERO); // ignored
        let s = net.snapshot();
        assert_eq!((s.connects, s.disconnects), (2, 1));
        assert_eq!(s.request_count(ApiKey::FETCH), 2);
        assert_eq!(s.request_count_to(1, ApiKey::FETCH), 2);
        assert_eq!(s.request_count(ApiKey::PRODUCE), 1);
        assert_eq!(s.latency(ApiKey::FETCH).count, 1);
        assert_eq!(s.requests.len(), 2);
    }
}
