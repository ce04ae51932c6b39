//! A map keyed by topic name with FNV-1a hashing, for the per-record
//! look-ups of the producer's handle (route cache, sticky partitions).
//!
//! Topic names are short and come from the application, not from the
//! network, so the flood-resistant default hasher (SipHash) only costs time
//! here: it is hashed once or twice per record.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` from topic name to `V`, hashed with FNV-1a.
pub(crate) type TopicMap<V> = HashMap<String, V, BuildHasherDefault<Fnv>>;

/// FNV-1a, 64 bits.
#[derive(Debug)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
