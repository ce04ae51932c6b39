//! The async shell around the sans-IO KIP-848 [`ConsumerMember`] (the
//! consumer's group driver when `group_protocol` is
//! [`GroupProtocol::Consumer`](super::GroupProtocol::Consumer)): it sends
//! the member's heartbeats (at the interval the coordinator names), commits
//! and reads offsets with the member epoch (`group848_offsets.rs`), turns
//! the member's reconciliation into fetcher assignments — revoke first,
//! committing the processed offsets of the revoked partitions before the
//! member acknowledges, then assign — and reports the same
//! [`ConsumerEvent`]s as the classic driver (`group.rs`).
//!
//! Spec: KIP-848 (the next generation of the consumer rebalance protocol).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use super::events::ConsumerEvent;
use super::fetcher::Command as FetchCommand;
use super::group::GroupCommand;
use super::group848_io::{Done, Route};
use super::group848_offsets::{
    as_offsets, commit_outcome, commit_request, fetch_outcome, fetch_request, Committed, Fetch,
    FetchPurpose, Member, OffsetBook, Outcome,
};
use super::shared::Shared;
use crate::cluster::Client;
use crate::connection::BrokerConnection;
use crate::error::{Error, Result};
use crate::group::consumer_member::{
    ConsumerMember, ConsumerMemberEvent, ConsumerMemberResponse, ConsumerOutbound,
};
use crate::group::{Offsets, Target, TopicPartition};

/// What the driver needs besides the member.
pub(crate) struct Wiring {
    pub client: Client,
    pub fetch: mpsc::UnboundedSender<FetchCommand>,
    pub shared: Arc<Shared>,
    pub events: mpsc::UnboundedSender<ConsumerEvent>,
    pub auto_commit: Option<Duration>,
    pub group_id: String,
    pub instance_id: Option<String>,
}

pub(crate) struct Driver848 {
    w: Wiring,
    member: ConsumerMember,
    conn: Option<(i32, BrokerConnection)>,
    done_tx: mpsc::UnboundedSender<Done>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    tasks: JoinSet<()>,
    book: OffsetBook,
    /// The commit a revocation waits for before the member may go on.
    revoke_commit: Option<u64>,
    /// Partitions assigned since the last reconciled epoch.
    added: Vec<TopicPartition>,
    last_committed: HashMap<TopicPartition, i64>,
    close_waiters: Vec<oneshot::Sender<()>>,
}

impl Driver848 {
    pub fn new(w: Wiring, member: ConsumerMember) -> Self {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let timeout = w.client.config().request_timeout;
        Self {
            book: OffsetBook::new(timeout, Duration::from_millis(100)),
            w,
            member,
            conn: None,
            done_tx,
            done_rx,
            tasks: JoinSet::new(),
            revoke_commit: None,
            added: Vec::new(),
            last_committed: HashMap::new(),
            close_waiters: Vec::new(),
        }
    }

