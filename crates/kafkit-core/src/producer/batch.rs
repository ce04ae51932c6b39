//! One partition's batch, encoded as records are appended, and the pool of
//! batch buffers (sans-IO).

use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};

use super::record::ProducerRecord;
use crate::common::TopicPartition;
use crate::protocol::record::{encode_record, RecordFields, V2_HEADER_LEN};
use crate::protocol::ProtocolError;

/// Why [`Accumulator::append`](super::Accumulator::append) refused a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// The accumulator is closed (or the partition was never registered).
    #[error("closed")]
    Closed,
    /// The record names a negative partition.
    #[error("{topic}: partition {partition} is negative")]
    NegativePartition {
        /// The record's topic.
        topic: String,
        /// The partition it names.
        partition: i32,
    },
    /// The record's timestamp is too far from its batch's first timestamp
    /// to be written as a delta.
    #[error("{tp:?}: timestamp {timestamp} out of range")]
    TimestampOutOfRange {
        /// The record's partition.
        tp: TopicPartition,
        /// The record's timestamp.
        timestamp: i64,
    },
    /// The record cannot be encoded (a field too long for the format).
    #[error("{tp:?}: record cannot be encoded: {source}")]
    Encode {
        /// The record's partition.
        tp: TopicPartition,
        /// What the codec said.
        #[source]
        source: ProtocolError,
    },
}

type Result<T> = std::result::Result<T, AppendError>;

/// A record to append, with what the producer decided about it.
#[derive(Debug, Clone, Copy)]
pub struct NewRecord<'a> {
    /// The record.
    pub record: &'a ProducerRecord,
    /// The partition the producer chose for it.
    pub partition: i32,
    /// Create timestamp (ms).
    pub timestamp: i64,
    /// When the record must have been delivered or failed.
    pub deadline: Instant,
    /// Size counted against batches and the buffer.
    pub size: usize,
}

/// A batch of one partition's records, encoded as they were appended.
#[derive(Debug)]
pub struct Batch<T> {
    /// The batch's partition.
    pub tp: TopicPartition,
    /// Increasing per accumulator (see `Accumulator::flush_point`).
    pub(super) id: u64,
    /// A reserved v2 batch header followed by the encoded records.
    pub records: BytesMut,
    /// The whole batch as last handed to a request, kept for retries.
    pub wire: Option<Bytes>,
    pub(super) count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    /// Bytes counted against the batch size (record size estimates).
    pub bytes: usize,
    pub(super) created: Instant,
    /// The earliest record deadline, kept up to date by `push` so the
    /// per-event expiry and wake-up checks never walk the records.
    pub earliest_deadline: Instant,
    /// Sequence of the first record once sent by an idempotent producer.
    pub base_sequence: Option<i32>,
    /// Times the batch was handed out by `drain`.
    pub attempts: u32,
    pub(super) retry_at: Option<Instant>,
    /// The caller's completion token, shared by every record of the batch.
    pub token: T,
}

impl<T> Batch<T> {
    /// When the batch was opened (its first record appended).
    pub fn created(&self) -> Instant {
        self.created
    }

    /// A batch opened by `first`, encoding into `buffer` (empty, possibly reused).
    pub(super) fn new(
        tp: TopicPartition,
        id: u64,
        first: &NewRecord<'_>,
        now: Instant,
        token: T,
        buffer: BytesMut,
    ) -> Self {
        Self {
            tp,
            id,
            records: buffer,
            wire: None,
            count: 0,
            base_timestamp: first.timestamp,
            max_timestamp: first.timestamp,
            bytes: 0,
            created: now,
            earliest_deadline: first.deadline,
            base_sequence: None,
            attempts: 0,
            retry_at: None,
            token,
        }
    }

    /// Records in the batch.
    pub fn record_count(&self) -> i32 {
        self.count
    }

    /// The first record's timestamp (the batch's base) and the largest one.
    pub fn timestamps(&self) -> (i64, i64) {
        (self.base_timestamp, self.max_timestamp)
    }

    /// Whether some record is past its delivery deadline.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.earliest_deadline <= now
    }

    /// Encodes `rec` behind the records so far; returns its index.
    #[inline]
    pub(super) fn push(&mut self, rec: &NewRecord<'_>, capacity: usize) -> Result<i32> {
        let index = self.count;
        let timestamp_delta = rec
            .timestamp
            .checked_sub(self.base_timestamp)
            .ok_or_else(|| AppendError::TimestampOutOfRange {
                tp: self.tp.clone(),
                timestamp: rec.timestamp,
            })?;
        if self.records.is_empty() {
            self.records.reserve(capacity.max(rec.size) + V2_HEADER_LEN);
            self.records.put_bytes(0, V2_HEADER_LEN);
        }
        let r = rec.record;
        encode_record(
            &mut self.records,
            RecordFields {
                attributes: 0,
                timestamp_delta,
                offset_delta: index,
                key: r.key.as_deref(),
                value: r.value.as_deref(),
            },
            r.headers.iter().map(|(k, v)| (k.as_str(), v.as_deref())),
        )
        .map_err(|source| AppendError::Encode {
            tp: self.tp.clone(),
            source,
        })?;
        self.count = index.saturating_add(1);
        self.bytes += rec.size;
        self.max_timestamp = self.max_timestamp.max(rec.timestamp);
        self.earliest_deadline = self.earliest_deadline.min(rec.deadline);
        Ok(index)
    }
}

/// Batch buffers given back once their batch is done, reused by new batches.
///
/// A fresh buffer of a batch's size is memory the process has not touched
/// yet (or gave back to the system when the last batch was freed): writing
/// records into it costs page faults, measured at about a tenth of the
/// producer's CPU with 256 KiB batches. Like the Java client's `BufferPool`,
/// but bounded by a count and only for buffers of at least the batch size.
#[derive(Debug)]
pub(super) struct BufferPool {
    free: Vec<BytesMut>,
    max_free: usize,
    /// Capacity of a batch buffer: the batch size plus the header.
    capacity: usize,
}

impl BufferPool {
    pub fn new(batch_size: usize, max_free: usize) -> Self {
        Self {
            free: Vec::new(),
            max_free,
            capacity: batch_size.saturating_add(V2_HEADER_LEN),
        }
    }

    /// An empty buffer, reused when one is free.
    pub fn take(&mut self) -> BytesMut {
        self.free
            .pop()
            .unwrap_or_else(|| BytesMut::with_capacity(self.capacity))
    }

    /// Keeps `buf` for a later batch if it is large enough and the pool has room.
    pub fn give(&mut self, mut buf: BytesMut) {
        if self.free.len() < self.max_free && buf.capacity() >= self.capacity {
            buf.clear();
            self.free.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_once_sent_and_released() {
        let mut pool = BufferPool::new(100, 1);
        let mut buf = pool.take();
        let cap = buf.capacity();
        assert!(cap >= 100 + V2_HEADER_LEN);
        let first = buf.as_ptr();
        buf.extend_from_slice(&[1; 150]);
        // Frozen for a request, cloned, and back once the clone is gone.
        let wire = buf.freeze();
        let request = wire.clone();
        let wire = wire
            .try_into_mut()
            .expect_err("shared while the request lives");
        drop(request);
        let buf = wire.try_into_mut().expect("unique again");
        pool.give(buf);
        pool.give(BytesMut::with_capacity(cap)); // over the count: dropped
        let again = pool.take();
        assert_eq!(
            (again.as_ptr(), again.len()),
            (first, 0),
            "the same memory, empty"
        );
        pool.give(BytesMut::with_capacity(10));
        assert_ne!(pool.take().capacity(), 10, "small buffers are not kept");
    }
}
