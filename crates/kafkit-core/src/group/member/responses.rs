//! Handling of FindCoordinator, JoinGroup, SyncGroup, Heartbeat and
//! LeaveGroup responses, and of transport failures.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::protocol::messages::consumer_protocol::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, CONSUMER_PROTOCOL_TYPE,
};
use crate::protocol::messages::find_coordinator::FindCoordinatorResponse;
use crate::protocol::messages::join_group::JoinGroupResponse;
use crate::protocol::messages::leave_group::LeaveGroupResponse;
use crate::protocol::messages::sync_group::SyncGroupResponse;
use crate::protocol::{ApiKey, ErrorCode};

use super::{GroupMember, InFlight, Phase, Slot};
use crate::group::assignor::{tp, MemberSubscription};
use crate::group::error::{GroupError, RequestFailure};
use crate::group::event::{GroupEvent, OffsetError, RejoinReason};
use crate::group::wire::Coordinator;
use crate::group::TopicPartition;

fn fatal(api: ApiKey, code: ErrorCode) -> GroupError {
    GroupError::Broker { api, code }
}

impl GroupMember {
    pub(super) fn on_find_response(&mut self, r: &FindCoordinatorResponse, now: Instant) {
        let found = r.coordinator_for(&self.cfg.group_id);
        let code = found.error_code;
        if code.is_ok() {
            self.coordinator = Some(Coordinator {
                node_id: found.node_id,
                host: found.host,
                port: found.port,
            });
            self.find_retry_at = None;
        } else if code.is_retriable() {
            self.find_retry_at = Some(now + self.cfg.retry_backoff);
        } else {
            self.fail(fatal(ApiKey::FIND_COORDINATOR, code));
        }
    }

    pub(super) fn on_join_response(&mut self, r: JoinGroupResponse, now: Instant) {
        if !matches!(self.phase, Phase::Joining(_)) {
            return;
        }
        let code = r.error_code;
        match code {
            ErrorCode::NONE => self.joined(r, now),
            ErrorCode::MEMBER_ID_REQUIRED => {
                // KIP-394: the coordinator assigned an id; join again with it.
                self.member_id = r.member_id;
                self.membership_retry_at = None;
            }
            ErrorCode::UNKNOWN_MEMBER_ID => {
                self.reset_generation(true, crate::group::LostReason::GenerationReset(code));
            }
            ErrorCode::ILLEGAL_GENERATION => {
                self.reset_generation(false, crate::group::LostReason::GenerationReset(code));
            }
            ErrorCode::REBALANCE_IN_PROGRESS => {
                self.membership_retry_at = Some(now + self.cfg.retry_backoff);
            }
            c if c.is_coordinator_moved() => self.mark_coordinator_unknown(),
            c if c.is_retriable() => self.membership_retry_at = Some(now + self.cfg.retry_backoff),
            // FENCED_INSTANCE_ID, INCONSISTENT_GROUP_PROTOCOL, authorization,
            // GROUP_MAX_SIZE_REACHED, INVALID_SESSION_TIMEOUT, unknown codes.
            c => self.fail(fatal(ApiKey::JOIN_GROUP, c)),
        }
    }

    /// JoinGroup succeeded: record the generation, then assign (leader) or
    /// sync (follower).
    fn joined(&mut self, r: JoinGroupResponse, now: Instant) {
        let wrong_type = r
            .protocol_type
            .as_deref()
            .is_some_and(|t| t != CONSUMER_PROTOCOL_TYPE);
        let Some(name) = r.protocol_name.clone().filter(|_| !wrong_type) else {
            return self.fail(fatal(
                ApiKey::JOIN_GROUP,
                ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
            ));
        };
        if !self.cfg.assignors.iter().any(|a| a.name() == name) {
            return self.fail(fatal(
                ApiKey::JOIN_GROUP,
                ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
            ));
        }
        self.member_id = r.member_id.clone();
        self.generation_id = r.generation_id;
        self.leader_id = r.leader.clone();
        self.protocol_name = Some(name);
        self.last_heartbeat_ok = now;
        self.next_heartbeat = now + self.cfg.heartbeat_interval;
        if r.is_leader() && !r.skip_assignment {
            match decode_members(&r) {
                Ok(members) => self.elected(members, now),
                Err(e) => self.fail(e),
            }
        } else {
            self.phase = Phase::Syncing(Box::new(self.sync_request(Vec::new())));
        }
    }