    pub async fn run(mut self, mut commands: mpsc::UnboundedReceiver<GroupCommand>) {
        let mut auto_commit = self.w.auto_commit.map(|p| {
            let mut t = tokio::time::interval(p);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        if let Err(e) = self.member.join(Instant::now()) {
            warn!(error = %e, "join refused");
        }
        loop {
            self.pump();
            if self.member.is_done() {
                break;
            }
            let deadline = [self.member.poll_timeout(), self.book.next_wakeup()]
                .into_iter()
                .flatten()
                .min()
                .map(tokio::time::Instant::from_std);
            tokio::select! {
                Some(done) = self.done_rx.recv() => self.done(done),
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => self.leave(),
                },
                _ = sleep_until(deadline) => self.timer(),
                _ = tick(&mut auto_commit) => self.auto_commit_now(),
            }
        }
        self.tasks.abort_all();
        self.book.abort();
        for w in self.close_waiters.drain(..) {
            let _ = w.send(());
        }
    }

    fn timer(&mut self) {
        let now = Instant::now();
        self.member.handle_timeout(now);
        for (fetch, result) in self.book.expire(now) {
            self.fetch_finished(fetch, result, now);
        }
    }

    fn leave(&mut self) {
        if let Err(e) = self.member.leave(Instant::now()) {
            debug!(error = %e, "leave refused");
        }
    }

    fn command(&mut self, cmd: GroupCommand) {
        let now = Instant::now();
        match cmd {
            GroupCommand::Commit(offsets, reply) => {
                let offsets = offsets.unwrap_or_else(|| self.processed(None));
                self.remember_commit(&offsets);
                self.book.commit(offsets, Some(reply), now);
            }
            GroupCommand::Committed(partitions, reply) => {
                self.book.fetch(partitions, FetchPurpose::Query(reply), now);
            }
            GroupCommand::Close(done) => {
                self.close_waiters.push(done);
                self.leave();
            }
        }
    }

    /// Processed offsets (of `only`, or of everything owned) not committed yet.
    fn processed(&self, only: Option<&BTreeSet<TopicPartition>>) -> Offsets {
        let owned = self.member.owned();
        as_offsets(
            self.w
                .shared
                .processed()
                .into_iter()
                .filter(|(tp, _)| owned.contains(tp) && only.is_none_or(|o| o.contains(tp)))
                .filter(|(tp, off)| self.last_committed.get(tp) != Some(off)),
        )
    }

    fn remember_commit(&mut self, offsets: &Offsets) {
        for (tp, o) in offsets {
            self.last_committed.insert(tp.clone(), o.offset);
        }
    }

    fn auto_commit_now(&mut self) {
        let offsets = self.processed(None);
        if !offsets.is_empty() {
            self.remember_commit(&offsets);
            self.book.commit(offsets, None, Instant::now());
        }
    }

    /// Sends what the member and the offset book have due, and handles the
    /// member's events, until nothing moves.
    fn pump(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(out) = self.member.poll_request() {
                progressed = true;
                self.send_member(out);
            }
            while let Some(event) = self.member.poll_event() {
                progressed = true;
                self.event(event);
            }
            if self
                .revoke_commit
                .is_some_and(|id| !self.book.commit_pending(id))
            {
                // Its commit ended without an answer (deadline, lost partitions).
                progressed = true;
                self.revocation_done(Instant::now());
            }
            if !progressed {
                break;
            }
        }
        self.send_offsets();
    }

    fn route(&self, coordinator: Option<i32>) -> Route {
        let cached = match (&self.conn, coordinator) {
            (Some((id, conn)), Some(c)) if *id == c && !conn.is_closed() => Some(conn.clone()),
            _ => None,
        };
        Route {
            client: self.w.client.clone(),
            cached,
            done: self.done_tx.clone(),
            events: self.w.events.clone(),
        }
    }

    fn send_member(&mut self, out: ConsumerOutbound) {
        let target = match out.target {
            Target::Coordinator(c) => Some(c),
            Target::AnyBroker => None,
        };
        let route = self.route(target.as_ref().map(|c| c.node_id));
        let done = self.done_tx.clone();
        self.tasks.spawn(async move {
            let r = route.member(target, out.request, out.timeout).await;
            let _ = done.send(Done::Member(out.id, r));
        });
    }

    /// Sends the due commits and fetches, with the member id and epoch of
    /// now, once the member has a coordinator and an epoch.
    fn send_offsets(&mut self) {
        let Some(c) = self.member.coordinator().cloned() else {
            return;
        };
        if self.member.epoch() <= 0 || self.member.is_done() {
            return;
        }
        let now = Instant::now();
        let timeout = self.w.client.config().request_timeout;
        let m = Member {
            group_id: &self.w.group_id,
            member_id: self.member.member_id(),
            epoch: self.member.epoch(),
            instance_id: self.w.instance_id.as_deref(),
        };
        let commits: Vec<_> = self
            .book
            .due_commits(now)
            .into_iter()
            .map(|(id, offsets)| (id, commit_request(&m, &offsets)))
            .collect();
        let fetches: Vec<_> = self
            .book
            .due_fetches(now)
            .into_iter()
            .map(|(id, parts)| (id, fetch_request(&m, &parts)))
            .collect();
        let route = self.route(Some(c.node_id));
        for (id, req) in commits {
            let (route, c, done) = (route.clone(), c.clone(), self.done_tx.clone());
            self.tasks.spawn(async move {
                let (broker, r) = route.commit(c, req, timeout).await;
                let _ = done.send(Done::Commit(id, broker, r));
            });
        }
        for (id, req) in fetches {
            let (route, c, done) = (route.clone(), c.clone(), self.done_tx.clone());
            self.tasks.spawn(async move {
                let (broker, r) = route.fetch(c, req, timeout).await;
                let _ = done.send(Done::Fetch(id, broker, r));
            });
        }
    }

