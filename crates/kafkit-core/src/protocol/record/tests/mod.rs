//! Tests of the record layer; shared builders live here.

mod batch;
mod compression;
mod interop;
mod legacy;
mod properties;
mod set;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;

/// The codecs compiled into this build.
pub(crate) fn enabled_codecs() -> Vec<Compression> {
    [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ]
    .into_iter()
    .filter(|c| c.is_enabled())
    .collect()
}

/// Strategy over the codecs compiled into this build.
pub(crate) fn enabled_codec() -> impl Strategy<Value = Compression> {
    proptest::sample::select(enabled_codecs())
}

pub(crate) fn record(
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(&str, Option<&[u8]>)],
) -> Record {
    Record {
        attributes: 0,
        timestamp_delta: i64::from(offset_delta) * 10,
        offset_delta,
        key: key.map(Bytes::copy_from_slice),
        value: value.map(Bytes::copy_from_slice),
        headers: headers
            .iter()
            .map(|(k, v)| RecordHeader {
                key: (*k).to_owned(),
                value: v.map(Bytes::copy_from_slice),
            })
            .collect(),
    }
}

/// Three records covering headers (with a null value), a null key and a null value.
pub(crate) fn sample_batch(codec: Compression) -> RecordBatch {
    RecordBatch {
        header: BatchHeader {
            base_offset: 1000,
            partition_leader_epoch: 7,
            attributes: BatchAttributes {
                compression: codec,
                ..BatchAttributes::default()
            },
            last_offset_delta: 2,
            base_timestamp: 1_700_000_000_000,
            max_timestamp: 1_700_000_000_020,
            producer_id: 42,
            producer_epoch: 3,
            base_sequence: 17,
        },
        records: vec![
            record(
                0,
                Some(b"key-0"),
                Some(b"value-0"),
                &[("trace", Some(b"abc")), ("empty", None)],
            ),
            record(1, None, Some(b"value without key"), &[]),
            record(2, Some(b"tombstone"), None, &[("h", Some(b""))]),
        ],
    }
}

pub(crate) fn encode(batch: &RecordBatch) -> Bytes {
    let mut buf = BytesMut::new();
    batch.encode(&mut buf).expect("encode");
    buf.freeze()
}

pub(crate) fn opts() -> DecodeOptions {
    DecodeOptions::default()
}

/// Rewrites the CRC-32C of a v2 batch after a test edited it.
pub(crate) fn fix_crc(batch: &mut [u8]) {
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}
