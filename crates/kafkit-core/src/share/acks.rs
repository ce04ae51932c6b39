//! Per-partition bookkeeping of a share consumer: which offsets the leader
//! acquired for this member (with their delivery counts and lock
//! deadlines), which of them the application acknowledged, and which
//! acknowledgements are on the wire.
//!
//! ```text
//!  acquire (ShareFetch response)
//!        │
//!        ▼
//!      Held ──acknowledge(t)──▶ Pending(t) ──request built──▶ InFlight(t)
//!      ▲ │   ◀─acknowledge(t')─┘ (last wins)                     │
//!      │ │                                             response / failure
//!      │ ▼                                                       ▼
//!      │ lock deadline passes: the broker may hand it to   settled (gone),
//!      │ another member; an acknowledgement sent           except a renewal
//!      │ afterwards fails with INVALID_RECORD_STATE.       the broker applied:
//!      └────────────────────────────────────────────────── Held again, with
//!                                                          a new lock deadline
//! ```
//!
//! Spec: KIP-932 (acknowledgement batches: one type for a range, or one
//! type per offset), KIP-1222 (renew acknowledgements).

use std::collections::BTreeMap;
use std::time::Instant;

use crate::protocol::messages::share_fetch::AcknowledgementBatch;

/// How a record is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AcknowledgeType {
    /// An offset inside an acquired range that holds no deliverable record
    /// (a control record, a compacted-away offset); sent by the client itself.
    Gap,
    /// Processed: the record is done for the whole group.
    Accept,
    /// Give it back: the broker redelivers it (its delivery count grows).
    Release,
    /// Unprocessable: the broker archives it and never redelivers it.
    Reject,
    /// Still being processed: the broker extends the acquisition lock and
    /// the record stays this member's, to be accepted, released or
    /// rejected later (KIP-1222; ShareFetch / ShareAcknowledge v2+, explicit
    /// acknowledgement only).
    Renew,
}

impl AcknowledgeType {
    /// The wire value (0 gap, 1 accept, 2 release, 3 reject, 4 renew).
    pub fn wire(self) -> i8 {
        match self {
            Self::Gap => 0,
            Self::Accept => 1,
            Self::Release => 2,
            Self::Reject => 3,
            Self::Renew => 4,
        }
    }
}

/// The longest acquired range accepted from a broker (a broker acquires
/// about `max_records` per fetch, rounded up to whole batches).
pub const MAX_ACQUIRED_RANGE: i64 = 1 << 20;

/// Where one acquired offset stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AckState {
    Held,
    Pending(AcknowledgeType),
    InFlight(AcknowledgeType),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Acquired {
    delivery_count: i16,
    lock_deadline: Instant,
    state: AckState,
}

/// Why an acknowledgement was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckRefusal {
    /// The offset is not acquired by this member (never was, or its
    /// acknowledgement was already sent).
    NotAcquired,
    /// Its acknowledgement is already on the wire.
    InFlight,
}

/// The acquired offsets of one partition.
#[derive(Debug, Clone, Default)]
pub struct PartitionAcks {
    offsets: BTreeMap<i64, Acquired>,
}

impl PartitionAcks {
    /// Records that `first..=last` were acquired, delivered `delivery_count`
    /// times, locked until `lock_deadline`. An offset already held is
    /// replaced (the broker acquired it again after its lock expired).
    /// Returns how many offsets the range holds (0 for an inverted range),
    /// or `None`, acquiring nothing, for a range longer than
    /// [`MAX_ACQUIRED_RANGE`] (a hostile broker's).
    pub fn acquire(
        &mut self,
        first: i64,
        last: i64,
        delivery_count: i16,
        lock_deadline: Instant,
    ) -> Option<usize> {
        if last
            .checked_sub(first)
            .is_none_or(|span| span >= MAX_ACQUIRED_RANGE)
        {
            return None;
        }
        let mut n = 0;
        let mut offset = first;
        while offset <= last {
            self.offsets.insert(
                offset,
                Acquired {
                    delivery_count,
                    lock_deadline,
                    state: AckState::Held,
                },
            );
            n += 1;
            match offset.checked_add(1) {
                Some(next) => offset = next,
                None => break,
            }
        }
        Some(n)
    }

