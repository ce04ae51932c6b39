//! Counters a producer's user can read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::metrics::{LatencyRecorder, LatencyStats};

/// A snapshot of a producer's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ProducerMetrics {
    /// Records acknowledged (or sent, with acks=0).
    pub records_sent: u64,
    /// Encoded batch bytes handed to brokers (retries counted again).
    pub bytes_sent: u64,
    /// Batches handed to brokers (retries counted again).
    pub batches_sent: u64,
    /// Batch retries.
    pub retries: u64,
    /// Records in retried batches, once per retry (Java's `record-retry-total`).
    pub records_retried: u64,
    /// Records that ended in an error.
    pub errors: u64,
    /// Batches sent and not yet answered.
    pub in_flight: u64,
    /// Records buffered and not yet sent.
    pub queued_records: u64,
    /// How long batches waited in the accumulator before their first send.
    pub queue_time: LatencyStats,
    /// Produce request latency (from the connection counters).
    pub request_latency: LatencyStats,
}

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    records_sent: AtomicU64,
    bytes_sent: AtomicU64,
    batches_sent: AtomicU64,
    retries: AtomicU64,
    records_retried: AtomicU64,
    errors: AtomicU64,
    queue_time: LatencyRecorder,
}

impl Metrics {
    pub fn add_records(&self, n: u64) {
        self.records_sent.fetch_add(n, Ordering::Relaxed);
    }

    pub fn add_bytes(&self, n: usize, batches: usize) {
        self.bytes_sent.fetch_add(n as u64, Ordering::Relaxed);
        self.batches_sent
            .fetch_add(batches as u64, Ordering::Relaxed);
    }

    pub fn add_retry(&self, records: i32) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        self.records_retried
            .fetch_add(u64::try_from(records).unwrap_or(0), Ordering::Relaxed);
    }

    pub fn add_errors(&self, n: u64) {
        self.errors.fetch_add(n, Ordering::Relaxed);
    }

    /// A batch left the accumulator for the first time after `waited`.
    pub fn queued_for(&self, waited: Duration) {
        self.queue_time.record(waited);
    }

    pub fn snapshot(&self) -> ProducerMetrics {
        ProducerMetrics {
            records_sent: self.records_sent.load(Ordering::Relaxed),
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            batches_sent: self.batches_sent.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            records_retried: self.records_retried.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            in_flight: 0,
            queued_records: 0,
            queue_time: self.queue_time.stats(),
            request_latency: LatencyStats::default(),
        }
    }
}
