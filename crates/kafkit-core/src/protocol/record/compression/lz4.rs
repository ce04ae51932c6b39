//! LZ4 (codec 3): the LZ4 frame format, as Kafka's `KafkaLZ4BlockOutputStream`
//! writes it (independent blocks, 64 KiB block size, no checksums).
//!
//! Frames are parsed here and each block is decompressed by `lz4_flex`
//! straight into the output vector: no intermediate buffer, the limit is
//! checked per block, a missing end mark is an error, and optional block and
//! content checksums (XXH32) are verified. Magic-0 messages carry a broken
//! header checksum (Kafka hashed the magic number too) which Kafka's reader
//! ignores for them; so does this one.
//!
//! Spec: <https://github.com/lz4/lz4/blob/dev/doc/lz4_Frame_format.md>, KAFKA-3160.

use bytes::{BufMut, BytesMut};
use lz4_flex::block::{
    compress_into, decompress_into, decompress_into_with_dict, get_maximum_output_size,
};

use super::{compression_error, decompression_error, size_hint};
use crate::protocol::error::{ProtocolError, Result};

const CODEC: &str = "lz4";
const FRAME_MAGIC: u32 = 0x184D_2204;
const SKIPPABLE_MASK: u32 = 0xFFFF_FFF0;
const SKIPPABLE_MAGIC: u32 = 0x184D_2A50;
const FLG_VERSION_MASK: u8 = 0xC0;
const FLG_VERSION_1: u8 = 0x40;
const FLG_INDEPENDENT: u8 = 0x20;
const FLG_BLOCK_CHECKSUM: u8 = 0x10;
const FLG_CONTENT_SIZE: u8 = 0x08;
const FLG_CONTENT_CHECKSUM: u8 = 0x04;
const FLG_RESERVED: u8 = 0x02;
const FLG_DICT_ID: u8 = 0x01;
const BLOCK_UNCOMPRESSED: u32 = 0x8000_0000;
/// How far back a linked block may reach.
const WINDOW: usize = 64 << 10;

/// Writes one frame of independent 64 KiB blocks, each compressed straight
/// into `out` (a block that does not shrink is stored raw), then the end mark.
pub(super) fn compress(input: &[u8], out: &mut BytesMut) -> Result<()> {
    const BD_64K: u8 = 4 << 4;
    let descriptor = [FLG_VERSION_1 | FLG_INDEPENDENT, BD_64K];
    out.reserve(get_maximum_output_size(input.len()) + 4 * input.len().div_ceil(WINDOW) + 11);
    out.put_u32_le(FRAME_MAGIC);
    out.put_slice(&descriptor);
    out.put_u8(xxh32(&descriptor).to_le_bytes()[1]);
    for block in input.chunks(WINDOW) {
        let start = out.len();
        out.resize(start + 4 + get_maximum_output_size(block.len()), 0);
        let room = out.get_mut(start + 4..).unwrap_or_default();
        let packed = compress_into(block, room).map_err(|e| compression_error(CODEC, e))?;
        let (size, flag) = if packed < block.len() {
            out.truncate(start + 4 + packed);
            (packed, 0)
        } else {
            out.truncate(start + 4);
            out.put_slice(block);
            (block.len(), BLOCK_UNCOMPRESSED)
        };
        let word = u32::try_from(size).map_err(|e| compression_error(CODEC, e))? | flag;
        if let Some(slot) = out.get_mut(start..start + 4) {
            slot.copy_from_slice(&word.to_le_bytes());
        }
    }
    out.put_u32_le(0);
    Ok(())
}

/// Decompresses the frames of `input`, keeping the output within `limit`.
pub(super) fn decompress(
    input: &[u8],
    limit: usize,
    broken_header_checksum: bool,
) -> Result<Vec<u8>> {
    let mut out = Output {
        buf: Vec::with_capacity(size_hint(input.len()).min(limit)),
        end: 0,
    };
    let mut rest = input;
    while !rest.is_empty() {
        rest = decode_frame(rest, limit, broken_header_checksum, &mut out)?;
    }
    Ok(out.into_vec())
}

/// Decompressed output: `buf[..end]` is data, the rest initialised scratch
/// that the next blocks decompress into, so each byte is zeroed only once.
struct Output {
    buf: Vec<u8>,
    end: usize,
}

impl Output {
    fn len(&self) -> usize {
        self.end
    }

