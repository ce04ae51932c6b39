//! Turning one partition of a Fetch response into records (sans-IO):
//! batches decoded lazily, records before the fetch position dropped, and
//! with read_committed the batches of aborted transactions skipped.
//!
//! Spec: KIP-98 (transactions: aborted-transaction index and markers).

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;

use super::record::ConsumerRecord;
use crate::protocol::messages::fetch::AbortedTransaction;
use crate::protocol::record::{
    Batch, BatchView, Compression, ControlRecordKey, ControlRecordType, DecodeOptions,
    RecordSetReader, TimestampType,
};
use crate::protocol::ProtocolError;

/// The records of one fetched partition.
#[derive(Debug, Default)]
pub(crate) struct DecodedPartition {
    pub records: Vec<ConsumerRecord>,
    /// Where the next fetch starts (past control and aborted batches too).
    pub next_position: i64,
    /// Bytes these records keep alive: the fetched data plus what its
    /// compressed batches decompressed to (the prefetch budget counts this,
    /// so a 4x-compressed topic does not hold 4x the budget).
    pub memory: usize,
}

/// A fetched partition waiting to be decoded.
pub(crate) struct FetchedPartition {
    pub tp: crate::TopicPartition,
    /// The fetch position the data starts at.
    pub position: i64,
    pub records: Bytes,
    pub aborted: Option<Vec<AbortedTransaction>>,
}

/// Decodes `records` fetched from `position`.
///
/// `aborted` is the response's aborted-transaction list, `Some` only for
/// read_committed fetches.
pub(crate) fn decode_partition(
    topic: &Arc<str>,
    partition: i32,
    position: i64,
    records: Bytes,
    aborted: Option<&[AbortedTransaction]>,
    options: &DecodeOptions,
) -> Result<DecodedPartition, ProtocolError> {
    let mut out = DecodedPartition {
        records: Vec::new(),
        next_position: position,
        memory: records.len(),
    };
    let mut aborts = aborted.map(Aborts::new);
    let at = Target {
        topic,
        partition,
        position,
    };
    // The batches first, so the record vector is allocated once at its
    // final size: grown by doubling, it would copy every record (~140 bytes
    // each) once more on average, a large share of the decode cost.
    let batches = RecordSetReader::new(records, *options).collect::<Result<Vec<_>, _>>()?;
    let wanted = batches
        .iter()
        .filter(|b| !b.is_control() && b.next_offset() > Some(position));
    out.records.reserve_exact(wanted.map(record_count).sum());
    for batch in batches {
        let next = batch.next_offset().unwrap_or(out.next_position);
        if next <= position {
            continue;
        }
        match &batch {
            Batch::V2(view) => {
                let skip = match aborts.as_mut() {
                    Some(a) => a.skips(view),
                    None => view.is_control(),
                };
                if !skip {
                    at.push_v2(view, &mut out)?;
                }
            }
            Batch::Legacy(_) => at.push_legacy(&batch, &mut out)?,
        }
        out.next_position = out.next_position.max(next);
    }
    if let Some(last) = out.records.last() {
        out.next_position = out.next_position.max(last.offset + 1);
    }
    Ok(out)
}

/// The records `batch` holds (its header's count, which `BatchView::decode`
/// checked against its bytes); the capacity reserved for them.
fn record_count(batch: &Batch) -> usize {
    match batch {
        Batch::V2(view) => view.record_count(),
        Batch::Legacy(entry) => entry.messages.len(),
    }
}

/// read_committed bookkeeping: the aborted transactions not started yet
/// (latest first) and the producers whose aborted transaction is open.
struct Aborts<'a> {
    pending: Vec<&'a AbortedTransaction>,
    producers: BTreeSet<i64>,
}

impl<'a> Aborts<'a> {
    fn new(aborted: &'a [AbortedTransaction]) -> Self {
        let mut pending: Vec<&AbortedTransaction> = aborted.iter().collect();
        pending.sort_by_key(|a| std::cmp::Reverse(a.first_offset));
        Self {
            pending,
            producers: BTreeSet::new(),
        }
    }