    /// Leader: ask for fresh partition counts and assign once they arrive
    /// (or, at `metadata_timeout`, with the counts already known).
    ///
    /// Counts are asked for at every election, as librdkafka does, so an
    /// assignment never uses a stale partition count. Followers also get
    /// their SyncGroup in first: librdkafka's mock completes a generation as
    /// soon as the leader's SyncGroup arrives and answers later followers
    /// with INVALID_REQUEST, and a leader syncing at once made a group of
    /// kafkit consumers rejoin over and over against it.
    fn elected(&mut self, members: Vec<MemberSubscription>, now: Instant) {
        let topics: BTreeSet<String> = members
            .iter()
            .flat_map(|m| m.subscription.topics.iter().cloned())
            .collect();
        self.group_topics = topics.clone();
        self.phase = Phase::AwaitingMetadata {
            members,
            deadline: now + self.cfg.metadata_timeout,
        };
        self.events.push_back(GroupEvent::MetadataNeeded { topics });
    }

    pub(super) fn on_sync_response(&mut self, r: &SyncGroupResponse, now: Instant) {
        if !matches!(self.phase, Phase::Syncing(_)) {
            return;
        }
        let code = r.error_code;
        match code {
            ErrorCode::NONE => {
                let inconsistent = r
                    .protocol_type
                    .as_deref()
                    .is_some_and(|t| t != CONSUMER_PROTOCOL_TYPE)
                    || r.protocol_name
                        .as_ref()
                        .is_some_and(|n| Some(n) != self.protocol_name.as_ref());
                if inconsistent {
                    return self.fail(fatal(
                        ApiKey::SYNC_GROUP,
                        ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
                    ));
                }
                match ConsumerProtocolAssignment::decode(r.assignment.clone()) {
                    Ok(a) => {
                        let set = a
                            .assigned_partitions
                            .iter()
                            .flat_map(|t| t.partitions.iter().map(|&p| tp(&t.topic, p)))
                            .collect::<BTreeSet<TopicPartition>>();
                        self.apply_assignment(set, now);
                    }
                    Err(e) => self.fail(e.into()),
                }
            }
            ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::ILLEGAL_GENERATION => {
                self.generation_error(code, now);
            }
            ErrorCode::REBALANCE_IN_PROGRESS => self.rejoin_after_sync(code),
            c if c.is_coordinator_moved() => {
                self.mark_coordinator_unknown();
                self.rejoin_after_sync(c);
            }
            // INVALID_REQUEST: a coordinator that completed the generation
            // before this follower's SyncGroup arrived (librdkafka's mock does
            // so). Like librdkafka, join again rather than give up.
            c if c.is_retriable() || c == ErrorCode::INVALID_REQUEST => {
                self.membership_retry_at = Some(now + self.cfg.retry_backoff);
                self.rejoin_after_sync(c);
            }
            c => self.fail(fatal(ApiKey::SYNC_GROUP, c)),
        }
    }

    /// The generation could not be completed: join it again (keeping the
    /// member id, generation and owned partitions, as Java does).
    fn rejoin_after_sync(&mut self, code: ErrorCode) {
        let retry_at = self.membership_retry_at;
        self.events.push_back(GroupEvent::Rebalancing {
            reason: RejoinReason::SyncFailed(code),
        });
        self.enter_joining(RejoinReason::SyncFailed(code));
        self.membership_retry_at = retry_at;
    }

