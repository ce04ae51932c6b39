//! The requesting side: send a request, wait for its reply.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::error::RpcError;
use super::ids::{random_u64, IdSource};
use super::{CORRELATION_ID, NEST_ERR, NEST_IS_DISPOSED, REPLY_PARTITION, REPLY_TOPIC};
use crate::cluster::Client;
use crate::config::ClientConfig;
use crate::consumer::{Consumer, ConsumerConfig, ConsumerRecord, OffsetReset};
use crate::error::Error;
use crate::producer::{DeliveryReport, Producer, ProducerConfig, ProducerRecord, TopicPartition};

/// Request-reply settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RpcConfig {
    /// Appended to a request topic to name its reply topic (default `.reply`, as NestJS).
    pub reply_suffix: String,
    /// How long a request waits for its reply (default 30 s).
    pub timeout: Duration,
    /// The reply partition this instance reads. `None` (the default) picks
    /// one from a random instance number; instances that share a partition
    /// still get only their own replies (matched by correlation id), they
    /// just read each other's too. Give each instance its own partition
    /// where the reply topic has enough.
    pub reply_partition: Option<i32>,
    /// Settings of the producer that sends requests.
    pub producer: ProducerConfig,
    /// How long the broker may hold a fetch of the reply partition open (default 100 ms).
    pub fetch_max_wait: Duration,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            reply_suffix: ".reply".to_owned(),
            timeout: Duration::from_secs(30),
            reply_partition: None,
            producer: ProducerConfig::default(),
            fetch_max_wait: Duration::from_millis(100),
        }
    }
}

impl RpcConfig {
    /// Sets the reply timeout.
    pub fn with_timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Reads replies from this partition of each reply topic.
    pub fn with_reply_partition(mut self, p: i32) -> Self {
        self.reply_partition = Some(p);
        self
    }

    /// Sets the reply topic suffix.
    pub fn with_reply_suffix(mut self, s: impl Into<String>) -> Self {
        self.reply_suffix = s.into();
        self
    }
}

/// A reply to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reply {
    /// The reply's value (the handler's result).
    pub value: Option<Bytes>,
    /// Every header of the reply record.
    pub headers: Vec<(String, Option<Bytes>)>,
    /// Whether the server marked it as its last reply (`kafka_nest-is-disposed`).
    pub disposed: bool,
    /// Where the reply was read.
    pub partition: i32,
    /// Offset of the reply record.
    pub offset: i64,
}

type Pending = Mutex<HashMap<String, oneshot::Sender<ConsumerRecord>>>;

enum Command {
    Listen {
        topic: String,
        done: oneshot::Sender<Result<i32, RpcError>>,
    },
    Close(oneshot::Sender<()>),
}

/// Sends requests and waits for their replies (NestJS's `ClientKafka.send`).
///
/// Replies are read from one partition of each reply topic by manual
/// assignment, starting at the partition's end when the first request to
/// the topic is made. See the [module docs](super) for the headers.
#[derive(Debug)]
pub struct RequestClient {
    client: Client,
    owns_client: bool,
    producer: Producer,
    config: RpcConfig,
    ids: IdSource,
    pending: Arc<Pending>,
    routes: Mutex<HashMap<String, i32>>,
    commands: mpsc::UnboundedSender<Command>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Listen { topic, .. } => write!(f, "Listen({topic})"),
            Self::Close(_) => f.write_str("Close"),
        }
    }
}

impl RequestClient {
    /// Connects a new client.
    pub async fn connect(client: ClientConfig, config: RpcConfig) -> Result<Self, RpcError> {
        let client = Client::connect(client).await?;
        let mut c = Self::with_client(client, config);
        c.owns_client = true;
        Ok(c)
    }

    /// Uses an existing client (its connections are shared).
    pub fn with_client(client: Client, config: RpcConfig) -> Self {
        let producer = Producer::with_client(client.clone(), config.producer.clone());
        let mut cc = ConsumerConfig::default().with_offset_reset(OffsetReset::Latest);
        cc.fetch_max_wait = config.fetch_max_wait;
        let consumer = Consumer::with_client(client.clone(), cc);
        let pending = Arc::new(Pending::default());
        let (commands, rx) = mpsc::unbounded_channel();
        let instance = random_u64();
        let task = tokio::spawn(read_replies(
            consumer,
            rx,
            pending.clone(),
            config.reply_partition,
            instance,
            client.config().request_timeout,
        ));
        Self {
            client,
            owns_client: false,
            producer,
            config,
            ids: IdSource::new(),
            pending,
            routes: Mutex::new(HashMap::new()),
            commands,
            task: Mutex::new(Some(task)),
        }
    }

