//! The producer's batching state machine (sans-IO).
//!
//! Records are appended to an open batch per partition; a batch is sealed
//! when it is full, when it has lingered long enough, or on flush. `drain`
//! hands out sealed batches grouped by leader, keeping at most
//! `max_in_flight` per partition, and (idempotent producer) gives each batch
//! its base sequence the first time it is sent. A failed batch goes back in
//! sequence order and its partition is held until everything in flight has
//! come back, so a retry can never overtake or be overtaken.
//!
//! ```text
//!  append ──► open ──(full | linger | flush)──► ready ──drain──► in flight
//!                                                 ▲                 │
//!                                                 └──── retry ◄─────┤
//!                                   complete / fail (tokens out) ◄──┘
//! ```
//!
//! Time comes in as `now`; nothing here reads a clock or touches a socket.
//! `T` is the caller's completion token (a oneshot sender in the producer).

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use super::record::ProducerRecord;

/// A topic and partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

/// A record waiting for its delivery report.
#[derive(Debug)]
pub(crate) struct Pending<T> {
    pub record: ProducerRecord,
    /// Create timestamp (ms).
    pub timestamp: i64,
    /// When the record must have been delivered or failed.
    pub deadline: Instant,
    /// Size counted against batches and the buffer.
    pub size: usize,
    pub token: T,
}

/// A batch of one partition's records.
#[derive(Debug)]
pub(crate) struct Batch<T> {
    pub tp: TopicPartition,
    pub records: Vec<Pending<T>>,
    pub bytes: usize,
    created: Instant,
    /// The earliest record deadline, kept up to date by `push` so the
    /// per-event expiry and wake-up checks never walk the records.
    earliest_deadline: Option<Instant>,
    /// Sequence of the first record once sent by an idempotent producer.
    pub base_sequence: Option<i32>,
    /// Times the batch was handed out by `drain`.
    pub attempts: u32,
    retry_at: Option<Instant>,
}

impl<T> Batch<T> {
    fn new(tp: TopicPartition, now: Instant) -> Self {
        Self {
            tp,
            records: Vec::new(),
            bytes: 0,
            created: now,
            earliest_deadline: None,
            base_sequence: None,
            attempts: 0,
            retry_at: None,
        }
    }

    fn record_count(&self) -> i32 {
        i32::try_from(self.records.len()).unwrap_or(i32::MAX)
    }

    fn push(&mut self, pending: Pending<T>) {
        self.bytes += pending.size;
        self.earliest_deadline = Some(
            self.earliest_deadline
                .map_or(pending.deadline, |d| d.min(pending.deadline)),
        );
        self.records.push(pending);
    }

    fn earliest_deadline(&self) -> Option<Instant> {
        self.earliest_deadline
    }

    fn is_expired(&self, now: Instant) -> bool {
        self.earliest_deadline.is_some_and(|d| d <= now)
    }
}

#[derive(Debug)]
struct PartitionQueue<T> {
    open: Option<Batch<T>>,
    ready: VecDeque<Batch<T>>,
    in_flight: usize,
    next_sequence: i32,
    /// Set after a failure: send nothing until in-flight batches are back.
    hold: bool,
}

impl<T> Default for PartitionQueue<T> {
    fn default() -> Self {
        Self {
            open: None,
            ready: VecDeque::new(),
            in_flight: 0,
            next_sequence: 0,
            hold: false,
        }
    }
}

/// Batches handed out by [`Accumulator::drain`].
#[derive(Debug)]
pub(crate) struct Drained<T> {
    /// Batches by leader node id.
    pub by_leader: BTreeMap<i32, Vec<Batch<T>>>,
    /// Some ready batch had no known leader: refresh metadata.
    pub missing_leader: bool,
}

/// Tunables of the accumulator.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AccumulatorConfig {
    pub linger: Duration,
    pub batch_size: usize,
    pub max_in_flight: usize,
    pub idempotent: bool,
}

/// Per-partition batching, ordering and sequence numbering.
#[derive(Debug)]
pub(crate) struct Accumulator<T> {
    cfg: AccumulatorConfig,
    queues: BTreeMap<TopicPartition, PartitionQueue<T>>,
    /// A sequenced batch was given up: sequences must restart under a new epoch.
    epoch_bump_needed: bool,
}

impl<T> Accumulator<T> {
    pub fn new(cfg: AccumulatorConfig) -> Self {
        Self {
            cfg,
            queues: BTreeMap::new(),
            epoch_bump_needed: false,
        }
    }

    /// Whether sequence numbers are in use.
    pub fn is_idempotent(&self) -> bool {
        self.cfg.idempotent
    }

    /// Turns sequence numbering off (the broker cannot do idempotence).
    pub fn disable_idempotence(&mut self) {
        self.cfg.idempotent = false;
        self.cfg.max_in_flight = 1;
    }

    /// Appends a record; returns true when the append sealed a full batch
    /// (the sticky partitioner then moves on).
    pub fn append(&mut self, tp: &TopicPartition, pending: Pending<T>, now: Instant) -> bool {
        let batch_size = self.cfg.batch_size;
        // Look up before `entry`, which would need an owned key (a String
        // allocation) for every record.
        if !self.queues.contains_key(tp) {
            self.queues.insert(tp.clone(), PartitionQueue::default());
        }
        let Some(q) = self.queues.get_mut(tp) else {
            return false;
        };
        let mut sealed = false;
        if let Some(open) = &q.open {
            if !open.records.is_empty() && open.bytes + pending.size > batch_size {
                if let Some(full) = q.open.take() {
                    q.ready.push_back(full);
                    sealed = true;
                }
            }
        }
        let open = q.open.get_or_insert_with(|| Batch::new(tp.clone(), now));
        open.push(pending);
        if open.bytes >= batch_size {
            if let Some(full) = q.open.take() {
                q.ready.push_back(full);
                sealed = true;
            }
        }
        sealed
    }

