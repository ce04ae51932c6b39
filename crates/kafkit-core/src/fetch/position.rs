//! One partition's fetch position, sans-IO: what each partition of a Fetch
//! response means for where the next fetch starts.
//!
//! ```text
//!            assign(Some(offset))                    on_partition(NONE, records)
//!  Unknown ─────────────────────► Known(position) ─────────────────────────────┐
//!     ▲   reset answered (set)          │   ▲   next known from the headers:   │
//!     │                                 │   └── Known(next) at once ◄──────────┤
//!     │       OFFSET_OUT_OF_RANGE       │       legacy batches: on_decoded ◄───┘
//!     └─────────────────────────────────┘       unreadable: on_unreadable (stay)
//! ```
//!
//! The next position comes from the batch headers alone
//! ([`BatchHeader::peek`], the core's header parser), so the driver can send
//! the next fetch before the records are decoded; a legacy (magic 0/1)
//! batch needs the full decode, which [`FetchPosition::on_decoded`] reports.
//!
//! Spec: the Fetch API (key 1) <https://kafka.apache.org/protocol#The_Messages_Fetch>,
//! KIP-392's `OFFSET_OUT_OF_RANGE` handling as the Java consumer does it.

use crate::common::LeaderHint;
use crate::protocol::record::{BatchHeader, PeekedBatch};
use crate::protocol::ErrorCode;

/// What one partition of a Fetch response asks of the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionVerdict {
    /// Nothing to do: no position (a reset is pending) or no records.
    Nothing,
    /// Decode the records fetched from `position`. `early` is true when the
    /// headers gave the next position (already applied), so the next fetch
    /// may go out before the decode.
    Decode {
        /// The position the data starts at (records before it are dropped).
        position: i64,
        /// Whether the next position is already known.
        early: bool,
    },
    /// The position is out of the log's range: it is forgotten; the driver
    /// applies its reset policy (or reports the error).
    OutOfRange {
        /// The position the broker refused.
        position: i64,
    },
    /// The partition failed with `code`; `refresh` when new metadata may
    /// help, `leader` when the answer named the new leader (KIP-951), which
    /// the driver takes into its metadata instead of a refresh.
    Failed {
        /// The partition's error.
        code: ErrorCode,
        /// Whether to refresh the metadata before fetching it again.
        refresh: bool,
        /// The new leader to take into the metadata (`refresh` is false then).
        leader: Option<LeaderHint>,
    },
}

impl PartitionVerdict {
    /// The verdict once the partition's `current_leader` field is read
    /// (KIP-951): a failure that calls for a metadata refresh, with a code
    /// the named leader answers, takes the leader instead; any other
    /// verdict is unchanged (`UNKNOWN_LEADER_EPOCH` fetches again as it is).
    pub fn with_leader(self, hint: Option<LeaderHint>) -> Self {
        match (self, hint) {
            (
                PartitionVerdict::Failed {
                    code,
                    refresh: true,
                    ..
                },
                Some(h),
            ) if h.replaces_refresh(code) => PartitionVerdict::Failed {
                code,
                refresh: false,
                leader: Some(h),
            },
            (verdict, _) => verdict,
        }
    }
}

/// One partition's fetch position and high watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchPosition {
    /// Where the next fetch starts; `None` until known (a reset is pending).
    pub position: Option<i64>,
    /// The last high watermark the leader reported (-1 before any).
    pub high_watermark: i64,
}

impl Default for FetchPosition {
    fn default() -> Self {
        Self {
            position: None,
            high_watermark: -1,
        }
    }
}

impl FetchPosition {
    /// A partition starting at `position` (`None`: apply the reset policy).
    pub fn new(position: Option<i64>) -> Self {
        Self {
            position,
            ..Self::default()
        }
    }

