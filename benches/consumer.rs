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
//! The mock keeps at most 5 MB of batches per partition, so topics have 48
//! partitions (room for 240 MB); the bench reads whatever the log holds and
//! says so if older batches were dropped.
//!
//! Both clients get the same settings: fetch.min.bytes 1, fetch.wait.max.ms
//! 500, max.partition.fetch.bytes 1 MiB, fetch.max.bytes 50 MiB, 64 MiB
//! prefetch buffer.
//!
//! Environment: `KAFKA_BROKERS` (use that cluster; topics are created by
//! auto-creation), `BENCH_RECORDS` (records of 100 B per case, default
//! 1000000; 1 KiB cases use a fifth), `BENCH_REPS` (runs per client and case,
//! default 3; the median is shown), `BENCH_CASES` (a substring filter on the
//! case name), `BENCH_CLIENTS` (`kafkit` or `rdkafka` to run only that one).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
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

type BoxError = Box<dyn std::error::Error>;

const PARTITIONS: i32 = 48;

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

/// utime+stime of this process, from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    process_cpu_seconds("self")
}

/// utime+stime of process `pid` (`self` for this one).
fn process_cpu_seconds(pid: &str) -> f64 {
    let ticks = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    (field(11).unwrap_or(0.0) + field(12).unwrap_or(0.0)) / ticks
}

/// Peak resident set size of this process in KiB (`VmHWM`).
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The broker: a `mock_cluster` child process, or `KAFKA_BROKERS`.
struct Broker {
    bootstrap: String,
    child: Option<Child>,
}

impl Broker {
    fn start(topics: &[String]) -> Result<Self, BoxError> {
        if let Ok(bootstrap) = std::env::var("KAFKA_BROKERS") {
            return Ok(Self {
                bootstrap,
                child: None,
            });
        }
        let exe = mock_cluster_exe()?;
        let mut child = Command::new(&exe)
            .args(["--brokers", "3"])
            .args(topics.iter().map(|t| format!("{t}:{PARTITIONS}")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawning {}: {e}", exe.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout);
        let mut first = String::new();
        lines.read_line(&mut first)?;
        std::thread::spawn(move || for _ in lines.lines() {});
        let bootstrap = first.trim().to_owned();
        if bootstrap.is_empty() {
            return Err("mock_cluster printed no bootstrap servers".into());
        }
        Ok(Self {
            bootstrap,
            child: Some(child),
        })
    }
}

impl Broker {
    /// The broker process's CPU seconds so far.
    fn cpu(&self) -> f64 {
        self.child
            .as_ref()
            .map_or(0.0, |c| process_cpu_seconds(&c.id().to_string()))
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }
}

/// The `mock_cluster` example next to this bench binary, built first.
fn mock_cluster_exe() -> Result<std::path::PathBuf, BoxError> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or("cannot locate the target directory")?;
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    build.args(["build", "--quiet", "--example", "mock_cluster"]);
    if profile_dir.file_name().is_some_and(|n| n != "debug") {
        build.arg("--release");
    }
    if !build.status()?.success() {
        return Err("cargo build --example mock_cluster failed".into());
    }
    Ok(profile_dir.join("examples").join("mock_cluster"))
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
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
        while records < expected {
            let r = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
                .await
                .map_err(|_| format!("kafkit: stalled after {records} of {expected}"))?
                .ok_or("consumer closed")??;
            records += 1;
            bytes += (r.key.as_ref().map_or(0, |k| k.len())
                + r.value.as_ref().map_or(0, |v| v.len())) as u64;
        }
        let (wall, cpu) = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
        consumer.close().await?;
        Ok((records, bytes, wall, cpu))
    })
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

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
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
    let mut clients = vec!["kafkit", "rdkafka"];
    clients.retain(|c| only.is_empty() || only.contains(c));

    let topics: Vec<String> = cases.iter().map(Case::topic).collect();
    let broker = Broker::start(&topics)?;
    let rt = tokio::runtime::Runtime::new()?;
    println!(
        "broker {} ({}), {PARTITIONS} partitions, {reps} run(s) per client and case, medians shown",
        broker.bootstrap,
        if broker.child.is_some() {
            "mock_cluster process"
        } else {
            "KAFKA_BROKERS"
        }
    );
    println!(
        "\n{:<12} {:<8} {:>8} {:>10} {:>8} {:>11} {:>9} {:>13}",
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
                s.broker_cpu = broker.cpu() - broker_cpu;
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
                "{:<12} {:<8} {:>8} {:>10.0} {:>8.1} {:>11.3} {:>6.0} MB {:>13.3}",
                case.name(),
                client,
                expected,
                rps,
                mbps,
                cpu,
                rss,
                broker_cpu
            );
            rows.push((rps, cpu, rss));
        }
        if let [(k_rps, k_cpu, k_rss), (r_rps, r_cpu, r_rss)] = rows[..] {
            println!(
                "{:<12} {:<8} {:>8} {:>9.2}x {:>8} {:>10.2}x {:>8.2}x",
                "",
                "k/r",
                "",
                k_rps / r_rps,
                "",
                k_cpu / r_cpu,
                k_rss / r_rss
            );
        }
    }
    Ok(())
}