    pub(super) fn on_heartbeat_response(&mut self, sent: &InFlight, code: ErrorCode, now: Instant) {
        let same_generation =
            sent.generation_id == self.generation_id && sent.member_id == self.member_id;
        match code {
            ErrorCode::NONE => {
                if same_generation {
                    self.last_heartbeat_ok = now;
                }
            }
            ErrorCode::REBALANCE_IN_PROGRESS => {
                if same_generation {
                    self.last_heartbeat_ok = now;
                    if matches!(self.phase, Phase::Stable) {
                        self.rejoin(RejoinReason::RebalanceInProgress, now);
                    }
                }
            }
            ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::ILLEGAL_GENERATION => {
                if same_generation && self.has_generation() && !self.join_in_flight() {
                    self.generation_error(code, now);
                }
            }
            ErrorCode::FENCED_INSTANCE_ID => {
                if same_generation {
                    self.fail(fatal(ApiKey::HEARTBEAT, code));
                }
            }
            c if c.is_coordinator_moved() => {
                self.mark_coordinator_unknown();
                self.next_heartbeat = now;
            }
            c if c.is_retriable() => self.next_heartbeat = now + self.cfg.retry_backoff,
            c => self.fail(fatal(ApiKey::HEARTBEAT, c)),
        }
    }

    pub(super) fn on_leave_response(&mut self, r: &LeaveGroupResponse, now: Instant) {
        if !matches!(self.phase, Phase::Leaving { .. }) {
            return;
        }
        // v3+ reports per member; the top-level code covers older versions.
        let code = r
            .members
            .iter()
            .map(|m| m.error_code)
            .find(|c| !c.is_ok())
            .unwrap_or(r.error_code);
        self.events.push_back(GroupEvent::LeftGroup { error: code });
        self.finish_leave(now);
    }

    /// A request failed in transport.
    pub(super) fn on_request_failed<E: RequestFailure + ?Sized>(
        &mut self,
        entry: &InFlight,
        error: &E,
        backoff: std::time::Duration,
        now: Instant,
    ) {
        let retriable = error.is_retriable();
        match entry.slot {
            Slot::Find => {
                if retriable {
                    self.find_retry_at = Some(now + backoff);
                } else {
                    self.fail(transport(entry.api, error));
                }
            }
            Slot::Membership => match self.phase {
                Phase::Leaving { .. } => {
                    self.events.push_back(GroupEvent::LeftGroup {
                        error: error.code().unwrap_or(ErrorCode::NETWORK_EXCEPTION),
                    });
                    self.finish_leave(now);
                }
                _ if !retriable => self.fail(transport(entry.api, error)),
                Phase::Joining(_) => {
                    self.mark_coordinator_unknown();
                    self.membership_retry_at = Some(now + backoff);
                }
                Phase::Syncing(_) => {
                    self.mark_coordinator_unknown();
                    self.rejoin_after_sync(ErrorCode::NETWORK_EXCEPTION);
                }
                _ => {}
            },
            Slot::Heartbeat => {
                if retriable {
                    self.mark_coordinator_unknown();
                    self.next_heartbeat = now + backoff;
                } else {
                    self.fail(transport(entry.api, error));
                }
            }
            Slot::Commit(id) => {
                if retriable {
                    self.mark_coordinator_unknown();
                    self.retry_commit(id, now);
                } else {
                    self.complete_commit(id, Err(OffsetError::Transport(error.to_string())), now);
                }
            }
            Slot::Fetch(id) => {
                if retriable {
                    self.mark_coordinator_unknown();
                    self.retry_fetch(id, now);
                } else {
                    self.complete_fetch(id, Err(OffsetError::Transport(error.to_string())));
                }
            }
        }
    }
}

fn transport<E: RequestFailure + ?Sized>(api: ApiKey, error: &E) -> GroupError {
    GroupError::Request {
        api,
        message: error.to_string(),
    }
}

/// Every member's subscription from the leader's JoinGroup response.
fn decode_members(r: &JoinGroupResponse) -> Result<Vec<MemberSubscription>, GroupError> {
    r.members
        .iter()
        .map(|m| {
            Ok(MemberSubscription {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                subscription: ConsumerProtocolSubscription::decode(m.metadata.clone())?,
            })
        })
        .collect()
}
