//! Record batches (magic 2): the owned [`RecordBatch`] and the decoded
//! [`BatchView`], whose records are read lazily by [`RecordIter`].
//!
//! ```text
//! base_offset: int64            batch_length: int32 (bytes after this field)
//! partition_leader_epoch: int32 magic: int8 (= 2)
//! crc: uint32 (CRC-32C of everything from attributes to the end)
//! attributes: int16             last_offset_delta: int32
//! base_timestamp: int64         max_timestamp: int64
//! producer_id: int64            producer_epoch: int16
//! base_sequence: int32          record_count: int32
//! records (compressed as a whole when the codec is not none)
//! ```
//!
//! Spec: KIP-98, <https://kafka.apache.org/documentation/#recordbatch>.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::compression::{compress, decompress, Compression};
use super::cursor::{len_i32, Cursor};
use super::records::{parse_record, Record, RecordContext, RecordView, MIN_RECORD_LEN};
use super::DecodeOptions;
use crate::protocol::error::{ProtocolError, Result};

/// The magic byte of record batches.
pub const MAGIC_V2: i8 = 2;
/// Size of the v2 batch header, records excluded.
pub const V2_HEADER_LEN: usize = 61;
/// Base offset and length fields that precede every batch or legacy message.
pub const LOG_OVERHEAD: usize = 12;
/// Where the CRC-covered part of a v2 batch starts.
const ATTRIBUTES_AT: usize = 21;
const CRC_AT: usize = 17;
/// "No timestamp", Java's `RecordBatch.NO_TIMESTAMP`.
pub const NO_TIMESTAMP: i64 = -1;

/// How a batch's timestamps were set (attributes bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub enum TimestampType {
    /// The producer set them.
    #[default]
    CreateTime,
    /// The broker set them on append.
    LogAppendTime,
}

/// The attributes of a v2 batch, split into their fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct BatchAttributes {
    /// Codec of the records section (bits 0-2).
    #[cfg_attr(test, proptest(strategy = "super::tests::enabled_codec()"))]
    pub compression: Compression,
    /// Timestamp type (bit 3).
    pub timestamp_type: TimestampType,
    /// Part of a transaction (bit 4).
    pub transactional: bool,
    /// Holds a control record such as a transaction marker (bit 5).
    pub control: bool,
    /// The first timestamp is the delete horizon of compaction (bit 6, KIP-534).
    pub delete_horizon: bool,
}

impl BatchAttributes {
    const COMPRESSION_MASK: i16 = 0x07;
    const TIMESTAMP_TYPE: i16 = 0x08;
    const TRANSACTIONAL: i16 = 0x10;
    const CONTROL: i16 = 0x20;
    const DELETE_HORIZON: i16 = 0x40;

    /// Splits the wire attributes; unknown codecs are an error, bits 7-15 are ignored.
    pub fn from_bits(bits: i16) -> Result<Self> {
        let codec = u8::try_from(bits & Self::COMPRESSION_MASK)
            .map_err(|_| ProtocolError::UnknownCompression(u8::MAX))?;
        Ok(Self {
            compression: Compression::from_id(codec)?,
            timestamp_type: if bits & Self::TIMESTAMP_TYPE != 0 {
                TimestampType::LogAppendTime
            } else {
                TimestampType::CreateTime
            },
            transactional: bits & Self::TRANSACTIONAL != 0,
            control: bits & Self::CONTROL != 0,
            delete_horizon: bits & Self::DELETE_HORIZON != 0,
        })
    }

    /// The wire attributes.
    pub fn bits(&self) -> i16 {
        let flag = |set: bool, bit: i16| if set { bit } else { 0 };
        i16::from(self.compression.id())
            | flag(
                self.timestamp_type == TimestampType::LogAppendTime,
                Self::TIMESTAMP_TYPE,
            )
            | flag(self.transactional, Self::TRANSACTIONAL)
            | flag(self.control, Self::CONTROL)
            | flag(self.delete_horizon, Self::DELETE_HORIZON)
    }
}

