//! Create timestamps without reading the system clock for every record.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// How often the wall time is taken from the system clock again.
const ANCHOR_EVERY_MS: u64 = 100;

/// Wall time in ms since the epoch, derived from the monotonic `Instant` a
/// caller already has and re-anchored to `SystemTime` every 100 ms: within
/// about a millisecond of the system clock (NTP slews it by at most 0.5 ms
/// per second) and following a clock step within 100 ms. Reading the system
/// clock for every record cost several percent of the producer's CPU.
#[derive(Debug)]
pub(crate) struct WallClock {
    base: Instant,
    /// Wall-clock ms minus ms since `base`, as of the last anchoring.
    offset_ms: AtomicI64,
    /// Ms since `base` from which the next call anchors again.
    next_anchor_ms: AtomicU64,
}

impl WallClock {
    pub fn new() -> Self {
        Self {
            base: Instant::now(),
            offset_ms: AtomicI64::new(0),
            next_anchor_ms: AtomicU64::new(0),
        }
    }

    /// The wall time at `now`, in ms since the Unix epoch.
    pub fn now_ms(&self, now: Instant) -> i64 {
        let since_base = ms_since(self.base, now);
        let offset = if since_base < self.next_anchor_ms.load(Ordering::Relaxed) {
            self.offset_ms.load(Ordering::Relaxed)
        } else {
            // `now` may be a while ago (the caller waited): anchor on a fresh pair.
            let fresh = ms_since(self.base, Instant::now());
            let offset = system_ms().saturating_sub(i64::try_from(fresh).unwrap_or(i64::MAX));
            self.offset_ms.store(offset, Ordering::Relaxed);
            self.next_anchor_ms
                .store(fresh.saturating_add(ANCHOR_EVERY_MS), Ordering::Relaxed);
            offset
        };
        offset.saturating_add(i64::try_from(since_base).unwrap_or(i64::MAX))
    }
}

fn ms_since(base: Instant, t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(base).as_millis()).unwrap_or(u64::MAX)
}

/// `SystemTime::now()` in ms since the Unix epoch.
pub(crate) fn system_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn follows_the_system_clock_within_a_few_ms() {
        let clock = WallClock::new();
        for _ in 0..5 {
            let before = system_ms();
            let derived = clock.now_ms(Instant::now());
            let after = system_ms();
            assert!(
                before - 2 <= derived && derived <= after + 2,
                "{before} <= {derived} <= {after}"
            );
            std::thread::sleep(Duration::from_millis(30));
        }
        let later = Instant::now() + Duration::from_secs(1);
        let at_base = clock.now_ms(clock.base);
        assert!(clock.now_ms(later) >= at_base + 1_000 - 2);
    }
}
