//! State shared between the consumer task and the application's handle.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::producer::TopicPartition;

/// Counters and maps both sides touch; every lock is held for a map update only.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Fetched bytes not yet handed to the application.
    pub buffered: AtomicUsize,
    /// Per partition: the generation whose records are current (bumped on
    /// seek and revoke, so records fetched before are dropped).
    pub generations: Mutex<HashMap<TopicPartition, u64>>,
    /// Per partition: the offset after the last record the application finished.
    pub processed: Mutex<HashMap<TopicPartition, i64>>,
    /// Incremented whenever the application polls (or heartbeats): proof of progress
    /// for the group's `max_poll_interval`.
    pub polls: std::sync::atomic::AtomicU64,
    /// Set while the application waits in `recv` for a record: waiting counts
    /// as polling for `max_poll_interval` (an idle topic must not evict it).
    pub waiting: std::sync::atomic::AtomicBool,
    /// Incremented whenever a partition stops being current (revoked, lost,
    /// seeked), so the handle re-checks the records it holds.
    pub invalidations: std::sync::atomic::AtomicU64,
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

    pub fn mark_processed(&self, tp: &TopicPartition, next_offset: i64) {
        let mut p = lock(&self.processed);
        match p.get_mut(tp) {
            Some(v) => *v = (*v).max(next_offset),
            None => {
                p.insert(tp.clone(), next_offset);
            }
        }
    }

    /// Sets a processed offset exactly (seek backwards, redelivery).
    pub fn reset_processed(&self, tp: &TopicPartition, next_offset: Option<i64>) {
        let mut p = lock(&self.processed);
        match next_offset {
            Some(v) => {
                p.insert(tp.clone(), v);
            }
            None => {
                p.remove(tp);
            }
        }
    }

    pub fn processed(&self) -> HashMap<TopicPartition, i64> {
        lock(&self.processed).clone()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
