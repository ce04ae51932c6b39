//! Record sets: many batches, truncation at the end, mixed formats.

use bytes::{Bytes, BytesMut};

use super::legacy::message;
use super::*;
use crate::protocol::ProtocolError;

fn three_batches() -> (Bytes, Vec<usize>) {
    let mut buf = BytesMut::new();
    let mut ends = Vec::new();
    for (i, codec) in [Compression::None, Compression::Gzip, Compression::Lz4]
        .into_iter()
        .enumerate()
    {
        let mut batch = sample_batch(codec);
        batch.header.base_offset = 1000 + 3 * i as i64;
        batch.encode(&mut buf).unwrap();
        ends.push(buf.len());
    }
    (buf.freeze(), ends)
}

#[test]
fn decodes_back_to_back_batches() {
    let (bytes, _) = three_batches();
    let set = RecordSet::decode(bytes, &opts()).unwrap();
    assert!(!set.is_truncated());
    assert_eq!(set.batches.len(), 3);
    let offsets: Vec<i64> = set
        .batches
        .iter()
        .flat_map(|b| b.records())
        .map(|r| r.unwrap().offset)
        .collect();
    assert_eq!(offsets, (1000..1009).collect::<Vec<_>>());
    assert_eq!(set.batches[2].next_offset(), Some(1009));
}

#[test]
fn a_trailing_partial_batch_is_skipped_at_every_cut() {
    let (bytes, ends) = three_batches();
    for cut in 0..=bytes.len() {
        let set = RecordSet::decode(bytes.slice(..cut), &opts())
            .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let complete = ends.iter().filter(|&&end| end <= cut).count();
        assert_eq!(set.batches.len(), complete, "cut at {cut}");
        let last_end = if complete == 0 { 0 } else { ends[complete - 1] };
        assert_eq!(set.truncated_bytes, cut - last_end, "cut at {cut}");
    }
}

#[test]
fn the_lazy_reader_reports_truncation_once_it_gets_there() {
    let (bytes, ends) = three_batches();
    let mut reader = RecordSetReader::new(bytes.slice(..ends[1] + 30), opts());
    assert!(reader.next().unwrap().is_ok());
    assert_eq!(reader.truncated_bytes(), 0);
    assert!(reader.next().unwrap().is_ok());
    assert!(reader.next().is_none());
    assert_eq!(reader.truncated_bytes(), 30);
}

#[test]
fn legacy_messages_and_batches_mix() {
    let mut bytes = message(5, 0, 0, 0, Some(b"k0"), Some(b"v0"));
    bytes.extend(message(6, 1, 0, 1234, None, Some(b"v1")));
    let mut batch = sample_batch(Compression::None);
    batch.header.base_offset = 7;
    bytes.extend_from_slice(&encode(&batch));
    let set = RecordSet::decode(Bytes::from(bytes), &opts()).unwrap();
    assert!(matches!(set.batches[0], Batch::Legacy(_)));
    assert!(matches!(set.batches[2], Batch::V2(_)));
    let records: Vec<RecordView> = set
        .batches
        .iter()
        .flat_map(|b| b.records())
        .collect::<Result<_, _>>()
        .unwrap();
    let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, [5, 6, 7, 8, 9]);
    assert_eq!(records[0].timestamp, NO_TIMESTAMP);
    assert_eq!(records[1].timestamp, 1234);
    assert_eq!(records[1].value.as_deref(), Some(&b"v1"[..]));
    assert!(!set.batches[0].is_control());
}

#[test]
fn bad_entries_fail_and_end_the_reader() {
    let (bytes, ends) = three_batches();
    // Second batch claims a size below any header.
    let mut bad = bytes.to_vec();
    bad[ends[0] + 8..ends[0] + 12].copy_from_slice(&13i32.to_be_bytes());
    let mut reader = RecordSetReader::new(Bytes::from(bad), opts());
    assert!(reader.next().unwrap().is_ok());
    assert!(matches!(
        reader.next(),
        Some(Err(ProtocolError::CorruptRecords(_)))
    ));
    assert!(reader.next().is_none());
    // An unknown magic byte.
    let mut bad = bytes.to_vec();
    bad[16] = 7;
    assert_eq!(
        RecordSet::decode(Bytes::from(bad), &opts()),
        Err(ProtocolError::InvalidValue {
            field: "magic",
            value: 7
        })
    );
    // A CRC mismatch in the middle fails the eager decode.
    let mut bad = bytes.to_vec();
    bad[ends[1] - 1] ^= 1;
    assert!(matches!(
        RecordSet::decode(Bytes::from(bad), &opts()),
        Err(ProtocolError::CrcMismatch { .. })
    ));
}
