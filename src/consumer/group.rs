//! The async shell around the sans-IO [`GroupMember`]: it sends the
//! member's requests (group traffic on its own coordinator connection, so it
//! never waits behind fetches), turns its events into fetcher assignments
//! and commits, commits processed offsets periodically, and reports
//! lifecycle events to the application.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use super::events::ConsumerEvent;
use super::fetcher::Command as FetchCommand;
use super::group_call::Call;
use super::shared::Shared;
use crate::cluster::Client;
use crate::connection::BrokerConnection;
use crate::error::{Error, Result};
use crate::group::{
    GroupEvent, GroupMember, GroupResponse, OffsetAndMetadata, OffsetError, Offsets, Outbound,
    Target, TopicPartition,
};
use crate::protocol::ApiKey;

/// Requests from the consumer handle.
#[derive(Debug)]
pub(crate) enum GroupCommand {
    /// Commit these offsets (or, with `None`, everything processed).
    Commit(Option<Offsets>, oneshot::Sender<Result<()>>),
    /// Committed offsets of partitions.
    Committed(
        BTreeSet<TopicPartition>,
        oneshot::Sender<Result<BTreeMap<TopicPartition, Option<i64>>>>,
    ),
    /// Leave the group (committing first) and stop.
    Close(oneshot::Sender<()>),
}

/// Completions of the driver's background work.
enum Done {
    /// A request went out to this broker at this version (before its
    /// `Response`: both come from the same task, in order).
    Sent(crate::group::RequestId, String, i16),
    Response(crate::group::RequestId, Result<GroupResponse>),
    /// A new coordinator connection, to reuse for later group requests.
    Coordinator(i32, BrokerConnection),
    /// Partition counts the leader asked for.
    Metadata(Vec<(String, i32)>),
}

pub(crate) struct GroupDriver {
    client: Client,
    member: GroupMember,
    fetch: mpsc::UnboundedSender<FetchCommand>,
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<ConsumerEvent>,
    auto_commit: Option<std::time::Duration>,
    coordinator: Option<(i32, BrokerConnection)>,
    done_tx: mpsc::UnboundedSender<Done>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    tasks: JoinSet<()>,
    commits: HashMap<crate::group::CommitId, Vec<oneshot::Sender<Result<()>>>>,
    fetches: HashMap<crate::group::OffsetFetchId, FetchPurpose>,
    last_committed: HashMap<TopicPartition, i64>,
    seen_polls: u64,
    close_waiters: Vec<oneshot::Sender<()>>,
    errors: super::group_report::GroupErrors,
}

enum FetchPurpose {
    Assign,
    Query(oneshot::Sender<Result<BTreeMap<TopicPartition, Option<i64>>>>),
}

impl GroupDriver {
    pub fn new(
        client: Client,
        member: GroupMember,
        fetch: mpsc::UnboundedSender<FetchCommand>,
        shared: Arc<Shared>,
        events: mpsc::UnboundedSender<ConsumerEvent>,
        auto_commit: Option<std::time::Duration>,
    ) -> Self {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        Self {
            client,
            member,
            fetch,
            shared,
            events,
            auto_commit,
            coordinator: None,
            done_tx,
            done_rx,
            tasks: JoinSet::new(),
            commits: HashMap::new(),
            fetches: HashMap::new(),
            last_committed: HashMap::new(),
            seen_polls: 0,
            close_waiters: Vec::new(),
            errors: Default::default(),
        }
    }

