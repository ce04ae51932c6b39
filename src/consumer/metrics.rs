//! The consumer's counters: records and bytes fetched, lag per partition,
//! rebalances (fetch and commit latency come from the connection counters).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::metrics::{ConnectionMetrics, LatencyStats};
use crate::protocol::ApiKey;
use crate::TopicPartition;

/// A snapshot of a consumer's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerMetrics {
    /// Records fetched, decoded and queued for the application.
    pub records_consumed: u64,
    /// Their decoded size in bytes.
    pub bytes_consumed: u64,
    /// Fetch requests sent.
    pub fetches: u64,
    /// Fetch request latency (the broker's wait for `fetch_min_bytes` included).
    pub fetch_latency: LatencyStats,
    /// Assignments received from the group (one per completed rebalance).
    pub rebalances: u64,
    /// OffsetCommit requests sent.
    pub commits: u64,
    /// OffsetCommit request latency.
    pub commit_latency: LatencyStats,
    /// Lag of every assigned partition a fetch has answered for.
    pub lag: Vec<PartitionLag>,
}

/// One partition's lag as of its last fetch response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionLag {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The high watermark the fetch response carried.
    pub high_watermark: i64,
    /// The consumer's fetch position after that response.
    pub position: i64,
    /// `high_watermark - position` (never negative).
    pub lag: i64,
}

/// What the fetcher and the group driver count.
#[derive(Debug, Default)]
pub(crate) struct ConsumerStats {
    records: AtomicU64,
    bytes: AtomicU64,
    rebalances: AtomicU64,
    /// Per partition: (high watermark, position) of the last fetch answer.
    lag: Mutex<BTreeMap<TopicPartition, (i64, i64)>>,
}

impl ConsumerStats {
    pub fn delivered(&self, records: usize, bytes: usize) {
        self.records.fetch_add(records as u64, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn rebalanced(&self) {
        self.rebalances.fetch_add(1, Ordering::Relaxed);
    }

    /// A fetch answered for `tp`: its high watermark and the position after it.
    pub fn watermark(&self, tp: &TopicPartition, high_watermark: i64, position: i64) {
        let mut lag = self.lag.lock().unwrap_or_else(|p| p.into_inner());
        match lag.get_mut(tp) {
            Some(v) => *v = (high_watermark, position),
            None => {
                lag.insert(tp.clone(), (high_watermark, position));
            }
        }
    }

    /// `tp` is no longer assigned.
    pub fn forget(&self, tp: &TopicPartition) {
        self.lag
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(tp);
    }

    pub fn snapshot(&self, connections: &ConnectionMetrics) -> ConsumerMetrics {
        let lag = self
            .lag
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(tp, (hw, pos))| PartitionLag {
                topic: tp.topic.clone(),
                partition: tp.partition,
                high_watermark: *hw,
                position: *pos,
                lag: hw.saturating_sub(*pos).max(0),
            })
            .collect();
        ConsumerMetrics {
            records_consumed: self.records.load(Ordering::Relaxed),
            bytes_consumed: self.bytes.load(Ordering::Relaxed),
            fetches: connections.request_count(ApiKey::FETCH),
            fetch_latency: connections.latency(ApiKey::FETCH),
            rebalances: self.rebalances.load(Ordering::Relaxed),
            commits: connections.request_count(ApiKey::OFFSET_COMMIT),
            commit_latency: connections.latency(ApiKey::OFFSET_COMMIT),
            lag,
        }
    }
}
