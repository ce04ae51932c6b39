//! Offset commits and fetches: built by the member (they carry its
//! generation and member id), retried across coordinator moves, bounded by
//! `commit_timeout`. Commits of one partition are sent one at a time, in
//! the order they were made, so a retry never lands after a newer commit.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::protocol::messages::offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    OffsetCommitResponse,
};
use crate::protocol::messages::offset_fetch::{OffsetFetchRequestTopic, OffsetFetchResponse};
use crate::protocol::ErrorCode;

use super::{CommitWait, GroupMember, InFlight, Phase, Slot};
use crate::group::assignor::tp;
use crate::group::error::GroupError;
use crate::group::event::{
    CommitId, GroupEvent, OffsetAndMetadata, OffsetError, OffsetFetchId, Offsets, RejoinReason,
};
use crate::group::wire::{Coordinator, GroupRequest, OffsetFetchCall, RequestId, Target};
use crate::group::TopicPartition;

/// A commit not yet answered.
#[derive(Debug)]
pub(super) struct PendingCommit {
    offsets: Offsets,
    deadline: Instant,
    pub(super) in_flight: Option<RequestId>,
    retry_at: Option<Instant>,
}

/// An offset fetch not yet answered.
#[derive(Debug)]
pub(super) struct PendingFetch {
    partitions: BTreeSet<TopicPartition>,
    deadline: Instant,
    pub(super) in_flight: Option<RequestId>,
    retry_at: Option<Instant>,
}

/// Committed offsets by partition, as `OffsetsFetched` reports them.
type Committed = BTreeMap<TopicPartition, Option<OffsetAndMetadata>>;

impl GroupMember {
    pub(super) fn start_commit(&mut self, offsets: Offsets, now: Instant) -> CommitId {
        let id = CommitId(self.next_id);
        self.next_id += 1;
        if let Phase::Revoking(r) = &mut self.phase {
            if r.commit == CommitWait::Driver {
                r.commit = CommitWait::Pending(id);
            }
        }
        if offsets.is_empty() {
            self.complete_commit(id, Ok(()), now);
        } else {
            self.commits.insert(
                id,
                PendingCommit {
                    offsets,
                    deadline: now + self.cfg.commit_timeout,
                    in_flight: None,
                    retry_at: None,
                },
            );
        }
        id
    }

    pub(super) fn start_fetch(
        &mut self,
        partitions: BTreeSet<TopicPartition>,
        now: Instant,
    ) -> OffsetFetchId {
        let id = OffsetFetchId(self.next_id);
        self.next_id += 1;
        if partitions.is_empty() {
            self.events.push_back(GroupEvent::OffsetsFetched {
                id,
                result: Ok(Committed::new()),
            });
        } else {
            self.fetches.insert(
                id,
                PendingFetch {
                    partitions,
                    deadline: now + self.cfg.commit_timeout,
                    in_flight: None,
                    retry_at: None,
                },
            );
        }
        id
    }

    /// Sends every commit and fetch that is due.
    pub(super) fn send_offsets(&mut self, now: Instant, c: &Coordinator) {
        let due = |in_flight: Option<RequestId>, retry_at: Option<Instant>| {
            in_flight.is_none() && retry_at.is_none_or(|t| now >= t)
        };
        let commits: Vec<CommitId> = self
            .commits
            .iter()
            .filter(|(id, p)| due(p.in_flight, p.retry_at) && !self.behind_older(**id, p))
            .map(|(id, _)| *id)
            .collect();
        for id in commits {
            if !self.has_generation() {
                self.complete_commit(id, Err(OffsetError::NotMember), now);
                continue;
            }
            let Some(request) = self
                .commits
                .get(&id)
                .map(|p| self.commit_request(&p.offsets))
            else {
                continue;
            };
            let rid = self.issue(
                Target::Coordinator(c.clone()),
                self.cfg.request_timeout,
                GroupRequest::OffsetCommit(request),
                Slot::Commit(id),
            );
            if let Some(p) = self.commits.get_mut(&id) {
                p.in_flight = Some(rid);
                p.retry_at = None;
            }
        }
        let fetches: Vec<(OffsetFetchId, OffsetFetchCall)> = self
            .fetches
            .iter()
            .filter(|(_, p)| due(p.in_flight, p.retry_at))
            .map(|(id, p)| (*id, self.fetch_call(&p.partitions)))
            .collect();
        for (id, call) in fetches {
            let rid = self.issue(
                Target::Coordinator(c.clone()),
                self.cfg.request_timeout,
                GroupRequest::OffsetFetch(call),
                Slot::Fetch(id),
            );
            if let Some(p) = self.fetches.get_mut(&id) {
                p.in_flight = Some(rid);
                p.retry_at = None;
            }
        }
    }

