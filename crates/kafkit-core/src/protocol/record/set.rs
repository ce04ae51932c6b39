//! The `records` field of fetch responses and produce requests: batches and
//! legacy messages back to back, the last one possibly cut short.
//!
//! Brokers fill a fetch response up to its byte limit and may cut the last
//! batch off; that partial batch is not an error. [`RecordSetReader`] stops
//! before it and reports its size in [`RecordSetReader::truncated_bytes`].
//! The magic byte sits at the same place (byte 16) in v2 batches and legacy
//! messages, so both can be mixed in one set.
//!
//! Spec: <https://kafka.apache.org/documentation/#messageformat>.

use bytes::Bytes;

use super::batch::{BatchView, RecordIter, MAGIC_V2};
use super::legacy::{decode_entry, split_entry, LegacyEntry, LegacyMessage, MAGIC_AT};
use super::records::RecordView;
use super::DecodeOptions;
use crate::protocol::error::{ProtocolError, Result};

/// One entry of a record set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Batch {
    /// A v2 record batch.
    V2(BatchView),
    /// A legacy (magic 0/1) message, or the messages of a compressed wrapper.
    Legacy(LegacyEntry),
}

impl Batch {
    /// Whether this is a v2 control batch.
    pub fn is_control(&self) -> bool {
        match self {
            Self::V2(batch) => batch.is_control(),
            Self::Legacy(_) => false,
        }
    }

    /// The offset after this batch: where the next fetch starts.
    pub fn next_offset(&self) -> Option<i64> {
        match self {
            Self::V2(batch) => Some(batch.header.next_offset()),
            Self::Legacy(entry) => entry.messages.last().map(|m| m.offset.wrapping_add(1)),
        }
    }

    /// Iterates over the records of either format as [`RecordView`]s.
    pub fn records(&self) -> BatchRecords<'_> {
        match self {
            Self::V2(batch) => BatchRecords::V2(batch.records()),
            Self::Legacy(entry) => BatchRecords::Legacy(entry.messages.iter()),
        }
    }
}

/// Iterator over the records of a [`Batch`] of either format.
#[derive(Debug, Clone)]
pub enum BatchRecords<'a> {
    /// Records of a v2 batch.
    V2(RecordIter<'a>),
    /// Messages of a legacy entry.
    Legacy(std::slice::Iter<'a, LegacyMessage>),
}

impl Iterator for BatchRecords<'_> {
    type Item = Result<RecordView>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::V2(records) => records.next(),
            Self::Legacy(messages) => messages.next().map(|m| Ok(RecordView::from(m))),
        }
    }
}

impl From<&LegacyMessage> for RecordView {
    fn from(m: &LegacyMessage) -> Self {
        Self {
            offset: m.offset,
            timestamp: m.timestamp,
            key: m.key.clone(),
            value: m.value.clone(),
            ..Self::default()
        }
    }
}

/// Reads the batches of a record set one at a time.
///
/// Ends at the end of the input, before a trailing partial batch (see
/// [`Self::truncated_bytes`]), or after the first error.
#[derive(Debug, Clone)]
pub struct RecordSetReader {
    rest: Bytes,
    options: DecodeOptions,
    truncated_bytes: usize,
    failed: bool,
}

impl RecordSetReader {
    /// Reads `records` (e.g. a fetch response partition's `records` field).
    pub fn new(records: Bytes, options: DecodeOptions) -> Self {
        Self {
            rest: records,
            options,
            truncated_bytes: 0,
            failed: false,
        }
    }

    /// Size of the trailing partial batch that was skipped; 0 if there was
    /// none or the reader has not reached it yet.
    pub fn truncated_bytes(&self) -> usize {
        self.truncated_bytes
    }

    fn decode(&self, entry: Bytes) -> Result<Batch> {
        match entry.get(MAGIC_AT).map(|&m| i8::from_be_bytes([m])) {
            Some(MAGIC_V2) => BatchView::decode(entry, &self.options).map(Batch::V2),
            Some(0 | 1) => decode_entry(entry, &self.options).map(Batch::Legacy),
            Some(other) => Err(ProtocolError::InvalidValue {
                field: "magic",
                value: i64::from(other),
            }),
            None => Err(ProtocolError::CorruptRecords("entry without a magic byte")),
        }
    }
}

impl Iterator for RecordSetReader {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let item = match split_entry(&mut self.rest) {
            Ok(None) => {
                self.truncated_bytes = self.rest.len();
                self.rest = Bytes::new();
                return None;
            }
            Ok(Some(entry)) => self.decode(entry),
            Err(e) => Err(e),
        };
        self.failed = item.is_err();
        Some(item)
    }
}

/// A whole record set, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordSet {
    /// The complete batches, in order.
    pub batches: Vec<Batch>,
    /// Size of the trailing partial batch that was skipped (0 if none).
    pub truncated_bytes: usize,
}

impl RecordSet {
    /// Decodes every complete batch of `records`; the first bad batch fails the whole set.
    pub fn decode(records: Bytes, options: &DecodeOptions) -> Result<Self> {
        let mut reader = RecordSetReader::new(records, *options);
        let batches = reader.by_ref().collect::<Result<Vec<_>>>()?;
        Ok(Self {
            batches,
            truncated_bytes: reader.truncated_bytes(),
        })
    }

    /// Whether a trailing partial batch was skipped.
    pub fn is_truncated(&self) -> bool {
        self.truncated_bytes > 0
    }
}