/// The header fields of a v2 batch that are not derived from its records
/// (length, magic, CRC and record count are computed on encode).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Leader epoch of the broker that appended the batch; -1 from producers.
    pub partition_leader_epoch: i32,
    /// Codec, timestamp type and flags.
    pub attributes: BatchAttributes,
    /// Offset of the last record minus the base offset (may exceed the
    /// last record's delta after compaction).
    pub last_offset_delta: i32,
    /// Timestamp of the first record, or the delete horizon (see attributes).
    pub base_timestamp: i64,
    /// Largest timestamp in the batch.
    pub max_timestamp: i64,
    /// Idempotent/transactional producer id; -1 if none.
    pub producer_id: i64,
    /// Producer epoch; -1 if none.
    pub producer_epoch: i16,
    /// Sequence number of the first record; -1 if none.
    pub base_sequence: i32,
}

impl Default for BatchHeader {
    fn default() -> Self {
        Self {
            base_offset: 0,
            partition_leader_epoch: -1,
            attributes: BatchAttributes::default(),
            last_offset_delta: 0,
            base_timestamp: NO_TIMESTAMP,
            max_timestamp: NO_TIMESTAMP,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
        }
    }
}

/// What the first bytes of a record set say about its first batch, read by
/// [`BatchHeader::peek`] without checking the CRC or decoding records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeekedBatch {
    /// Fewer bytes than the batch's size prefix announces (a partial batch
    /// at the end of a fetch response, or not even a whole prefix).
    Partial,
    /// A whole v2 batch: its offsets, and the bytes it spans from its base
    /// offset field to its last byte.
    V2 {
        /// Its base offset.
        base_offset: i64,
        /// The offset that follows it.
        next_offset: i64,
        /// Its size including the 12-byte log overhead.
        len: usize,
    },
    /// A whole batch of an older format (magic 0 or 1): only a full decode
    /// tells where it ends in offsets.
    Legacy,
}

impl BatchHeader {
    /// Reads the first batch of `records` as far as its header goes: its
    /// length, magic and offsets. The one header parser the consumer uses to
    /// find its next fetch position before the records are decoded; a
    /// malformed header (negative length) is an error.
    pub fn peek(records: &[u8]) -> Result<PeekedBatch> {
        // base offset (8), batch length (4), leader epoch (4), magic (1),
        // crc (4), attributes (2), last offset delta (4).
        const PEEK_LEN: usize = ATTRIBUTES_AT + 6;
        if records.len() < PEEK_LEN {
            return Ok(PeekedBatch::Partial);
        }
        let mut r = Cursor::new(records, 0);
        let base_offset = r.i64()?;
        let length = r.i32()?;
        let length =
            usize::try_from(length).map_err(|_| ProtocolError::InvalidLength(i64::from(length)))?;
        let len = length
            .checked_add(LOG_OVERHEAD)
            .ok_or(ProtocolError::InvalidLength(i64::MAX))?;
        if records.len() < len {
            return Ok(PeekedBatch::Partial);
        }
        let _leader_epoch = r.i32()?;
        if i8::from_be_bytes([r.u8()?]) != MAGIC_V2 {
            return Ok(PeekedBatch::Legacy);
        }
        let _crc: [u8; 4] = r.array()?;
        let _attributes = r.i16()?;
        let header = BatchHeader {
            base_offset,
            last_offset_delta: r.i32()?,
            ..BatchHeader::default()
        };
        Ok(PeekedBatch::V2 {
            base_offset,
            next_offset: header.next_offset(),
            len,
        })
    }

