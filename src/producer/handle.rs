//! The public `Producer` handle.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Semaphore, TryAcquireError};
use tokio::task::JoinHandle;

use super::accumulator::NewRecord;
use super::clock::WallClock;
use super::config::ProducerConfig;
use super::delivery::{Completion, DeliveryFuture};
use super::fnv::TopicMap;
use super::metrics::{Metrics, ProducerMetrics};
use super::partitioner::{DefaultPartitioner, Partitioner};
use super::sender::{Command, SenderTask, ABORT_GRACE};
use super::shared::Shared;
use super::transaction::{TransactionManager, TxnConfig};
use super::transactional::Transactions;
use super::{DeliveryReport, ProducerRecord, TopicPartition};
use crate::cluster::{Client, ClusterMetadata, TopicMetadata};
use crate::config::ClientConfig;
use crate::error::{Error, Result};
use crate::metrics::{ClientKind, MetricsSnapshot};

/// Sends records to Kafka: batching per partition, key-stable partitioning,
/// retries, idempotence.
///
/// Cheap to clone; clones share one background task (the sender). Every
/// `send` resolves to a [`DeliveryReport`] or an error within the delivery
/// timeout. [`Producer::close`] flushes and then stops the task; it returns
/// within its timeout even when no broker is reachable.
///
/// ```no_run
/// # async fn demo() -> kafkit::Result<()> {
/// use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
/// let producer = Producer::connect(kafkit::ClientConfig::new(["localhost:9092"]), ProducerConfig::default()).await?;
/// let report = producer.send(ProducerRecord::new("orders").key("k").value("v")).await?;
/// println!("written at {}/{}", report.partition, report.offset);
/// producer.close(std::time::Duration::from_secs(5)).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Producer {
    pub(super) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) client: Client,
    owns_client: bool,
    config: ProducerConfig,
    commands: mpsc::UnboundedSender<Command>,
    pub(super) shared: Arc<Shared>,
    /// The transactional half; an error for a producer without a
    /// transactional id (what the transactional calls answer).
    pub(super) txn: Result<Arc<Transactions>>,
    buffer: Arc<Semaphore>,
    partitioner: Arc<dyn Partitioner>,
    metrics: Arc<Metrics>,
    task: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
    clock: WallClock,
    routes: Mutex<RouteCache>,
    /// The KIP-714 push task (`None` with `enable_metrics_push` off).
    telemetry: Option<crate::telemetry::Telemetry>,
}

/// What the partitioner needs to know about a topic, computed once per
/// metadata snapshot instead of once per record.
#[derive(Debug, Clone)]
struct Route {
    partition_count: i32,
    available: Arc<[i32]>,
}

impl Route {
    fn of(topic: &TopicMetadata) -> Self {
        Self {
            partition_count: i32::try_from(topic.partitions.len()).unwrap_or(i32::MAX),
            available: topic
                .partitions
                .iter()
                .filter(|p| p.leader.is_some())
                .map(|p| p.partition)
                .collect(),
        }
    }
}

/// Routes of ready topics, valid while the client's metadata is at the
/// version `snapshot` was taken at.
#[derive(Debug, Default)]
struct RouteCache {
    snapshot: Option<(u64, Arc<ClusterMetadata>)>,
    topics: TopicMap<Route>,
}

impl Producer {
    /// Connects a new client and starts a producer on it.
    pub async fn connect(client: ClientConfig, config: ProducerConfig) -> Result<Self> {
        let client = Client::connect(client).await?;
        Ok(Self::start(
            client,
            config,
            Arc::new(DefaultPartitioner::new()),
            true,
        ))
    }

    /// Starts a producer on an existing client (shared with consumers or admin).
    pub fn with_client(client: Client, config: ProducerConfig) -> Self {
        Self::start(client, config, Arc::new(DefaultPartitioner::new()), false)
    }

    /// Starts a producer with a custom partitioner.
    pub fn with_partitioner(
        client: Client,
        config: ProducerConfig,
        partitioner: Arc<dyn Partitioner>,
    ) -> Self {
        Self::start(client, config, partitioner, false)
    }

