//! The producer's batching state machine (sans-IO).
//!
//! Records are encoded into the open batch of their partition as they are
//! appended (record format v2, offset delta = index in the batch, behind a
//! reserved batch header); a batch is sealed when it is full, on flush, or
//! when it has lingered long enough and its partition can send it (below
//! its in-flight limit, nothing queued ahead: until then it keeps filling). `drain` hands out sealed batches
//! grouped by leader, keeping at most `max_in_flight` per partition, and
//! (idempotent producer) gives each batch its base sequence the first time
//! it is sent. A failed batch goes back in sequence order and its partition
//! is held until everything in flight has come back, so a retry can never
//! overtake or be overtaken. Until the broker has acknowledged a batch of a
//! partition under the current producer id and epoch, that partition has at
//! most one batch in flight: a broker that knows nothing of the producer on
//! a partition takes whatever sequence comes first (KIP-360), so a second
//! batch written while the first is refused (NOT_LEADER_OR_FOLLOWER on a
//! topic created a moment ago) would be written ahead of it, and the first
//! would then be OUT_OF_ORDER_SEQUENCE_NUMBER on every retry.
//!
//! ```text
//!  append ──► open ──(full | linger | flush)──► ready ──drain──► in flight
//!                                                 ▲                 │
//!                                                 └──── retry ◄─────┤
//!                                   complete / fail (token out) ◄───┘
//! ```
//!
//! Time comes in as `now`; nothing here reads a clock or touches a socket.
//! `T` is the caller's completion token, one per batch: every record of a
//! batch shares its outcome (a record's offset is the batch's base offset
//! plus the record's index). Batches get increasing ids, so a flush can wait
//! for every batch that existed when it started.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::BytesMut;

use super::batch::BufferPool;
pub use super::batch::{AppendError, Batch, NewRecord};
pub use crate::common::TopicPartition;

type Result<T> = std::result::Result<T, AppendError>;

/// Where an appended record went.
#[derive(Debug)]
pub struct Appended<'a, T> {
    /// The record's index in its batch (its offset delta).
    pub index: i32,
    /// The record opened a new batch (a linger deadline to watch).
    pub opened: bool,
    /// The append sealed a full batch (the sticky partitioner then moves on).
    pub sealed: bool,
    /// The completion token of the record's batch.
    pub token: &'a mut T,
}

#[derive(Debug)]
struct PartitionQueue<T> {
    open: Option<Batch<T>>,
    ready: VecDeque<Batch<T>>,
    in_flight: usize,
    next_sequence: i32,
    /// Set after a failure: send nothing until in-flight batches are back.
    hold: bool,
    /// The broker acknowledged a sequenced batch of this partition under the
    /// current producer id and epoch (see the module doc): pipelining is safe.
    confirmed: bool,
}

impl<T> Default for PartitionQueue<T> {
    fn default() -> Self {
        Self {
            open: None,
            ready: VecDeque::new(),
            in_flight: 0,
            next_sequence: 0,
            hold: false,
            confirmed: false,
        }
    }
}

/// Batches handed out by [`Accumulator::drain`].
#[derive(Debug)]
pub struct Drained<T> {
    /// Batches by leader node id.
    pub by_leader: BTreeMap<i32, Vec<Batch<T>>>,
    /// Some ready batch had no known leader: refresh metadata.
    pub missing_leader: bool,
}

/// Tunables of the accumulator.
#[derive(Debug, Clone, Copy)]
pub struct AccumulatorConfig {
    /// How long an open batch waits for more records.
    pub linger: Duration,
    /// Bytes at which a batch is sealed.
    pub batch_size: usize,
    /// Batches in flight per partition at most.
    pub max_in_flight: usize,
    /// Number batches with producer-id sequences (KIP-98).
    pub idempotent: bool,
    /// Batch buffers kept for reuse at most.
    pub pool_buffers: usize,
}

/// Per-partition batching, ordering and sequence numbering.
#[derive(Debug)]
pub struct Accumulator<T> {
    cfg: AccumulatorConfig,
    /// Queues by topic, then by partition index.
    queues: BTreeMap<String, Vec<PartitionQueue<T>>>,
    /// A sequenced batch was given up: sequences must restart under a new epoch.
    epoch_bump_needed: bool,
    next_id: u64,
    /// Ids of batches not yet completed or failed.
    unfinished: BTreeSet<u64>,
    closed: bool,
    pool: BufferPool,
}

