//! The member state machine of the next-generation consumer group protocol
//! (KIP-848), without I/O.
//!
//! The coordinator runs the assignor; the member only joins, heartbeats,
//! reconciles the target assignment each heartbeat response may carry, and
//! leaves, all through one API, ConsumerGroupHeartbeat.
//!
//! Spec: KIP-848 (the next generation of the consumer rebalance protocol),
//! KIP-1082 (client-generated member ids, ConsumerGroupHeartbeat v1).

mod handle;
mod reconcile;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use crate::protocol::messages::consumer_group_heartbeat::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, ConsumerGroupTopicPartitions,
};
use crate::protocol::{ErrorCode, Uuid};

use super::error::GroupError;
use super::wire::{Coordinator, RequestId, Target};
use super::TopicPartition;

/// The member epoch that joins a group.
pub const JOIN_EPOCH: i32 = 0;
/// The member epoch that leaves a group for good.
pub const LEAVE_EPOCH: i32 = -1;
/// The member epoch a static member leaves with, keeping its assignment for
/// its instance id until the session times out.
pub const STATIC_LEAVE_EPOCH: i32 = -2;

/// What the member subscribes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    /// These topic names.
    Topics(Vec<String>),
    /// Every topic matching this regular expression (RE2/J syntax), resolved
    /// by the coordinator; needs ConsumerGroupHeartbeat v1.
    Regex(String),
}

/// The member's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerMemberConfig {
    /// The group id.
    pub group_id: String,
    /// The member id the driver generated (v1 wants one, e.g. a random
    /// UUID); empty lets a v0 coordinator choose.
    pub member_id: String,
    /// The subscription.
    pub subscription: Subscription,
    /// Static membership instance id.
    pub instance_id: Option<String>,
    /// Rack id, for rack-aware server assignors.
    pub rack_id: Option<String>,
    /// The server-side assignor (`uniform`, `range`); `None` for the group's default.
    pub server_assignor: Option<String>,
    /// How long the member may take to revoke partitions.
    pub rebalance_timeout: Duration,
    /// Heartbeat interval until the coordinator names one.
    pub heartbeat_interval: Duration,
    /// Pause before retrying after a transport or retriable error.
    pub retry_backoff: Duration,
    /// The timeout the driver puts on each request.
    pub request_timeout: Duration,
}

impl ConsumerMemberConfig {
    /// A configuration with Kafka's defaults for everything but the group,
    /// member id and subscription.
    pub fn new(
        group_id: impl Into<String>,
        member_id: impl Into<String>,
        subscription: Subscription,
    ) -> Self {
        Self {
            group_id: group_id.into(),
            member_id: member_id.into(),
            subscription,
            instance_id: None,
            rack_id: None,
            server_assignor: None,
            rebalance_timeout: Duration::from_secs(300),
            heartbeat_interval: Duration::from_secs(5),
            retry_backoff: Duration::from_millis(100),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// A request for the driver to send.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerOutbound {
    /// Answer with [`ConsumerMember::handle_response`] or
    /// [`ConsumerMember::handle_error`], exactly once.
    pub id: RequestId,
    /// Where it goes.
    pub target: Target,
    /// How long the driver may wait for the answer.
    pub timeout: Duration,
    /// What to send.
    pub request: ConsumerMemberRequest,
}

/// The requests the member issues.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConsumerMemberRequest {
    /// FindCoordinator for the group (key type 0).
    FindCoordinator {
        /// The group id.
        key: String,
    },
    /// A ConsumerGroupHeartbeat, to the coordinator.
    Heartbeat(ConsumerGroupHeartbeatRequest),
    /// Metadata naming these topic ids (the assignment carries ids only).
    TopicNames {
        /// The ids to resolve.
        topic_ids: Vec<Uuid>,
    },
}

/// The answers the driver hands back.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConsumerMemberResponse {
    /// FindCoordinator's answer.
    FindCoordinator {
        /// Its error code.
        error_code: ErrorCode,
        /// The coordinator, when the error code is NONE.
        coordinator: Option<Coordinator>,
    },
    /// ConsumerGroupHeartbeat's answer.
    Heartbeat(ConsumerGroupHeartbeatResponse),
    /// Topic names by id from Metadata; ids the broker does not know are absent.
    TopicNames(BTreeMap<Uuid, String>),
}