    fn start(
        client: Client,
        mut config: ProducerConfig,
        partitioner: Arc<dyn Partitioner>,
        owns_client: bool,
    ) -> Self {
        let txn = transactions(&mut config);
        let metrics = Arc::new(Metrics::default());
        let (commands, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::new(&config));
        let task = SenderTask::new(
            client.clone(),
            config.clone(),
            shared.clone(),
            metrics.clone(),
        );
        let handle = tokio::spawn(task.run(rx));
        let permits = config.buffer_memory.min(Semaphore::MAX_PERMITS);
        Self {
            inner: Arc::new_cyclic(|me| Inner {
                telemetry: crate::telemetry::Telemetry::start(
                    &client,
                    {
                        let me = me.clone();
                        Arc::new(move || {
                            let inner = me.upgrade()?;
                            Some(Producer { inner }.metrics_snapshot())
                        })
                    },
                    &[("transactional_id", config.transactional_id.as_deref())],
                ),
                client,
                owns_client,
                buffer: Arc::new(Semaphore::new(permits)),
                config,
                commands,
                shared,
                txn,
                partitioner,
                metrics,
                task: Mutex::new(Some(handle)),
                closed: AtomicBool::new(false),
                clock: WallClock::new(),
                routes: Mutex::new(RouteCache::default()),
            }),
        }
    }

    /// The client this producer sends through.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Sends one record and waits for its delivery report.
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryReport> {
        self.enqueue(record).await?.await
    }

    /// Sends many records (kafkajs's `send({topic, messages})`) and waits for
    /// all their reports, in the order given. Fails with the first error;
    /// records after a failed one may still have been written.
    pub async fn send_all<I>(&self, records: I) -> Result<Vec<DeliveryReport>>
    where
        I: IntoIterator<Item = ProducerRecord>,
    {
        let mut futures = Vec::new();
        for r in records {
            futures.push(self.enqueue(r).await?);
        }
        let mut reports = Vec::with_capacity(futures.len());
        for f in futures {
            reports.push(f.await?);
        }
        Ok(reports)
    }

    /// Hands a record to the producer and returns once it is buffered
    /// (waiting for buffer space when `buffer_memory` is used up: backpressure);
    /// the returned future resolves to its delivery report.
    ///
    /// The record is encoded into its partition's batch right away; the
    /// future shares the batch's outcome with the batch's other records.
    pub async fn enqueue(&self, mut record: ProducerRecord) -> Result<DeliveryFuture> {
        let inner = &self.inner;
        if inner.closed.load(Ordering::Acquire) || inner.commands.is_closed() {
            return Err(Error::Closed);
        }
        let size = record.size_estimate();
        if size > inner.config.buffer_memory || size > inner.config.max_request_size {
            return Err(Error::Record {
                topic: record.topic.clone(),
                partition: record.partition,
                reason: format!("{size} bytes exceed buffer_memory or max_request_size"),
            });
        }
        let now = std::time::Instant::now();
        let deadline = now + inner.config.delivery_timeout;
        // The slow paths (metadata to wait for, a transaction to join, a
        // full buffer) are boxed: this future stays small, and the common
        // case moves less per record.
        let partition = match self.partition_cached(&record) {
            Some(partition) => partition?,
            None => Box::pin(self.partition_for(&record)).await?,
        };
        record.partition = Some(partition);
        if inner.txn.is_ok() {
            let tp = TopicPartition {
                topic: record.topic.clone(),
                partition,
            };
            Box::pin(self.add_to_transaction(tp)).await?;
        }
        let permits = u32::try_from(size).unwrap_or(u32::MAX);
        match inner.buffer.try_acquire_many(permits) {
            Ok(permit) => permit.forget(),
            Err(TryAcquireError::Closed) => return Err(Error::Closed),
            Err(TryAcquireError::NoPermits) => Box::pin(self.reserve(permits, deadline)).await?,
        }
        // From here the permits travel with the record's batch.
        let held = usize::try_from(permits).unwrap_or(size);
        let timestamp = record.timestamp.unwrap_or_else(|| inner.clock.now_ms(now));
        let new = NewRecord {
            record: &record,
            partition,
            timestamp,
            deadline,
            size,
        };
        let appended = {
            let mut acc = inner.shared.acc();
            acc.append(&new, now, || {
                Completion::new(inner.buffer.clone(), inner.metrics.clone(), partition)
            })
            .map(|a| {
                a.token.add_record(held);
                (a.token.result().clone(), a.index, a.opened, a.sealed)
            })
        };
        let (result, index, opened, sealed) = match appended {
            Ok(a) => a,
            Err(e) => {
                inner.buffer.add_permits(held);
                return Err(e.into());
            }
        };
        if sealed {
            inner.partitioner.on_new_batch(&record.topic, partition);
        }
        if opened || sealed {
            inner.shared.wake.notify_one();
        }
        let span = crate::messaging_spans::send(
            &inner.client.config().client_id,
            &record.topic,
            partition,
        );
        Ok(DeliveryFuture::new(
            result,
            index,
            timestamp,
            record.topic,
            span,
        ))
    }