    /// Whether `view` is skipped: a control batch (an abort marker closes
    /// its producer's aborted transaction) or a batch of an aborted one.
    fn skips(&mut self, view: &BatchView) -> bool {
        let h = &view.header;
        // Producers whose aborted transaction has started by this batch.
        while let Some(a) = self.pending.last() {
            if a.first_offset > h.last_offset() {
                break;
            }
            self.producers.insert(a.producer_id);
            self.pending.pop();
        }
        if view.is_control() {
            if let Some(Ok(marker)) = view.records().next() {
                if ControlRecordKey::of_record(marker.key.as_ref()).map(|k| k.kind)
                    == Ok(ControlRecordType::ABORT)
                {
                    self.producers.remove(&h.producer_id);
                }
            }
            return true;
        }
        h.attributes.transactional && self.producers.contains(&h.producer_id)
    }
}

/// Where decoded records go: their partition and the fetch position
/// (records before it are dropped).
struct Target<'a> {
    topic: &'a Arc<str>,
    partition: i32,
    position: i64,
}

impl Target<'_> {
    fn push_v2(&self, view: &BatchView, out: &mut DecodedPartition) -> Result<(), ProtocolError> {
        let h = &view.header;
        if h.attributes.compression != Compression::None {
            out.memory = out.memory.saturating_add(view.records_bytes().len());
        }
        let timestamp_type = h.attributes.timestamp_type;
        for r in view.records() {
            let r = r?;
            if r.offset < self.position {
                continue;
            }
            out.records.push(ConsumerRecord {
                topic: self.topic.clone(),
                partition: self.partition,
                offset: r.offset,
                timestamp: if timestamp_type == TimestampType::LogAppendTime {
                    h.max_timestamp
                } else {
                    r.timestamp
                },
                timestamp_type,
                key: r.key,
                value: r.value,
                headers: r.headers,
                leader_epoch: h.partition_leader_epoch,
            });
        }
        Ok(())
    }

    fn push_legacy(&self, batch: &Batch, out: &mut DecodedPartition) -> Result<(), ProtocolError> {
        for r in batch.records() {
            let r = r?;
            if r.offset < self.position {
                continue;
            }
            out.records.push(ConsumerRecord {
                topic: self.topic.clone(),
                partition: self.partition,
                offset: r.offset,
                timestamp: r.timestamp,
                timestamp_type: TimestampType::CreateTime,
                key: r.key,
                value: r.value,
                headers: r.headers,
                leader_epoch: -1,
            });
        }
        Ok(())
    }
}