/// What the member tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConsumerMemberEvent {
    /// The coordinator accepted the member (first epoch after a join).
    Joined {
        /// The member id.
        member_id: String,
        /// The member epoch.
        epoch: i32,
    },
    /// These partitions are about to be revoked: commit their offsets, then
    /// call [`ConsumerMember::revocation_done`].
    CommitNeeded(BTreeSet<TopicPartition>),
    /// These partitions are no longer owned (offsets were committed).
    Revoked(BTreeSet<TopicPartition>),
    /// These partitions are now owned.
    Assigned(BTreeSet<TopicPartition>),
    /// These partitions were lost without a commit (fenced, unknown member).
    Lost(BTreeSet<TopicPartition>),
    /// The owned partitions match the coordinator's target at this epoch.
    Reconciled {
        /// The member epoch.
        epoch: i32,
    },
    /// The member left the group; the machine is done.
    Left,
    /// The coordinator refused the member for good; the machine is done.
    Fatal {
        /// The error code.
        error_code: ErrorCode,
        /// The coordinator's message, if any.
        message: Option<String>,
    },
}

/// Where the member is in the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerMemberState {
    /// Created; [`ConsumerMember::join`] not called yet.
    Unjoined,
    /// The epoch-0 heartbeat is out (or waits for the coordinator).
    Joining,
    /// Heartbeating with an epoch.
    Stable,
    /// Sending the leave heartbeat (after revoking the owned partitions).
    Leaving,
    /// Left the group.
    Left,
    /// Refused for good (see [`ConsumerMemberEvent::Fatal`]).
    Failed,
}

impl ConsumerMemberState {
    fn name(self) -> &'static str {
        match self {
            Self::Unjoined => "unjoined",
            Self::Joining => "joining",
            Self::Stable => "stable",
            Self::Leaving => "leaving",
            Self::Left => "left",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Find,
    Heartbeat { leave: bool },
    Names,
}

type Partitions = BTreeMap<Uuid, BTreeSet<i32>>;

/// One member of a KIP-848 consumer group, without I/O.
///
/// Inputs are responses ([`handle_response`](Self::handle_response)),
/// transport failures ([`handle_error`](Self::handle_error)), the timer
/// ([`handle_timeout`](Self::handle_timeout)) and the application's calls
/// ([`join`](Self::join), [`revocation_done`](Self::revocation_done),
/// [`leave`](Self::leave)), each with `now`; outputs are requests
/// ([`poll_request`](Self::poll_request)), the next deadline
/// ([`poll_timeout`](Self::poll_timeout)) and events
/// ([`poll_event`](Self::poll_event)).
///
/// ```text
///          join()
/// Unjoined ──────► Joining ── heartbeat(epoch 0, subscription, assignor,
///                    ▲  │     rack, rebalance timeout, instance id)
///                    │  │ NONE: member id + epoch  (Joined)
///                    │  ▼
///                    │ Stable ◄─┐ heartbeat every heartbeat_interval_ms
///                    │  │       │ (member id, epoch, owned partitions)
///                    │  │ response carries a target assignment
///                    │  ▼       │
///                    │ reconcile: topic ids without names → TopicNames
///                    │  │   (Metadata); revoked = owned − target:
///                    │  │   CommitNeeded → revocation_done() → Revoked;
///                    │  │   then Assigned(target − owned); heartbeat at
///                    │  │   once to acknowledge; Reconciled when owned
///                    │  └───== target ─────────┘
///                    │
///   FENCED_MEMBER_EPOCH / UNKNOWN_MEMBER_ID: Lost (no commit), epoch 0 ┘
///   NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE / transport error: find the
///     coordinator again (after retry_backoff), then heartbeat again
///   COORDINATOR_LOAD_IN_PROGRESS, other retriable codes: retry after backoff
///   UNRELEASED_INSTANCE_ID, GROUP_MAX_SIZE_REACHED, UNSUPPORTED_VERSION,
///     authorization and any other code: Lost, Fatal ──► Failed
///
/// leave(): CommitNeeded(owned) → revocation_done() → Revoked → Leaving:
///   heartbeat(epoch -1, static members -2) → any answer or failure → Left
/// ```
///
/// Whenever a heartbeat needs the coordinator and it is unknown,
/// FindCoordinator goes out first. Invalid inputs (a response to a request
/// that is not outstanding, a call in a finished state) return a
/// [`GroupError`] and change nothing.
#[derive(Debug)]
pub struct ConsumerMember {
    cfg: ConsumerMemberConfig,
    state: ConsumerMemberState,
    member_id: String,
    epoch: i32,
    interval: Duration,
    coordinator: Option<Coordinator>,
    find_due: Option<Instant>,
    heartbeat_due: Option<Instant>,
    names_due: Option<Instant>,
    pending: BTreeMap<RequestId, Pending>,
    next_id: u64,
    outbox: VecDeque<ConsumerOutbound>,
    events: VecDeque<ConsumerMemberEvent>,
    owned: Partitions,
    names: BTreeMap<Uuid, String>,
    target: Option<Partitions>,
    revoking: Option<Partitions>,
    leave_requested: bool,
}

impl ConsumerMember {
    /// A member that has not joined yet.
    pub fn new(cfg: ConsumerMemberConfig) -> Self {
        Self {
            member_id: cfg.member_id.clone(),
            interval: cfg.heartbeat_interval,
            cfg,
            state: ConsumerMemberState::Unjoined,
            epoch: JOIN_EPOCH,
            coordinator: None,
            find_due: None,
            heartbeat_due: None,
            names_due: None,
            pending: BTreeMap::new(),
            next_id: 0,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            owned: Partitions::new(),
            names: BTreeMap::new(),
            target: None,
            revoking: None,
            leave_requested: false,
        }
    }