    /// Takes `permits` bytes of `buffer_memory`, waiting until `deadline`
    /// when they are not free (backpressure).
    async fn reserve(&self, permits: u32, deadline: std::time::Instant) -> Result<()> {
        let buffer = &self.inner.buffer;
        // Without waiters the space is simply taken (no timer); released
        // space goes to queued waiters first, so this does not jump the queue.
        match buffer.try_acquire_many(permits) {
            Ok(permit) => permit.forget(),
            Err(TryAcquireError::Closed) => return Err(Error::Closed),
            Err(TryAcquireError::NoPermits) => {
                tokio::time::timeout_at(deadline.into(), buffer.acquire_many(permits))
                    .await
                    .map_err(|_| {
                        Error::DeadlineExceeded(
                            "buffer full for the whole delivery timeout".to_owned(),
                        )
                    })?
                    .map_err(|_| Error::Closed)?
                    .forget();
            }
        }
        Ok(())
    }

    async fn partition_for(&self, record: &ProducerRecord) -> Result<i32> {
        if let Some(partition) = self.partition_cached(record) {
            return partition;
        }
        // Unknown or not ready yet: wait for it (this also tracks the topic
        // in the client's refreshes).
        let topic = self
            .inner
            .client
            .topic(&record.topic, self.inner.config.delivery_timeout)
            .await?;
        self.choose(record, &Route::of(&topic))
    }

    /// The partition of `record` if the current metadata has its topic ready
    /// (every partition led); routes are computed once per metadata snapshot
    /// and the partitioner runs under the cache's lock, so nothing is cloned.
    ///
    /// The common case (same metadata version, topic cached) reads one
    /// atomic instead of the metadata's lock and hashes the topic name once.
    fn partition_cached(&self, record: &ProducerRecord) -> Option<Result<i32>> {
        let client = &self.inner.client;
        let mut cache = lock(&self.inner.routes);
        let topic = record.topic.as_str();
        let version = client.metadata_version();
        if cache.snapshot.as_ref().is_some_and(|(v, _)| *v == version) {
            if let Some(route) = cache.topics.get(topic) {
                return Some(self.choose(record, route));
            }
        } else {
            cache.topics.clear();
            cache.snapshot = Some(client.versioned_metadata());
        }
        let (_, snapshot) = cache.snapshot.clone()?;
        let route = Route::of(snapshot.topic(topic).filter(|t| t.is_ready())?);
        let route = cache.topics.entry(topic.to_owned()).or_insert(route);
        Some(self.choose(record, route))
    }

    fn choose(&self, record: &ProducerRecord, route: &Route) -> Result<i32> {
        let count = route.partition_count;
        match record.partition {
            Some(p) if (0..count).contains(&p) => Ok(p),
            Some(p) => Err(Error::Record {
                topic: record.topic.clone(),
                partition: Some(p),
                reason: format!("the topic has {count} partitions"),
            }),
            None => Ok(self.inner.partitioner.partition(
                &record.topic,
                record.key.as_deref(),
                count,
                &route.available,
            )),
        }
    }