    /// Seals every open batch now (flush).
    pub fn seal_all(&mut self) {
        for q in self.queues.values_mut() {
            if let Some(open) = q.open.take() {
                q.ready.push_back(open);
            }
        }
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
        for (tp, q) in self.queues.iter_mut() {
            if q.open
                .as_ref()
                .is_some_and(|o| now >= o.created + cfg.linger)
            {
                if let Some(open) = q.open.take() {
                    q.ready.push_back(open);
                }
            }
            if q.hold {
                if q.in_flight > 0 {
                    continue;
                }
                q.hold = false;
            }
            while q.in_flight < cfg.max_in_flight {
                let Some(front) = q.ready.front() else { break };
                if front.retry_at.is_some_and(|t| t > now) {
                    break;
                }
                let Some(node) = leader(tp) else {
                    out.missing_leader = true;
                    break;
                };
                let Some(mut batch) = q.ready.pop_front() else {
                    break;
                };
                if cfg.idempotent && batch.base_sequence.is_none() {
                    batch.base_sequence = Some(q.next_sequence);
                    q.next_sequence = wrapping_sequence(q.next_sequence, batch.record_count());
                }
                batch.attempts += 1;
                q.in_flight += 1;
                out.by_leader.entry(node).or_default().push(batch);
            }
        }
        out
    }

    /// A batch was written: returns its records for their delivery reports.
    pub fn complete(&mut self, batch: Batch<T>) -> Vec<Pending<T>> {
        self.returned(&batch.tp);
        batch.records
    }

    /// A batch failed retriably: it goes back in sequence order after `backoff`.
    pub fn retry(&mut self, mut batch: Batch<T>, now: Instant, backoff: Duration) {
        self.returned(&batch.tp);
        batch.retry_at = Some(now + backoff);
        let q = self.queues.entry(batch.tp.clone()).or_default();
        q.hold = true;
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

    /// A batch is given up: returns its records to be failed. Giving up a
    /// batch that was sent with a sequence leaves a gap the broker would
    /// reject, so sequences must restart under a new producer epoch.
    pub fn fail(&mut self, batch: Batch<T>) -> Vec<Pending<T>> {
        self.returned(&batch.tp);
        if batch.base_sequence.is_some() {
            self.epoch_bump_needed = true;
        }
        batch.records
    }

    fn returned(&mut self, tp: &TopicPartition) {
        if let Some(q) = self.queues.get_mut(tp) {
            q.in_flight = q.in_flight.saturating_sub(1);
        }
    }

    /// Removes batches not in flight whose records are past their deadline.
    pub fn expire(&mut self, now: Instant) -> Vec<Pending<T>> {
        let mut expired = Vec::new();
        for q in self.queues.values_mut() {
            if q.ready.iter().any(|b| b.is_expired(now)) {
                let mut keep = VecDeque::with_capacity(q.ready.len());
                for b in q.ready.drain(..) {
                    if b.is_expired(now) {
                        if b.base_sequence.is_some() {
                            self.epoch_bump_needed = true;
                        }
                        expired.extend(b.records);
                    } else {
                        keep.push_back(b);
                    }
                }
                q.ready = keep;
            }
            if q.open.as_ref().is_some_and(|o| o.is_expired(now)) {
                if let Some(open) = q.open.take() {
                    expired.extend(open.records);
                }
            }
        }
        expired
    }

    /// Whether sequences must restart (see [`Accumulator::fail`]); true only
    /// once nothing is in flight, so the reset cannot race a response.
    pub fn needs_epoch_bump(&self) -> bool {
        self.epoch_bump_needed && self.queues.values().all(|q| q.in_flight == 0)
    }

    /// New producer id/epoch obtained: every partition restarts at sequence 0.
    pub fn reset_sequences(&mut self) {
        self.epoch_bump_needed = false;
        for q in self.queues.values_mut() {
            q.next_sequence = 0;
            q.hold = false;
            for b in q.ready.iter_mut() {
                b.base_sequence = None;
            }
        }
    }

    /// The earliest time `drain` or `expire` could do something new.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let mut at: Option<Instant> = None;
        let mut consider = |t: Instant| at = Some(at.map_or(t, |a| a.min(t)));
        for q in self.queues.values() {
            if let Some(open) = &q.open {
                consider(open.created + self.cfg.linger);
                if let Some(d) = open.earliest_deadline() {
                    consider(d);
                }
            }
            for b in &q.ready {
                if let Some(t) = b.retry_at {
                    consider(t);
                }
                if let Some(d) = b.earliest_deadline() {
                    consider(d);
                }
            }
        }
        at
    }

    /// Batches not in flight, and records in them.
    pub fn queued(&self) -> (usize, usize) {
        self.queues.values().fold((0, 0), |(b, r), q| {
            let open = q.open.as_ref().map_or(0, |o| o.records.len());
            let ready: usize = q.ready.iter().map(|b| b.records.len()).sum();
            (
                b + q.ready.len() + usize::from(q.open.is_some()),
                r + open + ready,
            )
        })
    }

    /// Batches in flight.
    pub fn in_flight(&self) -> usize {
        self.queues.values().map(|q| q.in_flight).sum()
    }

    /// Takes every record not in flight (close).
    pub fn take_all(&mut self) -> Vec<Pending<T>> {
        let mut all = Vec::new();
        for q in self.queues.values_mut() {
            if let Some(open) = q.open.take() {
                all.extend(open.records);
            }
            for b in q.ready.drain(..) {
                all.extend(b.records);
            }
        }
        all
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
