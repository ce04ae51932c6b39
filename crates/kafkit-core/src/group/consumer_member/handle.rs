//! Inputs from the driver: responses and transport failures.
//!
//! Spec: KIP-848 (ConsumerGroupHeartbeat error handling).

use std::time::{Duration, Instant};

use crate::protocol::messages::consumer_group_heartbeat::ConsumerGroupHeartbeatResponse;
use crate::protocol::ErrorCode;

use super::{
    ConsumerMember, ConsumerMemberEvent, ConsumerMemberResponse, ConsumerMemberState, Pending,
    JOIN_EPOCH,
};
use crate::group::error::GroupError;
use crate::group::wire::RequestId;

impl ConsumerMember {
    /// Hands back the answer to request `id`.
    pub fn handle_response(
        &mut self,
        id: RequestId,
        response: ConsumerMemberResponse,
        now: Instant,
    ) -> Result<(), GroupError> {
        let pending = self.take_pending(id, &response)?;
        match (pending, response) {
            (
                Pending::Find,
                ConsumerMemberResponse::FindCoordinator {
                    error_code,
                    coordinator,
                },
            ) => match coordinator.filter(|_| error_code == ErrorCode::NONE) {
                Some(c) => self.coordinator = Some(c),
                None => self.find_due = Some(now + self.cfg.retry_backoff),
            },
            (Pending::Names, ConsumerMemberResponse::TopicNames(names)) => {
                self.names.extend(names);
                let target = self.target.as_ref();
                if target.is_some_and(|t| t.keys().any(|id| !self.names.contains_key(id))) {
                    // Metadata may lag a new topic: ask again after a pause.
                    self.names_due = Some(now + self.cfg.retry_backoff);
                }
                self.reconcile(now);
            }
            (Pending::Heartbeat { leave: true }, ConsumerMemberResponse::Heartbeat(_)) => {
                self.finish(ConsumerMemberEvent::Left, ConsumerMemberState::Left);
            }
            (Pending::Heartbeat { leave: false }, ConsumerMemberResponse::Heartbeat(r)) => {
                self.heartbeat_answered(r, now);
            }
            // take_pending checked that the kinds match.
            _ => {}
        }
        self.drive(now);
        Ok(())
    }

    /// Request `id` failed in transport (broken connection, timeout).
    pub fn handle_error(&mut self, id: RequestId, now: Instant) -> Result<(), GroupError> {
        let pending = self
            .pending
            .remove(&id)
            .ok_or(GroupError::UnknownRequest(id))?;
        let retry = now + self.cfg.retry_backoff;
        match pending {
            Pending::Find => self.find_due = Some(retry),
            Pending::Names => self.names_due = Some(retry),
            // A leave that cannot be delivered still ends membership here;
            // the coordinator expires the session.
            Pending::Heartbeat { leave: true } => {
                self.finish(ConsumerMemberEvent::Left, ConsumerMemberState::Left);
            }
            Pending::Heartbeat { leave: false } => {
                self.coordinator = None;
                self.heartbeat_due = Some(now);
                self.find_due = Some(retry);
            }
        }
        self.drive(now);
        Ok(())
    }

    fn take_pending(
        &mut self,
        id: RequestId,
        response: &ConsumerMemberResponse,
    ) -> Result<Pending, GroupError> {
        let pending = *self
            .pending
            .get(&id)
            .ok_or(GroupError::UnknownRequest(id))?;
        let fits = matches!(
            (pending, response),
            (
                Pending::Find,
                ConsumerMemberResponse::FindCoordinator { .. }
            ) | (Pending::Names, ConsumerMemberResponse::TopicNames(_))
                | (
                    Pending::Heartbeat { .. },
                    ConsumerMemberResponse::Heartbeat(_)
                )
        );
        if !fits
            || matches!(
                self.state,
                ConsumerMemberState::Left | ConsumerMemberState::Failed
            )
        {
            return Err(self.invalid("response"));
        }
        self.pending.remove(&id);
        Ok(pending)
    }

