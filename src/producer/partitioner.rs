//! Choosing the partition a record is produced to.
//!
//! Keyed records are hashed with [`murmur2`], the hash the Java client uses,
//! so a key lands on the same partition whichever client wrote it: the Java
//! producer's default partitioner, kafkajs's default partitioner and
//! librdkafka's `murmur2_random` all compute
//! `to_positive(murmur2(key)) % partition_count` over *all* partitions
//! (see [`partition_for_key`]). An empty key is a key: it is hashed, not
//! spread.
//!
//! Records without a key go to a "sticky" partition: one random available
//! partition takes every null-key record of a topic until the producer
//! reports, through [`Partitioner::on_new_batch`], that the batch for it is
//! full or sent; then another available partition is chosen. Batches fill up
//! faster than with per-record round robin, which lowers latency.
//!
//! ```text
//!   (none)      --partition(None)-------------------> Current(p), p random
//!   Current(p)  --partition(None), p has a leader---> Current(p)
//!   Current(p)  --partition(None), p lost it--------> Current(q), q != p
//!   Current(p)  --on_new_batch(p)-------------------> Retired(p)
//!   Current(p)  --on_new_batch(other)---------------> Current(p)
//!   Retired(p)  --partition(None)-------------------> Current(q), q != p
//! ```
//!
//! (`q` equals `p` only when `p` is the single candidate.)
//!
//! Everything here is sans-IO and deterministic apart from the seed of the
//! random choice, which [`DefaultPartitioner::with_seed`] can fix.
//!
//! Spec: KIP-480 (sticky partitioner); the hash is the Java client's
//! `org.apache.kafka.common.utils.Utils.murmur2`.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::fnv::TopicMap;

/// The seed of Kafka's murmur2 variant.
const MURMUR2_SEED: u32 = 0x9747_b28c;
/// The multiplier of MurmurHash2.
const MURMUR2_M: u32 = 0x5bd1_e995;
/// The shift of MurmurHash2's block mixing.
const MURMUR2_R: u32 = 24;

/// Kafka's 32-bit MurmurHash2 of `data`, bit for bit what the Java client's
/// `Utils.murmur2` returns (a signed `int`).
///
/// The input is read as little-endian 4-byte blocks, then the 1-3 trailing
/// bytes, then the hash is mixed once more. Kafka bounds record keys to
/// `i32::MAX` bytes, so the length always fits the 32-bit state.
pub fn murmur2(data: &[u8]) -> i32 {
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let mut h = MURMUR2_SEED ^ len;

    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let mut k = u32::from_le_bytes(block.try_into().unwrap_or_default());
        k = k.wrapping_mul(MURMUR2_M);
        k ^= k >> MURMUR2_R;
        k = k.wrapping_mul(MURMUR2_M);
        h = h.wrapping_mul(MURMUR2_M);
        h ^= k;
    }

    // The tail: byte i of the remainder is folded in at bit 8 * i, then the
    // state is multiplied once (Java's fall-through `switch (length % 4)`).
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, byte) in tail.iter().enumerate() {
            h ^= u32::from(*byte) << (8 * i);
        }
        h = h.wrapping_mul(MURMUR2_M);
    }

    h ^= h >> 13;
    h = h.wrapping_mul(MURMUR2_M);
    h ^= h >> 15;
    i32::from_ne_bytes(h.to_ne_bytes())
}

