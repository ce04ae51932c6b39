//! The consumer-group member state machine (classic protocol).

mod drive;
mod drops;
mod offsets;
mod responses;
mod transitions;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use crate::protocol::messages::sync_group::SyncGroupRequest;
use crate::protocol::ApiKey;

use super::assignor::{MemberSubscription, PartitionCounts};
use super::config::GroupConfig;
use super::error::{GroupError, RequestFailure};
use super::event::{CommitId, GroupEvent, OffsetFetchId, Offsets, RejoinReason};
use super::wire::{Coordinator, GroupResponse, Outbound, RequestId};
use super::TopicPartition;

use offsets::{PendingCommit, PendingFetch};

/// One member of a consumer group, without I/O.
///
/// Inputs are responses, transport failures, timer ticks and application
/// calls, each with the current time; outputs are requests
/// ([`poll_request`](Self::poll_request)), the next deadline
/// ([`poll_timeout`](Self::poll_timeout)) and events
/// ([`poll_event`](Self::poll_event)). The coordinator's address is tracked
/// beside the state: losing it (`NOT_COORDINATOR`, a broken connection)
/// never loses partitions by itself; the member finds the coordinator again
/// and carries on, unless the session runs out meanwhile.
///
/// ```text
///            poll()
///  Unjoined ───────► FindingCoordinator* ──► Joining ◄────────────────────────────┐
///     ▲                                      │  ▲  MEMBER_ID_REQUIRED: rejoin with  │
///     │                                      │  └─ the id the coordinator gave      │
///     │                          JoinGroup ok│                                      │
///     │                 ┌────────────────────┴──────────────┐                       │
///     │           leader│(needs partition counts:           │follower               │
///     │                 ▼  AwaitingMetadata → set_metadata) ▼                       │
///     │           assign with the chosen assignor ──► Syncing ── SyncGroup error ───┤
///     │                                                │ SyncGroup ok               │
///     │                       cooperative, some revoked│         none revoked       │
///     │                 ┌──────────────────────────────┴──────────┐                 │
///     │                 ▼                                         ▼                 │
///     │            Revoking ── CommitNeeded → commit() ──►   Stable ── heartbeats   │
///     │      (Revoked, Assigned, then follow-up join) ────────────────────────────► │
///     │                                                     │ REBALANCE_IN_PROGRESS │
///     │                                  eager: Revoking (commit, Revoked) ───────► │
///     │                                  cooperative: straight to Joining ────────► │
///     │                                                     │                       │
///     │   UNKNOWN_MEMBER_ID (reset id + generation), ILLEGAL_GENERATION (reset      │
///     │   generation), session timeout: Lost (no commit) ─────────────────────────► ┘
///     │   FENCED_INSTANCE_ID, authorization, ...: Lost, Fatal ──► Failed
///     │
///     │   max poll interval exceeded: PollTimeoutExpired, Lost, LeaveGroup
///     └── Leaving ◄──────────────────────────────────────────────── (any joined state)
///
///  close(): Revoking (CommitNeeded → commit(), Revoked) → Leaving (LeaveGroup) → Closed
///
///  * FindingCoordinator is not a state of its own: whenever a request needs
///    the coordinator and it is unknown (NOT_COORDINATOR,
///    COORDINATOR_NOT_AVAILABLE, broken connection), FindCoordinator goes
///    out first and the state waits.
/// ```
///
/// A request the coordinator keeps dropping the connection on (the driver
/// reports where and at which version it went out with
/// [`sent`](Self::sent)) is retried with a doubling backoff (up to 1 s),
/// reported as [`GroupEvent::RequestDropped`] after two drops in a row at
/// one version, and then sent one version lower to that broker; see
/// `drops.rs` and DESIGN.md.
///
/// Invalid inputs (a response to a request that is not outstanding, a
/// commit outside a generation, anything after close) return a
/// [`GroupError`] and change nothing.
#[derive(Debug)]
pub struct GroupMember {
    cfg: GroupConfig,
    cooperative: bool,
    subscription: BTreeSet<String>,
    phase: Phase,
    closing: bool,
    /// The subscription changed after the last JoinGroup went out.
    stale_subscription: bool,
    /// The application polled while the member was leaving after a poll
    /// timeout: rejoin once the leave is done.
    resume_requested: bool,

    member_id: String,
    generation_id: i32,
    protocol_name: Option<String>,
    leader_id: String,
    owned: BTreeSet<TopicPartition>,

    coordinator: Option<Coordinator>,
    find_in_flight: bool,
    find_retry_at: Option<Instant>,
    membership_in_flight: Option<RequestId>,
    membership_retry_at: Option<Instant>,
    heartbeat_in_flight: bool,
    next_heartbeat: Instant,
    last_heartbeat_ok: Instant,
    last_poll: Option<Instant>,