    fn data_from(&self, from: usize) -> &[u8] {
        self.buf.get(from..self.end).unwrap_or_default()
    }

    /// The data so far, and `n` writable bytes after it.
    fn window(&mut self, n: usize) -> (&[u8], &mut [u8]) {
        let needed = self.end.saturating_add(n);
        if self.buf.len() < needed {
            self.buf.resize(needed, 0);
        }
        let (data, scratch) = self.buf.split_at_mut(self.end);
        (data, scratch.get_mut(..n).unwrap_or_default())
    }

    fn extend(&mut self, data: &[u8]) {
        self.buf.truncate(self.end);
        self.buf.extend_from_slice(data);
        self.end = self.buf.len();
    }

    fn into_vec(mut self) -> Vec<u8> {
        self.buf.truncate(self.end);
        self.buf
    }
}

fn corrupt(reason: &'static str) -> ProtocolError {
    decompression_error(CODEC, reason)
}

/// Splits `n` bytes off the front of `input`.
fn take<'a>(input: &mut &'a [u8], n: usize, what: &'static str) -> Result<&'a [u8]> {
    let (head, tail) = input.split_at_checked(n).ok_or_else(|| corrupt(what))?;
    *input = tail;
    Ok(head)
}

fn take_u32(input: &mut &[u8], what: &'static str) -> Result<u32> {
    let (head, tail) = input
        .split_first_chunk::<4>()
        .ok_or_else(|| corrupt(what))?;
    *input = tail;
    Ok(u32::from_le_bytes(*head))
}

/// The frame descriptor fields the decoder needs.
struct Descriptor {
    flags: u8,
    block_max: usize,
}

/// Decodes the frame at the start of `input`; returns the bytes after it.
fn decode_frame<'a>(
    mut input: &'a [u8],
    limit: usize,
    broken_header_checksum: bool,
    out: &mut Output,
) -> Result<&'a [u8]> {
    let magic = take_u32(&mut input, "truncated frame magic")?;
    if magic & SKIPPABLE_MASK == SKIPPABLE_MAGIC {
        let len = take_u32(&mut input, "truncated skippable frame")?;
        let len = usize::try_from(len).map_err(|_| corrupt("skippable frame too large"))?;
        take(&mut input, len, "truncated skippable frame")?;
        return Ok(input);
    }
    if magic != FRAME_MAGIC {
        return Err(corrupt("bad frame magic"));
    }
    let descriptor = read_descriptor(&mut input, limit, out.len(), broken_header_checksum)?;
    let frame_start = out.len();
    loop {
        let word = take_u32(&mut input, "missing end mark")?;
        if word == 0 {
            break;
        }
        let len = usize::try_from(word & !BLOCK_UNCOMPRESSED).map_err(|_| corrupt("block size"))?;
        if len > descriptor.block_max {
            return Err(corrupt("block larger than the frame's block size"));
        }
        let data = take(&mut input, len, "truncated block")?;
        if descriptor.flags & FLG_BLOCK_CHECKSUM != 0 {
            let stored = take_u32(&mut input, "truncated block checksum")?;
            if xxh32(data) != stored {
                return Err(corrupt("block checksum mismatch"));
            }
        }
        if word & BLOCK_UNCOMPRESSED != 0 {
            if data.len() > limit.saturating_sub(out.len()) {
                return Err(ProtocolError::DecompressedTooLarge { limit });
            }
            out.extend(data);
        } else {
            let linked = descriptor.flags & FLG_INDEPENDENT == 0;
            let dict_from = out.len().saturating_sub(WINDOW).max(frame_start);
            decode_block(
                data,
                descriptor.block_max,
                limit,
                linked.then_some(dict_from),
                out,
            )?;
        }
    }
    if descriptor.flags & FLG_CONTENT_CHECKSUM != 0 {
        let stored = take_u32(&mut input, "truncated content checksum")?;
        if xxh32(out.data_from(frame_start)) != stored {
            return Err(corrupt("content checksum mismatch"));
        }
    }
    Ok(input)
}

