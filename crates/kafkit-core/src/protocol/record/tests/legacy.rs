//! Legacy message sets (magic 0 and 1), built by hand from the format
//! description: offset, size, CRC-32 over magic..end, magic, attributes,
//! timestamp (v1), key, value.

use bytes::{Bytes, BytesMut};

use super::super::compression::compress;
use super::*;
use crate::protocol::ProtocolError;

/// Bitwise CRC-32 (IEEE, reflected 0xEDB88320), independent of the decoder's.
pub(super) fn crc32_ieee(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// One legacy message, offset and size prefix included.
pub(super) fn message(
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Vec<u8> {
    let mut body = vec![magic as u8, attributes as u8];
    if magic == 1 {
        body.extend_from_slice(&timestamp.to_be_bytes());
    }
    for field in [key, value] {
        match field {
            None => body.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(b) => {
                body.extend_from_slice(&(b.len() as i32).to_be_bytes());
                body.extend_from_slice(b);
            }
        }
    }
    let mut out = offset.to_be_bytes().to_vec();
    out.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    out.extend_from_slice(&crc32_ieee(&body).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// A wrapper message whose value is `inner` compressed with `codec`.
fn wrapper(
    offset: i64,
    magic: i8,
    codec: Compression,
    log_append: bool,
    ts: i64,
    inner: &[u8],
) -> Vec<u8> {
    let mut compressed = BytesMut::new();
    compress(codec, inner, &mut compressed).unwrap();
    let attributes = codec.id() as i8 | if log_append { 0x08 } else { 0 };
    message(offset, magic, attributes, ts, None, Some(&compressed))
}

fn decode(bytes: Vec<u8>) -> Result<Vec<LegacyEntry>, ProtocolError> {
    let set = RecordSet::decode(Bytes::from(bytes), &opts())?;
    assert!(!set.is_truncated());
    Ok(set
        .batches
        .into_iter()
        .map(|b| match b {
            Batch::Legacy(entry) => entry,
            Batch::V2(_) => panic!("expected a legacy entry"),
        })
        .collect())
}

fn inner_set(magic: i8, offsets: [i64; 3], timestamps: [i64; 3]) -> Vec<u8> {
    let mut set = Vec::new();
    for (i, (offset, ts)) in offsets.into_iter().zip(timestamps).enumerate() {
        let value = format!("inner-{i}");
        set.extend(message(offset, magic, 0, ts, None, Some(value.as_bytes())));
    }
    set
}

#[test]
fn the_test_crc32_is_the_ieee_one() {
    assert_eq!(crc32_ieee(b"123456789"), 0xCBF4_3926);
}

#[test]
fn plain_v0_messages() {
    let mut bytes = message(0, 0, 0, 0, Some(b"k"), Some(b"v"));
    bytes.extend(message(1, 0, 0x08, 0, None, None)); // bit 3 means nothing in v0
    let entries = decode(bytes).unwrap();
    assert_eq!(entries.len(), 2);
    let m = &entries[0].messages[0];
    assert_eq!(entries[0].compression, Compression::None);
    assert_eq!((m.offset, m.magic, m.timestamp), (0, 0, NO_TIMESTAMP));
    assert_eq!(m.key.as_deref(), Some(&b"k"[..]));
    assert_eq!(m.value.as_deref(), Some(&b"v"[..]));
    let m = &entries[1].messages[0];
    assert_eq!((m.key.clone(), m.value.clone()), (None, None));
    assert_eq!(m.timestamp_type, TimestampType::CreateTime);
}

#[test]
fn plain_v1_messages_carry_timestamps() {
    let mut bytes = message(3, 1, 0, 111, None, Some(b"a"));
    bytes.extend(message(4, 1, 0x08, 222, None, Some(b"b")));
    let entries = decode(bytes).unwrap();
    let (a, b) = (&entries[0].messages[0], &entries[1].messages[0]);
    assert_eq!(
        (a.offset, a.timestamp, a.timestamp_type),
        (3, 111, TimestampType::CreateTime)
    );
    assert_eq!(
        (b.offset, b.timestamp, b.timestamp_type),
        (4, 222, TimestampType::LogAppendTime)
    );
}

#[test]
fn v0_wrappers_hold_absolute_inner_offsets() {
    for codec in [Compression::Gzip, Compression::Lz4, Compression::Snappy] {
        if !codec.is_enabled() {
            continue;
        }
        let inner = inner_set(0, [10, 11, 12], [0; 3]);
        let entries = decode(wrapper(12, 0, codec, false, 0, &inner)).unwrap();
        let offsets: Vec<i64> = entries[0].messages.iter().map(|m| m.offset).collect();
        assert_eq!(offsets, [10, 11, 12], "{codec:?}");
        assert_eq!(entries[0].compression, codec);
        assert_eq!(
            entries[0].messages[2].value.as_deref(),
            Some(&b"inner-2"[..])
        );
    }
}

#[test]
fn v1_wrappers_hold_relative_inner_offsets() {
    for codec in [Compression::Gzip, Compression::Lz4, Compression::Snappy] {
        if !codec.is_enabled() {
            continue;
        }
        let inner = inner_set(1, [0, 1, 2], [7, 8, 9]);
        let entries = decode(wrapper(102, 1, codec, false, 9, &inner)).unwrap();
        let got: Vec<(i64, i64)> = entries[0]
            .messages
            .iter()
            .map(|m| (m.offset, m.timestamp))
            .collect();
        assert_eq!(got, [(100, 7), (101, 8), (102, 9)], "{codec:?}");
    }
}

#[test]
fn v1_log_append_time_wrappers_stamp_their_inner_messages() {
    let inner = inner_set(1, [0, 1, 2], [7, 8, 9]);
    let entries = decode(wrapper(2, 1, Compression::Gzip, true, 5000, &inner)).unwrap();
    for m in &entries[0].messages {
        assert_eq!(
            (m.timestamp, m.timestamp_type),
            (5000, TimestampType::LogAppendTime)
        );
    }
}

#[test]
fn v0_lz4_wrappers_tolerate_kafkas_broken_header_checksum() {
    let inner = inner_set(0, [0, 1, 2], [0; 3]);
    let mut compressed = BytesMut::new();
    compress(Compression::Lz4, &inner, &mut compressed).unwrap();
    compressed[6] ^= 0x33; // the header checksum byte
    let v0 = message(
        2,
        0,
        Compression::Lz4.id() as i8,
        0,
        None,
        Some(&compressed),
    );
    assert_eq!(decode(v0).unwrap()[0].messages.len(), 3);
    // Magic 1 keeps the check.
    let inner = inner_set(1, [0, 1, 2], [0; 3]);
    let mut compressed = BytesMut::new();
    compress(Compression::Lz4, &inner, &mut compressed).unwrap();
    compressed[6] ^= 0x33;
    let v1 = message(
        2,
        1,
        Compression::Lz4.id() as i8,
        0,
        None,
        Some(&compressed),
    );
    assert!(matches!(
        decode(v1),
        Err(ProtocolError::Decompression { codec: "lz4", .. })
    ));
}

#[cfg(feature = "snappy")]
#[test]
fn v1_wrappers_in_xerial_snappy_framing() {
    let inner = inner_set(1, [0, 1, 2], [1, 2, 3]);
    let (first, second) = inner.split_at(20);
    let mut framed = b"\x82SNAPPY\x00".to_vec();
    framed.extend_from_slice(&1i32.to_be_bytes());
    framed.extend_from_slice(&1i32.to_be_bytes());
    for chunk in [first, second] {
        let block = snap::raw::Encoder::new().compress_vec(chunk).unwrap();
        framed.extend_from_slice(&(block.len() as i32).to_be_bytes());
        framed.extend_from_slice(&block);
    }
    let attributes = Compression::Snappy.id() as i8;
    let entries = decode(message(50, 1, attributes, 3, None, Some(&framed))).unwrap();
    let offsets: Vec<i64> = entries[0].messages.iter().map(|m| m.offset).collect();
    assert_eq!(offsets, [48, 49, 50]);
}

#[test]
fn crc_mismatches_are_detected_outside_and_inside_wrappers() {
    let mut plain = message(0, 1, 0, 1, Some(b"k"), Some(b"v"));
    let last = plain.len() - 1;
    plain[last] ^= 1;
    assert!(matches!(
        decode(plain),
        Err(ProtocolError::CrcMismatch { .. })
    ));

    let mut inner = inner_set(1, [0, 1, 2], [0; 3]);
    let last = inner.len() - 1;
    inner[last] ^= 1;
    let bytes = wrapper(2, 1, Compression::Gzip, false, 0, &inner);
    assert!(matches!(
        decode(bytes),
        Err(ProtocolError::CrcMismatch { .. })
    ));
}

#[test]
fn malformed_wrappers_are_rejected() {
    let corrupt = |bytes| match decode(bytes) {
        Err(ProtocolError::CorruptRecords(why)) => why,
        other => panic!("expected corrupt records, got {other:?}"),
    };
    // A compressed message inside a compressed message.
    let nested = wrapper(
        0,
        1,
        Compression::Gzip,
        false,
        0,
        &inner_set(1, [0, 1, 2], [0; 3]),
    );
    let outer = wrapper(0, 1, Compression::Gzip, false, 0, &nested);
    assert_eq!(corrupt(outer), "nested compressed message");
    // v0 messages inside a v1 wrapper.
    let mixed = wrapper(
        2,
        1,
        Compression::Gzip,
        false,
        0,
        &inner_set(0, [0, 1, 2], [0; 3]),
    );
    assert_eq!(
        corrupt(mixed),
        "inner message magic differs from its wrapper's"
    );
    // The inner set ends in the middle of a message.
    let inner = inner_set(1, [0, 1, 2], [0; 3]);
    let cut = wrapper(2, 1, Compression::Gzip, false, 0, &inner[..inner.len() - 3]);
    assert_eq!(
        corrupt(cut),
        "truncated message inside a compressed wrapper"
    );
    // A wrapper without a value.
    let attributes = Compression::Gzip.id() as i8;
    assert_eq!(
        corrupt(message(0, 1, attributes, 0, None, None)),
        "compressed message without a value"
    );
    // Key length past the end of the message.
    let mut bad = message(0, 0, 0, 0, Some(b"key"), None);
    bad[18..22].copy_from_slice(&100i32.to_be_bytes());
    let crc = crc32_ieee(&bad[16..]);
    bad[12..16].copy_from_slice(&crc.to_be_bytes());
    assert!(matches!(
        decode(bad),
        Err(ProtocolError::LengthExceedsInput { len: 100, .. })
    ));
}
