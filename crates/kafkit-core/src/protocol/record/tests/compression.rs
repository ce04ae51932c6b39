//! Codecs: round trips, limits, corrupt input and the framings Kafka uses.
//! (Peak memory while decoding a bomb is measured in `tests/record_bombs.rs`.)

use bytes::BytesMut;

use super::super::compression::{compress, decompress};
use super::*;
use crate::protocol::ProtocolError;

fn compressed(codec: Compression, data: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    compress(codec, data, &mut out).unwrap();
    out.to_vec()
}

fn sample_data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i * 7 % 251) as u8 ^ (i / 1000) as u8)
        .collect()
}

#[test]
fn every_codec_round_trips() {
    for codec in enabled_codecs() {
        for len in [0, 1, 100, 70_000, 300_000] {
            let data = sample_data(len);
            let packed = compressed(codec, &data);
            let unpacked = decompress(codec, &packed, 1 << 20).unwrap();
            assert_eq!(unpacked, data, "{codec:?}, {len} bytes");
        }
    }
}

#[test]
fn the_limit_is_exact() {
    let data = sample_data(10_000);
    for codec in enabled_codecs() {
        let packed = compressed(codec, &data);
        assert_eq!(decompress(codec, &packed, 10_000).unwrap().len(), 10_000);
        assert_eq!(
            decompress(codec, &packed, 9_999),
            Err(ProtocolError::DecompressedTooLarge { limit: 9_999 }),
            "{codec:?}"
        );
    }
}

#[test]
fn bombs_stop_at_the_limit() {
    let zeros = vec![0u8; 8 << 20];
    for codec in enabled_codecs() {
        let bomb = compressed(codec, &zeros);
        assert_eq!(
            decompress(codec, &bomb, 1 << 20),
            Err(ProtocolError::DecompressedTooLarge { limit: 1 << 20 }),
            "{codec:?}"
        );
    }
}

#[test]
fn corrupt_input_is_an_error_not_a_panic() {
    let data = sample_data(50_000);
    for codec in enabled_codecs() {
        if codec == Compression::None {
            continue;
        }
        let packed = compressed(codec, &data);
        // Empty input is an empty stream for the framed codecs; any other
        // cut is an error.
        for cut in [3, 10, packed.len() / 2, packed.len() - 1] {
            assert!(
                decompress(codec, &packed[..cut], 1 << 20).is_err(),
                "{codec:?} cut at {cut}"
            );
        }
        let garbage: Vec<u8> = (0..500u32).map(|i| (i * 131 % 256) as u8).collect();
        assert!(decompress(codec, &garbage, 1 << 20).is_err(), "{codec:?}");
        let mut flipped = packed.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x55;
        // A flipped byte may go unnoticed by codecs without checksums (the
        // batch CRC covers it), but it must not panic or return the original.
        assert_ne!(
            decompress(codec, &flipped, 1 << 20).ok(),
            Some(data.clone())
        );
    }
}

#[cfg(feature = "snappy")]
mod snappy {
    use super::*;