    fn heartbeat_answered(&mut self, r: ConsumerGroupHeartbeatResponse, now: Instant) {
        if self.state == ConsumerMemberState::Leaving {
            // An ordinary heartbeat answered after leave(): nothing to learn.
            return;
        }
        let code = r.error_code;
        if code == ErrorCode::NONE {
            return self.heartbeat_ok(r, now);
        }
        let retry = now + self.cfg.retry_backoff;
        if code == ErrorCode::FENCED_MEMBER_EPOCH || code == ErrorCode::UNKNOWN_MEMBER_ID {
            self.rejoin(now);
        } else if code == ErrorCode::NOT_COORDINATOR || code == ErrorCode::COORDINATOR_NOT_AVAILABLE
        {
            self.coordinator = None;
            self.heartbeat_due = Some(now);
            self.find_due = Some(retry);
        } else if code.is_retriable() && code != ErrorCode::UNSUPPORTED_VERSION {
            // COORDINATOR_LOAD_IN_PROGRESS and the like: same coordinator, later.
            self.heartbeat_due = Some(retry);
        } else {
            // UNRELEASED_INSTANCE_ID, GROUP_MAX_SIZE_REACHED,
            // UNSUPPORTED_VERSION, authorization, invalid request, ...
            self.lose_all();
            self.finish(
                ConsumerMemberEvent::Fatal {
                    error_code: code,
                    message: r.error_message,
                },
                ConsumerMemberState::Failed,
            );
        }
    }

    fn heartbeat_ok(&mut self, r: ConsumerGroupHeartbeatResponse, now: Instant) {
        if let Some(id) = r.member_id.filter(|id| !id.is_empty()) {
            self.member_id = id;
        }
        let joined = self.state == ConsumerMemberState::Joining;
        self.epoch = r.member_epoch;
        if let Some(ms) = u64::try_from(r.heartbeat_interval_ms)
            .ok()
            .filter(|ms| *ms > 0)
        {
            self.interval = Duration::from_millis(ms);
        }
        if joined {
            self.state = ConsumerMemberState::Stable;
            self.events.push_back(ConsumerMemberEvent::Joined {
                member_id: self.member_id.clone(),
                epoch: self.epoch,
            });
        }
        if self.heartbeat_due.is_none() {
            self.heartbeat_due = Some(now + self.interval);
        }
        if let Some(a) = &r.assignment {
            self.set_target(a, now);
        }
    }

    /// Fenced or forgotten: the partitions are lost (no commit) and the
    /// member joins again at epoch 0 with the same member id.
    fn rejoin(&mut self, now: Instant) {
        self.lose_all();
        self.epoch = JOIN_EPOCH;
        self.state = ConsumerMemberState::Joining;
        self.heartbeat_due = Some(now);
        if self.leave_requested {
            self.finish(ConsumerMemberEvent::Left, ConsumerMemberState::Left);
        }
    }

    fn lose_all(&mut self) {
        self.revoking = None;
        self.target = None;
        if !self.owned.is_empty() {
            let lost = self.named(&self.owned);
            self.owned.clear();
            self.events.push_back(ConsumerMemberEvent::Lost(lost));
        }
    }
}

impl ConsumerMember {
    /// The coordinator in use, if known (offset commits and fetches go there too).
    pub fn coordinator(&self) -> Option<&crate::group::wire::Coordinator> {
        self.coordinator.as_ref()
    }

    /// Another request to the coordinator (an offset commit or fetch the
    /// driver sends itself) learnt that it moved: the member looks it up
    /// again now, and its next heartbeat goes to the new one.
    pub fn coordinator_moved(&mut self, now: Instant) {
        if matches!(
            self.state,
            ConsumerMemberState::Left | ConsumerMemberState::Failed
        ) || self.coordinator.is_none()
        {
            return;
        }
        self.coordinator = None;
        self.find_due = None;
        if self.heartbeat_due.is_none() && !self.heartbeat_in_flight() {
            self.heartbeat_due = Some(now + self.interval);
        }
        self.find_coordinator(now);
    }

    /// Whether the machine is done (left, or refused for good).
    pub fn is_done(&self) -> bool {
        matches!(
            self.state,
            ConsumerMemberState::Left | ConsumerMemberState::Failed
        )
    }
}
