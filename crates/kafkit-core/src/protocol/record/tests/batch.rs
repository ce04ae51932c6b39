//! v2 batches: round trips, exact bytes, CRC and malformed input.

use bytes::{BufMut, Bytes, BytesMut};

use super::*;
use crate::protocol::ProtocolError;

#[test]
fn round_trips_with_every_codec() {
    for codec in enabled_codecs() {
        let batch = sample_batch(codec);
        let bytes = encode(&batch);
        let decoded = RecordBatch::decode(bytes.clone(), &opts()).unwrap();
        assert_eq!(decoded, batch, "codec {codec:?}");
        // Re-encoding the decoded batch reproduces the bytes.
        assert_eq!(encode(&decoded), bytes, "codec {codec:?}");
    }
}

#[test]
fn views_carry_absolute_offsets_timestamps_and_headers() {
    for codec in enabled_codecs() {
        let view = BatchView::decode(encode(&sample_batch(codec)), &opts()).unwrap();
        assert_eq!(view.record_count(), 3);
        let records: Vec<RecordView> = view.records().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            records.iter().map(|r| r.offset).collect::<Vec<_>>(),
            [1000, 1001, 1002]
        );
        assert_eq!(
            records.iter().map(|r| r.timestamp).collect::<Vec<_>>(),
            [1_700_000_000_000, 1_700_000_000_010, 1_700_000_000_020]
        );
        assert_eq!(records[0].key.as_deref(), Some(&b"key-0"[..]));
        assert_eq!(records[1].key, None);
        assert_eq!(records[2].value, None);
        let headers: Vec<HeaderView<'_>> =
            records[0].headers.iter().collect::<Result<_, _>>().unwrap();
        assert_eq!(headers.len(), 2);
        assert_eq!(headers[0].key, "trace");
        assert_eq!(headers[0].value.as_deref(), Some(&b"abc"[..]));
        assert_eq!(headers[1].key, "empty");
        assert_eq!(headers[1].value, None);
        assert!(records[1].headers.is_empty());
        assert_eq!(
            records[2].headers.to_vec().unwrap()[0].value,
            Some(Bytes::new())
        );
        assert_eq!(view.header.next_offset(), 1003);
    }
}

/// A batch written field by field from the format description.
fn hand_built_batch() -> Vec<u8> {
    let record = [
        0x18, // length 12 (zigzag 24)
        0x00, // attributes
        0x00, // timestamp delta 0
        0x00, // offset delta 0
        0x02, b'k', // key: length 1
        0x02, b'v', // value: length 1
        0x02, // one header
        0x02, b'h', 0x02, b'x',
    ];
    let mut b = Vec::new();
    b.put_i64(5); // base offset
    b.put_i32(49 + record.len() as i32); // batch length
    b.put_i32(1); // partition leader epoch
    b.put_i8(2); // magic
    b.put_u32(0); // crc, below
    b.put_i16(0x10); // attributes: transactional
    b.put_i32(0); // last offset delta
    b.put_i64(100); // base timestamp
    b.put_i64(100); // max timestamp
    b.put_i64(9); // producer id
    b.put_i16(2); // producer epoch
    b.put_i32(0); // base sequence
    b.put_i32(1); // record count
    b.extend_from_slice(&record);
    fix_crc(&mut b);
    b
}

#[test]
fn matches_bytes_built_from_the_format_description() {
    let expected = hand_built_batch();
    let batch = RecordBatch {
        header: BatchHeader {
            base_offset: 5,
            partition_leader_epoch: 1,
            attributes: BatchAttributes {
                transactional: true,
                ..BatchAttributes::default()
            },
            last_offset_delta: 0,
            base_timestamp: 100,
            max_timestamp: 100,
            producer_id: 9,
            producer_epoch: 2,
            base_sequence: 0,
        },
        records: vec![Record {
            timestamp_delta: 0,
            ..record(0, Some(b"k"), Some(b"v"), &[("h", Some(b"x"))])
        }],
    };
    assert_eq!(&encode(&batch)[..], &expected[..]);
    let view = BatchView::decode(Bytes::from(expected.clone()), &opts()).unwrap();
    assert_eq!(
        view.crc,
        u32::from_be_bytes(expected[17..21].try_into().unwrap())
    );
    assert_eq!(view.to_batch().unwrap(), batch);
}

#[test]
fn uncompressed_records_are_zero_copy_slices_of_the_input() {
    let bytes = encode(&sample_batch(Compression::None));
    let input = bytes.as_ptr_range();
    let view = BatchView::decode(bytes.clone(), &opts()).unwrap();
    for record in view.records() {
        let record = record.unwrap();
        for part in [&record.key, &record.value].into_iter().flatten() {
            assert!(input.contains(&part.as_ptr()), "copied: {part:?}");
        }
        for header in &record.headers {
            if let Some(v) = header.unwrap().value.filter(|v| !v.is_empty()) {
                assert!(input.contains(&v.as_ptr()));
            }
        }
    }
}