    pub async fn run(mut self, mut commands: mpsc::UnboundedReceiver<GroupCommand>) {
        let mut auto_commit = self.auto_commit.map(|p| {
            let mut t = tokio::time::interval(p);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        let mut poll_check = tokio::time::interval(std::time::Duration::from_millis(50));
        loop {
            self.pump();
            if self.member.is_closed() {
                break;
            }
            let deadline = self.member.poll_timeout();
            tokio::select! {
                Some(done) = self.done_rx.recv() => self.done(done),
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => {
                        let _ = self.member.close(Instant::now());
                    }
                },
                _ = sleep_until(deadline) => self.member.handle_timeout(Instant::now()),
                _ = tick(&mut auto_commit) => self.auto_commit_now(),
                _ = poll_check.tick() => self.note_polls(),
            }
        }
        self.tasks.abort_all();
        // `Consumer::close` reports `Stopped` once, group or not.
        for w in self.close_waiters.drain(..) {
            let _ = w.send(());
        }
    }

    fn done(&mut self, done: Done) {
        let now = Instant::now();
        match done {
            Done::Coordinator(id, conn) => self.coordinator = Some((id, conn)),
            Done::Sent(id, broker, version) => {
                self.errors.sent(id, &broker);
                if let Err(e) = self.member.sent(id, &broker, version) {
                    debug!(error = %e, "sent: request no longer outstanding");
                }
            }
            Done::Metadata(counts) => {
                if let Err(e) = self.member.set_metadata(counts, now) {
                    debug!(error = %e, "metadata not needed any more");
                }
            }
            Done::Response(id, result) => {
                self.errors.observe(id, result.as_ref().ok());
                let r = match result {
                    Ok(resp) => {
                        tracing::trace!(member = %self.member.member_id(), ?resp, "group response");
                        self.member.handle_response(id, resp, now)
                    }
                    Err(e) => {
                        if matches!(
                            e,
                            Error::Disconnected { .. } | Error::Io { .. } | Error::Timeout { .. }
                        ) {
                            self.coordinator = None;
                            let _ = self
                                .events
                                .send(ConsumerEvent::Disconnected { error: e.clone() });
                        }
                        self.member.handle_error(id, &e, now)
                    }
                };
                if let Err(e) = r {
                    warn!(error = %e, "group member rejected an input");
                }
            }
        }
    }

    fn note_polls(&mut self) {
        let polls = self.shared.polls.load(Ordering::Acquire);
        // An application waiting in `recv` is polling, as in Java's `poll`.
        if polls != self.seen_polls || self.shared.waiting.load(Ordering::Acquire) {
            self.seen_polls = polls;
            if let Err(e) = self.member.poll(Instant::now()) {
                debug!(error = %e, "poll refused");
            }
        }
    }

    fn command(&mut self, cmd: GroupCommand) {
        let now = Instant::now();
        match cmd {
            GroupCommand::Commit(offsets, reply) => {
                let offsets = offsets.unwrap_or_else(|| self.processed(None));
                match self.member.commit(offsets.clone(), now) {
                    Ok(id) => {
                        self.remember_commit(&offsets);
                        self.commits.entry(id).or_default().push(reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(Error::from(e)));
                    }
                }
            }
            GroupCommand::Committed(partitions, reply) => {
                match self.member.fetch_committed(partitions, now) {
                    Ok(id) => {
                        self.fetches.insert(id, FetchPurpose::Query(reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(Error::from(e)));
                    }
                }
            }
            GroupCommand::Close(done) => {
                self.close_waiters.push(done);
                if let Err(e) = self.member.close(now) {
                    warn!(error = %e, "close refused");
                }
            }
        }
    }

    /// Processed offsets (of `only`, or of everything owned) not committed yet.
    fn processed(&self, only: Option<&BTreeSet<TopicPartition>>) -> Offsets {
        let owned = self.member.assignment();
        self.shared
            .processed()
            .into_iter()
            .filter(|(tp, _)| owned.contains(tp) && only.is_none_or(|o| o.contains(tp)))
            .filter(|(tp, off)| self.last_committed.get(tp) != Some(off))
            .map(|(tp, off)| (tp, OffsetAndMetadata::new(off)))
            .collect()
    }

    fn remember_commit(&mut self, offsets: &Offsets) {
        for (tp, o) in offsets {
            self.last_committed.insert(tp.clone(), o.offset);
        }
    }

    fn auto_commit_now(&mut self) {
        let offsets = self.processed(None);
        if offsets.is_empty() {
            return;
        }
        match self.member.commit(offsets.clone(), Instant::now()) {
            Ok(id) => {
                debug!(?id, offsets = ?offsets_summary(&offsets), "auto-commit");
                self.remember_commit(&offsets);
            }
            Err(e) => debug!(error = %e, "auto-commit skipped"),
        }
    }

    /// Sends every queued request and handles every queued event.
    fn pump(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(out) = self.member.poll_request() {
                progressed = true;
                self.send(out);
            }
            while let Some(event) = self.member.poll_event() {
                progressed = true;
                self.event(event);
            }
            if !progressed {
                return;
            }
        }
    }

    fn event(&mut self, event: GroupEvent) {
        debug!(member = %self.member.member_id(), ?event, "group event");
        self.shared
            .set_member(self.member.generation_id(), self.member.member_id());
        let now = Instant::now();
        match event {
            GroupEvent::MetadataNeeded { topics } => {
                self.count_partitions(topics);
            }
            GroupEvent::CommitNeeded { partitions, .. } => {
                self.commit_before_revoke(partitions, now);
            }
            GroupEvent::Assigned {
                partitions,
                generation_id,
            } => {
                self.assigned(partitions, generation_id, now);
            }
            GroupEvent::Revoked { partitions } => {
                self.drop_partitions(&partitions);
                let _ = self.events.send(ConsumerEvent::Revoked {
                    partitions: partitions.into_iter().collect(),
                });
            }
            GroupEvent::Lost { partitions, reason } => {
                self.drop_partitions(&partitions);
                let _ = self.events.send(ConsumerEvent::Lost {
                    partitions: partitions.into_iter().collect(),
                    reason: format!("{reason:?}"),
                });
            }
            GroupEvent::Rebalancing { reason } => {
                let _ = self.events.send(ConsumerEvent::Rebalancing {
                    reason: reason.to_string(),
                });
            }
            GroupEvent::CommitCompleted { id, result } => {
                self.commit_completed(id, result);
            }
            GroupEvent::OffsetsFetched { id, result } => self.offsets_fetched(id, result, now),
            GroupEvent::PollTimeoutExpired => {
                warn!("max poll interval exceeded: leaving the group until the next poll");
                let _ = self.events.send(ConsumerEvent::PollTimeoutExpired);
            }
            GroupEvent::LeftGroup { error } => {
                debug!(%error, "left the group");
            }
            GroupEvent::RequestDropped(d) => {
                warn!(
                    broker = %d.broker,
                    api = %d.api,
                    version = d.version,
                    attempts = d.attempts,
                    next_version = ?d.next_version,
                    "{d}"
                );
                let _ = self.events.send(ConsumerEvent::RequestDropped(d));
            }
            GroupEvent::Fatal(e) => {
                let _ = self.events.send(ConsumerEvent::Crashed {
                    error: fatal_error(e.clone()),
                    retriable: false,
                });
                // An application that only calls `recv` must learn it too:
                // Apache Kafka refuses a session timeout outside its
                // group.{min,max}.session.timeout.ms with a JoinGroup error,
                // and without this the consumer waited for records forever.
                let _ = self.fetch.send(FetchCommand::Fail(fatal_error(e)));
            }
            GroupEvent::Closed => {}
            other => debug!(?other, "group event not handled"),
        }
    }

    /// Partition counts of the subscribed topics, for the assignor (a task: a metadata refresh may take a while).
    fn count_partitions(&mut self, topics: BTreeSet<String>) {
        let client = self.client.clone();
        let done = self.done_tx.clone();
        self.tasks.spawn(async move {
            client.track_topics(topics.iter().cloned());
            if let Err(e) = client.refresh_metadata().await {
                debug!(error = %e, "metadata refresh before assigning failed");
            }
            let timeout = client.config().request_timeout;
            let mut counts = Vec::new();
            for t in topics {
                match client.topic(&t, timeout).await {
                    Ok(m) => {
                        counts.push((t, i32::try_from(m.partitions.len()).unwrap_or(i32::MAX)))
                    }
                    Err(e) => {
                        warn!(topic = %t, error = %e, "no metadata for a subscribed topic")
                    }
                }
            }
            let _ = done.send(Done::Metadata(counts));
        });
    }

    /// Pauses the partitions about to be revoked and commits what was processed of them.
    fn commit_before_revoke(&mut self, partitions: BTreeSet<TopicPartition>, now: Instant) {
        // Stop handing out their records before reading what was processed.
        for tp in &partitions {
            self.shared.set_generation(tp.clone(), None);
        }
        let _ = self.fetch.send(FetchCommand::Pause(
            partitions.iter().cloned().collect(),
            true,
        ));
        let offsets = self.processed(Some(&partitions));
        match self.member.commit(offsets.clone(), now) {
            Ok(id) => {
                debug!(?id, offsets = ?offsets_summary(&offsets), "commit before revoke");
                self.remember_commit(&offsets);
            }
            Err(e) => warn!(error = %e, "commit before revoke refused"),
        }
    }

    /// Reports an assignment and reads the committed offsets of its partitions.
    fn assigned(&mut self, partitions: BTreeSet<TopicPartition>, generation_id: i32, now: Instant) {
        info!(
            count = partitions.len(),
            generation_id, "partitions assigned"
        );
        self.shared.stats.rebalanced();
        let _ = self.events.send(ConsumerEvent::Assigned {
            partitions: partitions.iter().cloned().collect(),
            generation_id,
        });
        if !partitions.is_empty() {
            match self.member.fetch_committed(partitions, now) {
                Ok(id) => {
                    self.fetches.insert(id, FetchPurpose::Assign);
                }
                Err(e) => warn!(error = %e, "offset fetch refused"),
            }
        }
    }

    /// Answers the callers waiting on commit `id`.
    fn commit_completed(
        &mut self,
        id: crate::group::CommitId,
        result: std::result::Result<(), OffsetError>,
    ) {
        if let Err(e) = &result {
            warn!(error = %e, "commit failed");
            // Let a later commit retry these partitions.
            self.last_committed.clear();
        }
        for reply in self.commits.remove(&id).unwrap_or_default() {
            let _ = reply.send(
                result
                    .clone()
                    .map_err(|e| offset_error(ApiKey::OFFSET_COMMIT, e)),
            );
        }
    }

    /// Hands fetched committed offsets to the fetcher (after an assignment)
    /// or to the caller that asked.
    fn offsets_fetched(
        &mut self,
        id: crate::group::OffsetFetchId,
        result: std::result::Result<
            BTreeMap<TopicPartition, Option<OffsetAndMetadata>>,
            OffsetError,
        >,
        now: Instant,
    ) {
        match self.fetches.remove(&id) {
            Some(FetchPurpose::Assign) => match result {
                Ok(map) => {
                    let owned = self.member.assignment().clone();
                    let list: Vec<(TopicPartition, Option<i64>)> = map
                        .into_iter()
                        .filter(|(tp, _)| owned.contains(tp))
                        .map(|(tp, o)| {
                            let offset = o.map(|o| o.offset).filter(|o| *o >= 0);
                            if let Some(off) = offset {
                                self.last_committed.insert(tp.clone(), off);
                            }
                            (tp, offset)
                        })
                        .collect();
                    let _ = self.fetch.send(FetchCommand::Assign(list));
                }
                Err(e) => {
                    warn!(error = %e, "reading committed offsets failed; retrying");
                    let owned = self.member.assignment().clone();
                    if let Ok(id) = self.member.fetch_committed(owned, now) {
                        self.fetches.insert(id, FetchPurpose::Assign);
                    }
                }
            },
            Some(FetchPurpose::Query(reply)) => {
                let _ = reply.send(
                    result
                        .map(|m| {
                            m.into_iter()
                                .map(|(tp, o)| (tp, o.map(|o| o.offset)))
                                .collect()
                        })
                        .map_err(|e| offset_error(ApiKey::OFFSET_FETCH, e)),
                );
            }
            None => {}
        }
    }

    fn drop_partitions(&mut self, partitions: &BTreeSet<TopicPartition>) {
        for tp in partitions {
            self.last_committed.remove(tp);
        }
        let _ = self
            .fetch
            .send(FetchCommand::Unassign(partitions.iter().cloned().collect()));
    }

    fn send(&mut self, out: Outbound) {
        let client = self.client.clone();
        let coordinator = match &out.target {
            Target::Coordinator(c) => match &self.coordinator {
                Some((id, conn)) if *id == c.node_id && !conn.is_closed() => Some(Ok(conn.clone())),
                _ => None,
            },
            Target::AnyBroker => None,
        };
        let done = self.done_tx.clone();
        let events = self.events.clone();
        let target = out.target.clone();
        self.tasks.spawn(async move {
            let conn = match (coordinator, &target) {
                (Some(c), _) => c,
                (None, Target::Coordinator(c)) => {
                    let addr = format!("{}:{}", c.host, c.port);
                    let r = client
                        .pool()
                        .connect_dedicated(&addr, Some(c.node_id))
                        .await;
                    if let Ok(conn) = &r {
                        let _ = done.send(Done::Coordinator(c.node_id, conn.clone()));
                        let _ = events.send(ConsumerEvent::Connected { broker: addr });
                    }
                    r
                }
                (None, _) => client.pool().any().await,
            };
            let result = match conn {
                Err(e) => Err(e),
                Ok(conn) => {
                    let call = Call {
                        conn: &conn,
                        max_version: out.max_version,
                        timeout: out.timeout,
                        sent: |version| {
                            let addr = conn.addr().to_owned();
                            let _ = done.send(Done::Sent(out.id, addr, version));
                        },
                    };
                    match tokio::time::timeout(out.timeout, call.any(&out.request)).await {
                        Ok(r) => r,
                        Err(_) => Err(Error::Timeout {
                            broker: conn.addr().to_owned(),
                            api: out.request.api_key(),
                            timeout: out.timeout,
                        }),
                    }
                }
            };
            let _ = done.send(Done::Response(out.id, result));
        });
    }
}

/// `(partition, offset)` pairs for logs.
fn offsets_summary(offsets: &Offsets) -> Vec<(i32, i64)> {
    offsets
        .iter()
        .map(|(tp, o)| (tp.partition, o.offset))
        .collect()
}

/// The error `recv` returns after the group ended membership for good.
fn fatal_error(e: crate::group::GroupError) -> Error {
    match e {
        crate::group::GroupError::Broker { api, code } => {
            Error::broker(code, api, ": the consumer is out of its group".to_owned())
        }
        other => Error::Group(other),
    }
}

/// A failed commit (`api` = OffsetCommit) or committed-offset read
/// (`api` = OffsetFetch) as the caller sees it.
fn offset_error(api: ApiKey, e: OffsetError) -> Error {
    match e {
        OffsetError::Group(code) => Error::broker(code, api, ""),
        source => Error::Offsets { api, source },
    }
}

/// Sleeps until `at` (the member's clock, std's), converted for tokio's timer.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

async fn tick(t: &mut Option<tokio::time::Interval>) {
    match t {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}
