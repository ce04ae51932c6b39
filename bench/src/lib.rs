//! What every Rust benchmark client shares: the command line, the records it
//! sends, the rate limiter of the end-to-end mode, latency percentiles and
//! the one JSON line it prints.
//!
//! Every client (`bench-kafkit`, `bench-rdkafka`, `bench-krafka`,
//! `bench-kacrab`, and the Go and Java programs beside this crate) takes the
//! same arguments and speaks the same protocol with `bench/run.py`:
//!
//! ```text
//! bench-<client> --mode produce|consume|e2e|group --brokers H:P --topic T
//!     --size BYTES --count N --compression none|lz4|zstd --acks 1|all
//!     --idempotence true|false --partitions P --rate RECORDS_PER_S
//! ```
//!
//! It prints `START` on a line of its own when the measured window opens (after
//! connecting and, for the producer, a warm-up), then one JSON line when it
//! closes: `{"client":..,"mode":..,"records":..,"bytes":..,"elapsed_s":..,
//! "records_per_s":..,"mb_per_s":..}` plus `p50_us`/`p99_us`/`p999_us` (e2e)
//! or `startup_ms` (group). The harness reads the client's and the broker's
//! CPU time from `/proc` at those two lines, so the figures cover only the
//! measured window.
//!
//! - `produce`: a warm-up of `count / 50` records (at most 5000), then `count`
//!   records of `size` bytes without key, every delivery awaited.
//! - `consume`: reads `count` records from the start of every partition of a
//!   topic the harness preloaded, without a group.
//! - `e2e`: one producer and one consumer in the process; the producer sends
//!   `count` records at `rate` records/s, each value starting with its send
//!   time (ns since the Unix epoch, little-endian), and the consumer (assigned
//!   to every partition, from the start of the fresh topic) records
//!   receive − send.
//! - `group`: joins a fresh group on a preloaded topic; `startup_ms` is the
//!   time from subscribe to the first record.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

/// Pending deliveries a Rust client keeps before awaiting the oldest, so no
/// client holds a handle per record of a long run.
pub const MAX_PENDING: usize = 100_000;

/// A boxed error for the binaries' `main`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Send records, await every delivery.
    Produce,
    /// Read a preloaded topic from the start.
    Consume,
    /// Send at a fixed rate and receive in the same process.
    E2e,
    /// Join a group and wait for the first record.
    Group,
    /// Create the topic (kafkit's binary only; used by the harness).
    Create,
    /// Transactional producer: transactions of `txn_size` records, each
    /// committed; reports commit latencies as the percentiles.
    Txn,
}

impl Mode {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Produce => "produce",
            Mode::Consume => "consume",
            Mode::E2e => "e2e",
            Mode::Group => "group",
            Mode::Create => "create",
            Mode::Txn => "txn",
        }
    }
}

/// The command line every client takes.
#[derive(Clone, Debug)]
pub struct Args {
    /// What to do.
    pub mode: Mode,
    /// Bootstrap list.
    pub brokers: String,
    /// Topic (created by the harness).
    pub topic: String,
    /// Value bytes per record.
    pub size: usize,
    /// Records in the measured window.
    pub count: usize,
    /// `none`, `lz4` or `zstd`.
    pub compression: String,
    /// `1` or `all`.
    pub acks: String,
    /// Idempotent producer.
    pub idempotence: bool,
    /// Partitions of the topic.
    pub partitions: i32,
    /// Records per second (e2e).
    pub rate: u64,
    /// Group id (group mode).
    pub group: String,
    /// Linger in milliseconds.
    pub linger_ms: u64,
    /// Replication factor (topic creation).
    pub replication: i16,
    /// Records per transaction (txn mode).
    pub txn_size: usize,
}

impl Args {
    /// Parses `std::env::args()`.
    pub fn parse() -> Result<Self, BoxError> {
        let mut args = Args {
            mode: Mode::Produce,
            brokers: "127.0.0.1:9092".into(),
            topic: "bench".into(),
            size: 100,
            count: 100_000,
            compression: "none".into(),
            acks: "1".into(),
            idempotence: false,
            partitions: 1,
            rate: 10_000,
            group: "bench-group".into(),
            linger_ms: 5,
            replication: 1,
            txn_size: 1_000,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--mode" => {
                    args.mode = match value.as_str() {
                        "produce" => Mode::Produce,
                        "consume" => Mode::Consume,
                        "e2e" => Mode::E2e,
                        "group" => Mode::Group,
                        "create" => Mode::Create,
                        "txn" => Mode::Txn,
                        other => return Err(format!("unknown mode {other}").into()),
                    }
                }
                "--brokers" => args.brokers = value,
                "--topic" => args.topic = value,
                "--size" => args.size = value.parse()?,
                "--count" => args.count = value.parse()?,
                "--compression" => args.compression = value,
                "--acks" => args.acks = value,
                "--idempotence" => args.idempotence = value.parse()?,
                "--partitions" => args.partitions = value.parse()?,
                "--rate" => args.rate = value.parse()?,
                "--group" => args.group = value,
                "--linger-ms" => args.linger_ms = value.parse()?,
                "--replication" => args.replication = value.parse()?,
                "--txn-size" => args.txn_size = value.parse::<usize>()?.max(1),
                other => return Err(format!("unknown flag {other}").into()),
            }
        }
        if args.mode == Mode::E2e && args.size < 8 {
            return Err("e2e needs --size of at least 8 (the send time)".into());
        }
        Ok(args)
    }

    /// Records sent before the measured window.
    pub fn warmup(&self) -> usize {
        (self.count / 50).clamp(100, 5_000)
    }

    /// `acks=all`.
    pub fn acks_all(&self) -> bool {
        self.acks == "all" || self.acks == "-1"
    }

    /// Linger as a duration.
    pub fn linger(&self) -> Duration {
        Duration::from_millis(self.linger_ms)
    }
}