fn read_descriptor(
    input: &mut &[u8],
    limit: usize,
    used: usize,
    broken_header_checksum: bool,
) -> Result<Descriptor> {
    let start = *input;
    let [flags, bd] = *take(input, 2, "truncated frame descriptor")?
        .first_chunk::<2>()
        .ok_or_else(|| corrupt("truncated frame descriptor"))?;
    if flags & FLG_VERSION_MASK != FLG_VERSION_1 || flags & FLG_RESERVED != 0 || bd & 0x8F != 0 {
        return Err(corrupt("unsupported frame version or reserved bits set"));
    }
    let block_max = match (bd >> 4) & 0x07 {
        4 => 64 << 10,
        5 => 256 << 10,
        6 => 1 << 20,
        7 => 4 << 20,
        _ => return Err(corrupt("invalid block size")),
    };
    if flags & FLG_CONTENT_SIZE != 0 {
        let size = take(input, 8, "truncated content size")?;
        let size = size
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let room = u64::try_from(limit.saturating_sub(used)).unwrap_or(u64::MAX);
        if size > room {
            return Err(ProtocolError::DecompressedTooLarge { limit });
        }
    }
    if flags & FLG_DICT_ID != 0 {
        return Err(corrupt("preset dictionaries are not supported"));
    }
    let descriptor_len = start.len() - input.len();
    let descriptor = start.get(..descriptor_len).unwrap_or_default();
    let [checksum] = *take(input, 1, "truncated header checksum")?
        .first_chunk::<1>()
        .ok_or_else(|| corrupt("truncated header checksum"))?;
    if !broken_header_checksum && xxh32(descriptor).to_le_bytes().get(1) != Some(&checksum) {
        return Err(corrupt("header checksum mismatch"));
    }
    Ok(Descriptor { flags, block_max })
}

/// Compressed blocks smaller than this have their output size computed
/// exactly before decoding; larger ones decode into a full block window.
const EXACT_SIZE_BELOW: usize = 8 << 10;

/// Decompresses one block onto the end of `out`; `dict_from` is where the
/// previous output a linked block may refer to starts.
///
/// A small block's sequences are scanned first for its exact output size
/// (checked against the limit, and no large window to initialise for a
/// small batch); a larger block decodes into a window of the block size, or
/// of what is left under the limit.
fn decode_block(
    data: &[u8],
    block_max: usize,
    limit: usize,
    dict_from: Option<usize>,
    out: &mut Output,
) -> Result<()> {
    let room = limit.saturating_sub(out.len());
    let exact = if data.len() < EXACT_SIZE_BELOW {
        let size = block_output_size(data)?;
        if size > block_max {
            return Err(corrupt("block output larger than the frame's block size"));
        }
        if size > room {
            return Err(ProtocolError::DecompressedTooLarge { limit });
        }
        Some(size)
    } else {
        None
    };
    let window = exact.unwrap_or(block_max.min(room));
    let (before, target) = out.window(window);
    let written = match dict_from {
        Some(from) => {
            decompress_into_with_dict(data, target, before.get(from..).unwrap_or_default())
        }
        None => decompress_into(data, target),
    };
    match written {
        Ok(n) if exact.is_none_or(|size| size == n) => {
            out.end += n;
            Ok(())
        }
        Ok(_) => Err(corrupt("block output shorter than its sequences")),
        Err(lz4_flex::block::DecompressError::OutputTooSmall { .. }) if window < block_max => {
            Err(ProtocolError::DecompressedTooLarge { limit })
        }
        Err(e) => Err(decompression_error(CODEC, e)),
    }
}

/// The exact output size of an LZ4 block, from its sequence headers: each
/// sequence is a token (literal and match length nibbles, 15 meaning more
/// bytes follow, each adding up to 255), the literals, a two-byte offset and
/// a match of at least 4 bytes; the last sequence has literals only.
fn block_output_size(mut data: &[u8]) -> Result<usize> {
    fn extended(data: &mut &[u8], nibble: u8) -> Result<usize> {
        let mut len = usize::from(nibble);
        if nibble == 15 {
            loop {
                let (&byte, rest) = data
                    .split_first()
                    .ok_or_else(|| corrupt("truncated sequence length"))?;
                *data = rest;
                len = len.saturating_add(usize::from(byte));
                if byte != 255 {
                    break;
                }
            }
        }
        Ok(len)
    }
    let mut size = 0usize;
    while let Some((&token, rest)) = data.split_first() {
        data = rest;
        let literals = extended(&mut data, token >> 4)?;
        take(&mut data, literals, "literals past the end of the block")?;
        size = size.saturating_add(literals);
        if data.is_empty() {
            return Ok(size);
        }
        take(&mut data, 2, "truncated match offset")?;
        let matched = extended(&mut data, token & 0x0f)?;
        size = size.saturating_add(matched).saturating_add(4);
    }
    Err(corrupt("block ends with a match"))
}

