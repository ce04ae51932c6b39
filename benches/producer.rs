//! kafkit's producer against librdkafka's `FutureProducer`, same broker, same run.
//!
//! ```text
//! cargo bench --bench producer            # full table
//! cargo test --bench producer             # smoke run: one small case
//! ```
//!
//! The broker is librdkafka's mock cluster in a separate process (the
//! `mock_cluster` example, built on demand), so the CPU time this process
//! spends is the client's alone. The clients run one after the other in this
//! process; each run's CPU time is the difference of this process's
//! utime+stime (`/proc/self/stat`) around it, so it covers every thread the
//! client uses (tokio workers, librdkafka's broker threads). Each run sends a
//! warm-up first (connections, metadata, producer id), then the measured
//! records, and waits for every delivery report. The mock keeps at most
//! 5 MB per partition, so long runs do not fill memory. CPU times come in
//! clock ticks (10 ms): runs are sized to last about a second.
//!
//! Both clients get the same settings: linger 5 ms, the same batch size,
//! at most 5 requests in flight (kafkit without idempotence: with reordering
//! on retries allowed, as librdkafka's), the same codec and acks, murmur2 key
//! partitioning, buffers large enough that `send` never waits.
//!
//! Environment: `KAFKA_BROKERS` (use that cluster; topics are auto-created),
//! `BENCH_RECORDS` (records of 100 B per run, default 500000; 1 KiB runs send
//! a quarter), `BENCH_REPS` (runs per client and case, default 5; the median
//! is reported), `BENCH_BATCH_BYTES` (default 262144), `BENCH_CASES` (a
//! substring filter on the case name), `BENCH_CLIENTS` (`kafkit` or
//! `rdkafka` to run only that one, e.g. under a profiler).

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafkit::producer::{Acks, Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::record::Compression;
use kafkit::ClientConfig;
use rdkafka::config::ClientConfig as RdConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

mod common;

use common::{cpu_time, median, BoxError, Broker};

const PARTITIONS: i32 = 6;
const WARMUP: usize = 2_000;

#[derive(Clone, Copy)]
struct Case {
    value_bytes: usize,
    compression: Compression,
    idempotent: bool,
}

impl Case {
    fn name(&self) -> String {
        let size = if self.value_bytes >= 1024 {
            format!("{}KiB", self.value_bytes / 1024)
        } else {
            format!("{}B", self.value_bytes)
        };
        let acks = if self.idempotent {
            "acks=all+idem"
        } else {
            "acks=1"
        };
        format!("{size} {} {acks}", self.compression.name())
    }
}

struct Plan {
    cases: Vec<Case>,
    records_100b: usize,
    reps: usize,
    batch_bytes: usize,
}

impl Plan {
    fn from_env(full: bool) -> Result<Self, BoxError> {
        let num = |name: &str, default: usize| -> Result<usize, BoxError> {
            match std::env::var(name) {
                Ok(v) => Ok(v.parse()?),
                Err(_) => Ok(default),
            }
        };
        let filter = std::env::var("BENCH_CASES").unwrap_or_default();
        let mut cases = Vec::new();
        for value_bytes in [100, 1024] {
            for compression in [Compression::None, Compression::Lz4] {
                for idempotent in [false, true] {
                    cases.push(Case {
                        value_bytes,
                        compression,
                        idempotent,
                    });
                }
            }
        }
        cases.retain(|c| c.name().contains(&filter));
        if !full {
            // `cargo test`: one small run per client proves the harness works.
            cases.truncate(1);
        }
        Ok(Self {
            cases,
            records_100b: if full {
                num("BENCH_RECORDS", 500_000)?
            } else {
                3_000
            },
            reps: if full {
                num("BENCH_REPS", 5)?.max(1)
            } else {
                1
            },
            batch_bytes: num("BENCH_BATCH_BYTES", 256 * 1024)?,
        })
    }

    fn records(&self, case: &Case) -> usize {
        if case.value_bytes >= 1024 {
            self.records_100b / 4
        } else {
            self.records_100b
        }
    }

    fn topic(case_index: usize, client: Client, rep: usize) -> String {
        format!("bench-{case_index}-{}-{rep}", client.name())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Client {
    Kafkit,
    Rdkafka,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::Kafkit => "kafkit",
            Client::Rdkafka => "rdkafka",
        }
    }
}

/// The records every client sends: keys and values cycle through fixed pools.
struct Workload {
    keys: Vec<Bytes>,
    values: Vec<Bytes>,
}

impl Workload {
    fn new(value_bytes: usize) -> Self {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let keys = (0..10_000)
            .map(|i| Bytes::from(format!("key-{i:05}")))
            .collect();
        // Half a fixed template, half random letters: compressible, not trivially.
        let template = b"{\"event\":\"page_view\",\"site\":\"example.org\",\"path\":\"/a/b/c\"}";
        let values = (0..512)
            .map(|_| {
                let mut v: Vec<u8> = template
                    .iter()
                    .copied()
                    .cycle()
                    .take(value_bytes / 2)
                    .collect();
                v.extend((v.len()..value_bytes).map(|_| b'a' + (next() % 26) as u8));
                Bytes::from(v)
            })
            .collect();
        Self { keys, values }
    }

    fn record(&self, i: usize) -> (&Bytes, &Bytes) {
        let key = &self.keys[i % self.keys.len()];
        let value = &self.values[(i * 7) % self.values.len()];
        (key, value)
    }
}

/// One measured run.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    records: usize,
    bytes: usize,
    wall: Duration,
    cpu: Duration,
    broker_cpu: Option<Duration>,
}