#[test]
fn compressed_records_are_slices_of_one_decompressed_buffer() {
    let bytes = encode(&sample_batch(Compression::Lz4));
    let view = BatchView::decode(bytes, &opts()).unwrap();
    let buffer = view.records_bytes().as_ptr_range();
    for record in view.records() {
        if let Some(value) = record.unwrap().value {
            assert!(buffer.contains(&value.as_ptr()));
        }
    }
}

#[test]
fn crc_mismatch_is_detected() {
    for codec in enabled_codecs() {
        let good = encode(&sample_batch(codec));
        let mut bad = good.to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 0x01;
        let stored = u32::from_be_bytes(bad[17..21].try_into().unwrap());
        match BatchView::decode(Bytes::from(bad.clone()), &opts()) {
            Err(ProtocolError::CrcMismatch {
                stored: s,
                computed,
            }) => {
                assert_eq!(s, stored);
                assert_eq!(computed, crc32c::crc32c(&bad[21..]));
            }
            other => panic!("{codec:?}: expected a CRC mismatch, got {other:?}"),
        }
    }
    // A corrupted header field is covered too, and the check can be turned off.
    let mut bad = encode(&sample_batch(Compression::None)).to_vec();
    bad[30] ^= 0xff; // inside base_timestamp
    let decode = |opts| BatchView::decode(Bytes::from(bad.clone()), &opts);
    assert!(matches!(
        decode(opts()),
        Err(ProtocolError::CrcMismatch { .. })
    ));
    assert!(decode(opts().with_crc_check(false)).is_ok());
}

#[test]
fn log_append_time_gives_every_record_the_max_timestamp() {
    let mut batch = sample_batch(Compression::None);
    batch.header.attributes.timestamp_type = TimestampType::LogAppendTime;
    batch.header.max_timestamp = 5555;
    let view = BatchView::decode(encode(&batch), &opts()).unwrap();
    for record in view.records() {
        assert_eq!(record.unwrap().timestamp, 5555);
    }
}

#[test]
fn control_batches_carry_transaction_markers() {
    for (commit, kind) in [
        (true, ControlRecordType::COMMIT),
        (false, ControlRecordType::ABORT),
    ] {
        let batch = end_txn_batch(77, 4, commit, 12, 999);
        let view = BatchView::decode(encode(&batch), &opts()).unwrap();
        assert!(view.is_control());
        assert!(view.header.attributes.transactional);
        assert_eq!(view.header.producer_id, 77);
        let record = view.records().next().unwrap().unwrap();
        let key = ControlRecordKey::of_record(record.key.as_ref()).unwrap();
        assert_eq!(key.kind, kind);
        assert!(key.kind.is_transaction_marker());
        let marker = EndTxnMarker::decode(record.value.as_deref().unwrap()).unwrap();
        assert_eq!(marker.coordinator_epoch, 12);
        assert_eq!(&key.encode()[..], [0, 0, 0, u8::from(commit)]);
    }
    let leader_change = ControlRecordKey::decode(&[0, 0, 0, 2]).unwrap();
    assert_eq!(leader_change.kind, ControlRecordType::LEADER_CHANGE);
    assert!(!leader_change.kind.is_transaction_marker());
    assert!(ControlRecordKey::decode(&[0, 0, 1]).is_err());
    assert!(ControlRecordKey::of_record(None).is_err());
    assert!(EndTxnMarker::decode(&[0, 0, 0, 0, 1]).is_err());
}

#[test]
fn attribute_bits() {
    let all = BatchAttributes {
        compression: Compression::Zstd,
        timestamp_type: TimestampType::LogAppendTime,
        transactional: true,
        control: true,
        delete_horizon: true,
    };
    assert_eq!(all.bits(), 0x7c);
    assert_eq!(BatchAttributes::from_bits(0x7c).unwrap(), all);
    // Undefined high bits are ignored.
    assert_eq!(
        BatchAttributes::from_bits(0x0101).unwrap().compression,
        Compression::Gzip
    );
    assert_eq!(
        BatchAttributes::from_bits(0x05),
        Err(ProtocolError::UnknownCompression(5))
    );
    for id in 0..=4 {
        assert_eq!(Compression::from_id(id).unwrap().id(), id);
    }
}

