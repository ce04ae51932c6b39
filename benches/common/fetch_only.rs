//! The most a client can read from a broker: Fetch requests and nothing else.
//!
//! One task per leader sends a Fetch for all of that leader's partitions at
//! their current offsets, waits for the answer, reads only the v2 batch
//! headers in it (base offset, last offset delta, record count) to advance
//! the offsets, and sends the next Fetch. Records are neither decompressed
//! nor checked nor parsed, so this client's own cost per record is close to
//! nothing and its throughput is about what the broker (and the shared
//! machine) serves with one Fetch in flight per broker — the same pattern
//! both measured clients use. It goes through kafkit's connection and codecs, so
//! it measures the broker, not a different network stack.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use kafkit::protocol::messages::fetch::{FetchPartition, FetchRequest, FetchTopic};
use kafkit::protocol::ErrorCode;
use kafkit::Client;

use super::BoxError;

/// Offsets of the v2 batch header fields read here.
const LAST_OFFSET_DELTA_AT: usize = 23;
const RECORD_COUNT_AT: usize = 57;
const BATCH_HEADER_LEN: usize = 61;

/// Reads `expected` records of `topic` from the earliest offsets with bare
/// Fetch requests; returns (records, bytes of record batches, when the last
/// record arrived). Leaders that run out of records first have a Fetch parked
/// at the broker (up to its max wait), which is not counted.
pub async fn read(
    client: &Client,
    topic: &str,
    expected: u64,
) -> Result<(u64, u64, Instant), BoxError> {
    let meta = client.topic(topic, Duration::from_secs(10)).await?;
    let mut by_leader: HashMap<i32, Vec<i32>> = HashMap::new();
    for p in &meta.partitions {
        let leader = p.leader.ok_or("partition without leader")?;
        by_leader.entry(leader).or_default().push(p.partition);
    }
    let records = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let (done_tx, mut done_rx) = mpsc::channel::<Result<Instant, String>>(1);
    let mut tasks = Vec::new();
    for (leader, partitions) in by_leader {
        let conn = client.broker(leader).await?;
        let (topic, topic_id) = (topic.to_owned(), meta.id);
        let (records, bytes) = (records.clone(), bytes.clone());
        let done = done_tx.clone();
        tasks.push(tokio::spawn(async move {
            let result: Result<Instant, String> = async {
                let mut offsets: Vec<(i32, i64)> = partitions.into_iter().map(|p| (p, 0)).collect();
                loop {
                    let request = FetchRequest {
                        max_wait_ms: 500,
                        min_bytes: 1,
                        max_bytes: 50 * 1024 * 1024,
                        topics: vec![FetchTopic {
                            topic: topic.clone(),
                            topic_id,
                            partitions: offsets
                                .iter()
                                .map(|&(partition, fetch_offset)| FetchPartition {
                                    partition,
                                    fetch_offset,
                                    partition_max_bytes: 1024 * 1024,
                                    ..FetchPartition::default()
                                })
                                .collect(),
                            ..FetchTopic::default()
                        }],
                        ..FetchRequest::default()
                    };
                    let response = conn.send(&request).await.map_err(|e| e.to_string())?;
                    let now = Instant::now();
                    let mut total = 0;
                    for part in response.responses.iter().flat_map(|t| &t.partitions) {
                        let Some(slot) =
                            offsets.iter_mut().find(|(p, _)| *p == part.partition_index)
                        else {
                            continue;
                        };
                        if part.error_code == ErrorCode::OFFSET_OUT_OF_RANGE {
                            slot.1 = part.log_start_offset; // older batches were dropped
                            continue;
                        }
                        if part.error_code != ErrorCode::NONE {
                            return Err(format!("fetch error {:?}", part.error_code));
                        }
                        let data = part.records.as_deref().unwrap_or_default();
                        let (next, count, used) = walk_batches(data, slot.1);
                        slot.1 = next;
                        total = records.fetch_add(count, Ordering::Relaxed) + count;
                        bytes.fetch_add(used, Ordering::Relaxed);
                    }
                    if total >= expected {
                        return Ok(now);
                    }
                }
            }
            .await;
            let _ = done.send(result).await;
        }));
    }
    drop(done_tx);
    let first = done_rx.recv().await.ok_or("no fetch task finished")?;
    for task in &tasks {
        task.abort();
    }
    let last = first?;
    Ok((
        records.load(Ordering::Relaxed),
        bytes.load(Ordering::Relaxed),
        last,
    ))
}

/// Walks the whole v2 batches in `data` that end at or after `offset`:
/// (next offset, records counted, bytes walked). A trailing partial batch is
/// left for the next Fetch.
fn walk_batches(mut data: &[u8], mut offset: i64) -> (i64, u64, u64) {
    let (mut count, mut used) = (0u64, 0u64);
    while let Some(header) = data.get(..BATCH_HEADER_LEN) {
        let int = |at: usize, n: usize| {
            header
                .get(at..at + n)
                .map_or(0, |b| b.iter().fold(0i64, |v, &x| (v << 8) | i64::from(x)))
        };
        let base = int(0, 8);
        let Ok(len) = usize::try_from(int(8, 4) + 12) else {
            break;
        };
        let Some(rest) = data.get(len..) else {
            break;
        };
        let last = base + int(LAST_OFFSET_DELTA_AT, 4);
        if last >= offset {
            count += int(RECORD_COUNT_AT, 4).unsigned_abs();
            offset = last + 1;
        }
        used += len as u64;
        data = rest;
    }
    (offset, count, used)
}
