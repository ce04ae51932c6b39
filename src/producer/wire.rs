//! Turning batches into Produce requests and Produce responses into
//! per-batch outcomes (sans-IO).

use std::collections::BTreeMap;

use bytes::{BufMut, Bytes, BytesMut};

use super::accumulator::{Batch, TopicPartition};
use crate::protocol::messages::produce::{
    PartitionProduceData, PartitionProduceResponse, ProduceRequest, ProduceResponse,
    TopicProduceData,
};
use crate::protocol::record::{
    compress, BatchAttributes, BatchHeader, Compression, TimestampType, V2_HEADER_LEN,
};
use crate::protocol::{ErrorCode, ProtocolError};

/// The producer id and epoch an idempotent producer writes into its batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProducerIdentity {
    pub id: i64,
    pub epoch: i16,
}

impl ProducerIdentity {
    /// No idempotence.
    pub const NONE: ProducerIdentity = ProducerIdentity { id: -1, epoch: -1 };
}

/// The batch as a whole v2 record batch: its records were encoded as they
/// were appended; the first time this compresses them (into a buffer from
/// `buffer`, leaving the uncompressed ones in `batch.records` for the caller
/// to reuse), and every time it writes the header (producer id and sequence
/// may have changed since the last attempt). The records are not copied
/// again for a retry when the previous request is gone.
pub(crate) fn encode_batch<T>(
    batch: &mut Batch<T>,
    producer: ProducerIdentity,
    compression: Compression,
    transactional: bool,
    buffer: impl FnOnce() -> BytesMut,
) -> Result<Bytes, ProtocolError> {
    let mut buf = match batch.wire.take() {
        Some(previous) => previous
            .try_into_mut()
            .unwrap_or_else(|shared| BytesMut::from(&shared[..])),
        None => match compression {
            Compression::None => std::mem::take(&mut batch.records),
            codec => {
                let records = batch.records.get(V2_HEADER_LEN..).unwrap_or_default();
                let mut out = buffer();
                out.put_bytes(0, V2_HEADER_LEN);
                compress(codec, records, &mut out)?;
                out
            }
        },
    };
    let (base_timestamp, max_timestamp) = batch.timestamps();
    let count = batch.record_count();
    let header = BatchHeader {
        base_offset: 0,
        partition_leader_epoch: -1,
        attributes: BatchAttributes {
            compression,
            timestamp_type: TimestampType::CreateTime,
            transactional,
            ..BatchAttributes::default()
        },
        last_offset_delta: count.saturating_sub(1),
        base_timestamp,
        max_timestamp,
        producer_id: producer.id,
        producer_epoch: producer.epoch,
        base_sequence: batch.base_sequence.unwrap_or(-1),
    };
    header.write_v2(&mut buf, usize::try_from(count).unwrap_or(0))?;
    let bytes = buf.freeze();
    batch.wire = Some(bytes.clone());
    Ok(bytes)
}

/// Builds one Produce request from encoded batches (one per partition).
pub(crate) fn build_request(
    encoded: Vec<(TopicPartition, Bytes)>,
    acks: i16,
    timeout_ms: i32,
    transactional_id: Option<String>,
) -> ProduceRequest {
    let mut by_topic: BTreeMap<String, Vec<PartitionProduceData>> = BTreeMap::new();
    for (tp, records) in encoded {
        by_topic
            .entry(tp.topic)
            .or_default()
            .push(PartitionProduceData {
                index: tp.partition,
                records: Some(records),
                ..Default::default()
            });
    }
    ProduceRequest {
        transactional_id,
        acks,
        timeout_ms,
        topic_data: by_topic
            .into_iter()
            .map(|(name, partition_data)| TopicProduceData {
                name,
                partition_data,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// The broker's answer for one partition; a partition missing from the
/// response is reported as `NETWORK_EXCEPTION` (retriable).
pub(crate) fn partition_result<'a>(
    resp: &'a ProduceResponse,
    tp: &TopicPartition,
) -> Result<&'a PartitionProduceResponse, ErrorCode> {
    resp.responses
        .iter()
        .filter(|t| t.name == tp.topic)
        .flat_map(|t| t.partition_responses.iter())
        .find(|p| p.index == tp.partition)
        .ok_or(ErrorCode::NETWORK_EXCEPTION)
}

/// Splits batches into requests: each stays under `max_request_size` (a
/// single larger batch travels alone) and carries at most one batch per
/// partition, in the order given.
pub(crate) fn split_requests<T>(
    batches: Vec<(Batch<T>, Bytes)>,
    max_request_size: usize,
) -> Vec<Vec<(Batch<T>, Bytes)>> {
    let mut groups: Vec<Vec<(Batch<T>, Bytes)>> = Vec::new();
    let mut size = 0;
    for item in batches {
        let len = item.1.len() + 64;
        let fits = |g: &Vec<(Batch<T>, Bytes)>| {
            size + len <= max_request_size && !g.iter().any(|(b, _)| b.tp == item.0.tp)
        };
        match groups.last_mut() {
            Some(g) if fits(g) => {
                size += len;
                g.push(item);
            }
            _ => {
                size = len;
                groups.push(vec![item]);
            }
        }
    }
    groups
}