    /// Judges one partition of a Fetch response: its error code, high
    /// watermark and records (the `records` field, possibly empty).
    pub fn on_partition(
        &mut self,
        code: ErrorCode,
        high_watermark: i64,
        records: Option<&[u8]>,
    ) -> PartitionVerdict {
        let Some(position) = self.position else {
            return PartitionVerdict::Nothing;
        };
        match code {
            ErrorCode::NONE => {}
            ErrorCode::OFFSET_OUT_OF_RANGE => {
                self.position = None;
                return PartitionVerdict::OutOfRange { position };
            }
            // The leader has not yet learnt the epoch our metadata already
            // names (a KIP-951 hint can be a moment ahead of it): fetching
            // again is enough, as the Java client does.
            ErrorCode::UNKNOWN_LEADER_EPOCH => {
                return PartitionVerdict::Failed {
                    code,
                    refresh: false,
                    leader: None,
                };
            }
            code => {
                let refresh = code.needs_metadata_refresh() || code.is_retriable();
                return PartitionVerdict::Failed {
                    code,
                    refresh,
                    leader: None,
                };
            }
        }
        self.high_watermark = high_watermark;
        let Some(records) = records.filter(|r| !r.is_empty()) else {
            return PartitionVerdict::Nothing;
        };
        let early = match next_position(records, position) {
            Some(next) => {
                self.position = Some(next);
                true
            }
            None => false,
        };
        PartitionVerdict::Decode { position, early }
    }

    /// The decode of records fetched from `from` ended at `next`.
    pub fn on_decoded(&mut self, next: i64) {
        self.position = Some(next);
    }

    /// The records fetched from `from` could not be read: fetch them again.
    pub fn on_unreadable(&mut self, from: i64) {
        self.position = Some(from);
    }
}

/// Where the next fetch of a partition starts, from the v2 batch headers
/// alone (no decompression, no record decoding): past the last complete
/// batch, or `position` if there is none. `None` when a complete batch is
/// not a v2 batch, or its header is malformed (the full decode decides).
pub fn next_position(records: &[u8], position: i64) -> Option<i64> {
    let mut next = position;
    let mut rest = records;
    loop {
        match BatchHeader::peek(rest).ok()? {
            PeekedBatch::Partial => return Some(next),
            PeekedBatch::Legacy => return None,
            PeekedBatch::V2 {
                next_offset, len, ..
            } => {
                next = next.max(next_offset);
                rest = rest.get(len..)?;
            }
        }
    }
}

/// Offsets the application is never handed (control batches, aborted
/// transactions' data under read_committed) that follow the records it
/// was handed, and when they count as processed.
///
/// A consumer's processed offset ("the last record finished + 1") is what
/// it commits and what its lag is measured from; a partition that ends in
/// transaction markers or aborted data would otherwise never reach the
/// log's end. Each decoded chunk of a partition (fetched from `start`,
/// its last record, the fetch position `end` after it) leaves a *tail*:
/// once the processed offset reaches `need` (everything handed before the
/// skipped offsets was finished), it may jump to `to`. A processed offset
/// short of `need` is left alone, so nothing is ever committed past a
/// record the application has not finished. As the Java consumer commits
/// its position once every record before it was returned.
///
/// ```text
///   records handed ── processed >= need ──► processed = max(processed, to)
///   chunk with records:    need = last + 1, to = end
///   chunk without records: need = start (or the earlier tail's need when
///                          it ends at start), to = end
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkippedTail(Option<(i64, i64)>);

impl SkippedTail {
    /// A chunk fetched from `start` was decoded: `last_record` is the
    /// offset of its last record handed to the application (`None`: it
    /// had none), `end` the fetch position after it. `processed` is the
    /// processed offset now. Returns an offset the processed offset may be
    /// raised to at once (the earlier tail, when it was already reached).
    pub fn on_decoded(
        &mut self,
        start: i64,
        last_record: Option<i64>,
        end: i64,
        processed: Option<i64>,
    ) -> Option<i64> {
        let reached = self
            .0
            .and_then(|(need, to)| processed.filter(|p| *p >= need && to > *p).map(|_| to));
        let tail = match last_record {
            Some(last) => {
                let need = last.saturating_add(1);
                (need, end.max(need))
            }
            None => match self.0 {
                Some((need, to)) if to == start => (need, end.max(to)),
                _ => (start, end.max(start)),
            },
        };
        self.0 = Some(tail);
        reached
    }

    /// The processed offset counting the tail: `to` once `processed`
    /// reached `need`, else `processed` unchanged.
    pub fn processed(&self, processed: i64) -> i64 {
        match self.0 {
            Some((need, to)) if processed >= need => processed.max(to),
            _ => processed,
        }
    }