    /// The reply topic for requests to `topic`.
    pub fn reply_topic(&self, topic: &str) -> String {
        format!("{topic}{}", self.config.reply_suffix)
    }

    /// Starts reading the reply topic of `topic` now (otherwise the first
    /// request does it); returns the reply partition this instance reads.
    pub async fn listen(&self, topic: &str) -> Result<i32, RpcError> {
        let reply_topic = self.reply_topic(topic);
        if let Some(p) = lock(&self.routes).get(&reply_topic) {
            return Ok(*p);
        }
        let (done, rx) = oneshot::channel();
        self.commands
            .send(Command::Listen {
                topic: reply_topic.clone(),
                done,
            })
            .map_err(|_| Error::Closed)?;
        let p = rx.await.map_err(|_| Error::Closed)??;
        lock(&self.routes).insert(reply_topic, p);
        Ok(p)
    }

    /// Sends `payload` to `topic` and waits for the reply.
    pub async fn send(&self, topic: &str, payload: impl Into<Bytes>) -> Result<Reply, RpcError> {
        self.request(ProducerRecord::new(topic).value(payload))
            .await
    }

    /// Sends a request record (key, headers and partition are kept) and
    /// waits for the reply. A reply carrying `kafka_nest-err` is returned as
    /// [`RpcError::Remote`].
    pub async fn request(&self, mut record: ProducerRecord) -> Result<Reply, RpcError> {
        let topic = record.topic.clone();
        let deadline = Instant::now() + self.config.timeout;
        let partition = self.listen(&topic).await?;
        let id = self.ids.next_id();
        let (tx, rx) = oneshot::channel();
        let _guard = PendingGuard::insert(&self.pending, id.clone(), tx);
        record
            .headers
            .retain(|(k, _)| k != CORRELATION_ID && k != REPLY_TOPIC && k != REPLY_PARTITION);
        record
            .headers
            .push((CORRELATION_ID.to_owned(), Some(Bytes::from(id.clone()))));
        record.headers.push((
            REPLY_TOPIC.to_owned(),
            Some(Bytes::from(self.reply_topic(&topic))),
        ));
        record.headers.push((
            REPLY_PARTITION.to_owned(),
            Some(Bytes::from(partition.to_string())),
        ));
        let timed_out = || RpcError::TimedOut {
            topic: topic.clone(),
            correlation_id: id.clone(),
            after: self.config.timeout,
        };
        tracing::debug!(topic = %topic, correlation_id = %id, reply_partition = partition, "request");
        tokio::time::timeout_at(deadline.into(), self.producer.send(record))
            .await
            .map_err(|_| timed_out())??;
        let rec = tokio::time::timeout_at(deadline.into(), rx)
            .await
            .map_err(|_| timed_out())?
            .map_err(|_| Error::Closed)?;
        if let Some(err) = rec.header(NEST_ERR) {
            return Err(RpcError::Remote {
                topic,
                message: String::from_utf8_lossy(&err).into_owned(),
            });
        }
        Ok(Reply {
            disposed: rec
                .headers
                .iter()
                .flatten()
                .any(|h| h.key == NEST_IS_DISPOSED),
            headers: rec.header_pairs(),
            value: rec.value,
            partition: rec.partition,
            offset: rec.offset,
        })
    }

    /// Publishes an event (no reply expected) and waits for its delivery.
    pub async fn emit(
        &self,
        topic: &str,
        payload: impl Into<Bytes>,
    ) -> Result<DeliveryReport, RpcError> {
        Ok(self
            .producer
            .send(ProducerRecord::new(topic).value(payload))
            .await?)
    }

    /// Requests still waiting for a reply.
    pub fn pending(&self) -> usize {
        lock(&self.pending).len()
    }

    /// Stops reading replies (waiting requests fail with a closed error),
    /// flushes the producer within `timeout` and, if this client created
    /// it, closes the connections.
    pub async fn close(&self, timeout: Duration) -> Result<(), RpcError> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Close(tx)).is_ok() {
            let _ = tokio::time::timeout(timeout, rx).await;
        }
        let task = lock(&self.task).take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
        lock(&self.pending).clear();
        let flushed = self.producer.close(timeout).await;
        if self.owns_client {
            self.client.close();
        }
        Ok(flushed?)
    }
}

