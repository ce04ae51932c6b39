//! Correlation ids: unique per process run and across client instances.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// A random 64-bit value from the standard library's per-process random
/// hasher keys, mixed with the time and a counter (no extra crate needed;
/// this is for uniqueness, not secrecy).
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    h.finish()
}

/// Issues correlation ids: a random instance prefix and a sequence number.
#[derive(Debug)]
pub(crate) struct IdSource {
    prefix: u64,
    next: AtomicU64,
}

impl IdSource {
    pub(crate) fn new() -> Self {
        Self {
            prefix: random_u64(),
            next: AtomicU64::new(0),
        }
    }

    /// The next id, as 24 hex digits.
    pub(crate) fn next_id(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}{:08x}", self.prefix, n & 0xffff_ffff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_differ_within_and_across_sources() {
        let a = IdSource::new();
        let b = IdSource::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            assert!(seen.insert(a.next_id()));
            assert!(seen.insert(b.next_id()));
        }
        assert_ne!(a.prefix, b.prefix);
        assert_eq!(a.next_id().len(), 24);
    }
}
