//! Reconciling the owned partitions with the coordinator's target
//! assignment, and the revocation before leaving.
//!
//! Spec: KIP-848 ("Member reconciliation": revoke first, then assign, then
//! acknowledge with the owned partitions).

use std::time::Instant;

use crate::protocol::messages::consumer_group_heartbeat::ConsumerGroupAssignment;

use super::{
    ConsumerMember, ConsumerMemberEvent, ConsumerMemberRequest, ConsumerMemberState, Partitions,
    Pending,
};
use crate::group::wire::Target;

impl ConsumerMember {
    /// Records a target assignment from a heartbeat response. Negative
    /// partition ids (invalid wire data) are dropped; repeated topic ids merge.
    pub(super) fn set_target(&mut self, assignment: &ConsumerGroupAssignment, now: Instant) {
        let mut target = Partitions::new();
        for t in &assignment.topic_partitions {
            let parts = target.entry(t.topic_id).or_default();
            parts.extend(t.partitions.iter().copied().filter(|p| *p >= 0));
        }
        target.retain(|_, p| !p.is_empty());
        self.target = Some(target);
        self.reconcile(now);
    }

    /// Moves the owned partitions toward the target as far as it can
    /// without the application: asks for missing topic names, asks the
    /// application to commit before revoking, or assigns and acknowledges.
    pub(super) fn reconcile(&mut self, now: Instant) {
        if self.revoking.is_some() || self.leave_requested {
            return;
        }
        let Some(target) = self.target.clone() else {
            return;
        };
        let missing = target.keys().any(|id| !self.names.contains_key(id));
        if missing && self.names_due.is_none() && !self.names_in_flight() {
            self.request_names();
        }
        let revoke = difference(&self.owned, &target);
        if !revoke.is_empty() {
            self.events
                .push_back(ConsumerMemberEvent::CommitNeeded(self.named(&revoke)));
            self.revoking = Some(revoke);
            return;
        }
        let resolved: Partitions = target
            .iter()
            .filter(|(id, _)| self.names.contains_key(id))
            .map(|(id, p)| (*id, p.clone()))
            .collect();
        let add = difference(&resolved, &self.owned);
        if !add.is_empty() {
            self.events
                .push_back(ConsumerMemberEvent::Assigned(self.named(&add)));
            for (id, parts) in add {
                self.owned.entry(id).or_default().extend(parts);
            }
            // Acknowledge the new assignment at once.
            self.heartbeat_due = Some(now);
        }
        if !missing {
            self.target = None;
            self.events
                .push_back(ConsumerMemberEvent::Reconciled { epoch: self.epoch });
        }
    }

    /// Asks for the names of the target's topic ids this member does not know.
    pub(super) fn request_names(&mut self) {
        let Some(target) = &self.target else {
            return;
        };
        let topic_ids: Vec<_> = target
            .keys()
            .filter(|id| !self.names.contains_key(id))
            .copied()
            .collect();
        if !topic_ids.is_empty() {
            self.send(
                Target::AnyBroker,
                Pending::Names,
                ConsumerMemberRequest::TopicNames { topic_ids },
            );
        }
    }

    pub(super) fn names_in_flight(&self) -> bool {
        self.pending.values().any(|p| *p == Pending::Names)
    }

    /// Revokes what is still owned (CommitNeeded first), or sends the leave
    /// heartbeat when nothing is.
    pub(super) fn start_leave(&mut self, now: Instant) {
        if self.owned.is_empty() || self.epoch <= 0 {
            self.state = ConsumerMemberState::Leaving;
            self.heartbeat_due = Some(now);
            if self.epoch <= 0 && !self.owned.is_empty() {
                // Nothing was acknowledged at this epoch: the partitions are lost.
                let lost = self.named(&self.owned);
                self.owned.clear();
                self.events.push_back(ConsumerMemberEvent::Lost(lost));
            }
            return;
        }
        let all = self.owned.clone();
        self.events
            .push_back(ConsumerMemberEvent::CommitNeeded(self.named(&all)));
        self.revoking = Some(all);
    }
}

/// The partitions of `a` that `b` lacks.
fn difference(a: &Partitions, b: &Partitions) -> Partitions {
    let mut out = Partitions::new();
    for (id, parts) in a {
        let rest: std::collections::BTreeSet<i32> = match b.get(id) {
            Some(other) => parts.difference(other).copied().collect(),
            None => parts.clone(),
        };
        if !rest.is_empty() {
            out.insert(*id, rest);
        }
    }
    out
}