    fn xerial(chunks: &[&[u8]]) -> Vec<u8> {
        let mut out = b"\x82SNAPPY\x00".to_vec();
        out.extend_from_slice(&1i32.to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
        for chunk in chunks {
            let block = snap::raw::Encoder::new().compress_vec(chunk).unwrap();
            out.extend_from_slice(&(block.len() as i32).to_be_bytes());
            out.extend_from_slice(&block);
        }
        out
    }

    #[test]
    fn xerial_framing_is_detected() {
        let framed = xerial(&[b"hello ", b"xerial ", b"world"]);
        let out = decompress(Compression::Snappy, &framed, 100).unwrap();
        assert_eq!(out, b"hello xerial world");
        // The limit spans all chunks.
        assert_eq!(
            decompress(Compression::Snappy, &framed, 15),
            Err(ProtocolError::DecompressedTooLarge { limit: 15 })
        );
        // Header alone: no chunks, no output.
        assert_eq!(
            decompress(Compression::Snappy, &framed[..16], 10).unwrap(),
            b""
        );
    }

    #[test]
    fn broken_xerial_chunks_are_rejected() {
        let framed = xerial(&[b"some data"]);
        let mut negative = framed.clone();
        negative[16..20].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(decompress(Compression::Snappy, &negative, 100).is_err());
        let mut long = framed.clone();
        long[16..20].copy_from_slice(&1000i32.to_be_bytes());
        assert!(matches!(
            decompress(Compression::Snappy, &long, 100),
            Err(ProtocolError::LengthExceedsInput { len: 1000, .. })
        ));
        assert!(decompress(Compression::Snappy, &framed[..18], 100).is_err());
        assert!(decompress(Compression::Snappy, &framed[..12], 100).is_err());
    }

    #[test]
    fn raw_lengths_are_checked_before_allocating() {
        // Declares 2^32-1 bytes in a five-byte varint, then nothing.
        let huge = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
        assert_eq!(
            decompress(Compression::Snappy, &huge, usize::MAX),
            Err(ProtocolError::Decompression {
                codec: "snappy",
                reason: "declared length exceeds what the block can hold".into()
            })
        );
        assert_eq!(
            decompress(Compression::Snappy, &huge, 1 << 20),
            Err(ProtocolError::DecompressedTooLarge { limit: 1 << 20 })
        );
    }
}

#[cfg(feature = "zstd")]
mod zstd {
    use super::*;

    /// A frame holding `data` as one raw block, with an optional header tweak.
    fn raw_frame(descriptor: u8, header_tail: &[u8], data: &[u8]) -> Vec<u8> {
        let mut out = 0xFD2F_B528u32.to_le_bytes().to_vec();
        out.push(descriptor);
        out.extend_from_slice(header_tail);
        let block = 1 | ((data.len() as u32) << 3); // last block, raw
        out.extend_from_slice(&block.to_le_bytes()[..3]);
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn hand_built_raw_frames_decode() {
        // Single segment with a one-byte content size.
        let frame = raw_frame(0x20, &[5], b"hello");
        assert_eq!(decompress(Compression::Zstd, &frame, 5).unwrap(), b"hello");
    }

    #[test]
    fn declared_content_size_over_the_limit_fails_up_front() {
        // Single segment, four-byte content size of 100 MiB, one raw byte.
        let frame = raw_frame(0xA0, &(100u32 << 20).to_le_bytes(), b"x");
        assert_eq!(
            decompress(Compression::Zstd, &frame, 1 << 20),
            Err(ProtocolError::DecompressedTooLarge { limit: 1 << 20 })
        );
    }

    #[test]
    fn oversized_windows_are_refused() {
        // Window descriptor 0xF8: 2^41 bytes.
        let frame = raw_frame(0x00, &[0xF8], b"x");
        assert!(matches!(
            decompress(Compression::Zstd, &frame, 1 << 20),
            Err(ProtocolError::Decompression { codec: "zstd", .. })
        ));
        // 8 MiB (window descriptor 0x68) is allowed under a small limit.
        let frame = raw_frame(0x00, &[0x68], b"x");
        assert_eq!(decompress(Compression::Zstd, &frame, 16).unwrap(), b"x");
    }

    #[test]
    fn concatenated_and_skippable_frames() {
        let mut input = 0x184D_2A53u32.to_le_bytes().to_vec();
        input.extend_from_slice(&3u32.to_le_bytes());
        input.extend_from_slice(b"???");
        input.extend(compressed(Compression::Zstd, b"first "));
        input.extend(raw_frame(0x20, &[6], b"second"));
        let out = decompress(Compression::Zstd, &input, 100).unwrap();
        assert_eq!(out, b"first second");
        assert_eq!(
            decompress(Compression::Zstd, &input, 11),
            Err(ProtocolError::DecompressedTooLarge { limit: 11 })
        );
        assert!(decompress(Compression::Zstd, &input[..9], 100).is_err());
    }

    #[test]
    fn content_checksums_are_verified() {
        let mut frame = compressed(Compression::Zstd, &sample_data(1000));
        let last = frame.len() - 1;
        frame[last] ^= 0x01;
        assert_eq!(
            decompress(Compression::Zstd, &frame, 1 << 20),
            Err(ProtocolError::Decompression {
                codec: "zstd",
                reason: "content checksum mismatch".into()
            })
        );
    }
}