    /// Whether an older commit still pending (in flight or waiting for a
    /// retry) covers a partition of `p`. Commits of one partition go out one
    /// at a time, in the order they were made: an older one retried after a
    /// newer one succeeded would move the committed offset backwards.
    fn behind_older(&self, id: CommitId, p: &PendingCommit) -> bool {
        self.commits
            .range(..id)
            .any(|(_, older)| older.offsets.keys().any(|tp| p.offsets.contains_key(tp)))
    }

    fn commit_request(&self, offsets: &Offsets) -> OffsetCommitRequest {
        let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
        for (p, o) in offsets {
            let partition = OffsetCommitRequestPartition {
                partition_index: p.partition,
                committed_offset: o.offset,
                committed_leader_epoch: o.leader_epoch.unwrap_or(-1),
                committed_metadata: Some(o.metadata.clone()),
                ..OffsetCommitRequestPartition::default()
            };
            match topics.last_mut() {
                Some(t) if t.name == p.topic => t.partitions.push(partition),
                _ => topics.push(OffsetCommitRequestTopic {
                    name: p.topic.clone(),
                    partitions: vec![partition],
                    ..OffsetCommitRequestTopic::default()
                }),
            }
        }
        OffsetCommitRequest {
            group_id: self.cfg.group_id.clone(),
            generation_id_or_member_epoch: self.generation_id,
            member_id: self.member_id.clone(),
            group_instance_id: self.cfg.group_instance_id.clone(),
            topics,
            ..OffsetCommitRequest::default()
        }
    }

    fn fetch_call(&self, partitions: &BTreeSet<TopicPartition>) -> OffsetFetchCall {
        let mut topics: Vec<OffsetFetchRequestTopic> = Vec::new();
        for p in partitions {
            match topics.last_mut() {
                Some(t) if t.name == p.topic => t.partition_indexes.push(p.partition),
                _ => topics.push(OffsetFetchRequestTopic {
                    name: p.topic.clone(),
                    partition_indexes: vec![p.partition],
                    ..OffsetFetchRequestTopic::default()
                }),
            }
        }
        OffsetFetchCall {
            group_id: self.cfg.group_id.clone(),
            topics,
            require_stable: false,
        }
    }