    /// The current state.
    pub fn state(&self) -> ConsumerMemberState {
        self.state
    }

    /// The member id (the configured one, or the one the coordinator gave).
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The member epoch (0 while joining).
    pub fn epoch(&self) -> i32 {
        self.epoch
    }

    /// The heartbeat interval in use.
    pub fn heartbeat_interval(&self) -> Duration {
        self.interval
    }

    /// The partitions the member owns.
    pub fn owned(&self) -> BTreeSet<TopicPartition> {
        self.named(&self.owned)
    }

    /// Starts joining the group.
    pub fn join(&mut self, now: Instant) -> Result<(), GroupError> {
        if self.state != ConsumerMemberState::Unjoined {
            return Err(self.invalid("join"));
        }
        self.state = ConsumerMemberState::Joining;
        self.heartbeat_due = Some(now);
        self.drive(now);
        Ok(())
    }

    /// The application committed (or gave up committing) the partitions of
    /// the last [`ConsumerMemberEvent::CommitNeeded`]; they are revoked and
    /// reconciliation goes on. A no-op when nothing awaits it (the
    /// partitions were lost meanwhile).
    pub fn revocation_done(&mut self, now: Instant) -> Result<(), GroupError> {
        if matches!(
            self.state,
            ConsumerMemberState::Left | ConsumerMemberState::Failed
        ) {
            return Err(self.invalid("revocation_done"));
        }
        let Some(revoked) = self.revoking.take() else {
            return Ok(());
        };
        let names = self.named(&revoked);
        for (id, parts) in &revoked {
            if let Some(owned) = self.owned.get_mut(id) {
                owned.retain(|p| !parts.contains(p));
            }
        }
        self.owned.retain(|_, p| !p.is_empty());
        self.events.push_back(ConsumerMemberEvent::Revoked(names));
        if self.leave_requested {
            self.start_leave(now);
        } else {
            self.heartbeat_due = Some(now);
            self.reconcile(now);
        }
        self.drive(now);
        Ok(())
    }

    /// Leaves the group: revokes the owned partitions (CommitNeeded first),
    /// then sends the leave heartbeat.
    pub fn leave(&mut self, now: Instant) -> Result<(), GroupError> {
        match self.state {
            ConsumerMemberState::Unjoined => {
                self.finish(ConsumerMemberEvent::Left, ConsumerMemberState::Left);
                return Ok(());
            }
            ConsumerMemberState::Left | ConsumerMemberState::Failed => {
                return Err(self.invalid("leave"))
            }
            ConsumerMemberState::Leaving => return Ok(()),
            ConsumerMemberState::Joining | ConsumerMemberState::Stable => {}
        }
        self.leave_requested = true;
        self.target = None;
        if self.revoking.is_none() {
            self.start_leave(now);
        }
        self.drive(now);
        Ok(())
    }

    /// The next request to send, if any.
    pub fn poll_request(&mut self) -> Option<ConsumerOutbound> {
        self.outbox.pop_front()
    }

    /// The next event for the application, if any.
    pub fn poll_event(&mut self) -> Option<ConsumerMemberEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut heartbeat = self.heartbeat_due.filter(|_| !self.heartbeat_in_flight());
        if self.coordinator.is_none() {
            // The heartbeat waits for FindCoordinator, which may wait for its backoff.
            let finding = self.pending.values().any(|p| *p == Pending::Find);
            heartbeat = heartbeat
                .filter(|_| !finding)
                .map(|h| self.find_due.map_or(h, |f| f.max(h)));
        }
        [heartbeat, self.find_due, self.names_due]
            .into_iter()
            .flatten()
            .min()
    }

