//! Offset commits and fetches of a KIP-848 member: they carry the member id
//! and member epoch (OffsetCommit v9+, OffsetFetch v9+), go to the group
//! coordinator, and are retried after STALE_MEMBER_EPOCH (with the epoch of
//! the moment), a coordinator move or a retriable error, until their
//! deadline. Commits of one partition go out one at a time, in the order
//! they were made, so a retry never lands after a newer commit.
//!
//! This file only keeps the bookkeeping and reads the answers; the driver
//! (`group848.rs`) sends.
//!
//! Spec: KIP-848 ("Offset commit and fetch": member epoch validation).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::group::{OffsetAndMetadata, Offsets, TopicPartition};
use crate::protocol::messages::offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    OffsetCommitResponse,
};
use crate::protocol::messages::offset_fetch::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchResponse,
};
use crate::protocol::{ApiKey, ErrorCode};

/// The first OffsetCommit / OffsetFetch versions that carry the member epoch.
pub(super) const MEMBER_EPOCH_VERSION: i16 = 9;

/// Committed offsets by partition (`None`: nothing committed).
pub(super) type Committed = BTreeMap<TopicPartition, Option<i64>>;

/// Who waits for a fetch.
#[derive(Debug)]
pub(super) enum FetchPurpose {
    /// Starting positions of newly assigned partitions.
    Assign,
    /// The application's `committed` call.
    Query(oneshot::Sender<Result<Committed>>),
}

#[derive(Debug)]
struct Pending<T> {
    what: T,
    deadline: Instant,
    in_flight: bool,
    retry_at: Option<Instant>,
}

#[derive(Debug)]
struct Commit {
    offsets: Offsets,
    replies: Vec<oneshot::Sender<Result<()>>>,
}

#[derive(Debug)]
pub(super) struct Fetch {
    pub partitions: BTreeSet<TopicPartition>,
    pub purpose: FetchPurpose,
}

/// What an answer means.
#[derive(Debug)]
pub(super) enum Outcome<T> {
    /// Done: report this.
    Done(T),
    /// Send again after the backoff.
    Retry,
    /// Send again once the coordinator was found again.
    CoordinatorMoved,
}

/// The commits and fetches not finished yet.
#[derive(Debug)]
pub(super) struct OffsetBook {
    next: u64,
    timeout: Duration,
    backoff: Duration,
    commits: BTreeMap<u64, Pending<Commit>>,
    fetches: BTreeMap<u64, Pending<Fetch>>,
}

impl OffsetBook {
    pub fn new(timeout: Duration, backoff: Duration) -> Self {
        Self {
            next: 0,
            timeout,
            backoff,
            commits: BTreeMap::new(),
            fetches: BTreeMap::new(),
        }
    }

    /// Queues a commit; `None` when there is nothing to commit (the reply,
    /// if any, is answered at once).
    pub fn commit(
        &mut self,
        offsets: Offsets,
        reply: Option<oneshot::Sender<Result<()>>>,
        now: Instant,
    ) -> Option<u64> {
        if offsets.is_empty() {
            if let Some(r) = reply {
                let _ = r.send(Ok(()));
            }
            return None;
        }
        let id = self.id();
        let commit = Commit {
            offsets,
            replies: reply.into_iter().collect(),
        };
        self.commits.insert(id, self.pending(commit, now));
        Some(id)
    }

    /// Queues a committed-offset read.
    pub fn fetch(
        &mut self,
        partitions: BTreeSet<TopicPartition>,
        purpose: FetchPurpose,
        now: Instant,
    ) -> u64 {
        let id = self.id();
        let fetch = Fetch {
            partitions,
            purpose,
        };
        self.fetches.insert(id, self.pending(fetch, now));
        id
    }

    fn id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    fn pending<T>(&self, what: T, now: Instant) -> Pending<T> {
        Pending {
            what,
            deadline: now + self.timeout,
            in_flight: false,
            retry_at: None,
        }
    }

    /// Commits due now (marked in flight): not in flight, past their retry
    /// time, and behind no older commit of one of their partitions.
    pub fn due_commits(&mut self, now: Instant) -> Vec<(u64, Offsets)> {
        let mut busy: BTreeSet<TopicPartition> = BTreeSet::new();
        let mut out = Vec::new();
        for (id, p) in &mut self.commits {
            let blocked = p.what.offsets.keys().any(|tp| busy.contains(tp));
            busy.extend(p.what.offsets.keys().cloned());
            if blocked || p.in_flight || p.retry_at.is_some_and(|t| t > now) {
                continue;
            }
            p.in_flight = true;
            p.retry_at = None;
            out.push((*id, p.what.offsets.clone()));
        }
        out
    }