#[test]
fn record_count_is_checked_against_the_bytes_before_allocating() {
    let mut bytes = encode(&sample_batch(Compression::None)).to_vec();
    bytes[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
    fix_crc(&mut bytes);
    assert!(matches!(
        BatchView::decode(Bytes::from(bytes.clone()), &opts()),
        Err(ProtocolError::LengthExceedsInput { len, .. }) if len == i32::MAX as usize
    ));
    bytes[57..61].copy_from_slice(&(-1i32).to_be_bytes());
    fix_crc(&mut bytes);
    assert_eq!(
        BatchView::decode(Bytes::from(bytes), &opts()),
        Err(ProtocolError::InvalidLength(-1))
    );
}

#[test]
fn record_count_must_match_the_records() {
    let bytes = encode(&sample_batch(Compression::None)).to_vec();
    // Declares two records: the third is left over.
    let mut fewer = bytes.clone();
    fewer[57..61].copy_from_slice(&2i32.to_be_bytes());
    fix_crc(&mut fewer);
    let results: Vec<_> = BatchView::decode(Bytes::from(fewer), &opts())
        .unwrap()
        .records()
        .collect();
    assert_eq!(results.len(), 3);
    assert!(results[..2].iter().all(Result::is_ok));
    assert!(matches!(results[2], Err(ProtocolError::CorruptRecords(_))));
    // Declares four: the fourth runs out of bytes, and the iterator stops.
    let mut more = bytes;
    more[57..61].copy_from_slice(&4i32.to_be_bytes());
    fix_crc(&mut more);
    let view = BatchView::decode(Bytes::from(more), &opts()).unwrap();
    let results: Vec<_> = view.records().collect();
    assert_eq!(results.len(), 4);
    assert!(results[3].is_err());
    assert!(view.to_batch().is_err());
}

#[test]
fn malformed_headers_are_rejected() {
    let good = encode(&sample_batch(Compression::None)).to_vec();
    let check = |edit: &dyn Fn(&mut Vec<u8>), expected: ProtocolError| {
        let mut bytes = good.clone();
        edit(&mut bytes);
        fix_crc(&mut bytes);
        assert_eq!(
            BatchView::decode(Bytes::from(bytes), &opts()).map(|_| ()),
            Err(expected)
        );
    };
    check(
        &|b| b[8..12].copy_from_slice(&1000i32.to_be_bytes()),
        ProtocolError::CorruptRecords("batch length does not match its bytes"),
    );
    check(
        &|b| b[16] = 3,
        ProtocolError::InvalidValue {
            field: "magic",
            value: 3,
        },
    );
    check(&|b| b[22] = 0x06, ProtocolError::UnknownCompression(6));
    assert!(matches!(
        BatchView::decode(Bytes::from(good[..60].to_vec()), &opts()),
        Err(ProtocolError::UnexpectedEof { .. })
    ));
}

/// A one-record batch holding `record` verbatim.
fn batch_with_raw_record(record: &[u8]) -> Bytes {
    let mut b = hand_built_batch();
    b.truncate(61);
    b.extend_from_slice(record);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    fix_crc(&mut b);
    Bytes::from(b)
}

fn first_record(batch: Bytes) -> Result<RecordView, ProtocolError> {
    BatchView::decode(batch, &opts())?.records().next().unwrap()
}

#[test]
fn malformed_records_are_rejected() {
    // Length 8 but the fields take 7 bytes.
    let long = [0x10, 0, 0, 0, 0x02, b'k', 0x01, 0x00, 0xaa];
    assert_eq!(
        first_record(batch_with_raw_record(&long)),
        Err(ProtocolError::CorruptRecords(
            "record length does not match its fields"
        ))
    );
    // A key length of -2.
    let negative = [0x0c, 0, 0, 0, 0x03, 0x01, 0x00, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        first_record(batch_with_raw_record(&negative)),
        Err(ProtocolError::InvalidLength(-2))
    );
    // A header key that is not UTF-8.
    let utf8 = [
        0x12, 0, 0, 0, 0x01, 0x01, 0x02, 0x02, 0xff, 0x01, 0, 0, 0, 0, 0,
    ];
    assert_eq!(
        first_record(batch_with_raw_record(&utf8)),
        Err(ProtocolError::InvalidUtf8)
    );
    // A header count larger than the bytes can hold.
    let count = [
        0x0e, 0, 0, 0, 0x01, 0x01, 0x10, 0x02, b'h', 0x01, 0, 0, 0, 0,
    ];
    assert!(matches!(
        first_record(batch_with_raw_record(&count)),
        Err(ProtocolError::LengthExceedsInput { len: 8, .. })
    ));
    // A record length past the end of the batch.
    let past = [0x7e, 0, 0, 0, 0x01, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0];
    assert!(matches!(
        first_record(batch_with_raw_record(&past)),
        Err(ProtocolError::LengthExceedsInput { .. })
    ));
}

#[test]
fn empty_batches_round_trip() {
    let batch = RecordBatch {
        header: BatchHeader {
            last_offset_delta: 4, // compaction removed every record
            ..BatchHeader::default()
        },
        records: vec![],
    };
    let bytes = encode(&batch);
    assert_eq!(bytes.len(), V2_HEADER_LEN);
    assert_eq!(RecordBatch::decode(bytes, &opts()).unwrap(), batch);
}

#[cfg(not(feature = "snappy"))]
#[test]
fn disabled_codecs_fail_and_leave_the_buffer_alone() {
    let mut buf = BytesMut::from(&b"earlier"[..]);
    assert_eq!(
        sample_batch(Compression::Snappy).encode(&mut buf),
        Err(ProtocolError::CompressionDisabled("snappy"))
    );
    assert_eq!(&buf[..], b"earlier");
}

#[test]
fn encoding_appends_to_what_the_buffer_holds() {
    let mut buf = BytesMut::from(&b"prefix"[..]);
    let batch = sample_batch(Compression::Gzip);
    batch.encode(&mut buf).unwrap();
    assert_eq!(&buf[..6], b"prefix");
    assert_eq!(&buf[6..], &encode(&batch)[..]);
}
