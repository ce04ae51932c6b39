//! Compression codecs of record batches and legacy message sets.
//!
//! Every decompressor keeps its output within the caller's limit and fails
//! with [`ProtocolError::DecompressedTooLarge`] past it, so a decompression
//! bomb costs at most about the limit in memory, never its inflated size:
//! gzip and zstd stream through [`read_capped`], which stops one byte past
//! the limit; LZ4 checks each block before decoding it; snappy and zstd
//! frame headers that declare a size over the limit fail before anything is
//! allocated.
//!
//! Spec: <https://kafka.apache.org/documentation/#recordbatch> (codec
//! numbers), KIP-110 (zstd), KIP-57 (LZ4 framing); the LZ4 frame format
//! <https://github.com/lz4/lz4/blob/dev/doc/lz4_Frame_format.md>.

mod gzip;
mod lz4;
#[cfg(feature = "snappy")]
mod snappy;
#[cfg(feature = "zstd")]
mod zstd;

use std::io::Read;

use bytes::BytesMut;

use crate::protocol::error::{ProtocolError, Result};

/// The compression codec named by the low three bits of the attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression (codec 0).
    #[default]
    None,
    /// Gzip (codec 1).
    Gzip,
    /// Snappy (codec 2); needs the `snappy` feature.
    Snappy,
    /// LZ4 frame format (codec 3).
    Lz4,
    /// Zstandard (codec 4); needs the `zstd` feature.
    Zstd,
}

impl Compression {
    /// The codec number carried in the attributes.
    pub fn id(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Gzip => 1,
            Self::Snappy => 2,
            Self::Lz4 => 3,
            Self::Zstd => 4,
        }
    }

    /// Looks up a codec number; numbers above 4 are [`ProtocolError::UnknownCompression`].
    pub fn from_id(id: u8) -> Result<Self> {
        match id {
            0 => Ok(Self::None),
            1 => Ok(Self::Gzip),
            2 => Ok(Self::Snappy),
            3 => Ok(Self::Lz4),
            4 => Ok(Self::Zstd),
            other => Err(ProtocolError::UnknownCompression(other)),
        }
    }

    /// The codec's lower-case name, as in the `compression.type` config.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }

    /// Whether this build can compress and decompress the codec.
    pub fn is_enabled(self) -> bool {
        match self {
            Self::None | Self::Gzip | Self::Lz4 => true,
            Self::Snappy => cfg!(feature = "snappy"),
            Self::Zstd => cfg!(feature = "zstd"),
        }
    }
}

/// Appends `input` compressed with `codec` to `out`.
///
/// Snappy is written raw (which Java's xerial reader accepts); LZ4 as an LZ4
/// frame with independent 64 KiB blocks, the shape Kafka's reader requires.
pub fn compress(codec: Compression, input: &[u8], out: &mut BytesMut) -> Result<()> {
    match codec {
        Compression::None => {
            out.extend_from_slice(input);
            Ok(())
        }
        Compression::Gzip => gzip::compress(input, out),
        Compression::Lz4 => lz4::compress(input, out),
        #[cfg(feature = "snappy")]
        Compression::Snappy => snappy::compress(input, out),
        #[cfg(feature = "zstd")]
        Compression::Zstd => zstd::compress(input, out),
        #[allow(unreachable_patterns)]
        disabled => Err(ProtocolError::CompressionDisabled(disabled.name())),
    }
}

/// Decompresses `input`, failing once the output would exceed `limit` bytes.
pub(crate) fn decompress(codec: Compression, input: &[u8], limit: usize) -> Result<Vec<u8>> {
    match codec {
        Compression::None => {
            if input.len() > limit {
                return Err(ProtocolError::DecompressedTooLarge { limit });
            }
            Ok(input.to_vec())
        }
        Compression::Gzip => gzip::decompress(input, limit),
        Compression::Lz4 => lz4::decompress(input, limit, false),
        #[cfg(feature = "snappy")]
        Compression::Snappy => snappy::decompress(input, limit),
        #[cfg(feature = "zstd")]
        Compression::Zstd => zstd::decompress(input, limit),
        #[allow(unreachable_patterns)]
        disabled => Err(ProtocolError::CompressionDisabled(disabled.name())),
    }
}

/// Like [`decompress`], for the value of a legacy magic-0 wrapper message:
/// Kafka wrote those LZ4 frames with a header checksum computed over the
/// wrong bytes, and its reader ignores it for magic 0; so does this one.
pub(crate) fn decompress_legacy_v0(
    codec: Compression,
    input: &[u8],
    limit: usize,
) -> Result<Vec<u8>> {
    match codec {
        Compression::Lz4 => lz4::decompress(input, limit, true),
        other => decompress(other, input, limit),
    }
}

/// Reads `reader` to its end into a vector of at most `limit` bytes.
pub(crate) fn read_capped(
    reader: impl Read,
    limit: usize,
    size_hint: usize,
    codec: &'static str,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(size_hint.min(limit));
    read_capped_into(reader, limit, &mut out, codec)?;
    Ok(out)
}

/// Appends `reader`'s output to `out`, keeping `out` within `limit` bytes.
///
/// At most one byte past the limit is ever pulled out of the decoder: that
/// byte proves the output too large.
pub(crate) fn read_capped_into(
    reader: impl Read,
    limit: usize,
    out: &mut Vec<u8>,
    codec: &'static str,
) -> Result<()> {
    let room = limit.saturating_sub(out.len());
    let cap = u64::try_from(room).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(out)
        .map_err(|e| decompression_error(codec, e))?;
    if out.len() > limit {
        return Err(ProtocolError::DecompressedTooLarge { limit });
    }
    Ok(())
}

/// A guess at the decompressed size, used only to size the first allocation.
pub(crate) fn size_hint(compressed_len: usize) -> usize {
    compressed_len.saturating_mul(4).max(4096)
}

pub(crate) fn decompression_error(codec: &'static str, e: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::Decompression {
        codec,
        reason: e.to_string(),
    }
}

pub(crate) fn compression_error(codec: &'static str, e: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::Compression {
        codec,
        reason: e.to_string(),
    }
}