/// A pool of values of one size: half a fixed JSON-like template, half random
/// letters, so compression has work to do but does not collapse them.
pub struct Values {
    values: Vec<Bytes>,
}

impl Values {
    /// 512 values of `size` bytes.
    pub fn new(size: usize) -> Self {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let template = b"{\"event\":\"page_view\",\"site\":\"example.org\",\"path\":\"/a/b/c\"}";
        let values = (0..512)
            .map(|_| {
                let mut v: Vec<u8> = template.iter().copied().cycle().take(size / 2).collect();
                while v.len() < size {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    v.push(b'a' + (state % 26) as u8);
                }
                Bytes::from(v)
            })
            .collect();
        Self { values }
    }

    /// The `i`-th value (cycling).
    pub fn get(&self, i: usize) -> &Bytes {
        &self.values[(i * 7) % self.values.len()]
    }

    /// The `i`-th value with its first 8 bytes replaced by the current time.
    pub fn stamped(&self, i: usize) -> Bytes {
        let mut v = self.get(i).to_vec();
        v[..8].copy_from_slice(&now_ns().to_le_bytes());
        Bytes::from(v)
    }
}

/// Nanoseconds since the Unix epoch (the clock both halves of e2e share).
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Latency of a received e2e value in microseconds (0 if it carries no stamp).
pub fn latency_us(value: &[u8]) -> u64 {
    let Some(stamp) = value.get(..8) else {
        return 0;
    };
    let mut b = [0u8; 8];
    b.copy_from_slice(stamp);
    now_ns().saturating_sub(u64::from_le_bytes(b)) / 1_000
}

/// Paces a sender at `rate` records/s: `due()` says how many records should
/// have been sent by now.
pub struct Pacer {
    start: Instant,
    rate: u64,
}

impl Pacer {
    /// Starts the clock.
    pub fn new(rate: u64) -> Self {
        Self {
            start: Instant::now(),
            rate: rate.max(1),
        }
    }

    /// Records due by now.
    pub fn due(&self) -> usize {
        (self.start.elapsed().as_secs_f64() * self.rate as f64) as usize
    }
}

/// Opens the measured window: prints `START` (the harness samples `/proc`).
pub fn start_window() -> Instant {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "START");
    let _ = out.flush();
    Instant::now()
}

/// The result line.
#[derive(Default)]
pub struct Report {
    /// Client name.
    pub client: &'static str,
    /// Mode name.
    pub mode: &'static str,
    /// Records in the window.
    pub records: usize,
    /// Value and key bytes in the window.
    pub bytes: usize,
    /// Window length.
    pub elapsed: Duration,
    /// e2e latencies in µs (sorted by `print`).
    pub latencies_us: Vec<u64>,
    /// Group start-up (subscribe to first record).
    pub startup: Option<Duration>,
}

impl Report {
    /// Prints the JSON line (closes the measured window for the harness).
    pub fn print(mut self) {
        use std::io::Write;
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut line = format!(
            "{{\"client\":\"{}\",\"mode\":\"{}\",\"records\":{},\"bytes\":{},\"elapsed_s\":{:.6},\"records_per_s\":{:.1},\"mb_per_s\":{:.3}",
            self.client,
            self.mode,
            self.records,
            self.bytes,
            secs,
            self.records as f64 / secs,
            self.bytes as f64 / secs / 1e6
        );
        if !self.latencies_us.is_empty() {
            self.latencies_us.sort_unstable();
            let pct = |p: f64| {
                let idx = ((self.latencies_us.len() as f64 * p).ceil() as usize)
                    .clamp(1, self.latencies_us.len());
                self.latencies_us[idx - 1]
            };
            line += &format!(
                ",\"p50_us\":{},\"p99_us\":{},\"p999_us\":{}",
                pct(0.5),
                pct(0.99),
                pct(0.999)
            );
        }
        if let Some(s) = self.startup {
            line += &format!(",\"startup_ms\":{:.1}", s.as_secs_f64() * 1e3);
        }
        line.push('}');
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}
