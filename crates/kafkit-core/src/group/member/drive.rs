//! The pump: after every input, fire what is due and queue what should be
//! in flight.

use std::time::{Duration, Instant};

use crate::protocol::messages::consumer_protocol::{
    ConsumerProtocolSubscription, TopicPartitions, CONSUMER_PROTOCOL_TYPE,
};
use crate::protocol::messages::heartbeat::HeartbeatRequest;
use crate::protocol::messages::join_group::{JoinGroupRequest, JoinGroupRequestProtocol};

use super::{GroupMember, InFlight, Phase, Slot};
use crate::group::config::ms;
use crate::group::error::GroupError;
use crate::group::wire::{
    Coordinator, FindCoordinatorCall, GroupRequest, LeaveGroupCall, Outbound, RequestId, Target,
};
use crate::group::TopicPartition;

/// The subscription version kafkit sends (v3: owned partitions, generation, rack).
const SUBSCRIPTION_VERSION: i16 = 3;
/// Java's margin on top of the rebalance timeout for JoinGroup.
const JOIN_TIMEOUT_MARGIN: Duration = Duration::from_secs(5);

impl GroupMember {
    /// Runs every check and queues every request that is due.
    pub(super) fn drive(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Closed | Phase::Failed) {
            return;
        }
        self.check_deadlines(now);
        if matches!(self.phase, Phase::Closed | Phase::Failed) {
            return;
        }
        self.send_find(now);
        if let Some(c) = self.coordinator.clone() {
            self.send_membership(now, &c);
            self.send_heartbeat(now, &c);
            self.send_offsets(now, &c);
        }
    }

    fn check_deadlines(&mut self, now: Instant) {
        if let Some(at) = self.session_deadline() {
            if now >= at {
                self.session_expired(now);
            }
        }
        if let Some(at) = self.poll_deadline() {
            if now >= at {
                self.poll_expired(now);
            }
        }
        self.expire_offsets(now);
        let phase_due = match &self.phase {
            Phase::Revoking(r) => now >= r.deadline,
            Phase::AwaitingMetadata { deadline, .. } => now >= *deadline,
            Phase::Leaving { deadline, .. } => now >= *deadline,
            _ => false,
        };
        if phase_due {
            match self.phase {
                Phase::Revoking(_) => self.finish_revoke(now),
                Phase::AwaitingMetadata { .. } => self.assign_and_sync(now),
                Phase::Leaving { .. } => {
                    self.events.push_back(crate::group::GroupEvent::LeftGroup {
                        error: crate::protocol::ErrorCode::REQUEST_TIMED_OUT,
                    });
                    self.finish_leave(now);
                }
                _ => {}
            }
        }
    }

    /// Whether the member holds a generation the coordinator may time out.
    pub(super) fn heartbeats_due(&self) -> bool {
        self.has_generation()
            && matches!(
                self.phase,
                Phase::Stable
                    | Phase::Revoking(_)
                    | Phase::Syncing(_)
                    | Phase::AwaitingMetadata { .. }
            )
    }

    /// Whether a JoinGroup is waiting for its answer.
    pub(super) fn join_in_flight(&self) -> bool {
        matches!(self.phase, Phase::Joining(_)) && self.membership_in_flight.is_some()
    }

    fn session_deadline(&self) -> Option<Instant> {
        let alive = self.has_generation()
            && !self.join_in_flight()
            && !matches!(self.phase, Phase::Unjoined | Phase::Leaving { .. });
        alive.then(|| self.last_heartbeat_ok + self.cfg.session_timeout)
    }

    fn poll_deadline(&self) -> Option<Instant> {
        if self.closing
            || matches!(
                self.phase,
                Phase::Unjoined | Phase::Leaving { .. } | Phase::Closed | Phase::Failed
            )
        {
            return None;
        }
        self.last_poll.map(|p| p + self.cfg.max_poll_interval)
    }

    fn needs_coordinator(&self) -> bool {
        let phase = match &self.phase {
            Phase::Joining(_) | Phase::Syncing(_) => true,
            Phase::Leaving { sent, .. } => !sent,
            _ => false,
        };
        phase || self.heartbeats_due() || !self.commits.is_empty() || !self.fetches.is_empty()
    }

    /// The earliest instant at which `drive` has something to do.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        if matches!(self.phase, Phase::Closed | Phase::Failed) {
            return None;
        }
        let mut at: Vec<Instant> = Vec::new();
        at.extend(self.session_deadline());
        at.extend(self.poll_deadline());
        match &self.phase {
            Phase::Revoking(r) => at.push(r.deadline),
            Phase::AwaitingMetadata { deadline, .. } | Phase::Leaving { deadline, .. } => {
                at.push(*deadline);
            }
            _ => {}
        }
        if self.coordinator.is_none() && self.needs_coordinator() && !self.find_in_flight {
            at.extend(self.find_retry_at);
        }
        if self.coordinator.is_some() {
            if matches!(self.phase, Phase::Joining(_)) && self.membership_in_flight.is_none() {
                at.extend(self.membership_retry_at);
            }
            if self.heartbeats_due() && !self.heartbeat_in_flight {
                at.push(self.next_heartbeat);
            }
        }
        at.extend(self.offset_deadlines());
        at.into_iter().min()
    }

    /// Queues a request and records it as outstanding.
    pub(super) fn issue(
        &mut self,
        target: Target,
        timeout: Duration,
        request: GroupRequest,
        slot: Slot,
    ) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        let api = request.api_key();
        let max_version = match &target {
            Target::Coordinator(c) => self.drops.cap(&c.addr(), api),
            Target::AnyBroker => None,
        };
        self.in_flight.insert(
            id,
            InFlight {
                api,
                slot,
                stale: false,
                generation_id: self.generation_id,
                member_id: self.member_id.clone(),
                sent: None,
            },
        );
        self.outbox.push_back(Outbound {
            id,
            target,
            timeout,
            request,
            max_version,
        });
        id
    }

    fn send_find(&mut self, now: Instant) {
        if self.coordinator.is_some() || self.find_in_flight || !self.needs_coordinator() {
            return;
        }
        if self.find_retry_at.is_some_and(|t| now < t) {
            return;
        }
        self.find_in_flight = true;
        let call = FindCoordinatorCall {
            key: self.cfg.group_id.clone(),
        };
        self.issue(
            Target::AnyBroker,
            self.cfg.request_timeout,
            GroupRequest::FindCoordinator(call),
            Slot::Find,
        );
    }

    fn send_membership(&mut self, now: Instant, c: &Coordinator) {
        if self.membership_in_flight.is_some() {
            return;
        }
        let request = match &mut self.phase {
            Phase::Joining(reason) => {
                if self.membership_retry_at.is_some_and(|t| now < t) {
                    return;
                }
                let reason = reason.to_string();
                match self.join_request(reason) {
                    Ok(r) => {
                        self.stale_subscription = false;
                        GroupRequest::JoinGroup(r)
                    }
                    Err(e) => return self.fail(e),
                }
            }
            Phase::Syncing(req) => GroupRequest::SyncGroup((**req).clone()),
            Phase::Leaving { sent, .. } => {
                // Commits still under way go first: after LeaveGroup they
                // would be refused.
                if *sent || !self.commits.is_empty() {
                    return;
                }
                *sent = true;
                GroupRequest::LeaveGroup(LeaveGroupCall {
                    group_id: self.cfg.group_id.clone(),
                    member_id: self.member_id.clone(),
                    group_instance_id: self.cfg.group_instance_id.clone(),
                    reason: Some(if self.closing {
                        "the consumer is being closed".to_owned()
                    } else {
                        "the consumer exceeded max.poll.interval".to_owned()
                    }),
                })
            }
            _ => return,
        };
        let timeout = match request {
            GroupRequest::JoinGroup(_) => self
                .cfg
                .request_timeout
                .max(self.cfg.rebalance_timeout + JOIN_TIMEOUT_MARGIN),
            _ => self.cfg.request_timeout,
        };
        let id = self.issue(
            Target::Coordinator(c.clone()),
            timeout,
            request,
            Slot::Membership,
        );
        self.membership_in_flight = Some(id);
    }

    fn send_heartbeat(&mut self, now: Instant, c: &Coordinator) {
        if !self.heartbeats_due() || self.heartbeat_in_flight || now < self.next_heartbeat {
            return;
        }
        self.heartbeat_in_flight = true;
        self.next_heartbeat = now + self.cfg.heartbeat_interval;
        let request = HeartbeatRequest {
            group_id: self.cfg.group_id.clone(),
            generation_id: self.generation_id,
            member_id: self.member_id.clone(),
            group_instance_id: self.cfg.group_instance_id.clone(),
            ..HeartbeatRequest::default()
        };
        self.issue(
            Target::Coordinator(c.clone()),
            self.cfg.request_timeout,
            GroupRequest::Heartbeat(request),
            Slot::Heartbeat,
        );
    }

    /// JoinGroup with one protocol per assignor, each carrying the
    /// subscription (and the assignor's user data).
    fn join_request(&self, reason: String) -> Result<JoinGroupRequest, GroupError> {
        let owned = if self.cooperative {
            group_by_topic(&self.owned)
        } else {
            Vec::new()
        };
        let base = ConsumerProtocolSubscription {
            topics: self.subscription.iter().cloned().collect(),
            user_data: None,
            owned_partitions: owned,
            generation_id: self.generation_id,
            rack_id: self.cfg.rack.clone(),
        };
        let protocols = self
            .cfg
            .assignors
            .iter()
            .map(|a| {
                let sub = ConsumerProtocolSubscription {
                    user_data: a.subscription_user_data(self.generation_id),
                    ..base.clone()
                };
                Ok(JoinGroupRequestProtocol {
                    name: a.name().to_owned(),
                    metadata: sub.encode(SUBSCRIPTION_VERSION)?,
                    ..JoinGroupRequestProtocol::default()
                })
            })
            .collect::<Result<Vec<_>, GroupError>>()?;
        Ok(JoinGroupRequest {
            group_id: self.cfg.group_id.clone(),
            session_timeout_ms: ms(self.cfg.session_timeout),
            rebalance_timeout_ms: ms(self.cfg.rebalance_timeout),
            member_id: self.member_id.clone(),
            group_instance_id: self.cfg.group_instance_id.clone(),
            protocol_type: CONSUMER_PROTOCOL_TYPE.to_owned(),
            protocols,
            reason: Some(reason),
            ..JoinGroupRequest::default()
        })
    }

    /// Marks the membership request in flight (if any) as stale.
    pub(super) fn abandon_membership_request(&mut self) {
        if let Some(id) = self.membership_in_flight.take() {
            if let Some(e) = self.in_flight.get_mut(&id) {
                e.stale = true;
            }
        }
    }
}

/// Partitions grouped per topic, both sorted, as the consumer protocol lists them.
pub(crate) fn group_by_topic<'a>(
    parts: impl IntoIterator<Item = &'a TopicPartition>,
) -> Vec<TopicPartitions> {
    let mut out: Vec<TopicPartitions> = Vec::new();
    let mut sorted: Vec<&TopicPartition> = parts.into_iter().collect();
    sorted.sort();
    for p in sorted {
        match out.last_mut() {
            Some(t) if t.topic == p.topic => t.partitions.push(p.partition),
            _ => out.push(TopicPartitions {
                topic: p.topic.clone(),
                partitions: vec![p.partition],
            }),
        }
    }
    out
}
