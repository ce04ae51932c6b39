//! Legacy message sets (magic 0 and 1), decode only.
//!
//! ```text
//! offset: int64  message_size: int32
//! crc: uint32 (CRC-32 IEEE of everything from magic to the end)
//! magic: int8    attributes: int8 (bits 0-2 codec, bit 3 timestamp type in v1)
//! timestamp: int64 (v1 only)
//! key: bytes (int32 length, -1 = null)  value: bytes
//! ```
//!
//! A compressed message is a wrapper whose value is a whole compressed
//! message set. In v1 the inner offsets are relative (0, 1, ...) and the
//! wrapper carries the absolute offset of the last inner message; in v0 they
//! are absolute. A v1 wrapper with log-append time gives its timestamp to all
//! inner messages. Nested compression is rejected, as Kafka does.
//!
//! Spec: <https://kafka.apache.org/documentation/#messageset>, KIP-31/KIP-32.

use bytes::Bytes;

use super::batch::{TimestampType, LOG_OVERHEAD, NO_TIMESTAMP};
use super::compression::{decompress, decompress_legacy_v0, Compression};
use super::DecodeOptions;
use crate::protocol::error::{ProtocolError, Result};
use crate::protocol::Reader;

/// Size of a v0 message after its length field, with empty key and value.
pub const MESSAGE_OVERHEAD_V0: usize = 14;
/// Size of a v1 message after its length field, with empty key and value.
pub const MESSAGE_OVERHEAD_V1: usize = 22;
/// Where the magic byte sits in a legacy message and in a v2 batch alike.
pub(super) const MAGIC_AT: usize = 16;
const TIMESTAMP_TYPE: i8 = 0x08;
const COMPRESSION_MASK: u8 = 0x07;

/// One message of a legacy message set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyMessage {
    /// Absolute offset.
    pub offset: i64,
    /// Message format version: 0 or 1.
    pub magic: i8,
    /// Timestamp type (v1; always create time in v0).
    pub timestamp_type: TimestampType,
    /// Timestamp (v1); [`NO_TIMESTAMP`] in v0.
    pub timestamp: i64,
    /// Key; `None` is null.
    pub key: Option<Bytes>,
    /// Value; `None` is null.
    pub value: Option<Bytes>,
}

/// One top-level entry of a legacy message set: a plain message, or the
/// messages unpacked from a compressed wrapper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyEntry {
    /// The wrapper's codec; `None` for a plain message.
    pub compression: Compression,
    /// The messages, with absolute offsets.
    pub messages: Vec<LegacyMessage>,
}

/// A message as found on the wire, before wrapper handling.
struct RawMessage {
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
}

impl RawMessage {
    fn compression(&self) -> Result<Compression> {
        Compression::from_id(u8::from_be_bytes(self.attributes.to_be_bytes()) & COMPRESSION_MASK)
    }