    counts: PartitionCounts,
    group_topics: BTreeSet<String>,
    assigned_counts: PartitionCounts,

    commits: BTreeMap<CommitId, PendingCommit>,
    fetches: BTreeMap<OffsetFetchId, PendingFetch>,

    in_flight: BTreeMap<RequestId, InFlight>,
    drops: drops::DropTracker,
    next_id: u64,
    outbox: VecDeque<Outbound>,
    events: VecDeque<GroupEvent>,
}

/// The member's state, as [`GroupMember::state`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemberState {
    /// Not in the group: before the first poll, or after a poll timeout.
    Unjoined,
    /// Giving partitions up: waiting for the commit the member asked for.
    Revoking,
    /// Sending JoinGroup (after finding the coordinator if needed).
    Joining,
    /// Elected leader, waiting for partition counts.
    AwaitingMetadata,
    /// Sending SyncGroup.
    Syncing,
    /// In the group with an assignment; heartbeating.
    Stable,
    /// Sending LeaveGroup.
    Leaving,
    /// Closed.
    Closed,
    /// Failed with a fatal error; only `close` is accepted.
    Failed,
}

#[derive(Debug)]
enum Phase {
    Unjoined,
    Revoking(Revoke),
    Joining(RejoinReason),
    AwaitingMetadata {
        members: Vec<MemberSubscription>,
        deadline: Instant,
    },
    Syncing(Box<SyncGroupRequest>),
    Stable,
    Leaving {
        deadline: Instant,
        sent: bool,
    },
    Closed,
    Failed,
}

