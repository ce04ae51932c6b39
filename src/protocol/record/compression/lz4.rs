//! LZ4 (codec 3): the LZ4 frame format, as Kafka's `KafkaLZ4BlockOutputStream`
//! writes it (independent blocks, 64 KiB block size, no checksums).
//!
//! Magic-0 messages carry a broken header checksum (computed over the magic
//! number too); Kafka's reader skips the check for them. lz4_flex always
//! checks, so for those the checksum byte is recomputed before decoding.

use std::io::{Read, Write};

use bytes::{BufMut, BytesMut};
use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};

use super::{compression_error, read_capped, size_hint};
use crate::protocol::error::Result;

const CODEC: &str = "lz4";
const FLG_CONTENT_SIZE: u8 = 0x08;
const FLG_DICT_ID: u8 = 0x01;

pub(super) fn compress(input: &[u8], out: &mut BytesMut) -> Result<()> {
    let info = FrameInfo::new()
        .block_size(BlockSize::Max64KB)
        .block_mode(BlockMode::Independent);
    let mut encoder = FrameEncoder::with_frame_info(info, out.writer());
    encoder
        .write_all(input)
        .map_err(|e| compression_error(CODEC, e))?;
    encoder.finish().map_err(|e| compression_error(CODEC, e))?;
    Ok(())
}

/// Streams the frame; lz4_flex holds at most two blocks (a few MiB) at once.
pub(super) fn decompress(
    input: &[u8],
    limit: usize,
    broken_header_checksum: bool,
) -> Result<Vec<u8>> {
    let hint = size_hint(input.len());
    if broken_header_checksum {
        if let Some((header, rest)) = repaired_header(input) {
            return read_capped(FrameDecoder::new(header.chain(rest)), limit, hint, CODEC);
        }
    }
    read_capped(FrameDecoder::new(input), limit, hint, CODEC)
}

/// The frame header with its checksum byte recomputed over the descriptor
/// only, and the bytes that follow it; `None` if the header is incomplete.
fn repaired_header(input: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let flg = *input.get(4)?;
    let mut descriptor_len = 2;
    if flg & FLG_CONTENT_SIZE != 0 {
        descriptor_len += 8;
    }
    if flg & FLG_DICT_ID != 0 {
        descriptor_len += 4;
    }
    let checksum_at = 4 + descriptor_len;
    let descriptor = input.get(4..checksum_at)?;
    let rest = input.get(checksum_at + 1..)?;
    let mut header = input.get(..checksum_at)?.to_vec();
    header.push(xxh32_short(descriptor).to_le_bytes().get(1).copied()?);
    Some((header, rest))
}

const PRIME1: u32 = 0x9E37_79B1;
const PRIME2: u32 = 0x85EB_CA77;
const PRIME3: u32 = 0xC2B2_AE3D;
const PRIME4: u32 = 0x27D4_EB2F;
const PRIME5: u32 = 0x1656_67B1;

/// XXH32 with seed 0 of an input shorter than 16 bytes (a frame descriptor).
fn xxh32_short(data: &[u8]) -> u32 {
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let mut h = PRIME5.wrapping_add(len);
    let mut words = data.chunks_exact(4);
    for word in words.by_ref() {
        let lane = word
            .iter()
            .rev()
            .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
        h = h.wrapping_add(lane.wrapping_mul(PRIME3));
        h = h.rotate_left(17).wrapping_mul(PRIME4);
    }
    for &byte in words.remainder() {
        h = h.wrapping_add(u32::from(byte).wrapping_mul(PRIME5));
        h = h.rotate_left(11).wrapping_mul(PRIME1);
    }
    h ^= h >> 15;
    h = h.wrapping_mul(PRIME2);
    h ^= h >> 13;
    h = h.wrapping_mul(PRIME3);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xxh32_matches_lz4_flex_header_checksums() {
        for with_size in [false, true] {
            let info = FrameInfo::new().content_size(with_size.then_some(5));
            let mut out = Vec::new();
            let mut enc = FrameEncoder::with_frame_info(info, &mut out);
            enc.write_all(b"hello").unwrap();
            enc.finish().unwrap();
            let descriptor_len = if with_size { 10 } else { 2 };
            let descriptor = &out[4..4 + descriptor_len];
            let expected = out[4 + descriptor_len];
            assert_eq!((xxh32_short(descriptor) >> 8) as u8, expected);
        }
    }

    #[test]
    fn broken_header_checksum_is_repaired_for_magic_0() {
        let mut frame = BytesMut::new();
        compress(b"legacy lz4 payload", &mut frame).unwrap();
        // Kafka's magic-0 writer hashed the magic number along with the descriptor.
        let mut broken = frame.to_vec();
        broken[6] = (xxh32_short(&broken[..6]) >> 8) as u8;
        assert_ne!(broken[6], frame[6]);
        assert!(decompress(&broken, 1024, false).is_err());
        assert_eq!(
            decompress(&broken, 1024, true).unwrap(),
            b"legacy lz4 payload"
        );
    }
}
