//! The public `Consumer`: a stream of records over assigned partitions.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::config::ConsumerConfig;
use super::config::GroupProtocol;
use super::control::ConsumerControl;
use super::events::ConsumerEvent;
use super::fetcher::{Command, Delivery, FetcherTask};
use super::group::{GroupCommand, GroupDriver};
use super::group848::{member_for, Driver848, Wiring};
use super::record::ConsumerRecord;
use super::shared::{ProcessedSlot, Shared};
use super::ConsumerGroupMetadata;
use crate::cluster::Client;
use crate::config::ClientConfig;
use crate::error::{Error, Result};
use crate::group::consumer_member::Subscription;
use crate::TopicPartition;

/// Reads records from assigned partitions.
///
/// A background task fetches ahead (up to `max_buffered_bytes`); the
/// consumer is a [`futures_core::Stream`] of records, also usable through
/// [`Consumer::recv`]. A record counts as processed once the application
/// asks for the next one (or calls [`Consumer::mark_processed`]); offsets
/// committed by the group layer are those of processed records only.
#[derive(Debug)]
pub struct Consumer {
    client: Client,
    owns_client: bool,
    commands: mpsc::UnboundedSender<Command>,
    deliveries: mpsc::UnboundedReceiver<Delivery>,
    shared: Arc<Shared>,
    current: VecDeque<ConsumerRecord>,
    /// The partition of `current`, its generation and processed-offset slot.
    current_tp: Option<(TopicPartition, u64, Arc<ProcessedSlot>)>,
    /// The partition of the last record handed out, and its slot (kept
    /// across records, so marking one is a single atomic update).
    handed_tp: Option<(TopicPartition, Arc<ProcessedSlot>)>,
    /// The offset of the last record handed out, not marked processed yet.
    last_handed: Option<i64>,
    seen_invalidations: u64,
    task: Option<JoinHandle<()>>,
    config: ConsumerConfig,
    group: Option<GroupHandle>,
    events_tx: mpsc::UnboundedSender<ConsumerEvent>,
    events_rx: Option<mpsc::UnboundedReceiver<ConsumerEvent>>,
    /// The KIP-714 push task (`None` with `enable_metrics_push` off).
    telemetry: Option<crate::telemetry::Telemetry>,
}

#[derive(Debug)]
struct GroupHandle {
    commands: mpsc::UnboundedSender<GroupCommand>,
    task: JoinHandle<()>,
}

impl Consumer {
    /// Connects a new client and starts a consumer with no partitions.
    pub async fn connect(client: ClientConfig, config: ConsumerConfig) -> Result<Self> {
        let client = Client::connect(client).await?;
        let mut c = Self::with_client(client, config);
        c.owns_client = true;
        Ok(c)
    }

    /// Starts a consumer on an existing client.
    pub fn with_client(client: Client, config: ConsumerConfig) -> Self {
        let shared = Arc::new(Shared::default());
        let (commands, rx) = mpsc::unbounded_channel();
        let (out, deliveries) = mpsc::unbounded_channel();
        let task = FetcherTask::new(client.clone(), config.clone(), shared.clone(), out);
        let handle = tokio::spawn(task.run(rx));
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let telemetry = crate::telemetry::Telemetry::start(
            &client,
            {
                let (client, shared) = (client.clone(), shared.clone());
                Arc::new(move || Some(snapshot(&client, &shared)))
            },
            &[
                ("client_rack", config.rack.as_deref()),
                ("group_id", config.group_id.as_deref()),
                ("group_instance_id", config.group_instance_id.as_deref()),
            ],
        );
        Self {
            telemetry,
            group: None,
            events_tx,
            events_rx: Some(events_rx),
            client,
            owns_client: false,
            commands,
            deliveries,
            shared,
            current: VecDeque::new(),
            current_tp: None,
            handed_tp: None,
            last_handed: None,
            seen_invalidations: 0,
            task: Some(handle),
            config,
        }
    }