    pub(super) fn on_commit_response(
        &mut self,
        sent: &InFlight,
        r: &OffsetCommitResponse,
        now: Instant,
    ) {
        let Slot::Commit(id) = sent.slot else { return };
        if !self.commits.contains_key(&id) {
            return;
        }
        let failed: BTreeMap<TopicPartition, ErrorCode> = r
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .filter(|p| !p.error_code.is_ok())
                    .map(|p| (tp(&t.name, p.partition_index), p.error_code))
            })
            .collect();
        let codes: BTreeSet<ErrorCode> = failed.values().copied().collect();
        let group_code = codes.iter().copied().find(|c| {
            matches!(
                *c,
                ErrorCode::UNKNOWN_MEMBER_ID
                    | ErrorCode::ILLEGAL_GENERATION
                    | ErrorCode::REBALANCE_IN_PROGRESS
                    | ErrorCode::FENCED_INSTANCE_ID
            )
        });
        if codes.is_empty() {
            self.complete_commit(id, Ok(()), now);
        } else if codes.iter().any(|c| c.is_coordinator_moved()) {
            // Resent as soon as the coordinator is found again.
            self.mark_coordinator_unknown();
        } else if let Some(code) = group_code {
            let current =
                sent.generation_id == self.generation_id && sent.member_id == self.member_id;
            // Report first, then apply what the error means for membership,
            // then let a waiting revocation go on: if the generation was
            // lost meanwhile, the partitions were reported lost instead.
            self.commits.remove(&id);
            self.events.push_back(GroupEvent::CommitCompleted {
                id,
                result: Err(OffsetError::Group(code)),
            });
            if current {
                self.commit_group_error(code, now);
            }
            self.revoke_commit_done(id, now);
        } else if codes.iter().all(|c| c.is_retriable()) {
            self.retry_commit(id, now);
        } else {
            self.complete_commit(id, Err(OffsetError::Partitions(failed)), now);
        }
    }

    /// What a group-level commit error means for membership (as in Java).
    fn commit_group_error(&mut self, code: ErrorCode, now: Instant) {
        match code {
            ErrorCode::FENCED_INSTANCE_ID => self.fail(GroupError::Broker {
                api: crate::protocol::ApiKey::OFFSET_COMMIT,
                code,
            }),
            ErrorCode::REBALANCE_IN_PROGRESS => {
                if matches!(self.phase, Phase::Stable) {
                    self.rejoin(RejoinReason::RebalanceInProgress, now);
                }
            }
            // A JoinGroup in flight settles the generation: a commit sent
            // with the old one (answered after the coordinator moved on, or
            // handled before the join's answer) says nothing new.
            _ => {
                if self.has_generation() && !self.join_in_flight() {
                    self.generation_error(code, now);
                }
            }
        }
    }

    pub(super) fn on_fetch_response(
        &mut self,
        sent: &InFlight,
        r: &OffsetFetchResponse,
        now: Instant,
    ) {
        let Slot::Fetch(id) = sent.slot else { return };
        let Some(wanted) = self.fetches.get(&id).map(|p| p.partitions.clone()) else {
            return;
        };
        // v8+ answers per group; earlier versions at the top level.
        let (group_code, topics) = match r.groups.iter().find(|g| g.group_id == self.cfg.group_id) {
            Some(g) => (g.error_code, &g.topics),
            None if !r.groups.is_empty() => (ErrorCode::COORDINATOR_NOT_AVAILABLE, &r.topics),
            None => (r.error_code, &r.topics),
        };
        let mut result = Committed::new();
        let mut failed = BTreeMap::new();
        for t in topics {
            for p in &t.partitions {
                let part = tp(&t.name, p.partition_index);
                if !p.error_code.is_ok() {
                    failed.insert(part, p.error_code);
                } else if p.committed_offset >= 0 {
                    let committed = OffsetAndMetadata {
                        offset: p.committed_offset,
                        leader_epoch: (p.committed_leader_epoch >= 0)
                            .then_some(p.committed_leader_epoch),
                        metadata: p.metadata.clone().unwrap_or_default(),
                    };
                    result.insert(part, Some(committed));
                }
            }
        }
        let codes: BTreeSet<ErrorCode> = failed
            .values()
            .copied()
            .chain((!group_code.is_ok()).then_some(group_code))
            .collect();
        if codes.iter().any(|c| c.is_coordinator_moved()) {
            self.mark_coordinator_unknown();
        } else if !codes.is_empty() && codes.iter().all(|c| c.is_retriable()) {
            self.retry_fetch(id, now);
        } else if !group_code.is_ok() {
            self.complete_fetch(id, Err(OffsetError::Group(group_code)));
        } else if !failed.is_empty() {
            self.complete_fetch(id, Err(OffsetError::Partitions(failed)));
        } else {
            for p in wanted {
                result.entry(p).or_insert(None);
            }
            self.complete_fetch(id, Ok(result));
        }
    }

    pub(super) fn retry_commit(&mut self, id: CommitId, now: Instant) {
        if let Some(p) = self.commits.get_mut(&id) {
            p.retry_at = Some(now + self.cfg.retry_backoff);
        }
    }

    pub(super) fn retry_fetch(&mut self, id: OffsetFetchId, now: Instant) {
        if let Some(p) = self.fetches.get_mut(&id) {
            p.retry_at = Some(now + self.cfg.retry_backoff);
        }
    }

    /// Reports a commit and continues a revocation waiting for it.
    pub(super) fn complete_commit(
        &mut self,
        id: CommitId,
        result: Result<(), OffsetError>,
        now: Instant,
    ) {
        self.drop_commit(id, result);
        self.revoke_commit_done(id, now);
    }

    fn drop_commit(&mut self, id: CommitId, result: Result<(), OffsetError>) {
        if let Some(rid) = self.commits.remove(&id).and_then(|p| p.in_flight) {
            if let Some(e) = self.in_flight.get_mut(&rid) {
                e.stale = true;
            }
        }
        self.events
            .push_back(GroupEvent::CommitCompleted { id, result });
    }

    pub(super) fn complete_fetch(
        &mut self,
        id: OffsetFetchId,
        result: Result<Committed, OffsetError>,
    ) {
        if let Some(rid) = self.fetches.remove(&id).and_then(|p| p.in_flight) {
            if let Some(e) = self.in_flight.get_mut(&rid) {
                e.stale = true;
            }
        }
        self.events
            .push_back(GroupEvent::OffsetsFetched { id, result });
    }

    /// Commits not yet sent are refused (the member lost its generation).
    /// The caller moves the state on, so no revocation continues from here.
    pub(super) fn fail_unsent_commits(&mut self, error: OffsetError) {
        let unsent: Vec<CommitId> = self
            .commits
            .iter()
            .filter(|(_, p)| p.in_flight.is_none())
            .map(|(id, _)| *id)
            .collect();
        for id in unsent {
            self.drop_commit(id, Err(error.clone()));
        }
    }

    /// Ends every commit and fetch with `error` (close, fatal error).
    pub(super) fn abort_offsets(&mut self, error: OffsetError) {
        let commits: Vec<CommitId> = self.commits.keys().copied().collect();
        for id in commits {
            self.drop_commit(id, Err(error.clone()));
        }
        let fetches: Vec<OffsetFetchId> = self.fetches.keys().copied().collect();
        for id in fetches {
            self.complete_fetch(id, Err(error.clone()));
        }
    }

    /// Times out commits and fetches past their deadline.
    pub(super) fn expire_offsets(&mut self, now: Instant) {
        let commits: Vec<CommitId> = self
            .commits
            .iter()
            .filter(|(_, p)| now >= p.deadline)
            .map(|(id, _)| *id)
            .collect();
        for id in commits {
            self.complete_commit(id, Err(OffsetError::TimedOut), now);
        }
        let fetches: Vec<OffsetFetchId> = self
            .fetches
            .iter()
            .filter(|(_, p)| now >= p.deadline)
            .map(|(id, _)| *id)
            .collect();
        for id in fetches {
            self.complete_fetch(id, Err(OffsetError::TimedOut));
        }
    }

    /// Deadlines and retry times of commits and fetches.
    pub(super) fn offset_deadlines(&self) -> Vec<Instant> {
        let known = self.coordinator.is_some();
        let mut at = Vec::new();
        for p in self.commits.values() {
            at.push(p.deadline);
            if known && p.in_flight.is_none() {
                at.extend(p.retry_at);
            }
        }
        for p in self.fetches.values() {
            at.push(p.deadline);
            if known && p.in_flight.is_none() {
                at.extend(p.retry_at);
            }
        }
        at
    }
}
