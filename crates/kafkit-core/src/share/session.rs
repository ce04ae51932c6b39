//! The client side of one share session: a share-group member's session
//! with one partition leader (KIP-932), sans-IO.
//!
//! ```text
//!   Opening (epoch 0) ──ShareFetch ok──▶ Open (epoch n ≥ 1) ──ShareFetch/
//!        ▲                                │    ShareAcknowledge ok──▶ epoch n+1
//!        │  top-level error (session      │
//!        └──  not found, bad epoch, ...)  │ close_request (epoch -1)
//!           or a failed request           ▼
//!           (everything held is dropped) Closed
//! ```
//!
//! The first request of a session (epoch 0) names every partition and
//! carries no acknowledgement; later ones name only partitions added or
//! with acknowledgements to deliver, and the ones to forget. One request at
//! a time: building a second while one is in flight is refused. Each
//! partition's acquired offsets are tracked by [`PartitionAcks`].
//!
//! Renew acknowledgements (KIP-1222) mark their request `is_renew_ack`; a
//! ShareFetch carrying them is a renew-only fetch (the broker refuses one
//! that also asks for records: its fetch limits are all zero). The broker
//! answers a renewal with the lock duration (`acquisition_lock_timeout_ms`)
//! and the renewed offsets are held again until `now` plus that duration.
//!
//! Spec: KIP-932 (share sessions, ShareFetch, ShareAcknowledge), KIP-1222
//! (renew acknowledgements), KIP-1206 (acquire mode).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::acks::{AckRefusal, AcknowledgeType, PartitionAcks};
use super::types::{forgotten_topics, group_topics};
pub use super::types::{
    AckResult, AcquiredData, ShareAcquireMode, ShareFetchLimits, ShareOutcome, ShareSessionError,
    TopicIdPartition,
};
use crate::protocol::messages::share_acknowledge::{
    ShareAcknowledgeRequest, ShareAcknowledgeResponse,
};
use crate::protocol::messages::share_fetch::{
    AcknowledgementBatch, ShareFetchRequest, ShareFetchResponse,
};
use crate::protocol::{ApiKey, ErrorCode};

#[derive(Debug)]
struct InFlight {
    api: ApiKey,
    epoch: i32,
    added: Vec<TopicIdPartition>,
    forgotten: Vec<TopicIdPartition>,
    acked: Vec<TopicIdPartition>,
    /// Whether it carries renew acknowledgements.
    renew: bool,
}

/// One share session with one broker.
#[derive(Debug)]
pub struct ShareSession {
    group_id: String,
    member_id: String,
    /// The epoch of the next request; 0 opens, -1 after close.
    epoch: i32,
    in_session: BTreeSet<TopicIdPartition>,
    wanted: BTreeSet<TopicIdPartition>,
    partitions: BTreeMap<TopicIdPartition, PartitionAcks>,
    in_flight: Option<InFlight>,
    lock_timeout: Duration,
}

impl ShareSession {
    /// A session of `member_id` in `group_id`, not yet opened.
    pub fn new(group_id: impl Into<String>, member_id: impl Into<String>) -> Self {
        Self {
            group_id: group_id.into(),
            member_id: member_id.into(),
            epoch: 0,
            in_session: BTreeSet::new(),
            wanted: BTreeSet::new(),
            partitions: BTreeMap::new(),
            in_flight: None,
            lock_timeout: Duration::ZERO,
        }
    }

    /// The epoch the next request carries.
    pub fn epoch(&self) -> i32 {
        self.epoch
    }

    /// Whether a request is in flight.
    pub fn is_busy(&self) -> bool {
        self.in_flight.is_some()
    }

    /// The acquisition lock timeout the broker last reported.
    pub fn lock_timeout(&self) -> Duration {
        self.lock_timeout
    }

    /// The partitions to fetch from (those of the assignment this broker leads).
    pub fn set_partitions(&mut self, wanted: impl IntoIterator<Item = TopicIdPartition>) {
        self.wanted = wanted.into_iter().collect();
    }