    /// The client this consumer fetches through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The configuration.
    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    /// The group metadata to hand to
    /// [`Producer::send_offsets_to_transaction`](crate::producer::Producer::send_offsets_to_transaction)
    /// (KIP-447): the group id, the generation and member id current now
    /// (-1 and empty before the member first joined) and the static
    /// instance id. `None` for a consumer without a group.
    pub fn group_metadata(&self) -> Option<ConsumerGroupMetadata> {
        let group_id = self.config.group_id.clone()?;
        let member = match self.shared.member.lock() {
            Ok(m) => m.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let (generation_id, member_id) = member.unwrap_or((-1, String::new()));
        Some(ConsumerGroupMetadata {
            group_id,
            generation_id,
            member_id,
            group_instance_id: self.config.group_instance_id.clone(),
        })
    }

    fn send(&self, cmd: Command) -> Result<()> {
        self.commands.send(cmd).map_err(|_| Error::Closed)
    }

    /// Joins the consumer group (`group_id` in the config) subscribed to
    /// `topics`; partitions arrive as the group assigns them. Committed
    /// offsets are read on assignment; processed offsets are committed
    /// automatically (unless `auto_commit` is off), before partitions are
    /// revoked, and on close.
    pub fn subscribe<S: AsRef<str>>(&mut self, topics: &[S]) -> Result<()> {
        let topics: Vec<String> = topics.iter().map(|t| t.as_ref().to_owned()).collect();
        match self.config.group_protocol {
            GroupProtocol::Classic => self.subscribe_classic(topics),
            GroupProtocol::Consumer => {
                self.client.track_topics(topics.iter().cloned());
                self.subscribe_848(Subscription::Topics(topics))
            }
        }
    }

    /// Joins the consumer group subscribed to every topic whose name
    /// matches `regex` (RE2/J syntax), topics created later included. The
    /// coordinator resolves the expression, so this needs
    /// [`GroupProtocol::Consumer`] (Kafka 4.0+).
    pub fn subscribe_pattern(&mut self, regex: &str) -> Result<()> {
        if self.config.group_protocol != GroupProtocol::Consumer {
            return Err(Error::Config(
                "subscribe_pattern needs group_protocol = Consumer (the coordinator resolves the \
                 regular expression)"
                    .to_owned(),
            ));
        }
        if regex.is_empty() {
            return Err(Error::Config(
                "subscribe_pattern: empty regular expression".to_owned(),
            ));
        }
        self.subscribe_848(Subscription::Regex(regex.to_owned()))
    }

    fn group_id_for_subscribe(&self) -> Result<String> {
        let Some(group_id) = self.config.group_id.clone() else {
            return Err(Error::Config("subscribe needs a group_id".to_owned()));
        };
        if self.group.is_some() {
            return Err(Error::InvalidState {
                operation: "subscribe",
                reason: "already subscribed".to_owned(),
            });
        }
        Ok(group_id)
    }

    fn auto_commit(&self) -> Option<std::time::Duration> {
        self.config
            .auto_commit
            .then_some(self.config.auto_commit_interval)
    }

    /// Starts the KIP-848 group driver (`group848.rs`).
    fn subscribe_848(&mut self, subscription: Subscription) -> Result<()> {
        let group_id = self.group_id_for_subscribe()?;
        let member = member_for(&self.config, &self.client, &group_id, subscription);
        let wiring = Wiring {
            client: self.client.clone(),
            fetch: self.commands.clone(),
            shared: self.shared.clone(),
            events: self.events_tx.clone(),
            auto_commit: self.auto_commit(),
            group_id,
            instance_id: self.config.group_instance_id.clone(),
        };
        let (commands, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(Driver848::new(wiring, member).run(rx));
        self.group = Some(GroupHandle { commands, task });
        Ok(())
    }

    /// Starts the classic group driver (`group.rs`).
    fn subscribe_classic(&mut self, topics: Vec<String>) -> Result<()> {
        let group_id = self.group_id_for_subscribe()?;
        let mut g = crate::group::GroupConfig::new(group_id, topics.iter().cloned());
        g.group_instance_id = self.config.group_instance_id.clone();
        g.session_timeout = self.config.session_timeout;
        g.rebalance_timeout = self.config.rebalance_timeout;
        g.heartbeat_interval = self.config.heartbeat_interval;
        g.max_poll_interval = self.config.max_poll_interval;
        g.rack = self.config.rack.clone();
        g.request_timeout = self.client.config().request_timeout;
        if let Some(assignors) = &self.config.assignors {
            g.assignors = assignors.clone();
        }
        let member = crate::group::GroupMember::new(g, std::time::Instant::now())
            .map_err(|e| Error::Config(format!("group configuration: {e}")))?;
        self.client.track_topics(topics);
        let (commands, rx) = mpsc::unbounded_channel();
        let auto = self.auto_commit();
        let driver = GroupDriver::new(
            self.client.clone(),
            member,
            self.commands.clone(),
            self.shared.clone(),
            self.events_tx.clone(),
            auto,
        );
        let task = tokio::spawn(driver.run(rx));
        self.group = Some(GroupHandle { commands, task });
        Ok(())
    }

    fn group(&self) -> Result<&GroupHandle> {
        self.group.as_ref().ok_or_else(|| Error::InvalidState {
            operation: "group call",
            reason: "not a group member: call subscribe first".to_owned(),
        })
    }

    /// A cloneable handle on this consumer's controls (commit, pause,
    /// heartbeat) for other tasks; take it after `subscribe` for the group calls.
    pub fn control(&self) -> ConsumerControl {
        ConsumerControl {
            commands: self.commands.clone(),
            group: self.group.as_ref().map(|g| g.commands.clone()),
            shared: self.shared.clone(),
        }
    }

    /// Commits the offsets of every processed record (synchronously: resolves
    /// when the coordinator answered).
    pub async fn commit(&self) -> Result<()> {
        self.group()?;
        self.control().commit().await
    }

    /// Commits explicit offsets (the offset of the *next* record to read, as Kafka stores them).
    pub async fn commit_offsets<I>(&self, offsets: I) -> Result<()>
    where
        I: IntoIterator<Item = (TopicPartition, i64)>,
    {
        self.group()?;
        self.control().commit_offsets(offsets).await
    }

    /// The group's committed offsets for `partitions` (`None` where nothing is committed).
    pub async fn committed(
        &self,
        partitions: Vec<TopicPartition>,
    ) -> Result<std::collections::BTreeMap<TopicPartition, Option<i64>>> {
        self.group()?;
        self.control().committed(partitions).await
    }

    /// Tells the group the application is alive while a slow handler runs
    /// (counts as a poll for `max_poll_interval`); heartbeats to the
    /// coordinator themselves run in the background.
    pub fn heartbeat(&self) {
        self.control().heartbeat();
    }

    /// The lifecycle events (taken once).
    pub fn events(&mut self) -> Option<mpsc::UnboundedReceiver<ConsumerEvent>> {
        self.events_rx.take()
    }

    /// Adds partitions to read (manual assignment). A partition without a
    /// start offset begins where the reset policy says.
    pub fn assign(&self, partitions: Vec<(TopicPartition, Option<i64>)>) -> Result<()> {
        self.send(Command::Assign(partitions))
    }

    /// Assigns every partition of `topic` from the reset policy's position.
    pub async fn assign_topic(&self, topic: &str) -> Result<()> {
        let meta = self
            .client
            .topic(topic, self.client.config().request_timeout)
            .await?;
        self.assign(
            meta.partitions
                .iter()
                .map(|p| {
                    (
                        TopicPartition {
                            topic: topic.to_owned(),
                            partition: p.partition,
                        },
                        None,
                    )
                })
                .collect(),
        )
    }

    /// Stops reading partitions.
    pub fn unassign(&self, partitions: Vec<TopicPartition>) -> Result<()> {
        self.send(Command::Unassign(partitions))
    }

    /// Moves a partition's position; records fetched before are dropped
    /// (also those already queued for this handle), and the last record
    /// handed out of that partition is not marked processed by the next poll.
    pub fn seek(&mut self, tp: TopicPartition, offset: i64) -> Result<()> {
        if self.current_tp.as_ref().is_some_and(|(t, _, _)| *t == tp) {
            self.current.clear();
            self.current_tp = None;
        }
        if self.handed_tp.as_ref().is_some_and(|(t, _)| *t == tp) {
            self.last_handed = None;
        }
        // Invalidate at once: deliveries the fetcher queued before it sees
        // the seek must not reach the application (they carry the old
        // generation; the fetcher sets the new one).
        if self.shared.generation(&tp).is_some() {
            self.shared.set_generation(tp.clone(), None);
        }
        self.send(Command::Seek(tp, offset))
    }

    /// Stops fetching the partitions until [`Consumer::resume`].
    pub fn pause(&self, partitions: Vec<TopicPartition>) -> Result<()> {
        self.control().pause(partitions)
    }

    /// Resumes fetching paused partitions.
    pub fn resume(&self, partitions: Vec<TopicPartition>) -> Result<()> {
        self.control().resume(partitions)
    }

    /// Next fetch position and last known high watermark per assigned partition.
    pub async fn positions(&self) -> Result<HashMap<TopicPartition, (Option<i64>, i64)>> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Positions(tx))?;
        rx.await.map_err(|_| Error::Closed)
    }