    /// The delivery count of an acquired offset.
    pub fn delivery_count(&self, offset: i64) -> Option<i16> {
        self.offsets.get(&offset).map(|a| a.delivery_count)
    }

    /// The lock deadline of an acquired offset.
    pub fn lock_deadline(&self, offset: i64) -> Option<Instant> {
        self.offsets.get(&offset).map(|a| a.lock_deadline)
    }

    /// Whether `offset` is acquired and not yet acknowledged.
    pub fn is_held(&self, offset: i64) -> bool {
        self.offsets
            .get(&offset)
            .is_some_and(|a| a.state == AckState::Held)
    }

    /// Acknowledges one acquired offset; a pending acknowledgement is
    /// replaced (the last one wins until it is sent).
    pub fn acknowledge(&mut self, offset: i64, kind: AcknowledgeType) -> Result<(), AckRefusal> {
        let a = self
            .offsets
            .get_mut(&offset)
            .ok_or(AckRefusal::NotAcquired)?;
        match a.state {
            AckState::InFlight(_) => Err(AckRefusal::InFlight),
            AckState::Held | AckState::Pending(_) => {
                a.state = AckState::Pending(kind);
                Ok(())
            }
        }
    }

    /// Acknowledges every held offset with `kind` (implicit mode, close),
    /// a renewal not yet sent included; returns how many.
    pub fn acknowledge_held(&mut self, kind: AcknowledgeType) -> usize {
        let mut n = 0;
        for a in self.offsets.values_mut() {
            if matches!(
                a.state,
                AckState::Held | AckState::Pending(AcknowledgeType::Renew)
            ) {
                a.state = AckState::Pending(kind);
                n += 1;
            }
        }
        n
    }

    /// Marks acquired offsets that hold no delivered record as gaps.
    /// `delivered` must be sorted ascending.
    pub fn mark_gaps(&mut self, delivered: &[i64]) -> usize {
        let mut n = 0;
        for (offset, a) in self.offsets.iter_mut() {
            if a.state == AckState::Held && delivered.binary_search(offset).is_err() {
                a.state = AckState::Pending(AcknowledgeType::Gap);
                n += 1;
            }
        }
        n
    }

    /// Whether acknowledgements wait to be sent.
    pub fn has_pending(&self) -> bool {
        self.offsets
            .values()
            .any(|a| matches!(a.state, AckState::Pending(_)))
    }

    /// Whether a renewal waits to be sent.
    pub fn has_pending_renew(&self) -> bool {
        self.offsets
            .values()
            .any(|a| a.state == AckState::Pending(AcknowledgeType::Renew))
    }

    /// Offsets acquired and not yet settled (held, pending or in flight).
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Whether nothing is acquired.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Moves every pending acknowledgement on the wire and returns them as
    /// batches: runs of consecutive offsets, one type per run when all its
    /// offsets agree, else one type per offset.
    pub fn take_pending(&mut self) -> Vec<AcknowledgementBatch> {
        let mut runs: Vec<(i64, Vec<i8>)> = Vec::new();
        for (&offset, a) in self.offsets.iter_mut() {
            let AckState::Pending(kind) = a.state else {
                continue;
            };
            a.state = AckState::InFlight(kind);
            match runs.last_mut() {
                Some((first, types))
                    if i64::try_from(types.len())
                        .ok()
                        .and_then(|n| first.checked_add(n))
                        == Some(offset) =>
                {
                    types.push(kind.wire())
                }
                _ => runs.push((offset, vec![kind.wire()])),
            }
        }
        runs.into_iter()
            .map(|(first, mut types)| {
                let last = first.saturating_add(i64::try_from(types.len()).unwrap_or(1) - 1);
                if types.windows(2).all(|w| w.first() == w.get(1)) {
                    types.truncate(1);
                }
                AcknowledgementBatch {
                    first_offset: first,
                    last_offset: last,
                    acknowledge_types: types,
                    ..Default::default()
                }
            })
            .collect()
    }