impl Sample {
    fn records_per_s(&self) -> f64 {
        self.records as f64 / self.wall.as_secs_f64()
    }
    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / self.wall.as_secs_f64() / 1e6
    }
    fn cpu_us_per_record(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.records as f64
    }
    fn broker_us_per_record(&self) -> Option<f64> {
        self.broker_cpu
            .map(|c| c.as_secs_f64() * 1e6 / self.records as f64)
    }
}

struct Harness {
    rt: tokio::runtime::Runtime,
    broker: Broker,
    batch_bytes: usize,
}

impl Harness {
    /// Runs `client` on `topic`: a warm-up, then `n` measured records.
    fn run(
        &self,
        client: Client,
        case: &Case,
        topic: &str,
        work: &Workload,
        n: usize,
    ) -> Result<Sample, BoxError> {
        match client {
            Client::Kafkit => self.rt.block_on(self.kafkit(case, topic, work, n)),
            Client::Rdkafka => self.rt.block_on(self.rdkafka(case, topic, work, n)),
        }
    }

    fn measure_start(&self) -> (Instant, Option<Duration>, Option<Duration>) {
        (Instant::now(), cpu_time("self"), self.broker.cpu())
    }

    fn measure_end(
        &self,
        start: (Instant, Option<Duration>, Option<Duration>),
        records: usize,
        bytes: usize,
    ) -> Sample {
        let wall = start.0.elapsed();
        let cpu = cpu_time("self")
            .zip(start.1)
            .map(|(b, a)| b.saturating_sub(a))
            .unwrap_or_default();
        let broker_cpu = self
            .broker
            .cpu()
            .zip(start.2)
            .map(|(b, a)| b.saturating_sub(a));
        Sample {
            records,
            bytes,
            wall,
            cpu,
            broker_cpu,
        }
    }

    async fn kafkit(
        &self,
        case: &Case,
        topic: &str,
        work: &Workload,
        n: usize,
    ) -> Result<Sample, BoxError> {
        let config = ProducerConfig::default()
            .with_acks(if case.idempotent {
                Acks::All
            } else {
                Acks::Leader
            })
            .with_idempotence(case.idempotent)
            .with_compression(case.compression)
            .with_linger(Duration::from_millis(5))
            .with_batch_size(self.batch_bytes)
            .with_max_in_flight(5)
            // librdkafka with max.in.flight=5 and no idempotence may reorder
            // on retries too; kafkit keeps one batch in flight unless told.
            .with_reordering_allowed(true)
            .with_buffer_memory(1 << 30);
        let producer =
            Producer::connect(ClientConfig::new([&self.broker.bootstrap]), config).await?;
        let send = |count: usize| {
            let producer = producer.clone();
            async move {
                let mut bytes = 0;
                let mut futures = Vec::with_capacity(count);
                for i in 0..count {
                    let (key, value) = work.record(i);
                    bytes += key.len() + value.len();
                    let record = ProducerRecord::new(topic)
                        .key(key.clone())
                        .value(value.clone());
                    futures.push(producer.enqueue(record).await?);
                }
                for f in futures {
                    f.await?;
                }
                Ok::<usize, kafkit::Error>(bytes)
            }
        };
        send(WARMUP).await?;
        let start = self.measure_start();
        let bytes = send(n).await?;
        let sample = self.measure_end(start, n, bytes);
        producer.close(Duration::from_secs(10)).await?;
        Ok(sample)
    }

