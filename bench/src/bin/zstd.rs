//! kafkit's zstd (pure-Rust `ruzstd`, through `kafkit::protocol::record::compress`)
//! against the C zstd librdkafka and the Java client use, on record-batch
//! payloads: the records section of a v2 batch of JSON-like records of
//! 10 B, 100 B and 1 KiB, in batches of about 16 KiB (Java's `batch.size`)
//! and 1 MiB (about librdkafka's).
//!
//! Prints, per payload: compression MB/s and ratio (input / output) for
//! kafkit and C zstd at levels 1 and 3 (3 is Kafka's and librdkafka's
//! default), and decompression MB/s of kafkit's frames by ruzstd and C.
//! Each figure is the best of several interleaved timed loops.
//!
//! Run: `cargo run --release --bin bench-zstd` in bench/.

use std::hint::black_box;
use std::io::Read;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafkit::protocol::record::{compress, BatchHeader, Compression, Record, RecordBatch};

const KEYS: [&str; 8] = [
    "id", "user", "event", "page", "session", "ts", "country", "amount",
];
const VALUES: [&str; 8] = [
    "click",
    "view",
    "\"/home\"",
    "true",
    "false",
    "\"DE\"",
    "\"US\"",
    "null",
];

/// A JSON-like value of exactly `size` bytes.
fn value(size: usize, state: &mut u64) -> Vec<u8> {
    let mut next = || {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    };
    let mut out = b"{".to_vec();
    while out.len() < size {
        let r = next();
        out.extend_from_slice(format!("\"{}\":", KEYS[(r % 8) as usize]).as_bytes());
        if r & 0x100 == 0 {
            out.extend_from_slice(VALUES[((r >> 3) % 8) as usize].as_bytes());
        } else {
            out.extend_from_slice((r >> 20 & 0xFFFFF).to_string().as_bytes());
        }
        out.push(b',');
    }
    out.truncate(size);
    out
}

/// The records section (what the codec compresses) of a batch of records
/// of `size` bytes, about `total` bytes in all.
fn records_section(size: usize, total: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15 ^ size as u64;
    let count = (total / (size + 20)).max(1);
    let records = (0..count)
        .map(|i| Record {
            timestamp_delta: i as i64,
            offset_delta: i as i32,
            key: None,
            value: Some(Bytes::from(value(size, &mut state))),
            ..Record::default()
        })
        .collect();
    let batch = RecordBatch {
        header: BatchHeader::default(),
        records,
    };
    let mut buf = BytesMut::new();
    batch.encode(&mut buf).expect("encode");
    buf[61..].to_vec()
}

fn best(rounds: u32, f: &mut dyn FnMut()) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        let mut calls = 0u32;
        while start.elapsed() < Duration::from_millis(20) {
            f();
            calls += 1;
        }
        best = best.min(start.elapsed() / calls);
    }
    best
}

fn main() {
    let rounds = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(15);
    println!(
        "| payload | kafkit (ruzstd Fastest) MB/s | ratio | C zstd -1 MB/s | ratio | C zstd -3 MB/s | ratio | decode kafkit MB/s | decode C MB/s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for total in [16 << 10, 1 << 20] {
        for size in [10, 100, 1024] {
            let input = records_section(size, total);
            let mut ours = BytesMut::new();
            compress(Compression::Zstd, &input, &mut ours).expect("zstd");
            let c1 = zstd::bulk::compress(&input, 1).expect("zstd 1");
            let c3 = zstd::bulk::compress(&input, 3).expect("zstd 3");
            let (mut t_ours, mut t1, mut t3, mut d_ours, mut d_c) = (
                Duration::MAX,
                Duration::MAX,
                Duration::MAX,
                Duration::MAX,
                Duration::MAX,
            );
            // Interleaved: each round times every function once.
            for _ in 0..rounds {
                t_ours = t_ours.min(best(1, &mut || {
                    let mut out = BytesMut::new();
                    compress(Compression::Zstd, &input, &mut out).expect("zstd");
                    black_box(out);
                }));
                t1 = t1.min(best(1, &mut || {
                    black_box(zstd::bulk::compress(&input, 1).expect("zstd"));
                }));
                t3 = t3.min(best(1, &mut || {
                    black_box(zstd::bulk::compress(&input, 3).expect("zstd"));
                }));
                d_ours = d_ours.min(best(1, &mut || {
                    let mut out = Vec::with_capacity(input.len());
                    let mut frame = &ours[..];
                    ruzstd::decoding::StreamingDecoder::new(&mut frame)
                        .expect("frame")
                        .read_to_end(&mut out)
                        .expect("decode");
                    assert_eq!(out.len(), input.len());
                    black_box(out);
                }));
                d_c = d_c.min(best(1, &mut || {
                    let out = zstd::bulk::decompress(&ours, input.len()).expect("decode");
                    black_box(out);
                }));
            }
            let mbs = |t: Duration| input.len() as f64 / t.as_secs_f64() / 1e6;
            let ratio = |n: usize| input.len() as f64 / n as f64;
            println!(
                "| {} KiB of {} B records | {:.0} | {:.2} | {:.0} | {:.2} | {:.0} | {:.2} | {:.0} | {:.0} |",
                input.len() >> 10,
                size,
                mbs(t_ours),
                ratio(ours.len()),
                mbs(t1),
                ratio(c1.len()),
                mbs(t3),
                ratio(c3.len()),
                mbs(d_ours),
                mbs(d_c),
            );
        }
    }
}