    fn done(&mut self, done: Done) {
        let now = Instant::now();
        match done {
            Done::Coordinator(id, conn) => self.conn = Some((id, conn)),
            Done::Member(id, result) => self.member_answered(id, result, now),
            Done::Commit(id, broker, result) => {
                let outcome = match result {
                    Ok(r) => commit_outcome(&r, &broker),
                    Err(e) => self.transport_failed(e, now),
                };
                self.commit_answered(id, outcome, now);
            }
            Done::Fetch(id, broker, result) => {
                let outcome = match result {
                    Ok(r) => {
                        let wanted = self.book.fetch_partitions(id).unwrap_or_default();
                        fetch_outcome(&r, &self.w.group_id, &wanted, &broker)
                    }
                    Err(e) => self.transport_failed(e, now),
                };
                if matches!(outcome, Outcome::CoordinatorMoved) {
                    self.member.coordinator_moved(now);
                }
                if let Some((fetch, result)) = self.book.fetch_answered(id, outcome, now) {
                    self.fetch_finished(fetch, result, now);
                }
            }
        }
    }

    /// A commit or fetch failed in transport: retried (on a new connection
    /// after a broken one); a version too old for the protocol is final.
    fn transport_failed<T>(&mut self, e: Error, now: Instant) -> Outcome<Result<T>> {
        match e {
            Error::Disconnected { .. } | Error::Io { .. } | Error::Timeout { .. } => {
                self.conn = None;
                let _ = self.w.events.send(ConsumerEvent::Disconnected { error: e });
                self.member.coordinator_moved(now);
                Outcome::CoordinatorMoved
            }
            Error::UnsupportedVersion { .. } | Error::UnsupportedApi { .. } => {
                Outcome::Done(Err(e))
            }
            _ => Outcome::Retry,
        }
    }

    fn commit_answered(&mut self, id: u64, outcome: Outcome<Result<()>>, now: Instant) {
        if matches!(outcome, Outcome::CoordinatorMoved) {
            self.member.coordinator_moved(now);
        }
        let Some(result) = self.book.commit_answered(id, outcome, now) else {
            return;
        };
        match &result {
            Ok(()) => debug!(id, "offsets committed"),
            Err(e) => {
                warn!(error = %e, "commit failed");
                // Let a later commit retry these partitions.
                self.last_committed.clear();
            }
        }
        if self.revoke_commit == Some(id) {
            self.revocation_done(now);
        }
    }

    fn member_answered(
        &mut self,
        id: crate::group::RequestId,
        result: Result<ConsumerMemberResponse>,
        now: Instant,
    ) {
        let r = match result {
            Ok(resp) => self.member.handle_response(id, resp, now),
            Err(e) => {
                if matches!(
                    e,
                    Error::Disconnected { .. } | Error::Io { .. } | Error::Timeout { .. }
                ) {
                    self.conn = None;
                    let _ = self.w.events.send(ConsumerEvent::Disconnected { error: e });
                } else {
                    debug!(error = %e, "group request failed");
                }
                self.member.handle_error(id, now)
            }
        };
        if let Err(e) = r {
            warn!(error = %e, "group member rejected an input");
        }
    }

    fn event(&mut self, event: ConsumerMemberEvent) {
        debug!(member = %self.member.member_id(), ?event, "group event");
        let now = Instant::now();
        match event {
            ConsumerMemberEvent::Joined { member_id, epoch } => {
                info!(%member_id, epoch, "joined the consumer group");
            }
            ConsumerMemberEvent::CommitNeeded(partitions) => {
                self.commit_before_revoke(partitions, now);
            }
            ConsumerMemberEvent::Revoked(partitions) => {
                self.drop_partitions(&partitions);
                let _ = self.w.events.send(ConsumerEvent::Revoked {
                    partitions: partitions.into_iter().collect(),
                });
            }
            ConsumerMemberEvent::Assigned(partitions) => self.assigned(partitions, now),
            ConsumerMemberEvent::Lost(partitions) => {
                self.drop_partitions(&partitions);
                self.book.forget(&partitions);
                let _ = self.w.events.send(ConsumerEvent::Lost {
                    partitions: partitions.into_iter().collect(),
                    reason: "fenced or unknown member: rejoining from epoch 0".to_owned(),
                });
            }
            ConsumerMemberEvent::Reconciled { epoch } => {
                info!(epoch, added = self.added.len(), "assignment reconciled");
                let _ = self.w.events.send(ConsumerEvent::Assigned {
                    partitions: std::mem::take(&mut self.added),
                    generation_id: epoch,
                });
            }
            ConsumerMemberEvent::Left => debug!("left the consumer group"),
            ConsumerMemberEvent::Fatal {
                error_code,
                message,
            } => self.fatal(error_code, message),
            other => debug!(?other, "group event not handled"),
        }
    }