/// Clears the sign bit, as Java's `Utils.toPositive` does (not `abs`:
/// `i32::MIN` maps to 0, `-1` to `i32::MAX`).
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition the Java client (and kafkajs, and librdkafka's
/// `murmur2_random`) chooses for `key` in a topic of `partition_count`
/// partitions: `to_positive(murmur2(key)) % partition_count`.
///
/// A topic has at least one partition; for a `partition_count` below 1 there
/// is no right answer and 0 is returned, so the caller's own check of the
/// partition reports the problem rather than a panic here.
pub fn partition_for_key(key: &[u8], partition_count: i32) -> i32 {
    if partition_count < 1 {
        return 0;
    }
    to_positive(murmur2(key)) % partition_count
}

/// Chooses the partition of each record the producer sends.
///
/// Implementations are shared by every task of a producer, hence `&self` and
/// `Send + Sync`; they keep whatever state they need behind a lock.
pub trait Partitioner: Send + Sync + Debug {
    /// The partition for one record of `topic`.
    ///
    /// `key` is the record key (`None` for a null key, which is not the same
    /// as an empty key), `partition_count` the topic's number of partitions
    /// (at least 1) and `available` the partitions that currently have a
    /// leader, in any order. The result must lie in `0..partition_count`.
    fn partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        partition_count: i32,
        available: &[i32],
    ) -> i32;

    /// Told by the accumulator when the batch for `topic`/`partition` is full
    /// or sent and a new one starts, so a sticky partitioner can move on.
    /// The default does nothing.
    fn on_new_batch(&self, _topic: &str, _partition: i32) {}
}

/// The default partitioner: keyed records by [`partition_for_key`] over all
/// partitions, null-key records by the KIP-480 sticky rule (see the module
/// docs).
///
/// The sticky choice is random among the available partitions (all
/// partitions when none is available). Unlike Java's 2.4 sticky cache, a
/// sticky partition that loses its leader is given up at once instead of
/// holding records until its next batch.
#[derive(Debug)]
pub struct DefaultPartitioner {
    state: Mutex<StickyState>,
}

/// The sticky partitioner's mutable part.
#[derive(Debug)]
struct StickyState {
    rng: XorShift64,
    topics: TopicMap<Sticky>,
}

/// A topic's sticky partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sticky {
    /// Null-key records go here.
    Current(i32),
    /// Its batch is done; the next null-key record picks another partition.
    Retired(i32),
}

impl DefaultPartitioner {
    /// A partitioner whose random choices are seeded from the process's
    /// hash-map randomness (each instance differs).
    pub fn new() -> Self {
        Self::with_seed(XorShift64::entropy_seed())
    }

    /// A partitioner whose random choices follow `seed`: two partitioners with
    /// the same seed given the same calls choose the same partitions.
    pub fn with_seed(seed: u64) -> Self {
        Self {
            state: Mutex::new(StickyState {
                rng: XorShift64::new(seed),
                topics: TopicMap::default(),
            }),
        }
    }

    /// Locks the state; a panic elsewhere while holding the lock cannot leave
    /// it inconsistent (every update is a single insert), so poisoning is
    /// ignored.
    fn lock(&self) -> MutexGuard<'_, StickyState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The sticky partition for a null-key record of `topic`.
    fn sticky_partition(&self, topic: &str, partition_count: i32, available: &[i32]) -> i32 {
        let mut state = self.lock();
        let previous = state.topics.get(topic).copied();
        let avoid = match previous {
            Some(Sticky::Current(p)) if is_usable(p, partition_count, available) => return p,
            Some(Sticky::Current(p) | Sticky::Retired(p)) => Some(p),
            None => None,
        };
        let chosen = pick_random(&mut state.rng, partition_count, available, avoid);
        match state.topics.get_mut(topic) {
            Some(slot) => *slot = Sticky::Current(chosen),
            None => {
                state
                    .topics
                    .insert(topic.to_owned(), Sticky::Current(chosen));
            }
        }
        chosen
    }
}

impl Default for DefaultPartitioner {
    fn default() -> Self {
        Self::new()
    }
}

impl Partitioner for DefaultPartitioner {
    fn partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        partition_count: i32,
        available: &[i32],
    ) -> i32 {
        match key {
            Some(key) => partition_for_key(key, partition_count),
            None => self.sticky_partition(topic, partition_count, available),
        }
    }

    fn on_new_batch(&self, topic: &str, partition: i32) {
        let mut state = self.lock();
        if let Some(slot) = state.topics.get_mut(topic) {
            // Only the current sticky partition's batch moves the topic on: a
            // late report for an older partition must not skip a fresh choice.
            if *slot == Sticky::Current(partition) {
                *slot = Sticky::Retired(partition);
            }
        }
    }
}