    /// Offset of the last record the batch covers.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .wrapping_add(i64::from(self.last_offset_delta))
    }

    /// The offset that follows the batch (where a consumer fetches next).
    pub fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }

    /// Writes this header over the first [`V2_HEADER_LEN`] bytes of `batch`,
    /// a whole v2 batch whose records section (compressed as the attributes
    /// say) follows the header: batch length and CRC-32C are computed from
    /// `batch`, the record count is `record_count`.
    ///
    /// A producer encodes its records behind a reserved header and fills the
    /// header in with this once the batch is closed (again on a retry, when
    /// producer id or sequence changed), without copying the records.
    pub fn write_v2(&self, batch: &mut [u8], record_count: usize) -> Result<()> {
        let count = len_i32(record_count, "record count")?;
        let length = len_i32(
            batch
                .len()
                .checked_sub(LOG_OVERHEAD)
                .ok_or(ProtocolError::CorruptRecords(
                    "batch shorter than its header",
                ))?,
            "record batch",
        )?;
        let (mut header, _) = split_header(batch)?;
        header.put_i64(self.base_offset);
        header.put_i32(length);
        header.put_i32(self.partition_leader_epoch);
        header.put_i8(MAGIC_V2);
        header.put_u32(0); // crc, patched below
        header.put_i16(self.attributes.bits());
        header.put_i32(self.last_offset_delta);
        header.put_i64(self.base_timestamp);
        header.put_i64(self.max_timestamp);
        header.put_i64(self.producer_id);
        header.put_i16(self.producer_epoch);
        header.put_i32(self.base_sequence);
        header.put_i32(count);
        let crc = crc32c::crc32c(covered(batch, ATTRIBUTES_AT)?);
        patch(batch, CRC_AT, crc.to_be_bytes())
    }
}

/// A v2 record batch with its records decoded into owned structs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordBatch {
    /// Header fields.
    pub header: BatchHeader,
    /// The records, with offsets and timestamps relative to the header.
    pub records: Vec<Record>,
}

impl RecordBatch {
    /// Appends the encoded batch to `buf`, compressing with the header's codec
    /// and computing length, record count and CRC-32C.
    ///
    /// On error `buf` is left as it was.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<()> {
        let start = buf.len();
        let result = self.encode_unchecked(buf, start);
        if result.is_err() {
            buf.truncate(start);
        }
        result
    }

    fn encode_unchecked(&self, buf: &mut BytesMut, start: usize) -> Result<()> {
        buf.put_bytes(0, V2_HEADER_LEN); // written last, once length and CRC are known
        match self.header.attributes.compression {
            Compression::None => {
                for record in &self.records {
                    record.encode(buf)?;
                }
            }
            codec => {
                let mut raw = BytesMut::new();
                for record in &self.records {
                    record.encode(&mut raw)?;
                }
                compress(codec, &raw, buf)?;
            }
        }
        let batch = buf.get_mut(start..).ok_or(ProtocolError::CorruptRecords(
            "batch shorter than its header",
        ))?;
        self.header.write_v2(batch, self.records.len())
    }

    /// Decodes one whole batch (base offset to last byte) into owned records.
    pub fn decode(batch: Bytes, options: &DecodeOptions) -> Result<Self> {
        BatchView::decode(batch, options)?.to_batch()
    }
}

fn split_header(batch: &mut [u8]) -> Result<(&mut [u8], &mut [u8])> {
    if batch.len() < V2_HEADER_LEN {
        return Err(ProtocolError::CorruptRecords(
            "batch shorter than its header",
        ));
    }
    Ok(batch.split_at_mut(V2_HEADER_LEN))
}

fn covered(buf: &[u8], from: usize) -> Result<&[u8]> {
    buf.get(from..).ok_or(ProtocolError::CorruptRecords(
        "batch shorter than its header",
    ))
}

fn patch(buf: &mut [u8], at: usize, value: [u8; 4]) -> Result<()> {
    buf.get_mut(at..at + 4)
        .ok_or(ProtocolError::CorruptRecords(
            "batch shorter than its header",
        ))?
        .copy_from_slice(&value);
    Ok(())
}

/// A decoded batch: CRC verified, records decompressed, not yet split up.
///
/// [`BatchView::records`] iterates the records without allocating; their
/// keys, values and header values are slices of the fetched bytes (or of the
/// one decompressed buffer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchView {
    /// Header fields.
    pub header: BatchHeader,
    /// The CRC-32C carried by the batch.
    pub crc: u32,
    record_count: usize,
    records: Bytes,
}