    /// Lag per partition: high watermark minus the processed offset (see
    /// [`Consumer::processed_offsets`]: trailing transaction markers and
    /// aborted data do not count once the records before them are processed).
    pub async fn lag(&self) -> Result<HashMap<TopicPartition, i64>> {
        let positions = self.positions().await?;
        let processed = self.shared.processed();
        Ok(positions
            .into_iter()
            .filter(|(_, (_, hw))| *hw >= 0)
            .map(|(tp, (pos, hw))| {
                let done = processed.get(&tp).copied().or(pos).unwrap_or(hw);
                (tp, (hw - done).max(0))
            })
            .collect())
    }

    /// This consumer's counters (records, lag per partition, fetch and
    /// commit latency, rebalances) and those of its connections, in one
    /// snapshot ([`crate::metrics::MetricsSnapshot::to_prometheus`] renders it).
    pub fn metrics_snapshot(&self) -> crate::metrics::MetricsSnapshot {
        snapshot(&self.client, &self.shared)
    }

    /// Offsets after the last processed record, per partition (what a
    /// commit would store): past the control records and aborted data that
    /// follow it once it is processed, so a partition that ends in
    /// transaction markers is committed up to its end.
    pub fn processed_offsets(&self) -> HashMap<TopicPartition, i64> {
        let mut p = self.shared.processed();
        p.retain(|tp, _| self.shared.generation(tp).is_some());
        p
    }

