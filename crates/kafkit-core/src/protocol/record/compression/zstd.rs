//! Zstandard (codec 4), via the pure-Rust `ruzstd`.
//!
//! A zstd decoder holds a whole window of output before it releases any of
//! it, and the window size comes from the (untrusted) frame header. So each
//! frame header is read here first: a declared content size over the limit
//! fails at once, and a window larger than `max(limit, 8 MiB)` is refused, so
//! the decoder's memory stays bounded by the limit (or by 8 MiB, the window
//! of zstd level 19 and below, for small limits). Skippable frames are skipped.
//!
//! Spec: RFC 8878; KIP-110.

use std::io::Read;

use bytes::{BufMut, BytesMut};
use ruzstd::decoding::StreamingDecoder;
use ruzstd::encoding::{compress as zstd_compress, CompressionLevel};

use super::{decompression_error, read_capped_into, size_hint};
use crate::protocol::error::{ProtocolError, Result};

const CODEC: &str = "zstd";
const FRAME_MAGIC: u32 = 0xFD2F_B528;
const SKIPPABLE_MAGIC_MASK: u32 = 0xFFFF_FFF0;
const SKIPPABLE_MAGIC: u32 = 0x184D_2A50;
/// Windows up to this size are accepted whatever the limit.
const WINDOW_FLOOR: u64 = 8 << 20;

pub(super) fn compress(input: &[u8], out: &mut BytesMut) -> Result<()> {
    zstd_compress(input, out.writer(), CompressionLevel::Fastest);
    Ok(())
}

pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(size_hint(input.len()).min(limit));
    let mut rest = input;
    while !rest.is_empty() {
        match frame_header(rest)? {
            Header::Skippable(len) => {
                rest = rest
                    .get(len..)
                    .ok_or_else(|| decompression_error(CODEC, "truncated skippable frame"))?;
            }
            Header::Frame {
                window,
                content_size,
            } => {
                check_sizes(window, content_size, limit, out.len())?;
                rest = decode_frame(rest, limit, &mut out)?;
            }
        }
    }
    Ok(out)
}

/// Decodes the frame at the start of `input`, returning the bytes after it.
fn decode_frame<'a>(mut input: &'a [u8], limit: usize, out: &mut Vec<u8>) -> Result<&'a [u8]> {
    let mut decoder =
        StreamingDecoder::new(&mut input).map_err(|e| decompression_error(CODEC, e))?;
    read_capped_into(decoder.by_ref(), limit, out, CODEC)?;
    let frame = &decoder.decoder;
    if let (Some(stored), Some(computed)) = (
        frame.get_checksum_from_data(),
        frame.get_calculated_checksum(),
    ) {
        if stored != computed {
            return Err(decompression_error(CODEC, "content checksum mismatch"));
        }
    }
    drop(decoder);
    Ok(input)
}

fn check_sizes(window: u64, content_size: Option<u64>, limit: usize, used: usize) -> Result<()> {
    let room = u64::try_from(limit.saturating_sub(used)).unwrap_or(u64::MAX);
    if content_size.is_some_and(|size| size > room) {
        return Err(ProtocolError::DecompressedTooLarge { limit });
    }
    let max_window = u64::try_from(limit).unwrap_or(u64::MAX).max(WINDOW_FLOOR);
    if window > max_window {
        return Err(decompression_error(
            CODEC,
            format!("window of {window} bytes exceeds the {max_window} allowed"),
        ));
    }
    Ok(())
}

enum Header {
    /// A skippable frame of this many bytes in total.
    Skippable(usize),
    /// A data frame.
    Frame {
        window: u64,
        content_size: Option<u64>,
    },
}

fn frame_header(input: &[u8]) -> Result<Header> {
    let truncated = || decompression_error(CODEC, "truncated frame header");
    let (magic, rest) = input.split_first_chunk::<4>().ok_or_else(truncated)?;
    let magic = u32::from_le_bytes(*magic);
    if magic & SKIPPABLE_MAGIC_MASK == SKIPPABLE_MAGIC {
        let (len, _) = rest.split_first_chunk::<4>().ok_or_else(truncated)?;
        let len = usize::try_from(u32::from_le_bytes(*len)).map_err(|_| truncated())?;
        return Ok(Header::Skippable(len.saturating_add(8)));
    }
    if magic != FRAME_MAGIC {
        return Err(decompression_error(CODEC, "bad frame magic"));
    }
    let (&descriptor, rest) = rest.split_first().ok_or_else(truncated)?;
    let single_segment = descriptor & 0x20 != 0;
    let (window_descriptor, rest) = if single_segment {
        (None, rest)
    } else {
        let (&wd, rest) = rest.split_first().ok_or_else(truncated)?;
        (Some(wd), rest)
    };
    let dict_len = match descriptor & 0x03 {
        0 => 0,
        1 => 1,
        2 => 2,
        _ => 4,
    };
    let size_len = match descriptor >> 6 {
        0 if single_segment => 1,
        0 => 0,
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let size_bytes = rest
        .get(dict_len..dict_len + size_len)
        .ok_or_else(truncated)?;
    let content_size = (size_len > 0).then(|| {
        let raw = size_bytes
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        if size_len == 2 {
            raw + 256
        } else {
            raw
        }
    });
    let window = match (window_descriptor, content_size) {
        (Some(wd), _) => {
            let base = 1u64 << (10 + (wd >> 3));
            base + (base / 8) * u64::from(wd & 0x07)
        }
        (None, Some(size)) => size,
        (None, None) => return Err(truncated()),
    };
    Ok(Header::Frame {
        window,
        content_size,
    })
}