impl BatchView {
    /// Decodes one whole batch (base offset to last byte): checks its length,
    /// magic and CRC, and decompresses its records within the options' limit.
    pub fn decode(batch: Bytes, options: &DecodeOptions) -> Result<Self> {
        if batch.len() < V2_HEADER_LEN {
            return Err(ProtocolError::UnexpectedEof {
                needed: V2_HEADER_LEN,
                remaining: batch.len(),
            });
        }
        let mut r = Cursor::new(&batch, 0);
        let base_offset = r.i64()?;
        let length = r.i32()?;
        if usize::try_from(length).ok() != Some(batch.len() - LOG_OVERHEAD) {
            return Err(ProtocolError::CorruptRecords(
                "batch length does not match its bytes",
            ));
        }
        let partition_leader_epoch = r.i32()?;
        let magic = i8::from_be_bytes([r.u8()?]);
        if magic != MAGIC_V2 {
            return Err(ProtocolError::InvalidValue {
                field: "magic",
                value: i64::from(magic),
            });
        }
        let crc = u32::from_be_bytes(r.array()?);
        if options.verify_crc {
            let computed = crc32c::crc32c(batch.get(ATTRIBUTES_AT..).unwrap_or_default());
            if computed != crc {
                return Err(ProtocolError::CrcMismatch {
                    stored: crc,
                    computed,
                });
            }
        }
        let header = BatchHeader {
            base_offset,
            partition_leader_epoch,
            attributes: BatchAttributes::from_bits(r.i16()?)?,
            last_offset_delta: r.i32()?,
            base_timestamp: r.i64()?,
            max_timestamp: r.i64()?,
            producer_id: r.i64()?,
            producer_epoch: r.i16()?,
            base_sequence: r.i32()?,
        };
        let count = r.i32()?;
        let record_count =
            usize::try_from(count).map_err(|_| ProtocolError::InvalidLength(i64::from(count)))?;
        let mut section = batch;
        section.advance(V2_HEADER_LEN);
        let records = match header.attributes.compression {
            Compression::None => section,
            codec => Bytes::from(decompress(codec, &section, options.max_decompressed_size)?),
        };
        if record_count > records.len() / MIN_RECORD_LEN {
            return Err(ProtocolError::LengthExceedsInput {
                len: record_count,
                remaining: records.len(),
            });
        }
        Ok(Self {
            header,
            crc,
            record_count,
            records,
        })
    }

    /// The number of records the header declares.
    pub fn record_count(&self) -> usize {
        self.record_count
    }

    /// The (decompressed) records section.
    pub fn records_bytes(&self) -> &Bytes {
        &self.records
    }

    /// Whether this is a control batch (transaction markers and the like).
    pub fn is_control(&self) -> bool {
        self.header.attributes.control
    }

    /// Iterates over the records without allocating.
    pub fn records(&self) -> RecordIter<'_> {
        let h = &self.header;
        RecordIter {
            data: &self.records,
            pos: 0,
            remaining: self.record_count,
            ctx: RecordContext {
                base_offset: h.base_offset,
                base_timestamp: h.base_timestamp,
                log_append_time: (h.attributes.timestamp_type == TimestampType::LogAppendTime)
                    .then_some(h.max_timestamp),
            },
            done: false,
        }
    }

    /// Decodes every record into an owned [`RecordBatch`].
    pub fn to_batch(&self) -> Result<RecordBatch> {
        let mut records = Vec::with_capacity(self.record_count);
        for record in self.records() {
            records.push(record?.to_record()?);
        }
        Ok(RecordBatch {
            header: self.header.clone(),
            records,
        })
    }
}

impl<'a> IntoIterator for &'a BatchView {
    type Item = Result<RecordView>;
    type IntoIter = RecordIter<'a>;

    fn into_iter(self) -> RecordIter<'a> {
        self.records()
    }
}

/// Iterator over the records of a [`BatchView`].
///
/// Yields exactly the declared number of records, then fails if bytes are
/// left over; stops after the first error.
#[derive(Debug, Clone)]
pub struct RecordIter<'a> {
    data: &'a Bytes,
    pos: usize,
    remaining: usize,
    ctx: RecordContext,
    done: bool,
}

impl Iterator for RecordIter<'_> {
    type Item = Result<RecordView>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            if self.done || self.pos == self.data.len() {
                return None;
            }
            self.done = true;
            return Some(Err(ProtocolError::CorruptRecords(
                "bytes left after the declared record count",
            )));
        }
        let item = parse_record(self.data, &mut self.pos, &self.ctx);
        self.remaining -= 1;
        if item.is_err() {
            self.remaining = 0;
            self.done = true;
        }
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining + 1))
    }
}
