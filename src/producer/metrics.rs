//! Counters a producer's user can read.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a producer's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ProducerMetrics {
    /// Records acknowledged (or sent, with acks=0).
    pub records_sent: u64,
    /// Encoded batch bytes handed to brokers (retries counted again).
    pub bytes_sent: u64,
    /// Batch retries.
    pub retries: u64,
    /// Records that ended in an error.
    pub errors: u64,
    /// Batches sent and not yet answered.
    pub in_flight: u64,
    /// Records buffered and not yet sent.
    pub queued_records: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    records_sent: AtomicU64,
    bytes_sent: AtomicU64,
    retries: AtomicU64,
    errors: AtomicU64,
}

impl Metrics {
    pub fn add_records(&self, n: u64) {
        self.records_sent.fetch_add(n, Ordering::Relaxed);
    }

    pub fn add_bytes(&self, n: usize) {
        self.bytes_sent.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn add_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add_errors(&self, n: u64) {
        self.errors.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> ProducerMetrics {
        ProducerMetrics {
            records_sent: self.records_sent.load(Ordering::Relaxed),
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            in_flight: 0,
            queued_records: 0,
        }
    }
}