    /// Fetches due now (marked in flight).
    pub fn due_fetches(&mut self, now: Instant) -> Vec<(u64, BTreeSet<TopicPartition>)> {
        let mut out = Vec::new();
        for (id, p) in &mut self.fetches {
            if p.in_flight || p.retry_at.is_some_and(|t| t > now) {
                continue;
            }
            p.in_flight = true;
            p.retry_at = None;
            out.push((*id, p.what.partitions.clone()));
        }
        out
    }

    /// The earliest retry time or deadline.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let commits = self
            .commits
            .values()
            .flat_map(|p| [p.retry_at, Some(p.deadline)]);
        let fetches = self
            .fetches
            .values()
            .flat_map(|p| [p.retry_at, Some(p.deadline)]);
        commits.chain(fetches).flatten().min()
    }

    /// Whether commit `id` is still pending.
    pub fn commit_pending(&self, id: u64) -> bool {
        self.commits.contains_key(&id)
    }

    /// The partitions fetch `id` asks for.
    pub fn fetch_partitions(&self, id: u64) -> Option<BTreeSet<TopicPartition>> {
        self.fetches.get(&id).map(|p| p.what.partitions.clone())
    }

    /// Drops lost partitions from the commits not sent yet: a member that
    /// lost them must not commit them any more (their new owner may have
    /// moved on). A commit left empty fails.
    pub fn forget(&mut self, lost: &BTreeSet<TopicPartition>) {
        let mut emptied = Vec::new();
        for (id, p) in &mut self.commits {
            if !p.in_flight {
                p.what.offsets.retain(|tp, _| !lost.contains(tp));
                if p.what.offsets.is_empty() {
                    emptied.push(*id);
                }
            }
        }
        for id in emptied {
            if let Some(p) = self.commits.remove(&id) {
                for r in p.what.replies {
                    let _ = r.send(Err(Error::InvalidState {
                        operation: "offset commit",
                        reason: "the partitions were lost (fenced member)".to_owned(),
                    }));
                }
            }
        }
    }

    /// Answers commit `id`: `Some` when it finished, with its result.
    pub fn commit_answered(
        &mut self,
        id: u64,
        outcome: Outcome<Result<()>>,
        now: Instant,
    ) -> Option<Result<()>> {
        let backoff = self.backoff;
        let p = self.commits.get_mut(&id)?;
        p.in_flight = false;
        match outcome {
            Outcome::Done(result) => {
                let p = self.commits.remove(&id)?;
                for r in p.what.replies {
                    let _ = r.send(result.clone());
                }
                Some(result)
            }
            Outcome::Retry => {
                p.retry_at = Some(now + backoff);
                None
            }
            Outcome::CoordinatorMoved => {
                p.retry_at = Some(now + backoff / 2);
                None
            }
        }
    }

    /// Answers fetch `id`: `Some` with its purpose and result when it finished.
    pub fn fetch_answered(
        &mut self,
        id: u64,
        outcome: Outcome<Result<Committed>>,
        now: Instant,
    ) -> Option<(Fetch, Result<Committed>)> {
        let backoff = self.backoff;
        let p = self.fetches.get_mut(&id)?;
        p.in_flight = false;
        match outcome {
            Outcome::Done(result) => {
                let p = self.fetches.remove(&id)?;
                Some((p.what, result))
            }
            Outcome::Retry | Outcome::CoordinatorMoved => {
                p.retry_at = Some(now + backoff);
                None
            }
        }
    }

    /// Ends what passed its deadline (without an answer in flight) with a
    /// timeout; returns the fetches so ended.
    pub fn expire(&mut self, now: Instant) -> Vec<(Fetch, Result<Committed>)> {
        let late: Vec<u64> = self
            .commits
            .iter()
            .filter(|(_, p)| now >= p.deadline && !p.in_flight)
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            self.commit_answered(
                id,
                Outcome::Done(Err(timed_out(ApiKey::OFFSET_COMMIT))),
                now,
            );
        }
        let late: Vec<u64> = self
            .fetches
            .iter()
            .filter(|(_, p)| now >= p.deadline && !p.in_flight)
            .map(|(id, _)| *id)
            .collect();
        late.into_iter()
            .filter_map(|id| self.fetches.remove(&id))
            .map(|p| (p.what, Err(timed_out(ApiKey::OFFSET_FETCH))))
            .collect()
    }

    /// Ends everything with `Error::Closed` (the driver stops).
    pub fn abort(&mut self) {
        for (_, p) in std::mem::take(&mut self.commits) {
            for r in p.what.replies {
                let _ = r.send(Err(Error::Closed));
            }
        }
        for (_, p) in std::mem::take(&mut self.fetches) {
            if let FetchPurpose::Query(r) = p.what.purpose {
                let _ = r.send(Err(Error::Closed));
            }
        }
    }
}

fn timed_out(api: ApiKey) -> Error {
    Error::DeadlineExceeded(format!(
        "{api}: the group coordinator did not answer in time"
    ))
}

