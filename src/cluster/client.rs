//! The shared client: a connection pool plus a metadata cache that refreshes
//! periodically and on demand.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tracing::{debug, warn};

use super::metadata::{ClusterMetadata, TopicMetadata};
use crate::config::{ClientConfig, MetadataRecoveryStrategy};
use crate::connection::{BrokerConnection, Pool};
use crate::error::{Error, Result};
use crate::protocol::messages::leader_discovery::NodeEndpoint;
use crate::protocol::messages::metadata::{MetadataRequest, MetadataRequestTopic};
use crate::protocol::{ApiKey, Request};

/// A connection pool and metadata cache shared by producers, consumers and admin.
///
/// Cheap to clone. It spawns one background task that refreshes metadata
/// every `metadata_max_age`; [`Client::close`] (or dropping every clone)
/// stops it and closes all connections.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: Pool,
    metadata: RwLock<Arc<ClusterMetadata>>,
    /// Bumped after every store into `metadata`: a plain load tells a
    /// per-record cache (the producer's routes) whether its snapshot is
    /// still current, without touching the lock's shared counter.
    metadata_version: AtomicU64,
    topics: Mutex<BTreeSet<String>>,
    refresh: tokio::sync::Mutex<()>,
    closed: watch::Sender<bool>,
    /// When a Metadata request last got an answer (KIP-1102's trigger).
    last_metadata: Mutex<tokio::time::Instant>,
    /// Coordinator connections by FindCoordinator key type and key (kept
    /// by route.rs, which alone reads and writes it).
    coordinators: CoordinatorCache,
}

/// Coordinator connections by (key type, key).
pub(super) type CoordinatorCache = Mutex<HashMap<(i8, String), BrokerConnection>>;

impl Client {
    /// Connects to the bootstrap brokers and loads the cluster's broker list.
    pub async fn connect(config: ClientConfig) -> Result<Self> {
        if config.bootstrap.is_empty() {
            return Err(Error::Config("no bootstrap brokers".to_owned()));
        }
        let max_age = config.metadata_max_age;
        let (closed, closed_rx) = watch::channel(false);
        let client = Self {
            inner: Arc::new(Inner {
                pool: Pool::new(config),
                metadata: RwLock::new(Arc::new(ClusterMetadata::default())),
                metadata_version: AtomicU64::new(0),
                topics: Mutex::new(BTreeSet::new()),
                refresh: tokio::sync::Mutex::new(()),
                closed,
                last_metadata: Mutex::new(tokio::time::Instant::now()),
                coordinators: Mutex::new(HashMap::new()),
            }),
        };
        client.refresh_metadata().await?;
        tokio::spawn(periodic_refresh(
            Arc::downgrade(&client.inner),
            max_age,
            closed_rx,
        ));
        Ok(client)
    }

    /// The configuration in use.
    pub fn config(&self) -> &ClientConfig {
        self.inner.pool.config()
    }

    /// The connection pool.
    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// The connection pool's counters as a snapshot of a bare client.
    pub fn metrics_snapshot(&self) -> crate::metrics::MetricsSnapshot {
        self.snapshot_as(crate::metrics::ClientKind::Client)
    }

    /// The connection pool's counters, named for `kind`.
    pub(crate) fn snapshot_as(
        &self,
        kind: crate::metrics::ClientKind,
    ) -> crate::metrics::MetricsSnapshot {
        crate::metrics::MetricsSnapshot::new(
            &self.config().client_id,
            kind,
            self.inner.pool.metrics(),
        )
    }

    /// The coordinator connections found so far, by kind and key.
    pub(super) fn coordinator_cache(&self) -> &CoordinatorCache {
        &self.inner.coordinators
    }

    /// The current metadata snapshot.
    pub fn metadata(&self) -> Arc<ClusterMetadata> {
        read(&self.inner.metadata).clone()
    }

    /// The current metadata snapshot and its version (read first, so a
    /// snapshot stored meanwhile only makes the version look older).
    pub(crate) fn versioned_metadata(&self) -> (u64, Arc<ClusterMetadata>) {
        let version = self.metadata_version();
        (version, self.metadata())
    }

