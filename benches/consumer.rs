//! kafkit's consumer against librdkafka's, same broker, same run.
//!
//! ```text
//! cargo bench --bench consumer            # full table
//! cargo test --bench consumer             # smoke run: one small case
//! ```
//!
//! The broker is librdkafka's mock cluster in a separate process (the
//! `mock_cluster` example, built on demand). Each case's topic is preloaded
//! once (by kafkit's producer: 64 KiB batches, the case's codec), then read
//! from the beginning by each client in turn, each in a child process of
//! this bench (so its CPU time and peak RSS are its own): the child connects,
//! assigns every partition from the earliest offset and reads until it has
//! seen every record the partitions hold (the sum of high minus low
//! watermarks), touching each key and value. It reports the wall time from
//! the assignment to the last record, its CPU time (utime+stime from
//! `/proc/self/stat`, every thread) and its peak RSS (`VmHWM`).
//!
//! A third child, `fetch-only`, measures the broker rather than a client: it
//! sends bare Fetch requests (one in flight per broker, as both clients do)
//! and reads only batch headers, no decompression, CRC or record parsing
//! (`common/fetch_only.rs`; its MB/s counts record-batch bytes). It does
//! almost no work per record, so its throughput is about what this broker
//! serves on this machine to any client; each case ends with both clients'
//! throughput as a share of it and where 1.5x rdkafka would lie. It is not a
//! strict bound: the mock's own cost per record varies by ±30 % from run to
//! run, and a real client can come out a little above it.
//!
//! The mock keeps at most 5 MB of batches per partition, so topics have 48
//! partitions (room for 240 MB); the bench reads whatever the log holds and
//! says so if older batches were dropped. (With 96 partitions and twice the
//! records the runs would be longer, but the mock then spends about 1.5
//! instead of 0.9 µs per 1 KiB record and every client slows down.)
//!
//! Both clients get the same settings: fetch.min.bytes 1, fetch.wait.max.ms
//! 500, max.partition.fetch.bytes 1 MiB, fetch.max.bytes 50 MiB, 64 MiB
//! prefetch buffer.
//!
//! Environment: `KAFKA_BROKERS` (use that cluster; topics are created by
//! auto-creation), `BENCH_RECORDS` (records of 100 B per case, default
//! 1000000; 1 KiB cases use a fifth), `BENCH_REPS` (runs per client and case,
//! default 3; the median is shown), `BENCH_CASES` (a substring filter on the
//! case name), `BENCH_CLIENTS` (a list such as `kafkit,fetch-only` to run
//! only those).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafkit::consumer::{Consumer, ConsumerConfig, OffsetReset};
use kafkit::producer::{Acks, Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::record::Compression;
use kafkit::ClientConfig;
use rdkafka::config::ClientConfig as RdConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

mod common;
#[path = "common/fetch_only.rs"]
mod fetch_only;

use common::{cpu_time, median, peak_rss_kb, BoxError, Broker};

const PARTITIONS: i32 = 48;
/// How long one client may take to read a case.
const READ_LIMIT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy)]
struct Case {
    value_bytes: usize,
    compression: Compression,
}

impl Case {
    fn name(&self) -> String {
        let size = if self.value_bytes >= 1024 {
            format!("{}KiB", self.value_bytes / 1024)
        } else {
            format!("{}B", self.value_bytes)
        };
        format!("{size} {}", self.compression.name())
    }

    fn topic(&self) -> String {
        format!("consume-{}-{}", self.value_bytes, self.compression.name())
    }
}

/// One client's run, as its child process reports it.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    records: u64,
    bytes: u64,
    wall: f64,
    cpu: f64,
    rss_kb: u64,
    /// CPU time the broker process spent meanwhile (0 for `KAFKA_BROKERS`).
    broker_cpu: f64,
}

impl Sample {
    fn parse(line: &str) -> Option<Self> {
        let mut f = line.strip_prefix("RESULT ")?.split_whitespace();
        Some(Self {
            records: f.next()?.parse().ok()?,
            bytes: f.next()?.parse().ok()?,
            wall: f.next()?.parse().ok()?,
            cpu: f.next()?.parse().ok()?,
            rss_kb: f.next()?.parse().ok()?,
            broker_cpu: 0.0,
        })
    }
}

