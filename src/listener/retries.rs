//! Per-partition retry bookkeeping (no I/O): which record of a partition
//! failed how often, and when its partition may be fetched again.

use std::collections::HashMap;

use tokio::time::Instant;

use crate::TopicPartition;

#[derive(Debug)]
struct Failing {
    offset: i64,
    failures: u32,
    /// When the paused partition may be resumed; `None` once resumed (the
    /// record is being delivered again).
    wake: Option<Instant>,
}

/// The failing record of each partition, if any.
#[derive(Debug, Default)]
pub(crate) struct Retries {
    failing: HashMap<TopicPartition, Failing>,
}

impl Retries {
    /// The delivery number (1-based) of the record at `offset`.
    pub fn attempt(&self, tp: &TopicPartition, offset: i64) -> u32 {
        match self.failing.get(tp) {
            Some(f) if f.offset == offset => f.failures.saturating_add(1),
            _ => 1,
        }
    }

    /// The record at `offset` failed for the `failures`-th time; its
    /// partition waits until `wake`.
    pub fn wait(&mut self, tp: TopicPartition, offset: i64, failures: u32, wake: Instant) {
        self.failing.insert(
            tp,
            Failing {
                offset,
                failures,
                wake: Some(wake),
            },
        );
    }

    /// The partition's failing record was handled (or given up on).
    pub fn done(&mut self, tp: &TopicPartition) {
        self.failing.remove(tp);
    }

    /// Forgets partitions that are no longer assigned.
    pub fn forget<'a>(&mut self, tps: impl IntoIterator<Item = &'a TopicPartition>) {
        for tp in tps {
            self.failing.remove(tp);
        }
    }

    /// The earliest time a waiting partition may resume.
    pub fn next_wake(&self) -> Option<Instant> {
        self.failing.values().filter_map(|f| f.wake).min()
    }

    /// Partitions whose wait is over at `now` (each reported once).
    pub fn take_ready(&mut self, now: Instant) -> Vec<TopicPartition> {
        let mut ready = Vec::new();
        for (tp, f) in &mut self.failing {
            if f.wake.is_some_and(|w| w <= now) {
                f.wake = None;
                ready.push(tp.clone());
            }
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition {
            topic: "t".into(),
            partition: p,
        }
    }

    #[test]
    fn counts_deliveries_of_the_failing_record_only() {
        let mut r = Retries::default();
        let now = Instant::now();
        assert_eq!(r.attempt(&tp(0), 5), 1);
        r.wait(tp(0), 5, 1, now + Duration::from_millis(10));
        assert_eq!(r.attempt(&tp(0), 5), 2);
        assert_eq!(r.attempt(&tp(0), 6), 1, "another record starts over");
        assert_eq!(r.attempt(&tp(1), 5), 1, "another partition starts over");
        r.wait(tp(0), 5, 2, now + Duration::from_millis(20));
        assert_eq!(r.attempt(&tp(0), 5), 3);
        r.done(&tp(0));
        assert_eq!(r.attempt(&tp(0), 5), 1);
    }

    #[test]
    fn wakes_in_order_and_once() {
        let mut r = Retries::default();
        let now = Instant::now();
        r.wait(tp(0), 1, 1, now + Duration::from_millis(30));
        r.wait(tp(1), 1, 1, now + Duration::from_millis(10));
        assert_eq!(r.next_wake(), Some(now + Duration::from_millis(10)));
        assert!(r.take_ready(now).is_empty());
        assert_eq!(r.take_ready(now + Duration::from_millis(10)), vec![tp(1)]);
        assert_eq!(r.next_wake(), Some(now + Duration::from_millis(30)));
        assert_eq!(r.attempt(&tp(1), 1), 2, "still counted after waking");
        r.forget([&tp(0)]);
        assert_eq!(r.next_wake(), None);
        assert!(r.take_ready(now + Duration::from_secs(1)).is_empty());
    }
}
