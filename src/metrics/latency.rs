//! A lock-free latency accumulator: count, sum and maximum.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Durations recorded so far: how many, their sum and the longest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LatencyStats {
    /// How many durations were recorded.
    pub count: u64,
    /// Their sum.
    pub sum: Duration,
    /// The longest one.
    pub max: Duration,
}

impl LatencyStats {
    /// The mean, zero when nothing was recorded.
    pub fn avg(&self) -> Duration {
        match u32::try_from(self.count) {
            Ok(0) => Duration::ZERO,
            Ok(n) => self.sum / n,
            Err(_) => Duration::from_secs_f64(self.sum.as_secs_f64() / self.count as f64),
        }
    }

    /// Both sets of durations together.
    pub fn merged(&self, other: &LatencyStats) -> LatencyStats {
        LatencyStats {
            count: self.count + other.count,
            sum: self.sum + other.sum,
            max: self.max.max(other.max),
        }
    }
}

/// Records durations with three relaxed atomics (microsecond resolution).
#[derive(Debug, Default)]
pub(crate) struct LatencyRecorder {
    count: AtomicU64,
    sum_us: AtomicU64,
    max_us: AtomicU64,
}

impl LatencyRecorder {
    pub fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    pub fn stats(&self) -> LatencyStats {
        LatencyStats {
            count: self.count.load(Ordering::Relaxed),
            sum: Duration::from_micros(self.sum_us.load(Ordering::Relaxed)),
            max: Duration::from_micros(self.max_us.load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_count_sum_max_and_avg() {
        let r = LatencyRecorder::default();
        assert_eq!(r.stats().avg(), Duration::ZERO);
        r.record(Duration::from_millis(2));
        r.record(Duration::from_millis(6));
        let s = r.stats();
        assert_eq!(s.count, 2);
        assert_eq!(s.sum, Duration::from_millis(8));
        assert_eq!(s.max, Duration::from_millis(6));
        assert_eq!(s.avg(), Duration::from_millis(4));
        let m = s.merged(&LatencyStats {
            count: 1,
            sum: Duration::from_millis(10),
            max: Duration::from_millis(10),
        });
        assert_eq!((m.count, m.max), (3, Duration::from_millis(10)));
    }
}