/// Writes `n` records of the case to its topic with kafkit's producer.
async fn preload(bootstrap: &str, case: &Case, n: usize) -> Result<(), BoxError> {
    let config = ProducerConfig::default()
        .with_acks(Acks::Leader)
        .with_compression(case.compression)
        .with_linger(Duration::from_millis(5))
        .with_batch_size(64 * 1024)
        .with_buffer_memory(512 * 1024 * 1024);
    let producer = Producer::connect(ClientConfig::new([bootstrap]), config).await?;
    // Half a fixed template, half pseudo-random letters: compressible, not trivially.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let template = b"{\"event\":\"page_view\",\"site\":\"example.org\",\"path\":\"/a/b/c\"}";
    let values: Vec<Bytes> = (0..512)
        .map(|_| {
            let mut v: Vec<u8> = template
                .iter()
                .copied()
                .cycle()
                .take(case.value_bytes / 2)
                .collect();
            while v.len() < case.value_bytes {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                v.push(b'a' + (state % 26) as u8);
            }
            Bytes::from(v)
        })
        .collect();
    let mut pending = Vec::with_capacity(n);
    for i in 0..n {
        let record = ProducerRecord::new(case.topic())
            .key(format!("key-{:05}", i % 10_000))
            .value(values[(i * 7) % values.len()].clone());
        pending.push(producer.enqueue(record).await?);
    }
    for p in pending {
        p.await?;
    }
    producer.close(Duration::from_secs(10)).await?;
    Ok(())
}

/// Low and high watermarks of every partition (librdkafka's view).
fn watermarks(bootstrap: &str, topic: &str) -> Result<Vec<(i32, i64, i64)>, BoxError> {
    let c: BaseConsumer = RdConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    (0..PARTITIONS)
        .map(|p| {
            let (lo, hi) = c.fetch_watermarks(topic, p, Duration::from_secs(10))?;
            Ok((p, lo, hi))
        })
        .collect()
}

// ----- child processes -------------------------------------------------------

/// `--child CLIENT BOOTSTRAP TOPIC EXPECTED`: reads and prints a RESULT line.
fn child(args: &[String]) -> Result<(), BoxError> {
    let [client, bootstrap, topic, expected] = args else {
        return Err("child: CLIENT BOOTSTRAP TOPIC EXPECTED".into());
    };
    let expected: u64 = expected.parse()?;
    let (records, bytes, wall, cpu) = match client.as_str() {
        "kafkit" => kafkit_read(bootstrap, topic, expected)?,
        "rdkafka" => rdkafka_read(bootstrap, topic, expected)?,
        "fetch-only" => fetch_only_read(bootstrap, topic, expected)?,
        other => return Err(format!("unknown client {other}").into()),
    };
    println!(
        "RESULT {records} {bytes} {wall:.6} {cpu:.3} {}",
        peak_rss_kb()
    );
    Ok(())
}

/// (records, bytes, wall seconds, CPU seconds) from the assignment to the last record.
type Measured = (u64, u64, f64, f64);

fn kafkit_read(bootstrap: &str, topic: &str, expected: u64) -> Result<Measured, BoxError> {
    let rt = child_runtime()?;
    rt.block_on(async {
        let mut config = ConsumerConfig::default().with_offset_reset(OffsetReset::Earliest);
        config.fetch_max_wait = Duration::from_millis(500);
        config.max_partition_fetch_bytes = 1024 * 1024;
        config.fetch_max_bytes = 50 * 1024 * 1024;
        config.max_buffered_bytes = 64 * 1024 * 1024;
        let mut consumer = Consumer::connect(ClientConfig::new([bootstrap]), config).await?;
        consumer
            .client()
            .topic(topic, Duration::from_secs(10))
            .await?;
        let (start, cpu0) = (Instant::now(), cpu_seconds());
        consumer.assign_topic(topic).await?;
        let (mut records, mut bytes) = (0u64, 0u64);
        // One deadline for the whole read (a per-record timeout would cost a
        // timer and a clock read per record, which rdkafka's loop does not pay
        // as its `poll` returns straight from its queue).
        let read = async {
            while records < expected {
                let r = consumer.recv().await.ok_or("consumer closed")??;
                records += 1;
                bytes += (r.key.as_ref().map_or(0, |k| k.len())
                    + r.value.as_ref().map_or(0, |v| v.len())) as u64;
            }
            Ok::<(), BoxError>(())
        };
        tokio::time::timeout(READ_LIMIT, read)
            .await
            .map_err(|_| format!("kafkit: stalled after {records} of {expected}"))??;
        let (wall, cpu) = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
        consumer.close().await?;
        Ok((records, bytes, wall, cpu))
    })
}