    /// Settles the acknowledgements in flight (the broker answered, with
    /// success or not: either way the offsets are no longer this member's),
    /// except renewals when `renewed_until` is given (the broker applied
    /// them): those are held again, locked until then. Returns them all
    /// with their types.
    pub fn settle_in_flight(
        &mut self,
        renewed_until: Option<Instant>,
    ) -> Vec<(i64, AcknowledgeType)> {
        let mut settled = Vec::new();
        self.offsets.retain(|&offset, a| match a.state {
            AckState::InFlight(kind) => {
                settled.push((offset, kind));
                match (kind, renewed_until) {
                    (AcknowledgeType::Renew, Some(until)) => {
                        a.state = AckState::Held;
                        a.lock_deadline = until;
                        true
                    }
                    _ => false,
                }
            }
            _ => true,
        });
        settled
    }

    /// Offsets whose lock deadline is at or before `now` and that are not
    /// yet on the wire: the broker may already have given them to another
    /// member. They are dropped and returned.
    pub fn expire(&mut self, now: Instant) -> Vec<i64> {
        let mut expired = Vec::new();
        self.offsets.retain(|&offset, a| {
            let gone = a.lock_deadline <= now && !matches!(a.state, AckState::InFlight(_));
            if gone {
                expired.push(offset);
            }
            !gone
        });
        expired
    }