    /// Sends whatever is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.drive(now);
    }

    /// Issues the requests that are due.
    fn drive(&mut self, now: Instant) {
        if matches!(
            self.state,
            ConsumerMemberState::Left | ConsumerMemberState::Failed
        ) {
            return;
        }
        if self.names_due.is_some_and(|t| t <= now) {
            self.names_due = None;
            self.request_names();
        }
        let due = self.heartbeat_due.is_some_and(|t| t <= now);
        if !due || self.heartbeat_in_flight() || self.state == ConsumerMemberState::Unjoined {
            return;
        }
        match self.coordinator.clone() {
            Some(c) => {
                self.heartbeat_due = None;
                let leave = self.state == ConsumerMemberState::Leaving;
                let request = self.heartbeat_request();
                self.send(
                    Target::Coordinator(c),
                    Pending::Heartbeat { leave },
                    ConsumerMemberRequest::Heartbeat(request),
                );
            }
            None => self.find_coordinator(now),
        }
    }

    fn find_coordinator(&mut self, now: Instant) {
        let finding = self.pending.values().any(|p| *p == Pending::Find);
        if finding || self.find_due.is_some_and(|t| t > now) {
            return;
        }
        self.find_due = None;
        let key = self.cfg.group_id.clone();
        self.send(
            Target::AnyBroker,
            Pending::Find,
            ConsumerMemberRequest::FindCoordinator { key },
        );
    }

    fn heartbeat_in_flight(&self) -> bool {
        self.pending
            .values()
            .any(|p| matches!(p, Pending::Heartbeat { .. }))
    }

    /// The heartbeat for the current state: full fields when joining, the
    /// epoch and owned partitions otherwise, the leave epoch when leaving.
    fn heartbeat_request(&self) -> ConsumerGroupHeartbeatRequest {
        let mut req = ConsumerGroupHeartbeatRequest {
            group_id: self.cfg.group_id.clone(),
            member_id: self.member_id.clone(),
            member_epoch: self.epoch,
            ..Default::default()
        };
        match self.state {
            ConsumerMemberState::Leaving => {
                req.member_epoch = if self.cfg.instance_id.is_some() {
                    STATIC_LEAVE_EPOCH
                } else {
                    LEAVE_EPOCH
                };
                req.instance_id = self.cfg.instance_id.clone();
            }
            ConsumerMemberState::Joining => {
                req.member_epoch = JOIN_EPOCH;
                req.instance_id = self.cfg.instance_id.clone();
                req.rack_id = self.cfg.rack_id.clone();
                req.rebalance_timeout_ms =
                    i32::try_from(self.cfg.rebalance_timeout.as_millis()).unwrap_or(i32::MAX);
                match &self.cfg.subscription {
                    Subscription::Topics(t) => req.subscribed_topic_names = Some(t.clone()),
                    Subscription::Regex(r) => req.subscribed_topic_regex = Some(r.clone()),
                }
                req.server_assignor = self.cfg.server_assignor.clone();
                req.topic_partitions = Some(Vec::new());
            }
            _ => req.topic_partitions = Some(wire_partitions(&self.owned)),
        }
        req
    }

    fn send(&mut self, target: Target, pending: Pending, request: ConsumerMemberRequest) {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        self.pending.insert(id, pending);
        self.outbox.push_back(ConsumerOutbound {
            id,
            target,
            timeout: self.cfg.request_timeout,
            request,
        });
    }

    fn named(&self, parts: &Partitions) -> BTreeSet<TopicPartition> {
        parts
            .iter()
            .filter_map(|(id, ps)| self.names.get(id).map(|n| (n, ps)))
            .flat_map(|(topic, ps)| {
                ps.iter().map(|&partition| TopicPartition {
                    topic: topic.clone(),
                    partition,
                })
            })
            .collect()
    }

    fn finish(&mut self, event: ConsumerMemberEvent, state: ConsumerMemberState) {
        self.state = state;
        self.outbox.clear();
        self.heartbeat_due = None;
        self.find_due = None;
        self.names_due = None;
        self.events.push_back(event);
    }

    fn invalid(&self, input: &'static str) -> GroupError {
        GroupError::InvalidState {
            input,
            state: self.state.name(),
        }
    }
}

fn wire_partitions(parts: &Partitions) -> Vec<ConsumerGroupTopicPartitions> {
    parts
        .iter()
        .map(|(id, ps)| ConsumerGroupTopicPartitions {
            topic_id: *id,
            partitions: ps.iter().copied().collect(),
            ..Default::default()
        })
        .collect()
}