/// What the broker serves: bare Fetch requests, batch headers only
/// (`fetch_only`); bytes are record-batch bytes on the wire.
fn fetch_only_read(bootstrap: &str, topic: &str, expected: u64) -> Result<Measured, BoxError> {
    let rt = child_runtime()?;
    rt.block_on(async {
        let client = kafkit::Client::connect(ClientConfig::new([bootstrap])).await?;
        let (start, cpu0) = (Instant::now(), cpu_seconds());
        let (records, bytes, last) =
            tokio::time::timeout(READ_LIMIT, fetch_only::read(&client, topic, expected))
                .await
                .map_err(|_| format!("fetch-only: stalled before {expected} records"))??;
        let (wall, cpu) = ((last - start).as_secs_f64(), cpu_seconds() - cpu0);
        client.close();
        Ok((records, bytes, wall, cpu))
    })
}

/// The runtime a kafkit-side child reads on: two workers, as the machine has.
fn child_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// This process's CPU time in seconds.
fn cpu_seconds() -> f64 {
    cpu_time("self").map_or(0.0, |d| d.as_secs_f64())
}

fn rdkafka_read(bootstrap: &str, topic: &str, expected: u64) -> Result<Measured, BoxError> {
    let consumer: BaseConsumer = RdConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "bench-rdkafka")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "500")
        .set("fetch.min.bytes", "1")
        .set("max.partition.fetch.bytes", "1048576")
        .set("fetch.max.bytes", "52428800")
        .set("queued.max.messages.kbytes", "65536")
        .create()?;
    consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let (start, cpu0) = (Instant::now(), cpu_seconds());
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let (mut records, mut bytes) = (0u64, 0u64);
    let mut idle_since = Instant::now();
    while records < expected {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                records += 1;
                bytes +=
                    (m.key().map_or(0, <[u8]>::len) + m.payload().map_or(0, <[u8]>::len)) as u64;
                idle_since = Instant::now();
            }
            Some(Err(e)) => return Err(e.into()),
            None if idle_since.elapsed() > Duration::from_secs(30) => {
                return Err(format!("rdkafka: stalled after {records} of {expected}").into())
            }
            None => {}
        }
    }
    Ok((
        records,
        bytes,
        start.elapsed().as_secs_f64(),
        cpu_seconds() - cpu0,
    ))
}

