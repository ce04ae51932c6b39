//! State transitions: rebalances, revocation, generation resets, leaving.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::protocol::messages::consumer_protocol::{
    ConsumerProtocolAssignment, CONSUMER_PROTOCOL_TYPE,
};
use crate::protocol::messages::sync_group::{SyncGroupRequest, SyncGroupRequestAssignment};
use crate::protocol::ErrorCode;

use super::drive::group_by_topic;
use super::{AfterRevoke, CommitWait, GroupMember, Phase, Revoke};
use crate::group::assignor::{check_cooperative, GroupAssignment, MemberSubscription};
use crate::group::error::GroupError;
use crate::group::event::{GroupEvent, LostReason, OffsetError, RejoinReason};
use crate::group::TopicPartition;

/// The assignment version kafkit sends (same layout as v0-v2).
const ASSIGNMENT_VERSION: i16 = 3;

impl GroupMember {
    /// Starts a rebalance: eager members first give up everything, cooperative
    /// ones only partitions of topics they no longer subscribe to.
    pub(super) fn rejoin(&mut self, reason: RejoinReason, now: Instant) {
        if self.closing || matches!(self.phase, Phase::Closed | Phase::Failed) {
            return;
        }
        if matches!(self.phase, Phase::Revoking(_)) {
            // Already giving partitions up; a join follows anyway.
            return;
        }
        self.abandon_membership_request();
        self.events.push_back(GroupEvent::Rebalancing {
            reason: reason.clone(),
        });
        let give_up: BTreeSet<TopicPartition> = if self.cooperative {
            self.owned
                .iter()
                .filter(|p| !self.subscription.contains(&p.topic))
                .cloned()
                .collect()
        } else {
            self.owned.clone()
        };
        if give_up.is_empty() || !self.has_generation() {
            self.enter_joining(reason);
        } else {
            self.start_revoke(give_up, AfterRevoke::Join(reason), now);
        }
    }

    /// Enters `Joining`; the JoinGroup goes out once the coordinator is known.
    pub(super) fn enter_joining(&mut self, reason: RejoinReason) {
        self.phase = Phase::Joining(reason);
        self.membership_retry_at = None;
    }

    /// Enters `Revoking`: asks the driver for a commit (if configured) and
    /// waits for it, bounded by `commit_timeout`.
    pub(super) fn start_revoke(
        &mut self,
        partitions: BTreeSet<TopicPartition>,
        then: AfterRevoke,
        now: Instant,
    ) {
        let deadline = now + self.cfg.commit_timeout;
        self.phase = Phase::Revoking(Revoke {
            partitions: partitions.clone(),
            deadline,
            commit: CommitWait::Driver,
            then,
        });
        if self.cfg.commit_before_revoke && !partitions.is_empty() {
            self.events.push_back(GroupEvent::CommitNeeded {
                partitions,
                deadline,
            });
        } else {
            self.finish_revoke(now);
        }
    }

    /// The revoke commit finished (or its deadline passed): revoke and go on.
    pub(super) fn finish_revoke(&mut self, now: Instant) {
        let Phase::Revoking(r) = std::mem::replace(&mut self.phase, Phase::Stable) else {
            return;
        };
        if !r.partitions.is_empty() {
            self.events.push_back(GroupEvent::Revoked {
                partitions: r.partitions.clone(),
            });
        }
        self.owned.retain(|p| !r.partitions.contains(p));
        match r.then {
            AfterRevoke::Join(reason) => self.enter_joining(reason),
            AfterRevoke::FollowUp { assignment, added } => {
                self.owned = assignment;
                self.events.push_back(GroupEvent::Assigned {
                    partitions: added,
                    generation_id: self.generation_id,
                });
                self.rejoin(RejoinReason::CooperativeFollowUp, now);
            }
            AfterRevoke::Leave => self.start_leave(now),
        }
    }

    /// The commit the revocation waits for is done.
    pub(super) fn revoke_commit_done(&mut self, id: crate::group::CommitId, now: Instant) {
        if let Phase::Revoking(r) = &self.phase {
            if r.commit == CommitWait::Pending(id) {
                self.finish_revoke(now);
            }
        }
    }