const PRIME1: u32 = 0x9E37_79B1;
const PRIME2: u32 = 0x85EB_CA77;
const PRIME3: u32 = 0xC2B2_AE3D;
const PRIME4: u32 = 0x27D4_EB2F;
const PRIME5: u32 = 0x1656_67B1;

fn le32(word: &[u8]) -> u32 {
    word.iter()
        .rev()
        .fold(0, |acc, &b| (acc << 8) | u32::from(b))
}

fn xxh32_round(acc: u32, lane: u32) -> u32 {
    acc.wrapping_add(lane.wrapping_mul(PRIME2))
        .rotate_left(13)
        .wrapping_mul(PRIME1)
}

/// XXH32 with seed 0 (the LZ4 frame checksums).
fn xxh32(data: &[u8]) -> u32 {
    let mut stripes = data.chunks_exact(16);
    let mut h = if data.len() >= 16 {
        let mut acc = [
            PRIME1.wrapping_add(PRIME2),
            PRIME2,
            0,
            0u32.wrapping_sub(PRIME1),
        ];
        for stripe in stripes.by_ref() {
            for (lane, word) in acc.iter_mut().zip(stripe.chunks_exact(4)) {
                *lane = xxh32_round(*lane, le32(word));
            }
        }
        let [a, b, c, d] = acc;
        a.rotate_left(1)
            .wrapping_add(b.rotate_left(7))
            .wrapping_add(c.rotate_left(12))
            .wrapping_add(d.rotate_left(18))
    } else {
        PRIME5
    };
    // The length enters modulo 2^32, as the reference does.
    h = h.wrapping_add(
        data.len()
            .to_le_bytes()
            .iter()
            .take(4)
            .rev()
            .fold(0, |acc, &b| (acc << 8) | u32::from(b)),
    );
    let mut words = stripes.remainder().chunks_exact(4);
    for word in words.by_ref() {
        h = h.wrapping_add(le32(word).wrapping_mul(PRIME3));
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
    use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};
    use std::io::{Read, Write};

    #[test]
    fn frames_written_here_are_read_by_lz4_flex() {
        let noise: Vec<u8> = (0..70_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for input in [Vec::new(), data(10), data(300_000), noise] {
            let mut packed = BytesMut::new();
            compress(&input, &mut packed).unwrap();
            let mut theirs = Vec::new();
            FrameDecoder::new(&packed[..])
                .read_to_end(&mut theirs)
                .unwrap();
            assert_eq!(theirs, input);
            assert_eq!(decompress(&packed, 1 << 20, false).unwrap(), input);
        }
    }

    fn frame(info: FrameInfo, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = FrameEncoder::with_frame_info(info, &mut out);
        enc.write_all(data).unwrap();
        enc.finish().unwrap();
        out
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 97) as u8 ^ (i / 300) as u8).collect()
    }

    #[test]
    fn xxh32_known_answers() {
        assert_eq!(xxh32(b""), 0x02CC_5D05);
        assert_eq!(xxh32(b"a"), 0x550D_7456);
        assert_eq!(xxh32(b"abc"), 0x32D1_53FF);
        assert_eq!(
            xxh32(b"Nobody inspects the spammish repetition"),
            0xE229_3B2F
        );
    }

    #[test]
    fn decodes_every_frame_shape_lz4_flex_writes() {
        let input = data(300_000);
        for mode in [BlockMode::Independent, BlockMode::Linked] {
            for size in [BlockSize::Max64KB, BlockSize::Max256KB, BlockSize::Max4MB] {
                for checksums in [false, true] {
                    let info = FrameInfo::new()
                        .block_mode(mode)
                        .block_size(size)
                        .block_checksums(checksums)
                        .content_checksum(checksums)
                        .content_size(checksums.then_some(300_000));
                    let packed = frame(info, &input);
                    let out = decompress(&packed, 1 << 20, false).unwrap();
                    assert_eq!(out, input, "{mode:?} {size:?} {checksums}");
                }
            }
        }
    }

    #[test]
    fn incompressible_blocks_are_stored_raw() {
        let noise: Vec<u8> = (0..100_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let packed = frame(FrameInfo::new(), &noise);
        assert_eq!(decompress(&packed, 1 << 20, false).unwrap(), noise);
        assert_eq!(
            decompress(&packed, 99_999, false),
            Err(ProtocolError::DecompressedTooLarge { limit: 99_999 })
        );
    }

    #[test]
    fn checksums_and_end_marks_are_enforced() {
        let info = FrameInfo::new()
            .block_checksums(true)
            .content_checksum(true);
        let packed = frame(info, &data(1000));
        let mut bad_block = packed.clone();
        bad_block[12] ^= 1; // inside the first block
        assert!(decompress(&bad_block, 1 << 20, false).is_err());
        let mut bad_content = packed.clone();
        let last = bad_content.len() - 1;
        bad_content[last] ^= 1;
        assert_eq!(
            decompress(&bad_content, 1 << 20, false),
            Err(corrupt("content checksum mismatch"))
        );
        let plain = frame(FrameInfo::new(), &data(1000));
        assert_eq!(
            decompress(&plain[..plain.len() - 4], 1 << 20, false),
            Err(corrupt("missing end mark"))
        );
    }

    #[test]
    fn broken_header_checksum_is_ignored_only_when_asked() {
        let packed = frame(FrameInfo::new(), b"legacy lz4 payload");
        // Kafka's magic-0 writer hashed the magic number along with the descriptor.
        let mut broken = packed.clone();
        broken[6] = (xxh32(&broken[..6]) >> 8) as u8;
        assert_ne!(broken[6], packed[6]);
        assert_eq!(
            decompress(&broken, 1024, false),
            Err(corrupt("header checksum mismatch"))
        );
        assert_eq!(
            decompress(&broken, 1024, true).unwrap(),
            b"legacy lz4 payload"
        );
    }

    #[test]
    fn large_blocks_decode_into_a_window_within_the_limit() {
        let words = [
            "kafka", "record", "batch", "offset", "{\"", "\":", "42", "x",
        ];
        let mut text = Vec::new();
        let mut state = 7u32;
        while text.len() < 200_000 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            text.extend_from_slice(words[(state >> 16) as usize % words.len()].as_bytes());
        }
        let packed = frame(FrameInfo::new(), &text);
        // Blocks compress to more than the exact-size threshold.
        let first_block = u32::from_le_bytes(packed[7..11].try_into().unwrap()) as usize;
        assert!(first_block > EXACT_SIZE_BELOW, "{first_block}");
        assert_eq!(decompress(&packed, text.len(), false).unwrap(), text);
        assert_eq!(
            decompress(&packed, text.len() - 1, false),
            Err(ProtocolError::DecompressedTooLarge {
                limit: text.len() - 1
            })
        );
        assert_eq!(
            decompress(&packed, 1000, false),
            Err(ProtocolError::DecompressedTooLarge { limit: 1000 })
        );
    }

    #[test]
    fn block_sizes_come_from_the_sequences() {
        // "abcd" as literals, then a match of 4+15+3 bytes at offset 4: 26 bytes.
        let mut block = vec![0x4f, b'a', b'b', b'c', b'd', 4, 0, 3];
        block.push(0x10);
        block.push(b'!');
        assert_eq!(block_output_size(&block), Ok(27));
        assert_eq!(block_output_size(&[0x00]), Ok(0));
        assert!(block_output_size(&block[..8]).is_err()); // ends with a match
        assert!(block_output_size(&block[..3]).is_err()); // literals cut short
        assert!(block_output_size(&[0xf0]).is_err()); // length byte missing
        let mut out = Output {
            buf: Vec::new(),
            end: 0,
        };
        decode_block(&block, 64 << 10, 100, None, &mut out).unwrap();
        assert_eq!(out.len(), 27);
        assert_eq!(&out.data_from(0)[..12], b"abcdabcdabcd");
        assert_eq!(
            decode_block(&block, 64 << 10, 40, None, &mut out),
            Err(ProtocolError::DecompressedTooLarge { limit: 40 })
        );
    }

    #[test]
    fn declared_content_size_over_the_limit_fails_up_front() {
        let info = FrameInfo::new().content_size(Some(5000));
        let packed = frame(info, &data(5000));
        assert_eq!(
            decompress(&packed, 4999, false),
            Err(ProtocolError::DecompressedTooLarge { limit: 4999 })
        );
    }
}