    /// The records of the current fetched batch not handed out yet (all of
    /// the partition of the record `recv` returned last). Like
    /// [`Consumer::forget_handed`], they are not marked processed
    /// implicitly. Used by the listener's batch handlers.
    pub(crate) fn take_buffered(&mut self) -> Vec<ConsumerRecord> {
        self.current.drain(..).collect()
    }

    /// The last record handed out will not be marked processed by the next
    /// poll or by `close`: the caller marks what it finished itself (the
    /// listener, whose handler may fail or be cancelled).
    pub(crate) fn forget_handed(&mut self) {
        self.last_handed = None;
    }

    /// Marks the last record handed out as processed now (instead of at the next `recv`).
    pub fn mark_processed(&mut self) {
        if let Some(offset) = self.last_handed.take() {
            if let Some((_, slot)) = &self.handed_tp {
                slot.mark(offset + 1);
            }
        }
    }

    /// The next record; `None` once the consumer is closed. Waiting here
    /// counts as polling for `max_poll_interval` (an idle topic does not get
    /// the member evicted), until the future completes or is dropped.
    pub async fn recv(&mut self) -> Option<Result<ConsumerRecord>> {
        let waiting = WaitingGuard(self.shared.clone());
        std::future::poll_fn(|cx| {
            let poll = self.poll_record(cx);
            waiting.set(poll.is_pending());
            poll
        })
        .await
    }