    /// Forgets the generation (and the member id if `reset_member_id`):
    /// owned partitions are lost, unsent commits are refused.
    pub(super) fn reset_generation(&mut self, reset_member_id: bool, reason: LostReason) {
        self.lose_all(reason);
        self.generation_id = -1;
        self.leader_id.clear();
        if reset_member_id {
            self.member_id.clear();
        }
        self.fail_unsent_commits(OffsetError::NotMember);
    }

    pub(super) fn lose_all(&mut self, reason: LostReason) {
        if !self.owned.is_empty() {
            let partitions = std::mem::take(&mut self.owned);
            self.events
                .push_back(GroupEvent::Lost { partitions, reason });
        }
    }

    /// Resets after a generation error and rejoins (or keeps closing).
    pub(super) fn generation_error(&mut self, code: ErrorCode, now: Instant) {
        let reset_member_id = code != ErrorCode::ILLEGAL_GENERATION;
        let leaving = matches!(self.phase, Phase::Leaving { .. })
            || matches!(&self.phase, Phase::Revoking(r) if matches!(r.then, AfterRevoke::Leave));
        self.reset_generation(reset_member_id, LostReason::GenerationReset(code));
        if leaving {
            // Leave now if the revocation was under way, or if the member
            // id is gone (nothing left to leave with).
            if matches!(self.phase, Phase::Revoking(_)) || self.member_id.is_empty() {
                self.start_leave(now);
            }
        } else {
            self.phase = Phase::Unjoined;
            self.rejoin(RejoinReason::GenerationReset(code), now);
        }
    }

    pub(super) fn mark_coordinator_unknown(&mut self) {
        self.coordinator = None;
    }

    pub(super) fn session_expired(&mut self, now: Instant) {
        self.abandon_membership_request();
        self.mark_coordinator_unknown();
        let closing = self.closing;
        self.reset_generation(true, LostReason::SessionTimeout);
        if closing {
            self.start_leave(now);
        } else {
            self.phase = Phase::Unjoined;
            self.rejoin(RejoinReason::SessionTimeout, now);
        }
    }

    /// `max_poll_interval` passed without a poll: say so, drop the
    /// partitions as lost and leave until the application polls again.
    pub(super) fn poll_expired(&mut self, now: Instant) {
        self.events.push_back(GroupEvent::PollTimeoutExpired);
        self.abandon_membership_request();
        self.lose_all(LostReason::PollTimeout);
        self.fail_unsent_commits(OffsetError::NotMember);
        self.start_leave(now);
    }

    /// Sends LeaveGroup if the member should, else goes straight on.
    pub(super) fn start_leave(&mut self, now: Instant) {
        let leaves = self.cfg.group_instance_id.is_none() || self.cfg.static_member_leaves;
        if leaves && !self.member_id.is_empty() {
            self.phase = Phase::Leaving {
                deadline: now + self.cfg.request_timeout,
                sent: false,
            };
        } else {
            self.finish_leave(now);
        }
    }

    /// LeaveGroup answered, failed or timed out (or was not needed).
    pub(super) fn finish_leave(&mut self, now: Instant) {
        self.abandon_membership_request();
        self.generation_id = -1;
        self.member_id.clear();
        self.leader_id.clear();
        if self.closing {
            self.finish_close();
        } else {
            self.phase = Phase::Unjoined;
            if std::mem::take(&mut self.resume_requested) {
                self.rejoin(RejoinReason::Resumed, now);
            }
        }
    }

    pub(super) fn finish_close(&mut self) {
        self.abort_offsets(OffsetError::Aborted);
        for e in self.in_flight.values_mut() {
            e.stale = true;
        }
        self.outbox.clear();
        self.phase = Phase::Closed;
        self.events.push_back(GroupEvent::Closed);
    }

    /// A fatal error: partitions are lost, the member stops.
    pub(super) fn fail(&mut self, error: GroupError) {
        self.lose_all(LostReason::Fatal);
        self.abort_offsets(OffsetError::Aborted);
        for e in self.in_flight.values_mut() {
            e.stale = true;
        }
        self.outbox.clear();
        self.membership_in_flight = None;
        self.phase = Phase::Failed;
        self.events.push_back(GroupEvent::Fatal(error));
        if self.closing {
            self.finish_close();
        }
    }