    /// Sends every buffered record now and waits until all records handed to
    /// the producer before this call have their reports (or errors).
    pub async fn flush(&self) -> Result<()> {
        let point = {
            let mut acc = self.inner.shared.acc();
            acc.seal_all();
            acc.flush_point()
        };
        let (done, rx) = oneshot::channel();
        self.inner
            .commands
            .send(Command::Flush(point, done))
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)
    }

    /// Flushes for at most `timeout`, then fails whatever is left with
    /// [`Error::Closed`] and stops the background task (and the client, if
    /// this producer created it). Returns within `timeout` (plus a short
    /// grace for the task to stop) even when every broker is down; returns
    /// `Err(DeadlineExceeded)` if the flush did not finish in time.
    /// A transactional producer first aborts its open transaction, if any,
    /// within the same `timeout`.
    pub async fn close(&self, timeout: Duration) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let aborted = tokio::time::timeout_at(deadline, self.abort_open_transaction()).await;
        let flushed = tokio::time::timeout_at(deadline, self.flush()).await;
        let flushed = match aborted {
            Ok(Err(e)) => Ok(Err(e)),
            Ok(Ok(())) => flushed,
            Err(elapsed) => Err(elapsed),
        };
        let (done, rx) = oneshot::channel();
        if self.inner.commands.send(Command::Abort(done)).is_ok() {
            let _ = tokio::time::timeout(ABORT_GRACE, rx).await;
        }
        let handle = self.inner.task.lock().ok().and_then(|mut t| t.take());
        if let Some(handle) = handle {
            handle.abort();
            let _ = tokio::time::timeout(ABORT_GRACE, handle).await;
        }
        // Whatever the task left (it normally takes everything on abort)
        // fails with `Closed` as its batches drop, outside the lock.
        let left = self.inner.shared.acc().close();
        drop(left);
        self.inner.buffer.close();
        if let Some(telemetry) = &self.inner.telemetry {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            telemetry.close(left.max(ABORT_GRACE)).await;
        }
        if self.inner.owns_client {
            self.inner.client.close();
        }
        match flushed {
            Ok(r) => r,
            Err(_) => Err(Error::DeadlineExceeded(format!(
                "close: flush did not finish within {timeout:?}"
            ))),
        }
    }

    /// Current counters; batches in flight and records queued are read
    /// from the accumulator at the call.
    pub fn metrics(&self) -> ProducerMetrics {
        let mut m = self.inner.metrics.snapshot();
        let acc = self.inner.shared.acc();
        m.in_flight = acc.in_flight() as u64;
        m.queued_records = acc.queued().1 as u64;
        drop(acc);
        m.request_latency = self
            .inner
            .client
            .pool()
            .metrics()
            .latency(crate::protocol::ApiKey::PRODUCE);
        m
    }

    /// This producer's counters and those of its connections, in one
    /// snapshot ([`MetricsSnapshot::to_prometheus`] renders it).
    pub fn metrics_snapshot(&self) -> MetricsSnapshot {
        let mut s = self.inner.client.snapshot_as(ClientKind::Producer);
        let mut m = self.metrics();
        m.request_latency = s.connections.latency(crate::protocol::ApiKey::PRODUCE);
        s.producer = Some(m);
        s
    }
}

/// The transactional half for a producer with a transactional id (which
/// forces idempotence and acks=all), else the error the transactional calls
/// answer.
fn transactions(config: &mut ProducerConfig) -> Result<Arc<Transactions>> {
    let Some(id) = config.transactional_id.clone() else {
        return Err(Error::InvalidState {
            operation: "transaction",
            reason: "the producer has no transactional_id".to_owned(),
        });
    };
    config.idempotence = true;
    config.acks = super::Acks::All;
    let txn_config = TxnConfig {
        transactional_id: id.clone(),
        transaction_timeout: config.transaction_timeout,
        retry_backoff: config.retry_backoff,
    };
    let tm = TransactionManager::new(txn_config).map_err(|e| Error::Config(e.to_string()))?;
    Ok(Arc::new(Transactions::new(
        tm,
        id,
        config.transaction_timeout,
    )))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