/// Runs one client in a child process.
fn run_child(
    client: &str,
    bootstrap: &str,
    topic: &str,
    expected: u64,
) -> Result<Sample, BoxError> {
    let out = Command::new(std::env::current_exe()?)
        .args(["--child", client, bootstrap, topic, &expected.to_string()])
        .stderr(Stdio::inherit())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("{client} child failed ({}): {text}", out.status).into());
    }
    text.lines()
        .find_map(Sample::parse)
        .ok_or_else(|| format!("{client} child printed no result: {text}").into())
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        return child(args.get(i + 1..).unwrap_or_default());
    }
    let full = args.iter().any(|a| a == "--bench");
    let num = |name: &str, default: usize| -> Result<usize, BoxError> {
        Ok(std::env::var(name).map_or(Ok(default), |v| v.parse())?)
    };
    let records_100b = if full {
        num("BENCH_RECORDS", 1_000_000)?
    } else {
        20_000
    };
    let reps = if full {
        num("BENCH_REPS", 3)?.max(1)
    } else {
        1
    };
    let filter = std::env::var("BENCH_CASES").unwrap_or_default();
    let only = std::env::var("BENCH_CLIENTS").unwrap_or_default();
    let mut cases = Vec::new();
    for value_bytes in [100, 1024] {
        for compression in [Compression::None, Compression::Lz4] {
            cases.push(Case {
                value_bytes,
                compression,
            });
        }
    }
    cases.retain(|c| c.name().contains(&filter));
    if !full {
        cases.truncate(1);
    }
    let mut clients = vec!["kafkit", "rdkafka", "fetch-only"];
    clients.retain(|c| only.is_empty() || only.contains(c));

    let topics: Vec<String> = cases.iter().map(Case::topic).collect();
    let broker = Broker::start(&topics, PARTITIONS)?;
    let rt = tokio::runtime::Runtime::new()?;
    println!(
        "broker {} ({}), {PARTITIONS} partitions, {reps} run(s) per client and case, medians shown",
        broker.bootstrap,
        if broker.is_mock() {
            "mock_cluster process"
        } else {
            "KAFKA_BROKERS"
        }
    );
    println!(
        "\n{:<12} {:<10} {:>8} {:>10} {:>8} {:>11} {:>9} {:>13}",
        "case", "client", "records", "records/s", "MB/s", "CPU µs/rec", "peak RSS", "broker µs/rec"
    );
    for case in &cases {
        let n = if case.value_bytes >= 1024 {
            records_100b / 5
        } else {
            records_100b
        };
        rt.block_on(preload(&broker.bootstrap, case, n))?;
        let marks = watermarks(&broker.bootstrap, &case.topic())?;
        let stored: i64 = marks.iter().map(|(_, lo, hi)| hi - lo).sum();
        let dropped: i64 = marks.iter().map(|(_, lo, _)| lo).sum();
        if dropped > 0 {
            println!(
                "({}: the mock dropped {dropped} old records; reading the {stored} it holds)",
                case.name()
            );
        }
        let expected = u64::try_from(stored)?;
        let mut results: Vec<(&str, Vec<Sample>)> =
            clients.iter().map(|c| (*c, Vec::new())).collect();
        for rep in 0..reps {
            let mut order = clients.clone();
            if rep % 2 == 1 {
                order.reverse();
            }
            for client in order {
                let broker_cpu = broker.cpu();
                let mut s = run_child(client, &broker.bootstrap, &case.topic(), expected)?;
                s.broker_cpu = match (broker_cpu, broker.cpu()) {
                    (Some(before), Some(after)) => after.saturating_sub(before).as_secs_f64(),
                    _ => 0.0,
                };
                if let Some((_, v)) = results.iter_mut().find(|(c, _)| *c == client) {
                    v.push(s);
                }
            }
        }
        let mut rows = Vec::new();
        for (client, samples) in &results {
            let rps = median(samples.iter().map(|s| s.records as f64 / s.wall).collect());
            let mbps = median(
                samples
                    .iter()
                    .map(|s| s.bytes as f64 / s.wall / 1e6)
                    .collect(),
            );
            let cpu = median(
                samples
                    .iter()
                    .map(|s| s.cpu * 1e6 / s.records as f64)
                    .collect(),
            );
            let rss = median(samples.iter().map(|s| s.rss_kb as f64 / 1024.0).collect());
            let broker_cpu = median(
                samples
                    .iter()
                    .map(|s| s.broker_cpu * 1e6 / s.records as f64)
                    .collect(),
            );
            println!(
                "{:<12} {:<10} {:>8} {:>10.0} {:>8.1} {:>11.3} {:>6.0} MB {:>13.3}",
                case.name(),
                client,
                expected,
                rps,
                mbps,
                cpu,
                rss,
                broker_cpu
            );
            rows.push((*client, rps, cpu, rss));
        }
        let row = |name: &str| rows.iter().find(|r| r.0 == name).copied();
        if let (Some((_, k_rps, k_cpu, k_rss)), Some((_, r_rps, r_cpu, r_rss))) =
            (row("kafkit"), row("rdkafka"))
        {
            println!(
                "{:<12} {:<10} {:>8} {:>9.2}x {:>8} {:>10.2}x {:>8.2}x",
                "",
                "k/r",
                "",
                k_rps / r_rps,
                "",
                k_cpu / r_cpu,
                k_rss / r_rss
            );
            if let Some((_, c_rps, _, _)) = row("fetch-only") {
                println!(
                    "{:<12} {:<10} {:>8} kafkit at {:.0}% and rdkafka at {:.0}% of fetch-only; \
                     1.5x rdkafka would be {:.0}% of it",
                    "",
                    "",
                    "",
                    100.0 * k_rps / c_rps,
                    100.0 * r_rps / c_rps,
                    150.0 * r_rps / c_rps
                );
            }
        }
    }
    Ok(())
}