    async fn rdkafka(
        &self,
        case: &Case,
        topic: &str,
        work: &Workload,
        n: usize,
    ) -> Result<Sample, BoxError> {
        let producer: FutureProducer = RdConfig::new()
            .set("bootstrap.servers", &self.broker.bootstrap)
            .set("acks", if case.idempotent { "all" } else { "1" })
            .set("enable.idempotence", case.idempotent.to_string())
            .set("compression.codec", case.compression.name())
            .set("linger.ms", "5")
            .set("batch.size", self.batch_bytes.to_string())
            .set("max.in.flight", "5")
            .set("partitioner", "murmur2_random")
            .set("queue.buffering.max.messages", "2000000")
            .set("queue.buffering.max.kbytes", "1048576")
            .create()?;
        let send = |count: usize| {
            let producer = &producer;
            async move {
                let mut bytes = 0;
                let mut futures = Vec::with_capacity(count);
                for i in 0..count {
                    let (key, value) = work.record(i);
                    bytes += key.len() + value.len();
                    let record = FutureRecord::to(topic)
                        .key(key.as_ref())
                        .payload(value.as_ref());
                    let future = producer.send_result(record).map_err(|(e, _)| e)?;
                    futures.push(future);
                }
                for f in futures {
                    f.await?.map_err(|(e, _)| e)?;
                }
                Ok::<usize, BoxError>(bytes)
            }
        };
        send(WARMUP).await?;
        let start = self.measure_start();
        let bytes = send(n).await?;
        Ok(self.measure_end(start, n, bytes))
    }
}

/// Medians of (records/s, MB/s, CPU µs/record, broker µs/record).
fn summarize(samples: &[Sample]) -> (f64, f64, f64, Option<f64>) {
    let broker: Option<Vec<f64>> = samples.iter().map(Sample::broker_us_per_record).collect();
    (
        median(samples.iter().map(Sample::records_per_s).collect()),
        median(samples.iter().map(Sample::mb_per_s).collect()),
        median(samples.iter().map(Sample::cpu_us_per_record).collect()),
        broker.map(median),
    )
}

fn main() -> Result<(), BoxError> {
    let full = std::env::args().any(|a| a == "--bench");
    let plan = Plan::from_env(full)?;
    let only = std::env::var("BENCH_CLIENTS").unwrap_or_default();
    let mut clients = vec![Client::Kafkit, Client::Rdkafka];
    clients.retain(|c| only.is_empty() || only.contains(c.name()));
    let mut topics = Vec::new();
    for i in 0..plan.cases.len() {
        for &client in &clients {
            for rep in 0..plan.reps {
                topics.push(Plan::topic(i, client, rep));
            }
        }
    }
    let harness = Harness {
        rt: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?,
        broker: Broker::start(&topics, PARTITIONS)?,
        batch_bytes: plan.batch_bytes,
    };
    println!(
        "broker {} ({}), batch size {} B, linger 5 ms, {} run(s) per client and case, medians shown",
        harness.broker.bootstrap,
        if harness.broker.is_mock() {
            "mock_cluster process"
        } else {
            "KAFKA_BROKERS"
        },
        plan.batch_bytes,
        plan.reps
    );
    println!(
        "\n{:<24} {:<8} {:>8} {:>10} {:>8} {:>11} {:>12}",
        "case", "client", "records", "records/s", "MB/s", "CPU µs/rec", "broker µs/rec"
    );
    for (i, case) in plan.cases.iter().enumerate() {
        let n = plan.records(case);
        let work = Workload::new(case.value_bytes);
        let mut results = Vec::new();
        for &client in &clients {
            results.push((client, Vec::new()));
        }
        for rep in 0..plan.reps {
            // Alternate who goes first, so neither always runs on a warmer broker.
            let mut order = clients.clone();
            if rep % 2 == 1 {
                order.reverse();
            }
            for client in order {
                let topic = Plan::topic(i, client, rep);
                let sample = harness.run(client, case, &topic, &work, n)?;
                if let Some((_, samples)) = results.iter_mut().find(|(c, _)| *c == client) {
                    samples.push(sample);
                }
            }
        }
        let mut rows = Vec::new();
        for (client, samples) in &results {
            let (rps, mbps, cpu, broker) = summarize(samples);
            println!(
                "{:<24} {:<8} {:>8} {:>10.0} {:>8.1} {:>11.2} {:>12}",
                case.name(),
                client.name(),
                n,
                rps,
                mbps,
                cpu,
                broker.map_or("-".to_owned(), |b| format!("{b:.2}"))
            );
            rows.push((rps, cpu));
        }
        if let [(k_rps, k_cpu), (r_rps, r_cpu)] = rows[..] {
            println!(
                "{:<24} {:<8} {:>8} {:>9.2}x {:>8} {:>10.2}x",
                "",
                "k/r",
                "",
                k_rps / r_rps,
                "",
                k_cpu / r_cpu
            );
        }
    }
    Ok(())
}
