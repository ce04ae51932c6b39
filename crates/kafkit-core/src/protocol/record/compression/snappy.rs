//! Snappy (codec 2): raw snappy blocks, and the xerial framing Java
//! producers write (magic `0x82 SNAPPY 0x00`, two big-endian version ints,
//! then big-endian length-prefixed raw snappy chunks).
//!
//! Raw snappy declares its decompressed length up front, so the length is
//! checked against the limit before the output is allocated.
//!
//! Spec: <https://github.com/google/snappy/blob/main/format_description.txt>,
//! xerial `SnappyOutputStream`.

use bytes::BytesMut;
use snap::raw::{decompress_len, Decoder, Encoder};

use super::{compression_error, decompression_error};
use crate::protocol::error::{ProtocolError, Result};

const CODEC: &str = "snappy";

/// The xerial stream header.
pub(crate) const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];

/// A snappy element of n input bytes yields at most 64 bytes per 3 input
/// bytes (a copy with a two-byte offset); a larger claim is corrupt.
const MAX_EXPANSION: usize = 22;

/// Writes one raw snappy block (Java's xerial reader falls back to raw).
pub(super) fn compress(input: &[u8], out: &mut BytesMut) -> Result<()> {
    let block = Encoder::new()
        .compress_vec(input)
        .map_err(|e| compression_error(CODEC, e))?;
    out.extend_from_slice(&block);
    Ok(())
}

pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    match input.strip_prefix(&XERIAL_MAGIC) {
        Some(framed) => decompress_xerial(framed, limit, &mut out)?,
        None => decompress_block(input, limit, &mut out)?,
    }
    Ok(out)
}

fn decompress_xerial(framed: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<()> {
    // Version and compatible version: informational, not checked (as xerial).
    let mut rest = framed
        .get(8..)
        .ok_or_else(|| decompression_error(CODEC, "truncated xerial header"))?;
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| decompression_error(CODEC, "truncated xerial chunk length"))?;
        let len = usize::try_from(i32::from_be_bytes(*len))
            .map_err(|_| decompression_error(CODEC, "negative xerial chunk length"))?;
        let (chunk, tail) =
            tail.split_at_checked(len)
                .ok_or(ProtocolError::LengthExceedsInput {
                    len,
                    remaining: tail.len(),
                })?;
        decompress_block(chunk, limit, out)?;
        rest = tail;
    }
    Ok(())
}

/// Appends one raw snappy block to `out`, keeping `out` within `limit`.
fn decompress_block(block: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<()> {
    let len = decompress_len(block).map_err(|e| decompression_error(CODEC, e))?;
    if len > limit.saturating_sub(out.len()) {
        return Err(ProtocolError::DecompressedTooLarge { limit });
    }
    if len > block.len().saturating_mul(MAX_EXPANSION) {
        return Err(decompression_error(
            CODEC,
            "declared length exceeds what the block can hold",
        ));
    }
    let start = out.len();
    out.resize(start + len, 0);
    let dst = out
        .get_mut(start..)
        .ok_or_else(|| decompression_error(CODEC, "output window"))?;
    let written = Decoder::new()
        .decompress(block, dst)
        .map_err(|e| decompression_error(CODEC, e))?;
    if written != len {
        return Err(decompression_error(CODEC, "block shorter than declared"));
    }
    Ok(())
}