    /// Forgets the tail (the partition was seeked, reset or revoked).
    pub fn clear(&mut self) {
        self.0 = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::record::{BatchHeader, Record, RecordBatch};
    use bytes::{Bytes, BytesMut};

    fn batch(base: i64, values: &[&str]) -> Bytes {
        let mut buf = BytesMut::new();
        RecordBatch {
            header: BatchHeader {
                base_offset: base,
                last_offset_delta: i32::try_from(values.len()).unwrap() - 1,
                ..BatchHeader::default()
            },
            records: values
                .iter()
                .enumerate()
                .map(|(i, v)| Record {
                    offset_delta: i32::try_from(i).unwrap(),
                    value: Some(Bytes::copy_from_slice(v.as_bytes())),
                    ..Record::default()
                })
                .collect(),
        }
        .encode(&mut buf)
        .unwrap();
        buf.freeze()
    }

    #[test]
    fn headers_give_the_next_position_before_the_decode() {
        let mut data = BytesMut::new();
        data.extend_from_slice(&batch(10, &["a", "b", "c"]));
        data.extend_from_slice(&batch(13, &["d"]));
        let mut p = FetchPosition::new(Some(11));
        let v = p.on_partition(ErrorCode::NONE, 20, Some(&data));
        assert_eq!(
            v,
            PartitionVerdict::Decode {
                position: 11,
                early: true
            }
        );
        assert_eq!((p.position, p.high_watermark), (Some(14), 20));
    }

    #[test]
    fn a_partial_batch_at_the_end_is_fetched_again() {
        let whole = batch(0, &["a", "b"]);
        let cut = batch(2, &["c"]);
        let mut data = BytesMut::new();
        data.extend_from_slice(&whole);
        data.extend_from_slice(cut.get(..cut.len() - 3).unwrap());
        assert_eq!(next_position(&data, 0), Some(2));
        // Only a partial batch: stay where we are.
        assert_eq!(next_position(cut.get(..20).unwrap(), 2), Some(2));
        assert_eq!(next_position(&[], 7), Some(7));
    }

    #[test]
    fn legacy_batches_wait_for_the_decode() {
        let mut legacy = batch(0, &["a"]).to_vec();
        legacy[16] = 1; // magic 1
        let mut p = FetchPosition::new(Some(0));
        let v = p.on_partition(ErrorCode::NONE, 5, Some(&legacy));
        assert_eq!(
            v,
            PartitionVerdict::Decode {
                position: 0,
                early: false
            }
        );
        assert_eq!(p.position, Some(0));
        p.on_decoded(1);
        assert_eq!(p.position, Some(1));
    }

    #[test]
    fn malformed_headers_never_panic_and_defer_to_the_decode() {
        let mut bad = batch(0, &["a"]).to_vec();
        bad[8..12].copy_from_slice(&(-5i32).to_be_bytes());
        assert_eq!(next_position(&bad, 0), None);
        bad[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
        assert_eq!(
            next_position(&bad, 3),
            Some(3),
            "announces more than it has"
        );
    }

    #[test]
    fn errors_are_judged_per_partition() {
        let mut p = FetchPosition::new(Some(42));
        assert_eq!(
            p.on_partition(ErrorCode::OFFSET_OUT_OF_RANGE, -1, None),
            PartitionVerdict::OutOfRange { position: 42 }
        );
        assert_eq!(p.position, None);
        assert_eq!(
            p.on_partition(ErrorCode::NONE, 3, Some(&batch(0, &["a"]))),
            PartitionVerdict::Nothing,
            "no position until a reset"
        );
        let mut p = FetchPosition::new(Some(1));
        assert_eq!(
            p.on_partition(ErrorCode::NOT_LEADER_OR_FOLLOWER, -1, None),
            PartitionVerdict::Failed {
                code: ErrorCode::NOT_LEADER_OR_FOLLOWER,
                refresh: true,
                leader: None
            }
        );
        assert_eq!(p.position, Some(1));
        assert_eq!(
            p.on_partition(ErrorCode::UNKNOWN_LEADER_EPOCH, -1, None),
            PartitionVerdict::Failed {
                code: ErrorCode::UNKNOWN_LEADER_EPOCH,
                refresh: false,
                leader: None
            },
            "the leader catches up with our epoch: fetch again"
        );
        assert_eq!(p.position, Some(1));
        assert_eq!(
            p.on_partition(ErrorCode::NONE, 9, Some(&[])),
            PartitionVerdict::Nothing
        );
        assert_eq!(p.high_watermark, 9);
        p.on_unreadable(1);
        assert_eq!(p.position, Some(1));
    }

    #[test]
    fn a_trailing_skip_counts_once_the_last_record_is_processed() {
        let mut t = SkippedTail::default();
        // Records 0..=2, then an abort marker / aborted data up to 6.
        assert_eq!(t.on_decoded(0, Some(2), 6, Some(0)), None);
        assert_eq!(t.processed(0), 0, "nothing finished yet");
        assert_eq!(t.processed(2), 2, "record 2 not finished: stay before it");
        assert_eq!(t.processed(3), 6, "all records finished: past the markers");
        // A later chunk with only markers, contiguous: still needs 3.
        assert_eq!(t.on_decoded(6, None, 9, Some(2)), None);
        assert_eq!(t.processed(2), 2);
        assert_eq!(t.processed(3), 9);
    }

    #[test]
    fn a_chunk_without_records_needs_everything_before_it() {
        let mut t = SkippedTail::default();
        // Assigned at 10, the log holds only aborted data and markers there.
        assert_eq!(t.on_decoded(10, None, 14, Some(10)), None);
        assert_eq!(t.processed(10), 14);
        assert_eq!(t.processed(9), 9, "an earlier offset is never raised");
        // Not contiguous with the tail (a gap the records will cover).
        let mut t = SkippedTail::default();
        t.on_decoded(0, Some(4), 5, Some(0));
        t.on_decoded(8, None, 12, Some(5));
        assert_eq!(t.processed(5), 5, "offsets 5..8 not known to be skipped");
        assert_eq!(t.processed(8), 12);
    }

    #[test]
    fn a_reached_tail_is_kept_when_the_next_chunk_replaces_it() {
        let mut t = SkippedTail::default();
        t.on_decoded(0, Some(1), 4, Some(0));
        // The application finished record 1 (processed 2): the next chunk's
        // decode hands back 4 so the processed offset never goes back.
        assert_eq!(t.on_decoded(4, Some(5), 6, Some(2)), Some(4));
        assert_eq!(t.processed(4), 4, "record 5 of the new chunk not finished");
        assert_eq!(t.processed(6), 6);
        // Not reached yet: nothing handed back, the new tail is conservative.
        let mut t = SkippedTail::default();
        t.on_decoded(0, Some(1), 4, Some(0));
        assert_eq!(t.on_decoded(4, Some(7), 9, Some(1)), None);
        assert_eq!(
            t.processed(2),
            2,
            "the skip 2..4 is forgotten, not over-claimed"
        );
        assert_eq!(t.processed(8), 9);
        t.clear();
        assert_eq!(t.processed(8), 8);
    }

    #[test]
    fn a_named_leader_replaces_the_refresh_of_a_stale_leader() {
        let hint = LeaderHint::named(3, 9);
        let mut p = FetchPosition::new(Some(5));
        let verdict = p
            .on_partition(ErrorCode::FENCED_LEADER_EPOCH, -1, None)
            .with_leader(hint);
        assert_eq!(
            verdict,
            PartitionVerdict::Failed {
                code: ErrorCode::FENCED_LEADER_EPOCH,
                refresh: false,
                leader: hint
            }
        );
        assert_eq!(p.position, Some(5), "fetched again from the same offset");
        // Without a hint, or for a code the hint does not answer, the
        // verdict stands.
        let alone = p.on_partition(ErrorCode::NOT_LEADER_OR_FOLLOWER, -1, None);
        assert_eq!(alone.with_leader(None), alone);
        let unknown = p.on_partition(ErrorCode::UNKNOWN_SERVER_ERROR, -1, None);
        assert_eq!(unknown.with_leader(hint), unknown);
        let catching_up = p.on_partition(ErrorCode::UNKNOWN_LEADER_EPOCH, -1, None);
        assert_eq!(catching_up.with_leader(hint), catching_up);
        let out_of_range = p.on_partition(ErrorCode::OFFSET_OUT_OF_RANGE, -1, None);
        assert_eq!(out_of_range.with_leader(hint), out_of_range);
    }
}