/// Where the next fetch of a partition starts, from the v2 batch headers
/// alone: kafkit-core's fetch state machine computes it
/// ([`kafkit_core::fetch::position::next_position`], on the core's batch
/// header parser); the test below checks that it matches
/// [`decode_partition`]'s `next_position`.
#[cfg(test)]
pub(crate) use kafkit_core::fetch::position::next_position as scan_next_position;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::record::{BatchAttributes, BatchHeader, Record, RecordBatch};
    use bytes::BytesMut;

    fn batch(base: i64, pid: i64, transactional: bool, values: &[&str]) -> Bytes {
        let mut buf = BytesMut::new();
        RecordBatch {
            header: BatchHeader {
                base_offset: base,
                attributes: BatchAttributes {
                    transactional,
                    ..Default::default()
                },
                last_offset_delta: values.len() as i32 - 1,
                producer_id: pid,
                producer_epoch: 0,
                base_sequence: 0,
                partition_leader_epoch: 3,
                ..Default::default()
            },
            records: values
                .iter()
                .enumerate()
                .map(|(i, v)| Record {
                    offset_delta: i as i32,
                    value: Some(Bytes::from(v.to_string())),
                    ..Default::default()
                })
                .collect(),
        }
        .encode(&mut buf)
        .expect("encode");
        buf.freeze()
    }

    fn abort_marker(offset: i64, pid: i64) -> Bytes {
        let mut buf = BytesMut::new();
        let mut marker = crate::protocol::record::end_txn_batch(pid, 0, false, 0, 0);
        marker.header.base_offset = offset;
        marker.encode(&mut buf).expect("encode");
        buf.freeze()
    }

    fn values(d: &DecodedPartition) -> Vec<String> {
        d.records
            .iter()
            .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
            .collect()
    }

    #[test]
    fn drops_records_before_the_position_and_advances() {
        let data = [
            batch(0, -1, false, &["a", "b", "c"]),
            batch(3, -1, false, &["d"]),
        ]
        .concat();
        let t: Arc<str> = Arc::from("t");
        let d = decode_partition(&t, 0, 1, Bytes::from(data), None, &DecodeOptions::default())
            .expect("decode");
        assert_eq!(values(&d), vec!["b", "c", "d"]);
        assert_eq!(d.next_position, 4);
        assert_eq!(d.records[0].leader_epoch, 3);
    }

    #[test]
    fn the_record_vector_is_allocated_once_at_its_final_size() {
        // 40 batches of 25 records: grown by doubling, the vector would end
        // at a capacity of 1024 after copying its records ten times.
        let data: Vec<u8> = (0..40)
            .flat_map(|b| batch(b * 25, -1, false, &["v"; 25]).to_vec())
            .collect();
        let t: Arc<str> = Arc::from("t");
        let opts = DecodeOptions::default();
        let d = decode_partition(&t, 0, 0, Bytes::from(data), None, &opts).expect("decode");
        assert_eq!(d.records.len(), 1000);
        assert_eq!(d.records.capacity(), 1000);
        assert_eq!(d.next_position, 1000);
    }

    #[test]
    fn read_committed_skips_aborted_transactions() {
        // pid 7 writes [x y] at 0-1 and aborts at 2; pid 8 writes [z] at 3 (committed).
        let data = [
            batch(0, 7, true, &["x", "y"]),
            abort_marker(2, 7),
            batch(3, 8, true, &["z"]),
        ]
        .concat();
        let aborted = [AbortedTransaction {
            producer_id: 7,
            first_offset: 0,
            ..Default::default()
        }];
        let t: Arc<str> = Arc::from("t");
        let committed = decode_partition(
            &t,
            0,
            0,
            Bytes::from(data.clone()),
            Some(&aborted),
            &DecodeOptions::default(),
        )
        .expect("decode");
        assert_eq!(values(&committed), vec!["z"]);
        assert_eq!(committed.next_position, 4);
        let uncommitted =
            decode_partition(&t, 0, 0, Bytes::from(data), None, &DecodeOptions::default())
                .expect("decode");
        assert_eq!(
            values(&uncommitted),
            vec!["x", "y", "z"],
            "markers are never returned"
        );
    }

    #[test]
    fn memory_counts_what_compressed_batches_decompress_to() {
        let plain = batch(0, -1, false, &["a"; 200]);
        let t: Arc<str> = Arc::from("t");
        let d = decode_partition(&t, 0, 0, plain.clone(), None, &DecodeOptions::default())
            .expect("decode");
        assert_eq!(d.memory, plain.len(), "uncompressed: the fetched bytes");

        let mut gz = RecordBatch::decode(plain, &DecodeOptions::default()).expect("decode");
        gz.header.attributes.compression = Compression::Gzip;
        let mut buf = BytesMut::new();
        gz.encode(&mut buf).expect("encode");
        let fetched = buf.freeze();
        let d = decode_partition(&t, 0, 0, fetched.clone(), None, &DecodeOptions::default())
            .expect("decode");
        assert_eq!(d.records.len(), 200);
        let decompressed = d.memory - fetched.len();
        assert!(
            decompressed > fetched.len(),
            "200 one-byte records decompress to more than their gzip batch: {decompressed} vs {}",
            fetched.len()
        );
    }

    #[test]
    fn records_share_the_fetched_buffer() {
        let data = batch(0, -1, false, &["payload"]);
        let range = data.as_ptr() as usize..data.as_ptr() as usize + data.len();
        let t: Arc<str> = Arc::from("t");
        let d = decode_partition(&t, 0, 0, data.clone(), None, &DecodeOptions::default())
            .expect("decode");
        let v = d.records[0].value.as_ref().expect("value");
        assert!(range.contains(&(v.as_ptr() as usize)), "zero-copy value");
    }

    #[test]
    fn header_scan_finds_the_decoders_next_position() {
        let data = [
            batch(0, -1, false, &["a", "b", "c"]),
            abort_marker(3, 7),
            batch(4, -1, false, &["d", "e"]),
        ]
        .concat();
        let t: Arc<str> = Arc::from("t");
        for position in [0, 2, 4, 6] {
            for cut in [data.len(), data.len() - 5, 30, 10, 0] {
                let slice = data.get(..cut).expect("cut");
                let decoded = decode_partition(
                    &t,
                    0,
                    position,
                    Bytes::copy_from_slice(slice),
                    None,
                    &DecodeOptions::default(),
                )
                .expect("decode");
                assert_eq!(
                    scan_next_position(slice, position),
                    Some(decoded.next_position),
                    "position {position}, {cut} bytes"
                );
            }
        }
        // A legacy (magic 1) message set: the scan declines.
        let mut legacy = vec![0u8; 40];
        legacy[11] = 28;
        legacy[16] = 1;
        assert_eq!(scan_next_position(&legacy, 0), None);
    }
}
