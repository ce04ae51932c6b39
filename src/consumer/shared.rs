//! State shared between the consumer task and the application's handle.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::TopicPartition;
use kafkit_core::fetch::position::SkippedTail;

/// Counters and maps both sides touch; every lock is held for a map update only.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Fetched bytes not yet handed to the application.
    pub buffered: AtomicUsize,
    /// Per partition: the generation whose records are current (bumped on
    /// seek and revoke, so records fetched before are dropped).
    pub generations: Mutex<HashMap<TopicPartition, u64>>,
    /// Per partition: the offset after the last record the application
    /// finished. A slot, once made, stays in the map (cleared rather than
    /// removed), so the handle can keep it and mark records without a lock.
    processed: Mutex<HashMap<TopicPartition, Arc<ProcessedSlot>>>,
    /// Incremented whenever the application polls (or heartbeats): proof of progress
    /// for the group's `max_poll_interval`.
    pub polls: std::sync::atomic::AtomicU64,
    /// Set while the application waits in `recv` for a record: waiting counts
    /// as polling for `max_poll_interval` (an idle topic must not evict it).
    pub waiting: std::sync::atomic::AtomicBool,
    /// Incremented whenever a partition stops being current (revoked, lost,
    /// seeked), so the handle re-checks the records it holds.
    pub invalidations: std::sync::atomic::AtomicU64,
    /// Counters for the metrics snapshot.
    pub stats: super::metrics::ConsumerStats,
    /// The group member's generation and member id as the group task last
    /// saw them (for `Consumer::group_metadata`); `None` before the first join.
    pub member: Mutex<Option<(i32, String)>>,
}

impl Shared {
    pub fn add_buffered(&self, n: usize) {
        self.buffered.fetch_add(n, Ordering::AcqRel);
    }

    pub fn release_buffered(&self, n: usize) {
        let _ = self
            .buffered
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                Some(b.saturating_sub(n))
            });
    }

    pub fn note_poll(&self) {
        self.polls.fetch_add(1, Ordering::AcqRel);
    }

    pub fn buffered(&self) -> usize {
        self.buffered.load(Ordering::Acquire)
    }

    pub fn generation(&self, tp: &TopicPartition) -> Option<u64> {
        lock(&self.generations).get(tp).copied()
    }

    pub fn set_generation(&self, tp: TopicPartition, generation: Option<u64>) {
        self.invalidations.fetch_add(1, Ordering::AcqRel);
        let mut g = lock(&self.generations);
        match generation {
            Some(v) => {
                g.insert(tp, v);
            }
            None => {
                g.remove(&tp);
            }
        }
    }

    /// The processed-offset slot of `tp` (made, empty, on first use).
    pub fn processed_slot(&self, tp: &TopicPartition) -> Arc<ProcessedSlot> {
        let mut p = lock(&self.processed);
        if let Some(slot) = p.get(tp) {
            return slot.clone();
        }
        let slot = Arc::new(ProcessedSlot::default());
        p.insert(tp.clone(), slot.clone());
        slot
    }

    pub fn mark_processed(&self, tp: &TopicPartition, next_offset: i64) {
        self.processed_slot(tp).mark(next_offset);
    }

    /// `next_offset` (the offset after records of `tp` the application
    /// finished), moved past the skipped offsets that follow them.
    pub fn past_skipped(&self, tp: &TopicPartition, next_offset: i64) -> i64 {
        let slot = lock(&self.processed).get(tp).cloned();
        slot.map_or(next_offset, |s| s.past_skipped(next_offset))
    }

    /// Sets a processed offset exactly (seek backwards, redelivery).
    pub fn reset_processed(&self, tp: &TopicPartition, next_offset: Option<i64>) {
        let mut p = lock(&self.processed);
        match (p.get(tp), next_offset) {
            (Some(slot), v) => slot.set(v),
            (None, Some(v)) => {
                let slot = Arc::new(ProcessedSlot::default());
                slot.set(Some(v));
                p.insert(tp.clone(), slot);
            }
            (None, None) => {}
        }
    }

    /// Records the member's current generation and member id.
    pub fn set_member(&self, generation_id: i32, member_id: &str) {
        let mut m = lock(&self.member);
        if m.as_ref()
            .is_none_or(|(g, id)| *g != generation_id || id != member_id)
        {
            *m = Some((generation_id, member_id.to_owned()));
        }
    }

    pub fn processed(&self) -> HashMap<TopicPartition, i64> {
        lock(&self.processed)
            .iter()
            .filter_map(|(tp, slot)| slot.get().map(|v| (tp.clone(), v)))
            .collect()
    }
}