    /// New partition counts: complete a pending leader assignment, or
    /// rejoin if a leader's topics changed size since it assigned.
    pub(super) fn on_metadata(&mut self, now: Instant) {
        match &self.phase {
            Phase::AwaitingMetadata { members, .. } => {
                let known = members
                    .iter()
                    .flat_map(|m| m.subscription.topics.iter())
                    .all(|t| self.counts.contains_key(t));
                if known {
                    self.assign_and_sync(now);
                }
            }
            Phase::Stable if self.is_leader() => {
                let changed = self
                    .group_topics
                    .iter()
                    .any(|t| self.counts.get(t) != self.assigned_counts.get(t));
                if changed {
                    self.rejoin(RejoinReason::MetadataChanged, now);
                }
            }
            _ => {}
        }
    }

    /// Leader: runs the chosen assignor and moves on to SyncGroup.
    pub(super) fn assign_and_sync(&mut self, _now: Instant) {
        let Phase::AwaitingMetadata { members, .. } =
            std::mem::replace(&mut self.phase, Phase::Stable)
        else {
            return;
        };
        match self.compute_assignment(&members) {
            Ok(assignments) => {
                let request = self.sync_request(assignments);
                self.phase = Phase::Syncing(Box::new(request));
            }
            Err(e) => self.fail(e),
        }
    }

    fn compute_assignment(
        &mut self,
        members: &[MemberSubscription],
    ) -> Result<Vec<SyncGroupRequestAssignment>, GroupError> {
        let name = self.protocol_name.clone().unwrap_or_default();
        let assignor = self
            .cfg
            .assignors
            .iter()
            .find(|a| a.name() == name)
            .cloned()
            .ok_or(GroupError::Broker {
                api: crate::protocol::ApiKey::JOIN_GROUP,
                code: ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
            })?;
        self.group_topics = members
            .iter()
            .flat_map(|m| m.subscription.topics.iter().cloned())
            .collect();
        let counts: crate::group::PartitionCounts = self
            .group_topics
            .iter()
            .filter_map(|t| self.counts.get(t).map(|n| (t.clone(), *n)))
            .collect();
        let mut assignment: GroupAssignment = assignor.assign(members, &counts)?;
        if self.cooperative {
            check_cooperative(members, &assignment)?;
        }
        self.assigned_counts = counts;
        for m in members {
            assignment.entry(m.member_id.clone()).or_default();
        }
        assignment
            .iter()
            .map(|(member_id, parts)| {
                let payload = ConsumerProtocolAssignment {
                    assigned_partitions: group_by_topic(parts),
                    user_data: None,
                };
                Ok(SyncGroupRequestAssignment {
                    member_id: member_id.clone(),
                    assignment: payload.encode(ASSIGNMENT_VERSION)?,
                    ..SyncGroupRequestAssignment::default()
                })
            })
            .collect()
    }

    pub(super) fn sync_request(
        &self,
        assignments: Vec<SyncGroupRequestAssignment>,
    ) -> SyncGroupRequest {
        SyncGroupRequest {
            group_id: self.cfg.group_id.clone(),
            generation_id: self.generation_id,
            member_id: self.member_id.clone(),
            group_instance_id: self.cfg.group_instance_id.clone(),
            protocol_type: Some(CONSUMER_PROTOCOL_TYPE.to_owned()),
            protocol_name: self.protocol_name.clone(),
            assignments,
            ..SyncGroupRequest::default()
        }
    }

    /// SyncGroup delivered `assignment`: emit the difference, revoking
    /// first (cooperative) when something was taken away.
    pub(super) fn apply_assignment(&mut self, assignment: BTreeSet<TopicPartition>, now: Instant) {
        self.last_heartbeat_ok = now;
        self.next_heartbeat = now + self.cfg.heartbeat_interval;
        let revoked: BTreeSet<TopicPartition> =
            self.owned.difference(&assignment).cloned().collect();
        let added: BTreeSet<TopicPartition> = assignment.difference(&self.owned).cloned().collect();
        if revoked.is_empty() {
            self.owned = assignment;
            self.phase = Phase::Stable;
            self.events.push_back(GroupEvent::Assigned {
                partitions: added,
                generation_id: self.generation_id,
            });
            if self.stale_subscription {
                self.rejoin(RejoinReason::SubscriptionChanged, now);
            }
        } else {
            self.start_revoke(revoked, AfterRevoke::FollowUp { assignment, added }, now);
        }
    }
}