/// The member a request speaks for.
#[derive(Debug, Clone)]
pub(super) struct Member<'a> {
    pub group_id: &'a str,
    pub member_id: &'a str,
    pub epoch: i32,
    pub instance_id: Option<&'a str>,
}

/// An OffsetCommit (v9+) of `offsets` for `m`.
pub(super) fn commit_request(m: &Member<'_>, offsets: &Offsets) -> OffsetCommitRequest {
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
        group_id: m.group_id.to_owned(),
        generation_id_or_member_epoch: m.epoch,
        member_id: m.member_id.to_owned(),
        group_instance_id: m.instance_id.map(str::to_owned),
        topics,
        ..OffsetCommitRequest::default()
    }
}

/// An OffsetFetch (v9+, one group) of `partitions` for `m`.
pub(super) fn fetch_request(
    m: &Member<'_>,
    partitions: &BTreeSet<TopicPartition>,
) -> OffsetFetchRequest {
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
    OffsetFetchRequest {
        groups: vec![OffsetFetchRequestGroup {
            group_id: m.group_id.to_owned(),
            member_id: Some(m.member_id.to_owned()),
            member_epoch: m.epoch,
            topics: Some(topics),
            ..OffsetFetchRequestGroup::default()
        }],
        ..OffsetFetchRequest::default()
    }
}

/// What an error code means for an offset request.
fn classify(code: ErrorCode) -> Option<Outcome<()>> {
    if code.is_coordinator_moved() {
        Some(Outcome::CoordinatorMoved)
    } else if code == ErrorCode::STALE_MEMBER_EPOCH || code.is_retriable() {
        // STALE_MEMBER_EPOCH: the heartbeat in flight brings the new epoch;
        // the retry carries it.
        Some(Outcome::Retry)
    } else {
        None
    }
}

/// Reads an OffsetCommit answer from `broker`.
pub(super) fn commit_outcome(r: &OffsetCommitResponse, broker: &str) -> Outcome<Result<()>> {
    let mut first_error = None;
    for t in &r.topics {
        for p in t.partitions.iter().filter(|p| !p.error_code.is_ok()) {
            match classify(p.error_code) {
                Some(Outcome::CoordinatorMoved) => return Outcome::CoordinatorMoved,
                Some(_) => return Outcome::Retry,
                None => {
                    first_error.get_or_insert(Error::Broker {
                        version: None,
                        broker: None,
                        code: p.error_code,
                        api: ApiKey::OFFSET_COMMIT,
                        context: format!(" from {broker} for {}-{}", t.name, p.partition_index),
                    });
                }
            }
        }
    }
    Outcome::Done(first_error.map_or(Ok(()), Err))
}

/// Reads an OffsetFetch (v8+ form) answer for `group_id` from `broker`.
pub(super) fn fetch_outcome(
    r: &OffsetFetchResponse,
    group_id: &str,
    wanted: &BTreeSet<TopicPartition>,
    broker: &str,
) -> Outcome<Result<Committed>> {
    let Some(g) = r.groups.iter().find(|g| g.group_id == group_id) else {
        return Outcome::Retry;
    };
    let fail = |code: ErrorCode, what: String| {
        Outcome::Done(Err(Error::Broker {
            version: None,
            broker: None,
            code,
            api: ApiKey::OFFSET_FETCH,
            context: format!(" from {broker} for {what}"),
        }))
    };
    if !g.error_code.is_ok() {
        return match classify(g.error_code) {
            Some(Outcome::CoordinatorMoved) => Outcome::CoordinatorMoved,
            Some(_) => Outcome::Retry,
            None => fail(g.error_code, format!("group {group_id}")),
        };
    }
    let mut out: Committed = wanted.iter().map(|tp| (tp.clone(), None)).collect();
    for t in &g.topics {
        for p in &t.partitions {
            if !p.error_code.is_ok() {
                return match classify(p.error_code) {
                    Some(Outcome::CoordinatorMoved) => Outcome::CoordinatorMoved,
                    Some(_) => Outcome::Retry,
                    None => fail(p.error_code, format!("{}-{}", t.name, p.partition_index)),
                };
            }
            let tp = TopicPartition {
                topic: t.name.clone(),
                partition: p.partition_index,
            };
            if wanted.contains(&tp) {
                out.insert(tp, (p.committed_offset >= 0).then_some(p.committed_offset));
            }
        }
    }
    Outcome::Done(Ok(out))
}

/// Processed offsets as commit entries.
pub(super) fn as_offsets(processed: impl IntoIterator<Item = (TopicPartition, i64)>) -> Offsets {
    processed
        .into_iter()
        .map(|(tp, off)| (tp, OffsetAndMetadata::new(off)))
        .collect()
}

#[cfg(test)]
#[path = "group848_offsets_tests.rs"]
mod tests;