    /// The partitions fetched from.
    pub fn partitions(&self) -> impl Iterator<Item = &TopicIdPartition> {
        self.wanted.iter()
    }

    /// Whether there is anything to fetch from.
    pub fn wants_fetch(&self) -> bool {
        !self.wanted.is_empty() && self.epoch >= 0
    }

    /// The delivery count of an acquired record.
    pub fn delivery_count(&self, tp: TopicIdPartition, offset: i64) -> Option<i16> {
        self.partitions.get(&tp)?.delivery_count(offset)
    }

    /// Acknowledges one acquired record.
    pub fn acknowledge(
        &mut self,
        tp: TopicIdPartition,
        offset: i64,
        kind: AcknowledgeType,
    ) -> Result<(), ShareSessionError> {
        let refused = |r| match r {
            AckRefusal::NotAcquired => ShareSessionError::NotAcquired {
                partition: tp,
                offset,
            },
            AckRefusal::InFlight => ShareSessionError::AckInFlight {
                partition: tp,
                offset,
            },
        };
        match self.partitions.get_mut(&tp) {
            Some(p) => p.acknowledge(offset, kind).map_err(refused),
            None => Err(refused(AckRefusal::NotAcquired)),
        }
    }

    /// Acknowledges every held record with `kind`; returns how many.
    pub fn acknowledge_held(&mut self, kind: AcknowledgeType) -> usize {
        self.partitions
            .values_mut()
            .map(|p| p.acknowledge_held(kind))
            .sum()
    }

    /// Marks offsets of `tp` acquired by the last fetch but holding no
    /// delivered record as gaps (`delivered` sorted ascending).
    pub fn mark_gaps(&mut self, tp: TopicIdPartition, delivered: &[i64]) -> usize {
        self.partitions
            .get_mut(&tp)
            .map_or(0, |p| p.mark_gaps(delivered))
    }

    /// Whether acknowledgements wait to be sent.
    pub fn has_pending(&self) -> bool {
        self.partitions.values().any(PartitionAcks::has_pending)
    }

    /// How many acquired records are not yet settled.
    pub fn held(&self) -> usize {
        self.partitions.values().map(PartitionAcks::len).sum()
    }

