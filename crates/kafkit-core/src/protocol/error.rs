//! Errors of the sans-IO protocol layer.

use thiserror::Error;

/// Why bytes could not be decoded or a message could not be encoded.
///
/// Every decoder returns this instead of panicking; hostile input ends up
/// here, never in an allocation larger than the input or in an abort.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The input ended before a value was complete.
    #[error("unexpected end of input: {needed} bytes needed, {remaining} remaining")]
    UnexpectedEof {
        /// Bytes the value needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A length or count was negative where null is not allowed, or out of range.
    #[error("invalid length {0}")]
    InvalidLength(i64),
    /// A length or element count claims more than the remaining input holds.
    #[error("length {len} exceeds the {remaining} remaining bytes")]
    LengthExceedsInput {
        /// Claimed length or count.
        len: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A variable-length integer ran past its maximum width.
    #[error("varint overflow")]
    VarintOverflow,
    /// A string was not valid UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A null was found where the field is not nullable.
    #[error("null value for non-nullable field")]
    UnexpectedNull,
    /// Bytes were left over after a complete message.
    #[error("{0} trailing bytes after message")]
    TrailingBytes(usize),
    /// The message does not exist at this version.
    #[error("api key {api_key} does not support version {version}")]
    UnsupportedVersion {
        /// API key.
        api_key: i16,
        /// Requested version.
        version: i16,
    },
    /// A field holding a non-default value does not exist at the version being encoded.
    #[error("field {field} is not supported at version {version}")]
    FieldNotSupported {
        /// Name of the field.
        field: &'static str,
        /// Version being encoded.
        version: i16,
    },
    /// A value is too large for its wire encoding (e.g. a string over 32767 bytes).
    #[error("value too large to encode: {0}")]
    ValueTooLarge(&'static str),
    /// A frame's size prefix exceeds the configured maximum.
    #[error("frame of {size} bytes exceeds the maximum of {max}")]
    FrameTooLarge {
        /// Size from the prefix.
        size: i64,
        /// Configured limit.
        max: usize,
    },
    /// A record batch failed its CRC32C check.
    #[error("record batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// CRC carried in the batch.
        stored: u32,
        /// CRC computed over the batch.
        computed: u32,
    },
    /// A record batch or message set is malformed.
    #[error("corrupt record data: {0}")]
    CorruptRecords(&'static str),
    /// A compression codec number unknown to this client.
    #[error("unknown compression codec {0}")]
    UnknownCompression(u8),
    /// The codec is known but was compiled out (cargo feature disabled).
    #[error("compression codec {0} is disabled in this build")]
    CompressionDisabled(&'static str),
    /// Decompression failed.
    #[error("{codec} decompression failed: {reason}")]
    Decompression {
        /// Codec name.
        codec: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// Decompressed data exceeded the configured limit (a decompression bomb).
    #[error("decompressed data exceeds the limit of {limit} bytes")]
    DecompressedTooLarge {
        /// Configured limit.
        limit: usize,
    },
    /// Compression failed.
    #[error("{codec} compression failed: {reason}")]
    Compression {
        /// Codec name.
        codec: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// A field holds a value that is not valid for it.
    #[error("invalid value for {field}: {value}")]
    InvalidValue {
        /// Name of the field.
        field: &'static str,
        /// The offending value, rendered.
        value: i64,
    },
}

/// Result alias for the protocol layer.
pub type Result<T, E = ProtocolError> = std::result::Result<T, E>;
