//! Record data: v2 record batches, legacy message sets and compression.
//!
//! Decoding starts from the `records` bytes of a fetch response:
//! [`RecordSet::decode`] (or the lazy [`RecordSetReader`]) splits them into
//! [`Batch`]es, skipping a trailing partial batch. A v2 batch arrives as a
//! [`BatchView`] — CRC-32C verified and decompressed, within
//! [`DecodeOptions::max_decompressed_size`] — whose [`BatchView::records`]
//! iterator yields [`RecordView`]s without allocating: keys, values and
//! header values are `Bytes` slices of the input (or of the single
//! decompressed buffer). [`RecordBatch`] is the owned form, used to encode
//! (the producer) and by [`BatchView::to_batch`]/[`RecordBatch::decode`]
//! when owned records are wanted. Legacy magic 0/1 message sets decode to
//! [`LegacyEntry`]s; [`Batch::records`] yields either format as `RecordView`s.
//!
//! Spec: <https://kafka.apache.org/documentation/#messageformat>; KIP-98
//! (v2 batches), KIP-82 (headers), KIP-31/KIP-32 (v1 messages).

mod batch;
mod compression;
mod control;
mod cursor;
mod legacy;
mod records;
mod set;

#[cfg(test)]
mod tests;

pub use batch::{
    BatchAttributes, BatchHeader, BatchView, PeekedBatch, RecordBatch, RecordIter, TimestampType,
    LOG_OVERHEAD, MAGIC_V2, NO_TIMESTAMP, V2_HEADER_LEN,
};
pub use compression::compress;
pub use compression::Compression;
pub use control::{end_txn_batch, ControlRecordKey, ControlRecordType, EndTxnMarker};
pub use legacy::{LegacyEntry, LegacyMessage, MESSAGE_OVERHEAD_V0, MESSAGE_OVERHEAD_V1};
pub use records::{
    encode_record, HeaderBlock, HeaderIter, HeaderView, Record, RecordFields, RecordHeader,
    RecordView,
};
pub use set::{Batch, BatchRecords, RecordSet, RecordSetReader};

/// Limits and checks applied while decoding record data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeOptions {
    /// Largest decompressed size of one batch or wrapper message; more is
    /// [`ProtocolError::DecompressedTooLarge`](crate::protocol::ProtocolError::DecompressedTooLarge).
    pub max_decompressed_size: usize,
    /// Verify CRCs (Java's `check.crcs`); on by default.
    pub verify_crc: bool,
}

impl DecodeOptions {
    /// The default decompression limit: 64 MiB.
    pub const DEFAULT_MAX_DECOMPRESSED_SIZE: usize = 64 << 20;

    /// Sets the decompression limit.
    pub fn with_max_decompressed_size(mut self, limit: usize) -> Self {
        self.max_decompressed_size = limit;
        self
    }

    /// Turns CRC verification on or off.
    pub fn with_crc_check(mut self, verify: bool) -> Self {
        self.verify_crc = verify;
        self
    }
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            max_decompressed_size: Self::DEFAULT_MAX_DECOMPRESSED_SIZE,
            verify_crc: true,
        }
    }
}