    fn fatal(&mut self, code: crate::protocol::ErrorCode, message: Option<String>) {
        let context = format!(
            ": the consumer is out of its group{}",
            message.map(|m| format!(" ({m})")).unwrap_or_default()
        );
        let error = Error::Broker {
            version: None,
            broker: None,
            code,
            api: crate::protocol::ApiKey::CONSUMER_GROUP_HEARTBEAT,
            context,
        };
        let _ = self.w.events.send(ConsumerEvent::Crashed {
            error: error.clone(),
            retriable: false,
        });
        let _ = self.w.fetch.send(FetchCommand::Fail(error));
    }

    /// Pauses the partitions about to be revoked and commits what was
    /// processed of them; the member goes on once that commit finished.
    fn commit_before_revoke(&mut self, partitions: BTreeSet<TopicPartition>, now: Instant) {
        for tp in &partitions {
            self.w.shared.set_generation(tp.clone(), None);
        }
        let _ = self.w.fetch.send(FetchCommand::Pause(
            partitions.iter().cloned().collect(),
            true,
        ));
        let offsets = self.processed(Some(&partitions));
        self.remember_commit(&offsets);
        match self.book.commit(offsets, None, now) {
            Some(id) => {
                debug!(id, count = partitions.len(), "commit before revoke");
                self.revoke_commit = Some(id);
                // Sent at once, while the member still has its epoch.
                self.send_offsets();
            }
            None => self.revocation_done(now),
        }
    }

    fn revocation_done(&mut self, now: Instant) {
        self.revoke_commit = None;
        if let Err(e) = self.member.revocation_done(now) {
            debug!(error = %e, "revocation no longer awaited");
        }
    }

    /// Reads the committed offsets of newly owned partitions; the fetcher
    /// starts there.
    fn assigned(&mut self, partitions: BTreeSet<TopicPartition>, now: Instant) {
        info!(
            count = partitions.len(),
            epoch = self.member.epoch(),
            "partitions assigned"
        );
        self.added.extend(partitions.iter().cloned());
        if !partitions.is_empty() {
            self.book.fetch(partitions, FetchPurpose::Assign, now);
        }
    }

    fn fetch_finished(&mut self, fetch: Fetch, result: Result<Committed>, now: Instant) {
        match fetch.purpose {
            FetchPurpose::Query(reply) => {
                let _ = reply.send(result);
            }
            FetchPurpose::Assign => match result {
                Ok(map) => {
                    let owned = self.member.owned();
                    let list: Vec<(TopicPartition, Option<i64>)> = map
                        .into_iter()
                        .filter(|(tp, _)| owned.contains(tp))
                        .inspect(|(tp, off)| {
                            if let Some(off) = off {
                                self.last_committed.insert(tp.clone(), *off);
                            }
                        })
                        .collect();
                    let _ = self.w.fetch.send(FetchCommand::Assign(list));
                }
                Err(e) => {
                    warn!(error = %e, "reading committed offsets failed; retrying");
                    let owned = self.member.owned();
                    let still: BTreeSet<_> =
                        fetch.partitions.intersection(&owned).cloned().collect();
                    if !still.is_empty() {
                        self.book.fetch(still, FetchPurpose::Assign, now);
                    }
                }
            },
        }
    }

    fn drop_partitions(&mut self, partitions: &BTreeSet<TopicPartition>) {
        for tp in partitions {
            self.last_committed.remove(tp);
        }
        self.added.retain(|tp| !partitions.contains(tp));
        let _ = self
            .w
            .fetch
            .send(FetchCommand::Unassign(partitions.iter().cloned().collect()));
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
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

/// The KIP-848 member for a consumer with this configuration.
pub(crate) fn member_for(
    config: &super::ConsumerConfig,
    client: &Client,
    group_id: &str,
    subscription: crate::group::consumer_member::Subscription,
) -> ConsumerMember {
    use crate::group::consumer_member::ConsumerMemberConfig;
    let mut cfg = ConsumerMemberConfig::new(group_id, new_member_id(), subscription);
    cfg.instance_id = config.group_instance_id.clone();
    cfg.rack_id = config.rack.clone();
    cfg.server_assignor = config.group_remote_assignor.clone();
    cfg.rebalance_timeout = config.rebalance_timeout;
    cfg.heartbeat_interval = config.heartbeat_interval;
    cfg.request_timeout = client.config().request_timeout;
    ConsumerMember::new(cfg)
}

/// A random member id (KIP-1082: the client makes its own), 32 hex digits.
fn new_member_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut halves = [0u64; 2];
    for (i, h) in halves.iter_mut().enumerate() {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_usize(i);
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        *h = hasher.finish();
    }
    format!("{:016x}{:016x}", halves[0], halves[1])
}