    /// Forgets everything (the share session was lost: the broker released
    /// what it held for it). Returns how many offsets were dropped.
    pub fn clear(&mut self) -> usize {
        let n = self.offsets.len();
        self.offsets.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn batch(first: i64, last: i64, types: &[i8]) -> AcknowledgementBatch {
        AcknowledgementBatch {
            first_offset: first,
            last_offset: last,
            acknowledge_types: types.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn runs_are_batched_with_one_type_when_uniform() {
        let t0 = Instant::now();
        let mut p = PartitionAcks::default();
        assert_eq!(p.acquire(10, 15, 1, t0), Some(6));
        assert_eq!(p.acquire(20, 21, 3, t0), Some(2));
        for o in [10, 11, 12] {
            p.acknowledge(o, AcknowledgeType::Accept).unwrap();
        }
        p.acknowledge(13, AcknowledgeType::Release).unwrap();
        p.acknowledge(15, AcknowledgeType::Reject).unwrap();
        p.acknowledge(20, AcknowledgeType::Accept).unwrap();
        p.acknowledge(21, AcknowledgeType::Accept).unwrap();
        assert_eq!(p.delivery_count(21), Some(3));
        let sent = p.take_pending();
        assert_eq!(
            sent,
            [
                batch(10, 13, &[1, 1, 1, 2]),
                batch(15, 15, &[3]),
                batch(20, 21, &[1]),
            ]
        );
        // On the wire: no second acknowledgement, and nothing pending.
        assert_eq!(
            p.acknowledge(10, AcknowledgeType::Release),
            Err(AckRefusal::InFlight)
        );
        assert!(!p.has_pending() && p.take_pending().is_empty());
        assert_eq!(p.settle_in_flight(None).len(), 7);
        assert_eq!((p.len(), p.is_held(14)), (1, true));
        assert_eq!(
            p.acknowledge(10, AcknowledgeType::Accept),
            Err(AckRefusal::NotAcquired)
        );
    }

    #[test]
    fn the_last_acknowledgement_wins_and_gaps_cover_missing_offsets() {
        let t0 = Instant::now();
        let mut p = PartitionAcks::default();
        p.acquire(0, 4, 1, t0);
        p.acknowledge(1, AcknowledgeType::Release).unwrap();
        p.acknowledge(1, AcknowledgeType::Accept).unwrap();
        // Offsets 2 and 4 held no record (a transaction marker, compaction).
        assert_eq!(p.mark_gaps(&[0, 1, 3]), 2);
        assert_eq!(p.acknowledge_held(AcknowledgeType::Accept), 2);
        assert_eq!(p.take_pending(), [batch(0, 4, &[1, 1, 0, 1, 0])]);
    }

    #[test]
    fn expired_locks_are_dropped_in_virtual_time() {
        let t0 = Instant::now();
        let mut p = PartitionAcks::default();
        p.acquire(0, 1, 1, t0 + Duration::from_secs(15));
        p.acquire(2, 2, 1, t0 + Duration::from_secs(30));
        p.acknowledge(0, AcknowledgeType::Accept).unwrap();
        p.take_pending();
        assert!(p.expire(t0 + Duration::from_secs(14)).is_empty());
        // Offset 0 is on the wire: its answer settles it, not the clock.
        assert_eq!(p.expire(t0 + Duration::from_secs(15)), [1]);
        assert_eq!(p.lock_deadline(2), Some(t0 + Duration::from_secs(30)));
        assert_eq!(p.expire(t0 + Duration::from_secs(31)), [2]);
        assert_eq!(p.clear(), 1);
        // A hostile inverted, huge or overflowing range acquires nothing or stops.
        assert_eq!(p.acquire(5, 4, 1, t0), Some(0));
        assert_eq!(p.acquire(0, i64::MAX, 1, t0), None);
        assert_eq!(p.acquire(i64::MIN, 0, 1, t0), None);
        assert_eq!(p.acquire(i64::MAX, i64::MAX, 1, t0), Some(1));
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn a_renewal_the_broker_applied_is_held_again_with_a_new_deadline() {
        let t0 = Instant::now();
        let lock = Duration::from_secs(3);
        let mut p = PartitionAcks::default();
        p.acquire(0, 2, 1, t0 + lock);
        p.acknowledge(0, AcknowledgeType::Renew).unwrap();
        p.acknowledge(1, AcknowledgeType::Renew).unwrap();
        p.acknowledge(2, AcknowledgeType::Accept).unwrap();
        assert!(p.has_pending_renew());
        assert_eq!(p.take_pending(), [batch(0, 2, &[4, 4, 1])]);
        assert!(!p.has_pending_renew());
        // Answered at t0 + 2 s: renewed until t0 + 5 s; the accepted one is gone.
        let settled = p.settle_in_flight(Some(t0 + Duration::from_secs(5)));
        assert_eq!(
            settled,
            [
                (0, AcknowledgeType::Renew),
                (1, AcknowledgeType::Renew),
                (2, AcknowledgeType::Accept)
            ]
        );
        assert_eq!((p.len(), p.is_held(0), p.is_held(1)), (2, true, true));
        assert_eq!(p.lock_deadline(0), Some(t0 + Duration::from_secs(5)));
        assert_eq!(p.delivery_count(1), Some(1));
        // Past the old deadline, not the new one: still held.
        assert!(p.expire(t0 + Duration::from_secs(4)).is_empty());
        // Later: accept one, the other's renewal fails (its lock was lost).
        p.acknowledge(0, AcknowledgeType::Accept).unwrap();
        p.acknowledge(1, AcknowledgeType::Renew).unwrap();
        assert_eq!(p.take_pending(), [batch(0, 1, &[1, 4])]);
        assert_eq!(p.settle_in_flight(None).len(), 2);
        assert!(p.is_empty());
        // A renewal not yet sent is released on close like a held record.
        p.acquire(7, 7, 2, t0 + lock);
        p.acknowledge(7, AcknowledgeType::Renew).unwrap();
        assert_eq!(p.acknowledge_held(AcknowledgeType::Release), 1);
        assert_eq!(p.take_pending(), [batch(7, 7, &[2])]);
    }
}