/// Partitions being given up, and what comes after.
#[derive(Debug)]
struct Revoke {
    partitions: BTreeSet<TopicPartition>,
    deadline: Instant,
    commit: CommitWait,
    then: AfterRevoke,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CommitWait {
    /// `CommitNeeded` was emitted; the driver has not called `commit` yet.
    Driver,
    /// The driver's commit is under way.
    Pending(CommitId),
}

#[derive(Debug)]
enum AfterRevoke {
    /// Join (eager rebalance, or cooperative with dropped topics).
    Join(RejoinReason),
    /// Cooperative: take the new assignment, then join again.
    FollowUp {
        assignment: BTreeSet<TopicPartition>,
        added: BTreeSet<TopicPartition>,
    },
    /// Closing: leave the group.
    Leave,
}

/// A request handed to the driver and not yet answered.
#[derive(Debug)]
struct InFlight {
    api: ApiKey,
    slot: Slot,
    /// The member moved on; the answer is ignored.
    stale: bool,
    generation_id: i32,
    member_id: String,
    /// The broker address and version it went out at, once the driver said.
    sent: Option<(String, i16)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Find,
    Membership,
    Heartbeat,
    Commit(CommitId),
    Fetch(OffsetFetchId),
}

impl GroupMember {
    /// A member that joins on the first [`poll`](Self::poll).
    pub fn new(cfg: GroupConfig, now: Instant) -> Result<Self, GroupError> {
        cfg.validate()?;
        Ok(Self {
            cooperative: cfg.is_cooperative(),
            subscription: cfg.topics.iter().cloned().collect(),
            cfg,
            phase: Phase::Unjoined,
            closing: false,
            stale_subscription: false,
            resume_requested: false,
            member_id: String::new(),
            generation_id: -1,
            protocol_name: None,
            leader_id: String::new(),
            owned: BTreeSet::new(),
            coordinator: None,
            find_in_flight: false,
            find_retry_at: None,
            membership_in_flight: None,
            membership_retry_at: None,
            heartbeat_in_flight: false,
            next_heartbeat: now,
            last_heartbeat_ok: now,
            last_poll: None,
            counts: PartitionCounts::new(),
            group_topics: BTreeSet::new(),
            assigned_counts: PartitionCounts::new(),
            commits: BTreeMap::new(),
            fetches: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            drops: drops::DropTracker::default(),
            next_id: 0,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    // ----- application inputs -------------------------------------------

    /// The application polled (made progress). The first call starts
    /// joining; every call restarts the `max_poll_interval` clock.
    pub fn poll(&mut self, now: Instant) -> Result<(), GroupError> {
        self.refuse_if_done()?;
        let first = self.last_poll.is_none();
        self.last_poll = Some(now);
        if matches!(self.phase, Phase::Leaving { .. }) && !self.closing {
            self.resume_requested = true;
        }
        if matches!(self.phase, Phase::Unjoined) {
            let reason = if first {
                RejoinReason::Initial
            } else {
                RejoinReason::Resumed
            };
            self.rejoin(reason, now);
        }
        self.drive(now);
        Ok(())
    }

    /// Replaces the subscription; a joined member rejoins to announce it.
    pub fn subscribe<S: Into<String>>(
        &mut self,
        topics: impl IntoIterator<Item = S>,
        now: Instant,
    ) -> Result<(), GroupError> {
        self.refuse_if_done()?;
        let topics: BTreeSet<String> = topics.into_iter().map(Into::into).collect();
        if topics != self.subscription {
            self.subscription = topics;
            match self.phase {
                Phase::Stable => self.rejoin(RejoinReason::SubscriptionChanged, now),
                // The next JoinGroup carries the new subscription.
                Phase::Unjoined | Phase::Leaving { .. } => {}
                Phase::Joining(_) if self.membership_in_flight.is_none() => {}
                // A rebalance is under way with the old subscription:
                // rejoin once it completes.
                _ => self.stale_subscription = true,
            }
        }
        self.drive(now);
        Ok(())
    }

    /// Partition counts from metadata (merged into what the member knows).
    /// Call it on [`GroupEvent::MetadataNeeded`] and whenever metadata for
    /// [`interested_topics`](Self::interested_topics) changes: a leader
    /// whose topics changed size rejoins so new partitions get assigned.
    pub fn set_metadata<S: Into<String>>(
        &mut self,
        counts: impl IntoIterator<Item = (S, i32)>,
        now: Instant,
    ) -> Result<(), GroupError> {
        self.refuse_if_done()?;
        self.counts
            .extend(counts.into_iter().map(|(t, n)| (t.into(), n)));
        self.on_metadata(now);
        self.drive(now);
        Ok(())
    }

    /// Commits `offsets` for this member's generation. Completion comes as
    /// [`GroupEvent::CommitCompleted`]; an empty map completes at once. After
    /// [`GroupEvent::CommitNeeded`], the next call is the commit the member
    /// waits for before giving the partitions up.
    pub fn commit(&mut self, offsets: Offsets, now: Instant) -> Result<CommitId, GroupError> {
        self.refuse_if_done()?;
        if !self.has_generation() {
            return Err(GroupError::InvalidState {
                input: "commit",
                state: self.state_name(),
            });
        }
        let id = self.start_commit(offsets, now);
        self.drive(now);
        Ok(id)
    }

    /// Reads the group's committed offsets for `partitions`; the answer
    /// comes as [`GroupEvent::OffsetsFetched`].
    pub fn fetch_committed(
        &mut self,
        partitions: BTreeSet<TopicPartition>,
        now: Instant,
    ) -> Result<OffsetFetchId, GroupError> {
        self.refuse_if_done()?;
        let id = self.start_fetch(partitions, now);
        self.drive(now);
        Ok(id)
    }

    /// Leaves the group: asks for a commit of the owned partitions (if
    /// configured), revokes them, sends LeaveGroup (dynamic members, or
    /// static ones with `static_member_leaves`) and ends with
    /// [`GroupEvent::Closed`]. Calling it again is harmless.
    pub fn close(&mut self, now: Instant) -> Result<(), GroupError> {
        match self.phase {
            Phase::Closed => return Ok(()),
            Phase::Failed => {
                self.finish_close();
                return Ok(());
            }
            _ if self.closing => return Ok(()),
            _ => {}
        }
        self.closing = true;
        self.abandon_membership_request();
        if self.has_generation() && !self.owned.is_empty() {
            let partitions = self.owned.clone();
            self.start_revoke(partitions, AfterRevoke::Leave, now);
        } else {
            self.start_leave(now);
        }
        self.drive(now);
        Ok(())
    }

    // ----- network and timer inputs ----------------------------------------

    /// The response to request `id`.
    pub fn handle_response(
        &mut self,
        id: RequestId,
        response: GroupResponse,
        now: Instant,
    ) -> Result<(), GroupError> {
        let entry = self.take_in_flight(id, Some(response.api_key()))?;
        self.note_answer(&entry);
        if !entry.stale {
            match response {
                GroupResponse::FindCoordinator(r) => self.on_find_response(&r, now),
                GroupResponse::JoinGroup(r) => self.on_join_response(r, now),
                GroupResponse::SyncGroup(r) => self.on_sync_response(&r, now),
                GroupResponse::Heartbeat(r) => {
                    self.on_heartbeat_response(&entry, r.error_code, now)
                }
                GroupResponse::LeaveGroup(r) => self.on_leave_response(&r, now),
                GroupResponse::OffsetCommit(r) => self.on_commit_response(&entry, &r, now),
                GroupResponse::OffsetFetch(r) => self.on_fetch_response(&entry, &r, now),
            }
        }
        self.drive(now);
        Ok(())
    }

    /// Request `id` failed without a response (connection lost, timeout,
    /// no usable version). Retriable errors (per [`RequestFailure::is_retriable`])
    /// send the member back to find the coordinator; others are fatal for
    /// membership requests and fail commits and fetches.
    pub fn handle_error<E: RequestFailure + ?Sized>(
        &mut self,
        id: RequestId,
        error: &E,
        now: Instant,
    ) -> Result<(), GroupError> {
        let entry = self.take_in_flight(id, None)?;
        let backoff = self.note_failure(&entry, error);
        if !entry.stale {
            self.on_request_failed(&entry, error, backoff, now);
        }
        self.drive(now);
        Ok(())
    }

    /// Time passed: heartbeats, retries, session and poll timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.drive(now);
    }

    // ----- outputs ----------------------------------------------------------

    /// The next request to send.
    pub fn poll_request(&mut self) -> Option<Outbound> {
        self.outbox.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<GroupEvent> {
        self.events.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) at the latest.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_deadline()
    }

    // ----- accessors --------------------------------------------------------

    /// The current state.
    pub fn state(&self) -> MemberState {
        match self.phase {
            Phase::Unjoined => MemberState::Unjoined,
            Phase::Revoking(_) => MemberState::Revoking,
            Phase::Joining(_) => MemberState::Joining,
            Phase::AwaitingMetadata { .. } => MemberState::AwaitingMetadata,
            Phase::Syncing(_) => MemberState::Syncing,
            Phase::Stable => MemberState::Stable,
            Phase::Leaving { .. } => MemberState::Leaving,
            Phase::Closed => MemberState::Closed,
            Phase::Failed => MemberState::Failed,
        }
    }

    /// The member id the coordinator gave (empty before the first join).
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The current generation, -1 when the member has none.
    pub fn generation_id(&self) -> i32 {
        self.generation_id
    }

    /// Whether this member leads the current generation.
    pub fn is_leader(&self) -> bool {
        self.has_generation() && self.leader_id == self.member_id
    }

    /// The protocol (assignor) the coordinator chose.
    pub fn protocol_name(&self) -> Option<&str> {
        self.protocol_name.as_deref()
    }

    /// The partitions the member owns now.
    pub fn assignment(&self) -> &BTreeSet<TopicPartition> {
        &self.owned
    }

    /// The coordinator, if known.
    pub fn coordinator(&self) -> Option<&Coordinator> {
        self.coordinator.as_ref()
    }

    /// Whether the member runs the cooperative protocol.
    pub fn is_cooperative(&self) -> bool {
        self.cooperative
    }

    /// Topics whose partition counts the member needs: its subscription,
    /// plus every member's when it leads.
    pub fn interested_topics(&self) -> BTreeSet<String> {
        let mut t = self.subscription.clone();
        if self.is_leader() {
            t.extend(self.group_topics.iter().cloned());
        }
        t
    }

    /// Whether [`GroupEvent::Closed`] has been emitted.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    // ----- helpers shared by the submodules ---------------------------------

    fn has_generation(&self) -> bool {
        self.generation_id >= 0 && !self.member_id.is_empty()
    }

    fn state_name(&self) -> &'static str {
        match self.state() {
            MemberState::Unjoined => "unjoined",
            MemberState::Revoking => "revoking",
            MemberState::Joining => "joining",
            MemberState::AwaitingMetadata => "awaiting metadata",
            MemberState::Syncing => "syncing",
            MemberState::Stable => "stable",
            MemberState::Leaving => "leaving",
            MemberState::Closed => "closed",
            MemberState::Failed => "failed",
        }
    }

    fn refuse_if_done(&self) -> Result<(), GroupError> {
        match self.phase {
            Phase::Closed | Phase::Failed => Err(GroupError::Closed),
            _ => Ok(()),
        }
    }

    fn take_in_flight(
        &mut self,
        id: RequestId,
        api: Option<ApiKey>,
    ) -> Result<InFlight, GroupError> {
        let expected = self
            .in_flight
            .get(&id)
            .map(|e| e.api)
            .ok_or(GroupError::UnknownRequest(id))?;
        if let Some(got) = api {
            if got != expected {
                return Err(GroupError::ResponseMismatch { id, expected, got });
            }
        }
        let entry = self
            .in_flight
            .remove(&id)
            .ok_or(GroupError::UnknownRequest(id))?;
        match entry.slot {
            Slot::Find => self.find_in_flight = false,
            Slot::Heartbeat => self.heartbeat_in_flight = false,
            Slot::Membership if self.membership_in_flight == Some(id) => {
                self.membership_in_flight = None;
            }
            Slot::Commit(c) => {
                if let Some(p) = self.commits.get_mut(&c) {
                    p.in_flight = None;
                }
            }
            Slot::Fetch(f) => {
                if let Some(p) = self.fetches.get_mut(&f) {
                    p.in_flight = None;
                }
            }
            Slot::Membership => {}
        }
        Ok(entry)
    }
}
