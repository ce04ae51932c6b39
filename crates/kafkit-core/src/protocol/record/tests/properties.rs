//! Property tests: batch round trips, truncated sets, and hostile bytes.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;

fn batch() -> impl Strategy<Value = RecordBatch> {
    (
        any::<BatchHeader>(),
        proptest::collection::vec(any::<Record>(), 0..6),
    )
        .prop_map(|(header, records)| RecordBatch { header, records })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn batches_round_trip(batch in batch()) {
        let mut buf = BytesMut::new();
        batch.encode(&mut buf).unwrap();
        let bytes = buf.freeze();
        let decoded = RecordBatch::decode(bytes.clone(), &opts()).unwrap();
        prop_assert_eq!(&decoded, &batch);
        let mut again = BytesMut::new();
        decoded.encode(&mut again).unwrap();
        prop_assert_eq!(&again[..], &bytes[..]);
        // The lazy views agree with the owned records.
        let view = BatchView::decode(bytes, &opts()).unwrap();
        for (record, owned) in view.records().zip(&batch.records) {
            let record = record.unwrap();
            prop_assert_eq!(
                record.offset,
                batch.header.base_offset.wrapping_add(i64::from(owned.offset_delta))
            );
            prop_assert_eq!(&record.to_record().unwrap(), owned);
        }
    }

    #[test]
    fn truncated_sets_yield_the_complete_prefix(
        batches in proptest::collection::vec(batch(), 1..4),
        cut in any::<proptest::sample::Index>(),
    ) {
        let mut buf = BytesMut::new();
        let mut ends = Vec::new();
        for b in &batches {
            b.encode(&mut buf).unwrap();
            ends.push(buf.len());
        }
        let cut = cut.index(buf.len() + 1);
        let set = RecordSet::decode(buf.freeze().slice(..cut), &opts()).unwrap();
        let complete = ends.iter().filter(|&&e| e <= cut).count();
        prop_assert_eq!(set.batches.len(), complete);
        for (got, want) in set.batches.iter().zip(&batches) {
            match got {
                Batch::V2(view) => prop_assert_eq!(&view.to_batch().unwrap(), want),
                Batch::Legacy(_) => prop_assert!(false, "v2 batch decoded as legacy"),
            }
        }
    }

    #[test]
    fn hostile_bytes_never_panic(
        batch in batch(),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = BytesMut::new();
        batch.encode(&mut bytes).unwrap();
        let mut bytes = bytes.to_vec();
        for (at, value) in edits {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        // Without the CRC check the edits reach the record parser.
        let options = opts().with_crc_check(false).with_max_decompressed_size(1 << 20);
        if let Ok(set) = RecordSet::decode(Bytes::from(bytes.clone()), &options) {
            for b in &set.batches {
                for r in b.records().flatten() {
                    let _ = r.headers.to_vec();
                }
            }
        }
        // With it, any edit that changed the bytes is caught (or the frame is cut).
        let _ = RecordSet::decode(Bytes::from(bytes), &opts());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let options = opts().with_crc_check(false).with_max_decompressed_size(1 << 16);
        let mut reader = RecordSetReader::new(Bytes::from(bytes.clone()), options);
        for batch in reader.by_ref().flatten() {
            for record in batch.records().flatten() {
                let _ = record.headers.to_vec();
            }
        }
        let _ = BatchView::decode(Bytes::from(bytes), &options);
    }
}