    /// Changes whenever the metadata snapshot is replaced: a cache of
    /// something derived from [`Client::versioned_metadata`] is current
    /// while this still answers its version (the producer checks its route
    /// cache with it per record: one load, no lock).
    pub(crate) fn metadata_version(&self) -> u64 {
        self.inner.metadata_version.load(Ordering::Acquire)
    }

    fn store_metadata(&self, slot: &mut Arc<ClusterMetadata>, next: Arc<ClusterMetadata>) {
        *slot = next;
        self.inner.metadata_version.fetch_add(1, Ordering::Release);
    }

    /// Adds topics to the set kept fresh by every refresh.
    pub fn track_topics<I: IntoIterator<Item = S>, S: Into<String>>(&self, topics: I) {
        lock(&self.inner.topics).extend(topics.into_iter().map(Into::into));
    }

    /// Fetches metadata for the tracked topics (and the broker list) now.
    ///
    /// Concurrent callers share one request: a caller that waited for another
    /// refresh returns its result instead of sending a second one.
    pub async fn refresh_metadata(&self) -> Result<Arc<ClusterMetadata>> {
        let before = self.metadata();
        let _guard = self.inner.refresh.lock().await;
        let now = self.metadata();
        if !Arc::ptr_eq(&before, &now) {
            return Ok(now);
        }
        let topics: Vec<String> = lock(&self.inner.topics).iter().cloned().collect();
        let request = MetadataRequest {
            topics: Some(
                topics
                    .iter()
                    .map(|t| MetadataRequestTopic {
                        name: Some(t.clone()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            allow_auto_topic_creation: true,
            ..Default::default()
        };
        let resp = match self.send_any(&request).await {
            Ok(resp) => resp,
            Err(e) if self.rebootstrap_due(&e) => {
                warn!(error = %e, "no metadata from the known brokers: back to the bootstrap list (KIP-1102)");
                self.inner.pool.rebootstrap();
                self.send_any(&request).await?
            }
            Err(e) => return Err(e),
        };
        *lock(&self.inner.last_metadata) = tokio::time::Instant::now();
        let next = Arc::new(now.merged(&resp));
        self.inner.pool.set_brokers(next.broker_addrs());
        self.store_metadata(&mut write(&self.inner.metadata), next.clone());
        debug!(
            brokers = next.brokers.len(),
            topics = next.topics.len(),
            "metadata refreshed"
        );
        Ok(next)
    }

    /// Takes the new leaders a Produce or Fetch error response named
    /// (KIP-951; see [`ClusterMetadata::with_leaders`]) into the snapshot,
    /// so the next request goes there without a metadata refresh. Returns
    /// whether the snapshot now has every named leader (moved here, or by
    /// an earlier answer of the same kind).
    pub fn apply_leader_hints(
        &self,
        moves: &[(String, i32, i32, i32)],
        endpoints: &[NodeEndpoint],
    ) -> bool {
        if moves.is_empty() {
            return false;
        }
        let mut current = write(&self.inner.metadata);
        let Some(next) = current.with_leaders(moves, endpoints) else {
            return moves
                .iter()
                .all(|(t, p, leader, _)| current.leader(t, *p) == Some(*leader));
        };
        let next = Arc::new(next);
        self.store_metadata(&mut current, next.clone());
        drop(current);
        self.inner.pool.add_brokers(next.broker_addrs());
        debug!(moves = ?moves, "leaders moved as the broker said (KIP-951)");
        true
    }

    /// What the metadata needs after a partition's answer, as the producer's
    /// or fetcher's state machine decided it: `refresh`, or take `leader`
    /// (KIP-951) into the snapshot, refreshing only if the snapshot cannot
    /// take it (an unknown endpoint or an older epoch). Returns whether a
    /// refresh is due.
    pub fn needs_refresh_after(
        &self,
        tp: &crate::common::TopicPartition,
        refresh: bool,
        leader: Option<crate::common::LeaderHint>,
        endpoints: &[NodeEndpoint],
    ) -> bool {
        let Some(h) = leader else {
            return refresh;
        };
        let moves = [(tp.topic.clone(), tp.partition, h.leader_id, h.leader_epoch)];
        refresh || !self.apply_leader_hints(&moves, endpoints)
    }

    /// Whether a failed metadata refresh should forget the known brokers
    /// (KIP-1102): the broker said REBOOTSTRAP_REQUIRED, or nothing answered
    /// for the rebootstrap trigger.
    fn rebootstrap_due(&self, e: &Error) -> bool {
        let config = self.config();
        if config.metadata_recovery_strategy != MetadataRecoveryStrategy::Rebootstrap {
            return false;
        }
        e.code() == Some(crate::protocol::ErrorCode::REBOOTSTRAP_REQUIRED)
            || lock(&self.inner.last_metadata).elapsed()
                >= config.metadata_recovery_rebootstrap_trigger
    }

    /// Metadata of `topic`, refreshing until every partition has a leader or
    /// `timeout` passes (a new topic may be auto-created meanwhile).
    pub async fn topic(&self, topic: &str, timeout: Duration) -> Result<TopicMetadata> {
        self.track_topics([topic]);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut delay = Duration::from_millis(20);
        loop {
            let snapshot = match self.metadata().topic(topic) {
                Some(t) if t.is_ready() => return Ok(t.clone()),
                _ => self.refresh_metadata().await,
            };
            if let Ok(m) = &snapshot {
                if let Some(t) = m.topic(topic).filter(|t| t.is_ready()) {
                    return Ok(t.clone());
                }
            }
            if tokio::time::Instant::now() + delay > deadline {
                let last = self.metadata().topic(topic).map(|t| t.error);
                return Err(match (snapshot, last) {
                    (Err(e), _) => e,
                    (_, Some(code)) if !code.is_ok() => {
                        Error::broker(code, ApiKey::METADATA, format!(" for topic {topic}"))
                    }
                    _ => Error::DeadlineExceeded(format!(
                        "topic {topic} has no leader for every partition"
                    )),
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(500));
        }
    }

    /// A connection to the leader of `topic`/`partition` per the current metadata.
    pub async fn leader(&self, topic: &str, partition: i32) -> Result<BrokerConnection> {
        let node = self.metadata().leader(topic, partition).ok_or_else(|| {
            Error::broker(
                crate::protocol::ErrorCode::LEADER_NOT_AVAILABLE,
                ApiKey::METADATA,
                format!(" for {topic}/{partition}"),
            )
        })?;
        self.inner.pool.get(node).await
    }

    /// A connection to broker `node_id`.
    pub async fn broker(&self, node_id: i32) -> Result<BrokerConnection> {
        self.inner.pool.get(node_id).await
    }

    /// Sends `req` to any live broker at the negotiated version; on a broken
    /// connection tries the next broker once.
    pub async fn send_any<R: Request>(&self, req: &R) -> Result<R::Response> {
        let mut last = None;
        for _ in 0..2 {
            let conn = self.inner.pool.any().await?;
            match conn.send(req).await {
                Ok(r) => return Ok(r),
                Err(e) if matches!(e, Error::Disconnected { .. } | Error::Io { .. }) => {
                    warn!(broker = %conn.addr(), error = %e, "retrying on another broker");
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(Error::Closed))
    }

    /// Stops the refresh task and closes every connection.
    pub fn close(&self) {
        let _ = self.inner.closed.send(true);
        for conn in lock(&self.inner.coordinators).drain().map(|(_, c)| c) {
            conn.close();
        }
        self.inner.pool.close_all();
    }

    /// Whether [`Client::close`] was called.
    pub fn is_closed(&self) -> bool {
        *self.inner.closed.borrow()
    }
}

async fn periodic_refresh(inner: Weak<Inner>, every: Duration, mut closed: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = closed.changed() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let Some(inner) = inner.upgrade() else { return };
        let client = Client { inner };
        if let Err(e) = client.refresh_metadata().await {
            warn!(error = %e, "periodic metadata refresh failed");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|p| p.into_inner())
}