impl<T> Accumulator<T> {
    /// An empty accumulator.
    pub fn new(cfg: AccumulatorConfig) -> Self {
        Self {
            cfg,
            queues: BTreeMap::new(),
            epoch_bump_needed: false,
            next_id: 0,
            unfinished: BTreeSet::new(),
            closed: false,
            pool: BufferPool::new(cfg.batch_size, cfg.pool_buffers),
        }
    }

    /// Whether sequence numbers are in use.
    pub fn is_idempotent(&self) -> bool {
        self.cfg.idempotent
    }

    /// Turns sequence numbering off (the broker cannot do idempotence);
    /// `max_in_flight` is what a producer without idempotence may keep.
    pub fn disable_idempotence(&mut self, max_in_flight: usize) {
        self.cfg.idempotent = false;
        self.cfg.max_in_flight = max_in_flight;
    }

    fn queues(&self) -> impl Iterator<Item = &PartitionQueue<T>> {
        self.queues.values().flatten()
    }

    fn queue_mut(&mut self, tp: &TopicPartition) -> Option<&mut PartitionQueue<T>> {
        let index = usize::try_from(tp.partition).ok()?;
        self.queues.get_mut(tp.topic.as_str())?.get_mut(index)
    }

    /// Encodes a record into its partition's open batch (opening one with
    /// `new_token` when there is none). Fails once the accumulator is closed,
    /// or when the record cannot be encoded.
    pub fn append(
        &mut self,
        rec: &NewRecord<'_>,
        now: Instant,
        new_token: impl FnOnce() -> T,
    ) -> Result<Appended<'_, T>> {
        if self.closed {
            return Err(AppendError::Closed);
        }
        let topic = rec.record.topic.as_str();
        let index = usize::try_from(rec.partition).map_err(|_| AppendError::NegativePartition {
            topic: rec.record.topic.clone(),
            partition: rec.partition,
        })?;
        // Look up before inserting, which needs an owned key (an allocation).
        if !self.queues.contains_key(topic) {
            self.queues.insert(topic.to_owned(), Vec::new());
        }
        let parts = self.queues.get_mut(topic).ok_or(AppendError::Closed)?;
        if parts.len() <= index {
            parts.resize_with(index + 1, PartitionQueue::default);
        }
        let q = parts.get_mut(index).ok_or(AppendError::Closed)?;
        let batch_size = self.cfg.batch_size;
        let mut sealed = false;
        if let Some(open) = q
            .open
            .take_if(|o| o.count > 0 && o.bytes + rec.size > batch_size)
        {
            q.ready.push_back(open);
            sealed = true;
        }
        let opened = q.open.is_none();
        if opened {
            let tp = TopicPartition {
                topic: topic.to_owned(),
                partition: rec.partition,
            };
            self.next_id += 1;
            let buffer = self.pool.take();
            q.open = Some(Batch::new(tp, self.next_id, rec, now, new_token(), buffer));
        }
        // The open batch stays where it is: taking it out of its slot and
        // putting it back moved the whole batch (a few hundred bytes) twice
        // per record.
        let open = q.open.as_mut().ok_or(AppendError::Closed)?;
        let pushed = open.push(rec, batch_size);
        if open.count == 0 {
            // Nothing went in: drop the batch rather than ever send it empty.
            q.open = None;
        } else if opened {
            self.unfinished.insert(open.id);
        }
        let index = pushed?;
        let full = q.open.take_if(|o| o.bytes >= batch_size);
        let token = match full {
            Some(full) => {
                sealed = true;
                q.ready.push_back(full);
                &mut q.ready.back_mut().ok_or(AppendError::Closed)?.token
            }
            None => &mut q.open.as_mut().ok_or(AppendError::Closed)?.token,
        };
        Ok(Appended {
            index,
            opened,
            sealed,
            token,
        })
    }

    /// An empty buffer for a batch's bytes (reused when one is free).
    pub fn buffer(&mut self) -> BytesMut {
        self.pool.take()
    }

    /// Gives a batch's buffer back once nothing refers to it any more.
    pub fn recycle(&mut self, buf: BytesMut) {
        self.pool.give(buf);
    }

    /// Seals every open batch now (flush).
    pub fn seal_all(&mut self) {
        for q in self.queues.values_mut().flatten() {
            if let Some(open) = q.open.take() {
                q.ready.push_back(open);
            }
        }
    }

    /// Everything appended so far is in a batch with an id below the point
    /// returned; see [`Accumulator::is_flushed`].
    pub fn flush_point(&self) -> u64 {
        self.next_id + 1
    }

    /// Whether every batch below `point` is completed or failed.
    pub fn is_flushed(&self, point: u64) -> bool {
        self.unfinished.first().is_none_or(|&id| id >= point)
    }

    /// Whether no batch is waiting, open or in flight.
    pub fn is_idle(&self) -> bool {
        self.unfinished.is_empty()
    }

    /// Hands out the batches that may be sent now, grouped by leader.
    pub fn drain(
        &mut self,
        now: Instant,
        leader: impl Fn(&TopicPartition) -> Option<i32>,
    ) -> Drained<T> {
        let mut out = Drained {
            by_leader: BTreeMap::new(),
            missing_leader: false,
        };
        if self.epoch_bump_needed {
            return out;
        }
        let cfg = self.cfg;
        for q in self.queues.values_mut().flatten() {
            if q.hold {
                if q.in_flight > 0 {
                    continue;
                }
                q.hold = false;
            }
            while q.in_flight < in_flight_limit(&cfg, q) {
                if q.ready.is_empty() {
                    // The open batch is sealed by linger only when it can go
                    // out now; until then it keeps taking records (up to
                    // `batch_size`), so a partition at its in-flight limit
                    // sends fewer, fuller batches instead of queueing one
                    // tiny batch per linger period.
                    match q.open.take_if(|o| now >= o.created + cfg.linger) {
                        Some(open) => q.ready.push_back(open),
                        None => break,
                    }
                }
                let Some(front) = q.ready.front() else { break };
                if front.retry_at.is_some_and(|t| t > now) {
                    break;
                }
                let Some(node) = leader(&front.tp) else {
                    out.missing_leader = true;
                    break;
                };
                let Some(mut batch) = q.ready.pop_front() else {
                    break;
                };
                if cfg.idempotent && batch.base_sequence.is_none() {
                    batch.base_sequence = Some(q.next_sequence);
                    q.next_sequence = wrapping_sequence(q.next_sequence, batch.count);
                }
                batch.attempts += 1;
                q.in_flight += 1;
                out.by_leader.entry(node).or_default().push(batch);
            }
        }
        out
    }

    /// A batch was written.
    pub fn complete(&mut self, batch: &Batch<T>) {
        self.returned(batch);
        if batch.base_sequence.is_some() {
            if let Some(q) = self.queue_mut(&batch.tp) {
                q.confirmed = true;
            }
        }
    }

    /// A batch failed retriably: it goes back in sequence order after `backoff`.
    pub fn retry(&mut self, mut batch: Batch<T>, now: Instant, backoff: Duration) {
        if let Some(q) = self.queue_mut(&batch.tp) {
            q.in_flight = q.in_flight.saturating_sub(1);
            q.hold = true;
            batch.retry_at = Some(now + backoff);
            let pos = match batch.base_sequence {
                Some(seq) => q
                    .ready
                    .iter()
                    .position(|b| b.base_sequence.is_none_or(|s| s > seq))
                    .unwrap_or(q.ready.len()),
                None => 0,
            };
            q.ready.insert(pos, batch);
        }
    }

    /// A batch is given up. Giving up a batch that was sent with a sequence
    /// leaves a gap the broker would reject, so sequences must restart
    /// under a new producer epoch.
    pub fn fail(&mut self, batch: &Batch<T>) {
        self.returned(batch);
        if batch.base_sequence.is_some() {
            self.epoch_bump_needed = true;
        }
    }

    fn returned(&mut self, batch: &Batch<T>) {
        self.unfinished.remove(&batch.id);
        if let Some(q) = self.queue_mut(&batch.tp) {
            q.in_flight = q.in_flight.saturating_sub(1);
        }
    }

    /// Removes batches not in flight that hold a record past its deadline.
    pub fn expire(&mut self, now: Instant) -> Vec<Batch<T>> {
        let mut expired = Vec::new();
        for q in self.queues.values_mut().flatten() {
            if q.ready.iter().any(|b| b.is_expired(now)) {
                let mut keep = VecDeque::with_capacity(q.ready.len());
                for b in q.ready.drain(..) {
                    if b.is_expired(now) {
                        if b.base_sequence.is_some() {
                            self.epoch_bump_needed = true;
                        }
                        expired.push(b);
                    } else {
                        keep.push_back(b);
                    }
                }
                q.ready = keep;
            }
            if let Some(open) = q.open.take_if(|o| o.is_expired(now)) {
                expired.push(open);
            }
        }
        for b in &expired {
            self.unfinished.remove(&b.id);
        }
        expired
    }

    /// Whether sequences must restart (see [`Accumulator::fail`]); true only
    /// once nothing is in flight, so the reset cannot race a response.
    pub fn needs_epoch_bump(&self) -> bool {
        self.epoch_bump_needed && self.queues().all(|q| q.in_flight == 0)
    }

    /// New producer id/epoch obtained: every partition restarts at sequence 0.
    pub fn reset_sequences(&mut self) {
        self.epoch_bump_needed = false;
        for q in self.queues.values_mut().flatten() {
            q.next_sequence = 0;
            q.hold = false;
            q.confirmed = false;
            for b in q.ready.iter_mut() {
                b.base_sequence = None;
            }
        }
    }

    /// The earliest time `drain` or `expire` could do something new.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let mut at: Option<Instant> = None;
        let mut consider = |t: Instant| at = Some(at.map_or(t, |a| a.min(t)));
        for q in self.queues() {
            if let Some(open) = &q.open {
                // Linger only matters once the batch could be sent (see
                // `drain`); otherwise a returning batch wakes the task.
                if q.ready.is_empty()
                    && q.in_flight < in_flight_limit(&self.cfg, q)
                    && (!q.hold || q.in_flight == 0)
                {
                    consider(open.created + self.cfg.linger);
                }
                consider(open.earliest_deadline);
            }
            for b in &q.ready {
                if let Some(t) = b.retry_at {
                    consider(t);
                }
                consider(b.earliest_deadline);
            }
        }
        at
    }

    /// Batches not in flight, and records in them.
    pub fn queued(&self) -> (usize, usize) {
        self.queues().fold((0, 0), |(b, r), q| {
            let records = q.open.iter().chain(&q.ready).map(|b| b.count);
            let records: usize = records.map(|n| usize::try_from(n).unwrap_or(0)).sum();
            (
                b + q.ready.len() + usize::from(q.open.is_some()),
                r + records,
            )
        })
    }

    /// Batches in flight.
    pub fn in_flight(&self) -> usize {
        self.queues().map(|q| q.in_flight).sum()
    }

    /// Takes every batch not in flight, leaving the accumulator open (a
    /// transaction being aborted drops what it has not sent). A taken batch
    /// that already had a sequence (a retry) leaves a gap: the producer
    /// then needs a new epoch ([`Accumulator::needs_epoch_bump`]).
    pub fn take_unsent(&mut self) -> Vec<Batch<T>> {
        let mut all = Vec::new();
        for q in self.queues.values_mut().flatten() {
            all.extend(q.open.take());
            all.extend(q.ready.drain(..));
        }
        for b in &all {
            self.unfinished.remove(&b.id);
            if self.cfg.idempotent && b.base_sequence.is_some() {
                self.epoch_bump_needed = true;
            }
        }
        all
    }

    /// Takes every batch not in flight and refuses further appends (close).
    pub fn close(&mut self) -> Vec<Batch<T>> {
        self.closed = true;
        let mut all = Vec::new();
        for q in self.queues.values_mut().flatten() {
            all.extend(q.open.take());
            all.extend(q.ready.drain(..));
        }
        for b in &all {
            self.unfinished.remove(&b.id);
        }
        all
    }
}

/// Batches a partition may have in flight: one until the broker has
/// acknowledged a sequenced batch of it (see the module doc).
fn in_flight_limit<T>(cfg: &AccumulatorConfig, q: &PartitionQueue<T>) -> usize {
    if cfg.idempotent && !q.confirmed {
        1
    } else {
        cfg.max_in_flight
    }
}

/// Kafka sequences wrap from `i32::MAX` to 0.
fn wrapping_sequence(seq: i32, count: i32) -> i32 {
    let next = i64::from(seq) + i64::from(count);
    (next % (i64::from(i32::MAX) + 1)) as i32
}

#[cfg(test)]
#[path = "accumulator_tests.rs"]
mod tests;