    fn timestamp_type(&self) -> TimestampType {
        if self.magic >= 1 && self.attributes & TIMESTAMP_TYPE != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    fn into_message(self) -> LegacyMessage {
        LegacyMessage {
            timestamp_type: self.timestamp_type(),
            offset: self.offset,
            magic: self.magic,
            timestamp: self.timestamp,
            key: self.key,
            value: self.value,
        }
    }
}

/// Splits the next batch or message (base offset to last byte) off `rest`.
///
/// v2 batches kept the legacy framing (`offset: int64, size: int32`), so
/// this serves the record set of either format.
///
/// `Ok(None)` when `rest` holds only the beginning of one.
pub(super) fn split_entry(rest: &mut Bytes) -> Result<Option<Bytes>> {
    let Some(size) = rest
        .get(8..LOG_OVERHEAD)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
    else {
        return Ok(None);
    };
    let size = i32::from_be_bytes(size);
    let size = usize::try_from(size)
        .ok()
        .filter(|&s| s >= MESSAGE_OVERHEAD_V0)
        .ok_or(ProtocolError::CorruptRecords(
            "batch or message smaller than any header",
        ))?;
    let total = size + LOG_OVERHEAD;
    if rest.len() < total {
        return Ok(None);
    }
    Ok(Some(rest.split_to(total)))
}

/// Parses one message (offset to last byte), checking its CRC-32.
fn parse_message(entry: Bytes, verify_crc: bool) -> Result<RawMessage> {
    let mut r = Reader::new(entry.clone(), false);
    let offset = r.i64()?;
    r.i32()?; // size: already matched against the entry by `split_entry`
    let crc = r.u32()?;
    if verify_crc {
        let mut computed = flate2::Crc::new();
        computed.update(entry.get(MAGIC_AT..).unwrap_or_default());
        if computed.sum() != crc {
            return Err(ProtocolError::CrcMismatch {
                stored: crc,
                computed: computed.sum(),
            });
        }
    }
    let magic = r.i8()?;
    let overhead = match magic {
        0 => MESSAGE_OVERHEAD_V0,
        1 => MESSAGE_OVERHEAD_V1,
        other => {
            return Err(ProtocolError::InvalidValue {
                field: "magic",
                value: i64::from(other),
            })
        }
    };
    if entry.len() < overhead + 12 {
        return Err(ProtocolError::CorruptRecords(
            "message smaller than its header",
        ));
    }
    let attributes = r.i8()?;
    let timestamp = if magic == 1 { r.i64()? } else { NO_TIMESTAMP };
    let key = r.nullable_bytes()?;
    let value = r.nullable_bytes()?;
    r.finish()?;
    Ok(RawMessage {
        offset,
        magic,
        attributes,
        timestamp,
        key,
        value,
    })
}

/// Decodes one top-level legacy entry, unpacking a compressed wrapper.
pub(crate) fn decode_entry(entry: Bytes, options: &DecodeOptions) -> Result<LegacyEntry> {
    let wrapper = parse_message(entry, options.verify_crc)?;
    let compression = wrapper.compression()?;
    if compression == Compression::None {
        return Ok(LegacyEntry {
            compression,
            messages: vec![wrapper.into_message()],
        });
    }
    let compressed = wrapper.value.as_ref().ok_or(ProtocolError::CorruptRecords(
        "compressed message without a value",
    ))?;
    let limit = options.max_decompressed_size;
    let inner = if wrapper.magic == 0 {
        decompress_legacy_v0(compression, compressed, limit)?
    } else {
        decompress(compression, compressed, limit)?
    };
    let mut messages = parse_inner(Bytes::from(inner), &wrapper, options.verify_crc)?;
    if wrapper.magic == 1 {
        let last_relative = messages.last().map_or(0, |m| m.offset);
        let base = wrapper
            .offset
            .checked_sub(last_relative)
            .ok_or(ProtocolError::CorruptRecords("inner offsets out of range"))?;
        let log_append = wrapper.timestamp_type() == TimestampType::LogAppendTime;
        for message in &mut messages {
            message.offset = base
                .checked_add(message.offset)
                .ok_or(ProtocolError::CorruptRecords("inner offsets out of range"))?;
            if log_append {
                message.timestamp = wrapper.timestamp;
                message.timestamp_type = TimestampType::LogAppendTime;
            }
        }
    }
    Ok(LegacyEntry {
        compression,
        messages,
    })
}

/// Parses the uncompressed message set inside a wrapper.
fn parse_inner(
    mut set: Bytes,
    wrapper: &RawMessage,
    verify_crc: bool,
) -> Result<Vec<LegacyMessage>> {
    let mut messages = Vec::new();
    while !set.is_empty() {
        let entry = split_entry(&mut set)?.ok_or(ProtocolError::CorruptRecords(
            "truncated message inside a compressed wrapper",
        ))?;
        let message = parse_message(entry, verify_crc)?;
        if message.magic != wrapper.magic {
            return Err(ProtocolError::CorruptRecords(
                "inner message magic differs from its wrapper's",
            ));
        }
        if message.compression()? != Compression::None {
            return Err(ProtocolError::CorruptRecords("nested compressed message"));
        }
        messages.push(message.into_message());
    }
    Ok(messages)
}
