//! The consumer's background task: positions, offset resets and one fetch
//! in flight per broker, feeding decoded records to the application.
//!
//! Fetching for a broker pauses while the application has more than
//! `max_buffered_bytes` of fetched data it has not taken yet, so a slow
//! consumer bounds its memory instead of growing it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::{debug, warn};

mod spawn;

use super::config::{ConsumerConfig, OffsetReset};
use super::decode::{decode_partition, FetchedPartition};
use super::offsets::list_offsets;
use super::record::ConsumerRecord;
use super::session::{FetchSession, PartitionFetch};
use super::shared::Shared;
use crate::cluster::{Client, ClusterMetadata};
use crate::connection::BrokerConnection;
use crate::error::{Error, Result};
use crate::protocol::messages::fetch::{
    FetchPartition, FetchPartitionResponse, FetchRequest, FetchResponse, FetchTopic,
    FetchTopicResponse, ForgottenTopic,
};
use crate::protocol::messages::leader_discovery::NodeEndpoint;
use crate::protocol::messages::list_offsets::{EARLIEST_TIMESTAMP, LATEST_TIMESTAMP};
use crate::protocol::record::DecodeOptions;
use crate::protocol::{ApiKey, ErrorCode, Uuid};
use crate::TopicPartition;
use kafkit_core::fetch::position::{FetchPosition, PartitionVerdict};
use kafkit_core::LeaderHint;

/// How long a partition waits before an unreadable batch is fetched again.
const UNREADABLE_BATCH_BACKOFF: Duration = Duration::from_millis(500);

/// What the task hands the application.
#[derive(Debug)]
pub(crate) enum Delivery {
    Records {
        tp: TopicPartition,
        generation: u64,
        bytes: usize,
        records: Vec<ConsumerRecord>,
    },
    Error(Error),
}

/// Requests from the handle (and later the group driver).
#[derive(Debug)]
pub(crate) enum Command {
    /// Adds partitions; `Some(offset)` starts there, `None` applies the reset policy.
    Assign(Vec<(TopicPartition, Option<i64>)>),
    /// Removes partitions.
    Unassign(Vec<TopicPartition>),
    Seek(TopicPartition, i64),
    Pause(Vec<TopicPartition>, bool),
    /// Current positions.
    Positions(oneshot::Sender<HashMap<TopicPartition, (Option<i64>, i64)>>),
    /// Hands `Error` to the application's next `recv` (the group ended
    /// membership for good).
    Fail(Error),
    Close(oneshot::Sender<()>),
}

#[derive(Debug)]
struct PartitionState {
    topic: Arc<str>,
    /// Position and high watermark (kafkit-core's fetch state machine).
    fetch: FetchPosition,
    paused: bool,
    /// After an unreadable batch: fetch again (on a new connection) from here on.
    retry_at: Option<tokio::time::Instant>,
    generation: u64,
    /// KIP-392: the replica the leader said to fetch from, until the instant.
    read_replica: Option<(i32, tokio::time::Instant)>,
}

enum Event {
    Connected(i32, Result<BrokerConnection>),
    Fetched(i32, Result<FetchResponse>, HashMap<TopicPartition, u64>),
    Reset(Vec<(TopicPartition, Result<i64>)>),
    Refreshed,
}

pub(crate) struct FetcherTask {
    client: Client,
    cfg: ConsumerConfig,
    options: DecodeOptions,
    parts: BTreeMap<TopicPartition, PartitionState>,
    conns: HashMap<i32, BrokerConnection>,
    connecting: HashSet<i32>,
    fetching: HashSet<i32>,
    /// Brokers whose last fetch failed: no new fetch before the instant.
    backoff: HashMap<i32, tokio::time::Instant>,
    sessions: HashMap<i32, FetchSession<TopicPartition>>,
    resetting: HashSet<TopicPartition>,
    refreshing: bool,
    next_generation: u64,
    tasks: JoinSet<()>,
    events_tx: mpsc::UnboundedSender<Event>,
    events: mpsc::UnboundedReceiver<Event>,
    out: mpsc::UnboundedSender<Delivery>,
    shared: Arc<Shared>,
}

