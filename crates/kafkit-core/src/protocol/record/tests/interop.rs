//! Interoperability with the `kafka-protocol` crate (dev-dependency), whose
//! LZ4 and zstd codecs are the C reference libraries and whose snappy output
//! uses the xerial framing: batches written by one side decode on the other.

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression as KpCompression, Record as KpRecord, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, TimestampType as KpTimestampType,
};

use super::*;

fn kp_codec(codec: Compression) -> KpCompression {
    match codec {
        Compression::None => KpCompression::None,
        Compression::Gzip => KpCompression::Gzip,
        Compression::Snappy => KpCompression::Snappy,
        Compression::Lz4 => KpCompression::Lz4,
        Compression::Zstd => KpCompression::Zstd,
    }
}

fn kp_records() -> Vec<KpRecord> {
    (0..50)
        .map(|i| {
            let mut headers = IndexMap::new();
            headers.insert(
                StrBytes::from_static_str("h1"),
                Some(Bytes::from(vec![i as u8; 3])),
            );
            headers.insert(StrBytes::from_static_str("h2"), None);
            KpRecord {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 3,
                producer_id: 11,
                producer_epoch: 1,
                timestamp_type: KpTimestampType::Creation,
                offset: 500 + i,
                sequence: 20 + i as i32,
                timestamp: 1_000_000 + i * 3,
                key: (i % 3 != 0).then(|| Bytes::from(format!("key-{i}"))),
                value: (i % 7 != 0).then(|| Bytes::from(format!("value-{i}-").repeat(20))),
                headers: if i % 2 == 0 { headers } else { IndexMap::new() },
            }
        })
        .collect()
}

#[test]
fn batches_from_kafka_protocol_decode() {
    for codec in enabled_codecs() {
        let records = kp_records();
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression: kp_codec(codec),
        };
        RecordBatchEncoder::encode(&mut buf, &records, &options).unwrap();
        let set = RecordSet::decode(buf.freeze(), &opts()).unwrap();
        let ours: Vec<RecordView> = set
            .batches
            .iter()
            .flat_map(|b| b.records())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(ours.len(), records.len(), "{codec:?}");
        for (mine, theirs) in ours.iter().zip(&records) {
            assert_eq!(mine.offset, theirs.offset);
            assert_eq!(mine.timestamp, theirs.timestamp);
            assert_eq!(mine.key, theirs.key);
            assert_eq!(mine.value, theirs.value);
            let headers: Vec<(String, Option<Bytes>)> = mine
                .headers
                .iter()
                .map(|h| h.map(|h| (h.key.to_owned(), h.value)))
                .collect::<Result<_, _>>()
                .unwrap();
            let expected: Vec<(String, Option<Bytes>)> = theirs
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            assert_eq!(headers, expected);
        }
        if let Batch::V2(batch) = &set.batches[0] {
            assert_eq!(batch.header.attributes.compression, codec);
            assert_eq!(batch.header.producer_id, 11);
            assert_eq!(batch.header.base_sequence, 20);
        }
    }
}

#[test]
fn our_batches_decode_in_kafka_protocol() {
    for codec in enabled_codecs() {
        let batch = sample_batch(codec);
        let mut bytes = encode(&batch);
        let decoded = RecordBatchDecoder::decode(&mut bytes).unwrap();
        assert_eq!(decoded.records.len(), 3, "{codec:?}");
        for (theirs, ours) in decoded.records.iter().zip(&batch.records) {
            assert_eq!(
                theirs.offset,
                batch.header.base_offset + i64::from(ours.offset_delta)
            );
            assert_eq!(
                theirs.timestamp,
                batch.header.base_timestamp + ours.timestamp_delta
            );
            assert_eq!(theirs.key, ours.key);
            assert_eq!(theirs.value, ours.value);
            assert_eq!(theirs.headers.len(), ours.headers.len());
            assert_eq!(theirs.producer_id, 42);
        }
    }
}