    fn poll_record(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<ConsumerRecord>>> {
        self.mark_processed();
        self.shared.note_poll();
        let invalidations = self
            .shared
            .invalidations
            .load(std::sync::atomic::Ordering::Acquire);
        if invalidations != self.seen_invalidations {
            self.seen_invalidations = invalidations;
            // Records of a partition revoked, lost or seeked since they were
            // fetched must not reach the application.
            if let Some((tp, generation, _)) = &self.current_tp {
                if self.shared.generation(tp) != Some(*generation) {
                    self.current.clear();
                    self.current_tp = None;
                }
            }
        }
        loop {
            if let Some(record) = self.current.pop_front() {
                if let Some((tp, _, slot)) = &self.current_tp {
                    let same = self
                        .handed_tp
                        .as_ref()
                        .is_some_and(|(_, s)| Arc::ptr_eq(s, slot));
                    if !same {
                        self.handed_tp = Some((tp.clone(), slot.clone()));
                    }
                    self.last_handed = Some(record.offset);
                }
                if crate::messaging_spans::info_may_be_enabled() {
                    drop(crate::messaging_spans::receive(
                        &self.client.config().client_id,
                        self.config.group_id.as_deref(),
                        &record.topic,
                        record.partition,
                        record.offset,
                    ));
                }
                return Poll::Ready(Some(Ok(record)));
            }
            match self.deliveries.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Delivery::Error(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Delivery::Records {
                    tp,
                    generation,
                    bytes,
                    records,
                })) => {
                    self.shared.release_buffered(bytes);
                    if self.shared.generation(&tp) != Some(generation) {
                        continue; // seeked or revoked since it was fetched
                    }
                    let slot = self.shared.processed_slot(&tp);
                    self.current = records.into();
                    self.current_tp = Some((tp, generation, slot));
                }
            }
        }
    }

    /// Leaves the group (committing processed offsets first, within the
    /// group's commit timeout), stops the background tasks and, if this
    /// consumer created it, the client.
    pub async fn close(mut self) -> Result<()> {
        self.mark_processed();
        if let Some(group) = self.group.take() {
            let (tx, rx) = oneshot::channel();
            if group.commands.send(GroupCommand::Close(tx)).is_ok() {
                let limit = self
                    .config
                    .session_timeout
                    .min(std::time::Duration::from_secs(30));
                let _ = tokio::time::timeout(limit, rx).await;
            }
            group.task.abort();
            let _ = group.task.await;
        }
        let _ = self.events_tx.send(ConsumerEvent::Stopped);
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Close(tx)).is_ok() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), rx).await;
        }
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        if let Some(telemetry) = self.telemetry.take() {
            let limit = self.client.config().request_timeout;
            telemetry.close(limit.min(TELEMETRY_CLOSE_LIMIT)).await;
        }
        if self.owns_client {
            self.client.close();
        }
        Ok(())
    }
}

/// How long `close` waits for the terminating metrics push (KIP-714).
const TELEMETRY_CLOSE_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A consumer's counters and those of its client's connections.
fn snapshot(client: &Client, shared: &Shared) -> crate::metrics::MetricsSnapshot {
    let mut s = client.snapshot_as(crate::metrics::ClientKind::Consumer);
    s.consumer = Some(shared.stats.snapshot(&s.connections));
    s
}

impl futures_core::Stream for Consumer {
    type Item = Result<ConsumerRecord>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_record(cx)
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(group) = self.group.take() {
            group.task.abort();
        }
    }
}

/// The "waiting in `recv`" flag, cleared when a `recv` future ends or is dropped.
struct WaitingGuard(Arc<Shared>);

impl WaitingGuard {
    fn set(&self, waiting: bool) {
        self.0
            .waiting
            .store(waiting, std::sync::atomic::Ordering::Release);
    }
}

impl Drop for WaitingGuard {
    fn drop(&mut self) {
        self.set(false);
    }
}