impl Drop for RequestClient {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Removes a request's entry when the request ends in any way (reply,
/// timeout, error or the caller dropping the future).
struct PendingGuard<'a> {
    pending: &'a Pending,
    id: String,
}

impl<'a> PendingGuard<'a> {
    fn insert(pending: &'a Pending, id: String, tx: oneshot::Sender<ConsumerRecord>) -> Self {
        lock(pending).insert(id.clone(), tx);
        Self { pending, id }
    }
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        lock(self.pending).remove(&self.id);
    }
}

/// The reply reader: owns the manual-assignment consumer.
async fn read_replies(
    mut consumer: Consumer,
    mut commands: mpsc::UnboundedReceiver<Command>,
    pending: Arc<Pending>,
    fixed_partition: Option<i32>,
    instance: u64,
    request_timeout: Duration,
) {
    let mut listening: HashMap<String, i32> = HashMap::new();
    let mut close_ack = None;
    loop {
        tokio::select! {
            cmd = commands.recv() => match cmd {
                None => break,
                Some(Command::Close(ack)) => {
                    close_ack = Some(ack);
                    break;
                }
                Some(Command::Listen { topic, done }) => {
                    let result = match listening.get(&topic) {
                        Some(p) => Ok(*p),
                        None => {
                            let r = start_listening(&consumer, &topic, fixed_partition, instance, request_timeout).await;
                            if let Ok(p) = r {
                                listening.insert(topic, p);
                            }
                            r
                        }
                    };
                    let _ = done.send(result);
                }
            },
            rec = consumer.recv() => match rec {
                None => break,
                Some(Err(e)) => tracing::warn!(error = %e, "reading replies"),
                Some(Ok(rec)) => route_reply(&pending, rec),
            },
        }
    }
    let _ = consumer.close().await;
    if let Some(ack) = close_ack {
        let _ = ack.send(());
    }
}

fn route_reply(pending: &Pending, rec: ConsumerRecord) {
    let Some(id) = rec.header(CORRELATION_ID) else {
        tracing::debug!(topic = %rec.topic, partition = rec.partition, offset = rec.offset,
            "dropping a reply without a correlation id");
        return;
    };
    let id = String::from_utf8_lossy(&id).into_owned();
    let waiter = lock(pending).remove(&id);
    match waiter {
        Some(tx) => {
            let _ = tx.send(rec);
        }
        None => tracing::debug!(topic = %rec.topic, partition = rec.partition, offset = rec.offset,
            correlation_id = %id, "dropping a reply for an unknown or timed-out correlation id"),
    }
}

/// Assigns the reply partition at its current end and waits until the
/// position is known, so that no reply produced afterwards can be skipped.
async fn start_listening(
    consumer: &Consumer,
    topic: &str,
    fixed_partition: Option<i32>,
    instance: u64,
    timeout: Duration,
) -> Result<i32, RpcError> {
    let not_usable = |reason: String| RpcError::ReplyTopic {
        topic: topic.to_owned(),
        reason,
    };
    let meta = consumer
        .client()
        .topic(topic, timeout)
        .await
        .map_err(|e| not_usable(e.to_string()))?;
    let count = u64::try_from(meta.partitions.len()).unwrap_or(0);
    if count == 0 {
        return Err(not_usable("it has no partitions".to_owned()));
    }
    let partition = match fixed_partition {
        Some(p) if meta.partitions.iter().any(|m| m.partition == p) => p,
        Some(p) => return Err(not_usable(format!("it has no partition {p}"))),
        None => {
            let mut ids: Vec<i32> = meta.partitions.iter().map(|m| m.partition).collect();
            ids.sort_unstable();
            let index = usize::try_from(instance % count).unwrap_or(0);
            ids.get(index).copied().unwrap_or(0)
        }
    };
    let tp = TopicPartition {
        topic: topic.to_owned(),
        partition,
    };
    consumer.assign(vec![(tp.clone(), None)])?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some((Some(_), _)) = consumer.positions().await?.get(&tp) {
            tracing::debug!(topic, partition, "reading replies");
            return Ok(partition);
        }
        if Instant::now() >= deadline {
            return Err(not_usable(format!(
                "the end offset of partition {partition} was not found within {timeout:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