/// Keyed records by [`partition_for_key`]; null-key records cycle through
/// the available partitions (all partitions when none is available), one
/// record each, with a counter per topic.
///
/// Java's `RoundRobinPartitioner` spreads keyed records too; this one keeps
/// keys on their hashed partition so per-key ordering holds.
#[derive(Debug, Default)]
pub struct RoundRobinPartitioner {
    counters: Mutex<HashMap<String, u64>>,
}

impl RoundRobinPartitioner {
    /// A round-robin partitioner starting every topic at its first candidate.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Partitioner for RoundRobinPartitioner {
    fn partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        partition_count: i32,
        available: &[i32],
    ) -> i32 {
        if let Some(key) = key {
            return partition_for_key(key, partition_count);
        }
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        let turn = match counters.get_mut(topic) {
            Some(counter) => {
                *counter = counter.wrapping_add(1);
                *counter
            }
            None => {
                counters.insert(topic.to_owned(), 0);
                0
            }
        };
        let candidates = Candidates::new(partition_count, available);
        let len = u64::try_from(candidates.len()).unwrap_or(u64::MAX);
        let index = turn.checked_rem(len).unwrap_or(0);
        candidates
            .nth(usize::try_from(index).unwrap_or(0), None)
            .unwrap_or(0)
    }
}

/// Whether the sticky partition `p` may keep taking records.
fn is_usable(p: i32, partition_count: i32, available: &[i32]) -> bool {
    if !(0..partition_count).contains(&p) {
        return false;
    }
    let candidates = Candidates::new(partition_count, available);
    candidates.is_all() || available.contains(&p)
}

/// A random candidate partition other than `avoid` (unless `avoid` is the
/// only candidate).
fn pick_random(
    rng: &mut XorShift64,
    partition_count: i32,
    available: &[i32],
    avoid: Option<i32>,
) -> i32 {
    let candidates = Candidates::new(partition_count, available);
    let others = candidates.count(avoid);
    if others == 0 {
        return candidates.nth(0, None).unwrap_or(0);
    }
    candidates.nth(rng.below(others), avoid).unwrap_or(0)
}

/// The partitions a null-key record may go to: the available ones within
/// range, or every partition when none of them is.
#[derive(Debug, Clone, Copy)]
struct Candidates<'a> {
    partition_count: i32,
    /// `None` means all of `0..partition_count`.
    available: Option<&'a [i32]>,
}

impl<'a> Candidates<'a> {
    fn new(partition_count: i32, available: &'a [i32]) -> Self {
        let in_range = |p: &i32| (0..partition_count).contains(p);
        Self {
            partition_count,
            available: available.iter().any(in_range).then_some(available),
        }
    }

    fn is_all(&self) -> bool {
        self.available.is_none()
    }

    /// The candidates except `skip`, in order.
    fn iter(&self, skip: Option<i32>) -> impl Iterator<Item = i32> + 'a {
        let count = self.partition_count;
        let listed = self.available.map(|a| a.iter().copied());
        let all = listed.is_none().then_some(0..count);
        listed
            .into_iter()
            .flatten()
            .chain(all.into_iter().flatten())
            .filter(move |p| (0..count).contains(p) && Some(*p) != skip)
    }

    fn count(&self, skip: Option<i32>) -> usize {
        self.iter(skip).count()
    }

    fn len(&self) -> usize {
        self.count(None)
    }

    fn nth(&self, n: usize, skip: Option<i32>) -> Option<i32> {
        self.iter(skip).nth(n)
    }
}

/// Marsaglia's xorshift64* generator: small, fast and good enough to spread
/// sticky choices; not for anything secret.
#[derive(Debug, Clone)]
struct XorShift64(u64);

impl XorShift64 {
    /// A seed drawn from std's per-process random hash keys.
    fn entropy_seed() -> u64 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write(b"kafkit partitioner");
        hasher.finish()
    }

    /// A generator from `seed` (0, a fixed point of xorshift, is replaced).
    fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (`n > 0`), by multiply-and-shift.
    fn below(&mut self, n: usize) -> usize {
        let n = u128::from(u64::try_from(n).unwrap_or(u64::MAX));
        let scaled = (u128::from(self.next_u64()) * n) >> 64;
        usize::try_from(scaled).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests;