    /// Drops records whose lock deadline passed (another member may have
    /// them now); returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        self.partitions
            .values_mut()
            .map(|p| p.expire(now).len())
            .sum()
    }

    fn start(&mut self, api: ApiKey) -> Result<(), ShareSessionError> {
        if self.in_flight.is_some() {
            return Err(ShareSessionError::InvalidState("a request is in flight"));
        }
        if self.epoch < 0 {
            return Err(ShareSessionError::InvalidState("the session is closed"));
        }
        self.in_flight = Some(InFlight {
            api,
            epoch: self.epoch,
            added: Vec::new(),
            forgotten: Vec::new(),
            acked: Vec::new(),
            renew: false,
        });
        Ok(())
    }

    /// Takes the pending acknowledgements of the partitions `include` accepts.
    fn take_acks(
        &mut self,
        include: impl Fn(&TopicIdPartition) -> bool,
    ) -> Vec<(TopicIdPartition, Vec<AcknowledgementBatch>)> {
        let mut out = Vec::new();
        for (tp, p) in self.partitions.iter_mut() {
            if include(tp) && p.has_pending() {
                out.push((*tp, p.take_pending()));
            }
        }
        if let Some(f) = self.in_flight.as_mut() {
            f.acked = out.iter().map(|(tp, _)| *tp).collect();
            f.renew = out.iter().any(|(_, batches)| {
                batches
                    .iter()
                    .any(|b| b.acknowledge_types.contains(&AcknowledgeType::Renew.wire()))
            });
        }
        out
    }

    /// Whether a renew acknowledgement waits to be sent (the next
    /// [`fetch_request`](Self::fetch_request) is then a renew-only fetch).
    pub fn has_pending_renew(&self) -> bool {
        self.partitions
            .values()
            .any(PartitionAcks::has_pending_renew)
    }

    /// The next ShareFetch: opens the session (every partition, no
    /// acknowledgement) or continues it (added partitions and pending
    /// acknowledgements; partitions no longer wanted that hold nothing are
    /// forgotten). With a renewal pending (and a session open), a
    /// renew-only fetch instead: every pending acknowledgement, no fetch
    /// limits, `is_renew_ack`.
    pub fn fetch_request(
        &mut self,
        limits: &ShareFetchLimits,
    ) -> Result<ShareFetchRequest, ShareSessionError> {
        if self.epoch > 0 && self.has_pending_renew() {
            return self.renew_fetch_request();
        }
        self.start(ApiKey::SHARE_FETCH)?;
        let opening = self.epoch == 0;
        let mut entries: BTreeMap<TopicIdPartition, Vec<AcknowledgementBatch>> = BTreeMap::new();
        let added: Vec<TopicIdPartition> = if opening {
            self.wanted.iter().copied().collect()
        } else {
            self.wanted.difference(&self.in_session).copied().collect()
        };
        for tp in &added {
            entries.insert(*tp, Vec::new());
        }
        if !opening {
            for (tp, batches) in self.take_acks(|_| true) {
                entries.insert(tp, batches);
            }
        }
        let forgotten: Vec<TopicIdPartition> = if opening {
            Vec::new()
        } else {
            self.in_session
                .iter()
                .filter(|tp| {
                    !self.wanted.contains(tp) && !entries.contains_key(tp) && {
                        self.partitions.get(tp).is_none_or(PartitionAcks::is_empty)
                    }
                })
                .copied()
                .collect()
        };
        if let Some(f) = self.in_flight.as_mut() {
            f.added = entries.keys().copied().collect();
            f.forgotten = forgotten.clone();
        }
        Ok(ShareFetchRequest {
            group_id: Some(self.group_id.clone()),
            member_id: Some(self.member_id.clone()),
            share_session_epoch: self.epoch,
            max_wait_ms: limits.max_wait_ms,
            min_bytes: limits.min_bytes,
            max_bytes: limits.max_bytes,
            max_records: limits.max_records,
            batch_size: limits.max_records,
            share_acquire_mode: limits.acquire_mode.wire(),
            topics: group_topics(entries),
            forgotten_topics_data: forgotten_topics(&forgotten),
            ..Default::default()
        })
    }

    /// A ShareFetch that only delivers acknowledgements, renewals among
    /// them: the broker acquires nothing for it (KIP-1222).
    fn renew_fetch_request(&mut self) -> Result<ShareFetchRequest, ShareSessionError> {
        self.start(ApiKey::SHARE_FETCH)?;
        let acks = self.take_acks(|_| true);
        if let Some(f) = self.in_flight.as_mut() {
            f.added = acks.iter().map(|(tp, _)| *tp).collect();
        }
        Ok(ShareFetchRequest {
            group_id: Some(self.group_id.clone()),
            member_id: Some(self.member_id.clone()),
            share_session_epoch: self.epoch,
            max_wait_ms: 0,
            min_bytes: 0,
            max_bytes: 0,
            max_records: 0,
            batch_size: 0,
            is_renew_ack: true,
            topics: group_topics(acks.into_iter().collect()),
            ..Default::default()
        })
    }

    /// A ShareAcknowledge for the pending acknowledgements, `None` when
    /// there are none (or no session to send them in).
    pub fn acknowledge_request(
        &mut self,
    ) -> Result<Option<ShareAcknowledgeRequest>, ShareSessionError> {
        if self.epoch <= 0 || !self.has_pending() {
            return Ok(None);
        }
        self.start(ApiKey::SHARE_ACKNOWLEDGE)?;
        let acks = self.take_acks(|_| true);
        Ok(Some(self.ack_request(acks)))
    }

    /// The ShareAcknowledge that closes the session (epoch -1): everything
    /// still held is released, pending acknowledgements go with it. `None`
    /// when no session was opened.
    pub fn close_request(&mut self) -> Result<Option<ShareAcknowledgeRequest>, ShareSessionError> {
        if self.epoch <= 0 {
            self.epoch = -1;
            return Ok(None);
        }
        self.acknowledge_held(AcknowledgeType::Release);
        self.start(ApiKey::SHARE_ACKNOWLEDGE)?;
        self.epoch = -1;
        if let Some(f) = self.in_flight.as_mut() {
            f.epoch = -1;
        }
        let acks = self.take_acks(|_| true);
        Ok(Some(self.ack_request(acks)))
    }

    fn ack_request(
        &self,
        acks: Vec<(TopicIdPartition, Vec<AcknowledgementBatch>)>,
    ) -> ShareAcknowledgeRequest {
        ShareAcknowledgeRequest {
            group_id: Some(self.group_id.clone()),
            member_id: Some(self.member_id.clone()),
            share_session_epoch: self.in_flight.as_ref().map_or(self.epoch, |f| f.epoch),
            is_renew_ack: self.in_flight.as_ref().is_some_and(|f| f.renew),
            topics: group_topics(acks.into_iter().collect()),
            ..Default::default()
        }
    }

    fn finish(&mut self, api: ApiKey) -> Result<InFlight, ShareSessionError> {
        match self.in_flight.take() {
            Some(f) if f.api == api => Ok(f),
            other => {
                self.in_flight = other;
                Err(ShareSessionError::InvalidState(
                    "a response that answers no request in flight",
                ))
            }
        }
    }

    /// Settles the in-flight acknowledgements with per-partition errors
    /// (`NONE` for partitions the response did not name); renewals the
    /// broker applied are held until `renewed_until`.
    fn settle(
        &mut self,
        f: &InFlight,
        errors: &BTreeMap<TopicIdPartition, ErrorCode>,
        renewed_until: Option<Instant>,
    ) -> Vec<AckResult> {
        let mut results = Vec::new();
        for tp in &f.acked {
            let Some(p) = self.partitions.get_mut(tp) else {
                continue;
            };
            let error = errors.get(tp).copied().unwrap_or(ErrorCode::NONE);
            results.push(AckResult {
                partition: *tp,
                error,
                offsets: p.settle_in_flight(renewed_until.filter(|_| error.is_ok())),
            });
        }
        results
    }

    /// Takes the lock duration of a response (ShareFetch v1+,
    /// ShareAcknowledge v2+; 0 or negative when absent) and returns the
    /// deadline of what it acquired or renewed at `now`.
    fn lock_from(&mut self, now: Instant, timeout_ms: i32) -> Instant {
        if let Ok(ms) = u64::try_from(timeout_ms) {
            if ms > 0 {
                self.lock_timeout = Duration::from_millis(ms);
            }
        }
        now + self.lock_timeout
    }

    /// A top-level error or a failed request: the session is gone on the
    /// broker's side (or may be), so is everything it held.
    fn reset(&mut self, f: &InFlight, error: ErrorCode) -> Vec<AckResult> {
        let failed = f.acked.iter().map(|tp| (*tp, error)).collect();
        let acks = self.settle(f, &failed, None);
        for p in self.partitions.values_mut() {
            p.clear();
        }
        self.partitions.clear();
        self.in_session.clear();
        if self.epoch >= 0 {
            self.epoch = 0;
        }
        acks
    }

    fn advance(&mut self, f: &InFlight) {
        if f.epoch < 0 {
            self.epoch = -1;
            return;
        }
        self.in_session.extend(f.added.iter().copied());
        for tp in &f.forgotten {
            self.in_session.remove(tp);
        }
        self.epoch = f.epoch.checked_add(1).unwrap_or(1);
        let wanted = &self.wanted;
        self.partitions
            .retain(|tp, p| wanted.contains(tp) || !p.is_empty());
    }

    /// Applies a ShareFetch response received at `now`.
    pub fn on_fetch_response(
        &mut self,
        now: Instant,
        resp: ShareFetchResponse,
    ) -> Result<ShareOutcome, ShareSessionError> {
        let f = self.finish(ApiKey::SHARE_FETCH)?;
        let mut out = ShareOutcome {
            api: Some(ApiKey::SHARE_FETCH),
            error: resp.error_code,
            ..Default::default()
        };
        if !resp.error_code.is_ok() {
            out.acks = self.reset(&f, resp.error_code);
            return Ok(out);
        }
        let deadline = self.lock_from(now, resp.acquisition_lock_timeout_ms);
        // Settle the acknowledgements first: the same response may acquire
        // a released offset again.
        let ack_errors = resp
            .responses
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    let tp = TopicIdPartition {
                        topic_id: t.topic_id,
                        partition: p.partition_index,
                    };
                    (tp, p.acknowledge_error_code)
                })
            })
            .collect();
        out.acks = self.settle(&f, &ack_errors, Some(deadline));
        let mut bad = None;
        for topic in resp.responses {
            for p in topic.partitions {
                let tp = TopicIdPartition {
                    topic_id: topic.topic_id,
                    partition: p.partition_index,
                };
                if !p.error_code.is_ok() {
                    out.partition_errors.push((tp, p.error_code));
                }
                if p.acquired_records.is_empty() {
                    continue;
                }
                let held = self.partitions.entry(tp).or_default();
                for a in &p.acquired_records {
                    if held
                        .acquire(a.first_offset, a.last_offset, a.delivery_count, deadline)
                        .is_none()
                    {
                        bad.get_or_insert(ShareSessionError::BadRange {
                            partition: tp,
                            first: a.first_offset,
                            last: a.last_offset,
                        });
                    }
                }
                out.acquired.push(AcquiredData {
                    partition: tp,
                    records: p.records,
                    acquired: p.acquired_records,
                });
            }
        }
        self.advance(&f);
        match bad {
            Some(e) => {
                self.release_acquired(&out.acquired);
                Err(e)
            }
            None => Ok(out),
        }
    }

    /// Gives back what a refused response acquired: its records are never
    /// delivered, so they go back to the broker as Release with the next
    /// request (an implicit-mode poll would otherwise accept them unseen).
    fn release_acquired(&mut self, acquired: &[AcquiredData]) {
        for data in acquired {
            let Some(held) = self.partitions.get_mut(&data.partition) else {
                continue;
            };
            for a in &data.acquired {
                let mut offset = a.first_offset;
                while offset <= a.last_offset && held.is_held(offset) {
                    let _ = held.acknowledge(offset, AcknowledgeType::Release);
                    offset = offset.saturating_add(1);
                }
            }
        }
    }

    /// Applies a ShareAcknowledge response received at `now`.
    pub fn on_acknowledge_response(
        &mut self,
        now: Instant,
        resp: ShareAcknowledgeResponse,
    ) -> Result<ShareOutcome, ShareSessionError> {
        let f = self.finish(ApiKey::SHARE_ACKNOWLEDGE)?;
        let mut out = ShareOutcome {
            api: Some(ApiKey::SHARE_ACKNOWLEDGE),
            error: resp.error_code,
            ..Default::default()
        };
        if !resp.error_code.is_ok() {
            out.acks = self.reset(&f, resp.error_code);
            return Ok(out);
        }
        let mut errors = BTreeMap::new();
        for topic in resp.responses {
            for p in topic.partitions {
                let tp = TopicIdPartition {
                    topic_id: topic.topic_id,
                    partition: p.partition_index,
                };
                errors.insert(tp, p.error_code);
            }
        }
        let deadline = self.lock_from(now, resp.acquisition_lock_timeout_ms);
        out.acks = self.settle(&f, &errors, Some(deadline));
        self.advance(&f);
        Ok(out)
    }

    /// The request in flight failed without an answer (a dropped
    /// connection, a timeout): its acknowledgements fail with `error` and
    /// the session starts over. After a failed close the session stays closed.
    pub fn on_failure(&mut self, error: ErrorCode) -> ShareOutcome {
        let Some(f) = self.in_flight.take() else {
            return ShareOutcome::default();
        };
        ShareOutcome {
            api: Some(f.api),
            error,
            acks: self.reset(&f, error),
            ..Default::default()
        }
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