/// One partition's processed offset: the offset after the last record the
/// application finished, or none; and past the control batches and
/// aborted data that follow it once that record is finished
/// ([`SkippedTail`]: the fetcher reports each decoded chunk, the
/// application marks records without a lock).
#[derive(Debug)]
pub(crate) struct ProcessedSlot {
    marked: AtomicI64,
    tail: Mutex<SkippedTail>,
}

/// The slot's "no processed offset" value (offsets are never negative).
const NO_OFFSET: i64 = i64::MIN;

impl Default for ProcessedSlot {
    fn default() -> Self {
        Self {
            marked: AtomicI64::new(NO_OFFSET),
            tail: Mutex::new(SkippedTail::default()),
        }
    }
}

impl ProcessedSlot {
    /// Raises the processed offset to `next_offset` (never lowers it).
    pub fn mark(&self, next_offset: i64) {
        self.marked.fetch_max(next_offset, Ordering::AcqRel);
    }

    /// The fetcher decoded a chunk fetched from `start`: its last record
    /// (if any) and the fetch position `end` after it.
    pub fn on_decoded(&self, start: i64, last_record: Option<i64>, end: i64) {
        let mut tail = lock(&self.tail);
        if let Some(reached) = tail.on_decoded(start, last_record, end, self.marked()) {
            self.mark(reached);
        }
    }

    /// `next_offset` counting the tail (without marking anything).
    fn past_skipped(&self, next_offset: i64) -> i64 {
        lock(&self.tail).processed(next_offset)
    }

    fn set(&self, next_offset: Option<i64>) {
        let mut tail = lock(&self.tail);
        tail.clear();
        self.marked
            .store(next_offset.unwrap_or(NO_OFFSET), Ordering::Release);
    }

    fn marked(&self) -> Option<i64> {
        Some(self.marked.load(Ordering::Acquire)).filter(|v| *v != NO_OFFSET)
    }

    fn get(&self) -> Option<i64> {
        let tail = lock(&self.tail);
        self.marked().map(|v| tail.processed(v))
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition {
            topic: "t".to_owned(),
            partition: p,
        }
    }

    #[test]
    fn processed_offsets_through_a_held_slot_match_the_map() {
        let shared = Shared::default();
        let slot = shared.processed_slot(&tp(0));
        assert!(shared.processed().is_empty(), "an empty slot is no offset");
        slot.mark(5);
        slot.mark(3); // never lowered by a mark
        shared.mark_processed(&tp(1), 7);
        let expected: HashMap<_, _> = [(tp(0), 5), (tp(1), 7)].into();
        assert_eq!(shared.processed(), expected);

        // Revoked: cleared, yet the held slot is the map's slot still.
        shared.reset_processed(&tp(0), None);
        assert_eq!(shared.processed().get(&tp(0)), None);
        slot.mark(9);
        assert_eq!(shared.processed().get(&tp(0)), Some(&9));

        // Seek backwards: set exactly, then raised by marks again.
        shared.reset_processed(&tp(0), Some(2));
        assert_eq!(shared.processed().get(&tp(0)), Some(&2));
        slot.mark(4);
        assert_eq!(shared.processed().get(&tp(0)), Some(&4));
        assert!(Arc::ptr_eq(&slot, &shared.processed_slot(&tp(0))));

        // A reset of an unknown partition makes its slot only with an offset.
        shared.reset_processed(&tp(2), None);
        shared.reset_processed(&tp(3), Some(11));
        assert_eq!(shared.processed().get(&tp(2)), None);
        assert_eq!(shared.processed().get(&tp(3)), Some(&11));
    }

    #[test]
    fn trailing_markers_count_once_the_last_record_is_marked() {
        let shared = Shared::default();
        shared.reset_processed(&tp(0), Some(0));
        let slot = shared.processed_slot(&tp(0));
        // Records 0..=2 handed, then an abort marker: the position is 5.
        slot.on_decoded(0, Some(2), 5);
        slot.mark(2);
        assert_eq!(shared.processed().get(&tp(0)), Some(&2));
        slot.mark(3);
        assert_eq!(shared.processed().get(&tp(0)), Some(&5));
        assert_eq!(
            shared.past_skipped(&tp(0), 3),
            5,
            "as a transaction commits it"
        );
        assert_eq!(shared.past_skipped(&tp(0), 2), 2);
        assert_eq!(shared.past_skipped(&tp(1), 2), 2, "no slot: unchanged");
        // A seek forgets the tail.
        shared.reset_processed(&tp(0), Some(3));
        assert_eq!(shared.processed().get(&tp(0)), Some(&3));
    }
}