impl FetcherTask {
    pub fn new(
        client: Client,
        cfg: ConsumerConfig,
        shared: Arc<Shared>,
        out: mpsc::UnboundedSender<Delivery>,
    ) -> Self {
        let (events_tx, events) = mpsc::unbounded_channel();
        let options =
            DecodeOptions::default().with_max_decompressed_size(cfg.max_decompressed_size);
        Self {
            client,
            cfg,
            options,
            parts: BTreeMap::new(),
            conns: HashMap::new(),
            connecting: HashSet::new(),
            fetching: HashSet::new(),
            backoff: HashMap::new(),
            sessions: HashMap::new(),
            resetting: HashSet::new(),
            refreshing: false,
            next_generation: 1,
            tasks: JoinSet::new(),
            events_tx,
            events,
            out,
            shared,
        }
    }

    pub async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        // Re-check the buffer budget now and then: the application frees it
        // without telling the task.
        let mut budget_tick = tokio::time::interval(Duration::from_millis(20));
        loop {
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(Command::Close(done)) => {
                        self.tasks.abort_all();
                        let _ = done.send(());
                        return;
                    }
                    Some(cmd) => self.command(cmd),
                    None => return,
                },
                Some(ev) = self.events.recv() => self.event(ev),
                _ = budget_tick.tick() => {}
            }
            self.tick();
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Assign(list) => {
                debug!(partitions = ?list, "assign");
                for (tp, start) in list {
                    let generation = self.bump_generation();
                    self.shared.set_generation(tp.clone(), Some(generation));
                    self.shared.reset_processed(&tp, start);
                    self.parts.insert(
                        tp.clone(),
                        PartitionState {
                            topic: Arc::from(tp.topic.as_str()),
                            fetch: FetchPosition::new(start),
                            paused: false,
                            retry_at: None,
                            generation,
                            read_replica: None,
                        },
                    );
                }
                let topics: Vec<String> = self.parts.keys().map(|tp| tp.topic.clone()).collect();
                self.client.track_topics(topics);
            }
            Command::Unassign(list) => {
                for tp in list {
                    self.parts.remove(&tp);
                    self.shared.stats.forget(&tp);
                    self.shared.set_generation(tp.clone(), None);
                    self.shared.reset_processed(&tp, None);
                }
            }
            Command::Seek(tp, offset) => {
                let generation = self.bump_generation();
                if let Some(p) = self.parts.get_mut(&tp) {
                    p.fetch.position = Some(offset);
                    p.generation = generation;
                    self.shared.set_generation(tp.clone(), Some(generation));
                    self.shared.reset_processed(&tp, Some(offset));
                }
            }
            Command::Pause(list, paused) => {
                for tp in list {
                    if let Some(p) = self.parts.get_mut(&tp) {
                        p.paused = paused;
                    }
                }
            }
            Command::Positions(reply) => {
                let map = self
                    .parts
                    .iter()
                    .map(|(tp, p)| (tp.clone(), (p.fetch.position, p.fetch.high_watermark)))
                    .collect();
                let _ = reply.send(map);
            }
            Command::Fail(e) => {
                let _ = self.out.send(Delivery::Error(e));
            }
            Command::Close(_) => {}
        }
    }

    /// Partitions fetched from replica `node` go back to their leader.
    fn leave_read_replica(&mut self, node: i32) {
        for p in self.parts.values_mut() {
            if p.read_replica.is_some_and(|(r, _)| r == node) {
                p.read_replica = None;
            }
        }
    }

    fn bump_generation(&mut self) -> u64 {
        self.next_generation += 1;
        self.next_generation
    }

    fn event(&mut self, ev: Event) {
        match ev {
            Event::Connected(node, result) => {
                self.connecting.remove(&node);
                match result {
                    Ok(conn) => {
                        let sessions = conn.version_for::<FetchRequest>().is_ok_and(|v| v >= 7);
                        self.sessions.insert(node, FetchSession::new(sessions));
                        self.conns.insert(node, conn);
                    }
                    Err(e) => {
                        debug!(node, error = %e, "fetch connection failed");
                        self.leave_read_replica(node);
                        self.refresh_metadata();
                    }
                }
            }
            Event::Fetched(node, result, generations) => {
                self.fetching.remove(&node);
                match result {
                    Ok(resp) => self.fetched(node, resp, &generations),
                    Err(e) => {
                        debug!(node, error = %e, "fetch failed");
                        self.leave_read_replica(node);
                        if let Some(s) = self.sessions.get_mut(&node) {
                            s.reset();
                        }
                        if let Some(conn) = self.conns.remove(&node) {
                            if matches!(e, Error::BadResponse { .. }) {
                                conn.close(); // do not read anything else from it
                            }
                        }
                        self.backoff.insert(
                            node,
                            tokio::time::Instant::now() + self.client.config().reconnect_backoff,
                        );
                        self.refresh_metadata();
                    }
                }
            }
            Event::Reset(results) => {
                for (tp, r) in results {
                    self.resetting.remove(&tp);
                    match r {
                        Ok(offset) => {
                            if let Some(p) = self.parts.get_mut(&tp) {
                                if p.fetch.position.is_none() {
                                    p.fetch.position = Some(offset);
                                    self.shared.reset_processed(&tp, Some(offset));
                                }
                            }
                        }
                        Err(e) => {
                            if e.code().is_some_and(ErrorCode::needs_metadata_refresh)
                                || e.is_retriable()
                            {
                                self.refresh_metadata();
                            } else {
                                let _ = self.out.send(Delivery::Error(e));
                            }
                        }
                    }
                }
            }
            Event::Refreshed => self.refreshing = false,
        }
    }

    fn fetched(
        &mut self,
        node: i32,
        mut resp: FetchResponse,
        sent_generations: &HashMap<TopicPartition, u64>,
    ) {
        let usable = match self.sessions.get_mut(&node) {
            Some(s) => s.handle_response(resp.error_code, resp.session_id),
            None => resp.error_code.is_ok(),
        };
        if !usable {
            debug!(node, error = %resp.error_code, "fetch rejected");
            let backoff = self.client.config().reconnect_backoff;
            self.backoff
                .insert(node, tokio::time::Instant::now() + backoff);
            if resp.error_code.needs_metadata_refresh() {
                self.refresh_metadata();
            }
            return;
        }
        let meta = self.client.metadata();
        tracing::trace!(
            node,
            session = resp.session_id,
            topics = resp.responses.len(),
            "fetch response"
        );
        let mut work = Vec::new();
        let mut early = true;
        let endpoints = std::mem::take(&mut resp.node_endpoints);
        for topic in resp.responses {
            let Some(name) = topic_name(&meta, &topic) else {
                tracing::trace!(topic_id = %topic.topic_id, "response for an unknown topic id");
                continue;
            };
            for p in topic.partitions {
                let tp = TopicPartition {
                    topic: name.clone(),
                    partition: p.partition_index,
                };
                // KIP-951: a failed partition may name its new leader.
                let l = &p.current_leader;
                let hint = LeaderHint::named(l.leader_id, l.leader_epoch);
                match self
                    .judge(node, &tp, &p, sent_generations)
                    .with_leader(hint)
                {
                    PartitionVerdict::Decode { position, early: e } => {
                        early &= e;
                        work.push(FetchedPartition {
                            tp,
                            position,
                            records: p.records.unwrap_or_default(),
                            aborted: p.aborted_transactions,
                        });
                    }
                    verdict => self.partition_failed(&tp, verdict, &endpoints),
                }
            }
        }
        if early {
            // The batch headers gave every next position: the next fetch
            // goes out while these records are decoded.
            self.tick();
        }
        for w in work {
            self.deliver(node, w);
        }
    }

    /// What one partition of a response means, from kafkit-core's fetch
    /// state machine; partitions seeked, reassigned, paused or waiting to
    /// be read again meanwhile are skipped.
    /// A leader's answer naming a preferred read replica (KIP-392) sends
    /// the partition's next fetches there.
    fn judge(
        &mut self,
        node: i32,
        tp: &TopicPartition,
        p: &FetchPartitionResponse,
        sent_generations: &HashMap<TopicPartition, u64>,
    ) -> PartitionVerdict {
        let max_age = self.client.config().metadata_max_age;
        let Some(state) = self.parts.get_mut(tp) else {
            return PartitionVerdict::Nothing;
        };
        let now = tokio::time::Instant::now();
        let retrying = state.retry_at.is_some_and(|t| t > now);
        if sent_generations.get(tp) != Some(&state.generation) || state.paused || retrying {
            return PartitionVerdict::Nothing;
        }
        if !p.error_code.is_ok() {
            state.read_replica = None; // back to the leader (KIP-392)
        } else if p.preferred_read_replica >= 0 && p.preferred_read_replica != node {
            debug!(topic = %tp.topic, partition = tp.partition, replica = p.preferred_read_replica, "fetching from the preferred read replica");
            state.read_replica = Some((p.preferred_read_replica, now + max_age));
            return PartitionVerdict::Nothing;
        }
        let before = state.fetch.position;
        let records = p.records.as_deref();
        let verdict = state
            .fetch
            .on_partition(p.error_code, p.high_watermark, records);
        if p.error_code.is_ok() {
            if let Some(at) = state.fetch.position.or(before) {
                self.shared.stats.watermark(tp, p.high_watermark, at);
            }
        }
        verdict
    }

    /// Acts on a partition that yielded no records to decode. `endpoints`:
    /// the brokers the response listed, for a new leader it named (KIP-951).
    fn partition_failed(
        &mut self,
        tp: &TopicPartition,
        verdict: PartitionVerdict,
        endpoints: &[NodeEndpoint],
    ) {
        match verdict {
            PartitionVerdict::OutOfRange { position } => {
                warn!(topic = %tp.topic, partition = tp.partition, position, "offset out of range");
                if self.cfg.offset_reset != OffsetReset::None {
                    return;
                }
                let _ = self.out.send(Delivery::Error(Error::broker(
                    ErrorCode::OFFSET_OUT_OF_RANGE,
                    ApiKey::FETCH,
                    format!(" for {}/{} at offset {position}", tp.topic, tp.partition),
                )));
                if let Some(state) = self.parts.get_mut(tp) {
                    state.paused = true;
                }
            }
            PartitionVerdict::Failed {
                code,
                refresh,
                leader,
            } => {
                debug!(topic = %tp.topic, partition = tp.partition, error = %code, ?leader, "fetch partition error");
                if self
                    .client
                    .needs_refresh_after(tp, refresh, leader, endpoints)
                {
                    self.refresh_metadata();
                }
            }
            PartitionVerdict::Nothing | PartitionVerdict::Decode { .. } => {}
        }
    }

    /// Decodes one fetched partition and hands its records to the application.
    fn deliver(&mut self, node: i32, w: FetchedPartition) {
        let Some(state) = self.parts.get_mut(&w.tp) else {
            return;
        };
        let read_committed =
            self.cfg.isolation_level == super::config::IsolationLevel::ReadCommitted;
        let aborted = read_committed.then(|| w.aborted.as_deref().unwrap_or(&[]));
        match decode_partition(
            &state.topic,
            w.tp.partition,
            w.position,
            w.records,
            aborted,
            &self.options,
        ) {
            Ok(decoded) => {
                tracing::trace!(topic = %w.tp.topic, partition = w.tp.partition, position = w.position, records = decoded.records.len(), next = decoded.next_position, "fetched");
                state.fetch.on_decoded(decoded.next_position);
                let last = decoded.records.last().map(|r| r.offset);
                self.shared.processed_slot(&w.tp).on_decoded(
                    w.position,
                    last,
                    decoded.next_position,
                );
                if !decoded.records.is_empty() {
                    let bytes = decoded.memory;
                    self.shared.stats.delivered(decoded.records.len(), bytes);
                    self.shared.add_buffered(bytes);
                    let _ = self.out.send(Delivery::Records {
                        tp: w.tp,
                        generation: state.generation,
                        bytes,
                        records: decoded.records,
                    });
                }
            }
            Err(source) => {
                // A corrupt or oversized batch: report it, stay before it,
                // drop the connection it came on (a fetch sent early on it
                // dies with it) and read the same offset again a little
                // later (as Java's consumer does on its next poll).
                let broker = self.client.pool().broker_addr(node).map_or_else(
                    || format!("node {node}"),
                    |addr| format!("{addr} (node {node})"),
                );
                warn!(broker = %broker, topic = %w.tp.topic, partition = w.tp.partition, position = w.position, error = %source, "unreadable record batch");
                state.fetch.on_unreadable(w.position);
                state.retry_at = Some(tokio::time::Instant::now() + UNREADABLE_BATCH_BACKOFF);
                if let Some(conn) = self.conns.remove(&node) {
                    conn.close();
                }
                if let Some(s) = self.sessions.get_mut(&node) {
                    s.reset();
                }
                let _ = self.out.send(Delivery::Error(Error::BadResponse {
                    broker,
                    api: ApiKey::FETCH,
                    source,
                }));
            }
        }
    }

    /// Starts offset resets, connections and fetches that can run now.
    fn tick(&mut self) {
        self.start_resets();
        if self.shared.buffered() >= self.cfg.max_buffered_bytes {
            return;
        }
        let now = tokio::time::Instant::now();
        self.backoff.retain(|_, t| *t > now);
        let meta = self.client.metadata();
        let mut wanted: BTreeMap<i32, BTreeMap<TopicPartition, PartitionFetch>> = BTreeMap::new();
        let mut missing_leader = false;
        for (tp, p) in &self.parts {
            let Some(position) = p.fetch.position else {
                continue;
            };
            if p.paused || p.retry_at.is_some_and(|t| t > now) {
                continue;
            }
            let Some(leader) = meta.leader(&tp.topic, tp.partition) else {
                missing_leader = true;
                continue;
            };
            let leader = match p.read_replica {
                Some((replica, until)) if until > now => replica,
                _ => leader,
            };
            let epoch = meta
                .topic(&tp.topic)
                .and_then(|t| t.partition(tp.partition))
                .map_or(-1, |m| m.leader_epoch);
            wanted.entry(leader).or_default().insert(
                tp.clone(),
                PartitionFetch {
                    offset: position,
                    leader_epoch: epoch,
                    max_bytes: self.cfg.max_partition_fetch_bytes,
                },
            );
        }
        if missing_leader {
            self.refresh_metadata();
        }
        for (node, partitions) in wanted {
            if self.fetching.contains(&node) || self.backoff.contains_key(&node) {
                continue;
            }
            match self.conns.get(&node).filter(|c| !c.is_closed()).cloned() {
                Some(conn) => self.start_fetch(node, conn, &partitions),
                None => self.connect(node),
            }
        }
    }
}

/// The name of a response topic: its name, or (Fetch v13+) the name the
/// metadata gives its id.
fn topic_name(meta: &ClusterMetadata, topic: &FetchTopicResponse) -> Option<String> {
    if topic.topic.is_empty() {
        meta.topics
            .values()
            .find(|t| t.id == topic.topic_id && !t.id.is_zero())
            .map(|t| t.name.clone())
    } else {
        Some(topic.topic.clone())
    }
}
