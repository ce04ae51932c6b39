//! Memory bounds and shutdown, measured in this test binary's own process
//! (its tests run one at a time so they do not disturb each other's figures):
//! - a slow consumer with a small fetch budget over a large backlog (plain
//!   and lz4-compressed) keeps its
//!   resident memory within the budget plus a fixed overhead;
//! - a producer whose brokers are unreachable applies backpressure on a full
//!   buffer and fails records within the delivery timeout, memory bounded;
//! - no background task outlives `close()` (tokio's runtime metrics).
//!
//! Resident memory comes from /proc/self/status; the high-water mark is
//! reset through /proc/self/clear_refs before each measured phase. The mock
//! cluster lives in this process too, so the backlog is produced first and
//! the figures are deltas over what the process holds after that.

#[path = "support/mock.rs"]
mod mock;
mod support;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use kafkit::consumer::{Consumer, ConsumerConfig, OffsetReset};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::record::Compression;
use kafkit::ClientConfig;
use mock::Mock;

const MIB: usize = 1 << 20;

/// Serialises the tests of this binary.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// A `/proc/self/status` figure in bytes (`VmRSS`, `VmHWM`).
fn status(field: &str) -> usize {
    let text = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

/// Resets `VmHWM` to the current RSS; false where the kernel refuses (then
/// only sampled `VmRSS` figures count).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The peak RSS since `reset_peak`, or `sampled` when the reset failed.
fn peak_since(reset: bool, sampled: usize) -> usize {
    let now = status("VmRSS").max(sampled);
    if reset {
        status("VmHWM").max(now)
    } else {
        now
    }
}

fn client(bootstrap: &str) -> ClientConfig {
    ClientConfig::new([bootstrap])
        .with_reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
}

#[test]
fn slow_consumer_with_a_small_budget_stays_within_it() {
    slow_consumer_within_budget(Compression::None);
}

/// The same backlog lz4-compressed about 250 to 1: the budget counts what
/// the batches decompress to, not the few bytes fetched.
#[test]
fn slow_consumer_of_compressed_records_stays_within_the_budget() {
    slow_consumer_within_budget(Compression::Lz4);
}

fn slow_consumer_within_budget(compression: Compression) {
    let _serial = serial();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mock = Mock::new(1);
        // The mock keeps at most 5 MiB per partition: spread the backlog.
        mock.cluster().create_topic("backlog", 32, 1).expect("topic");
        let bootstrap = mock.bootstrap_servers();
        // A 128 MiB backlog of 64 KiB records.
        const RECORDS: usize = 2048;
        const SIZE: usize = 64 * 1024;
        let producer = Producer::connect(
            client(&bootstrap),
            ProducerConfig::default()
                .with_buffer_memory(16 * MIB)
                .with_compression(compression),
        )
        .await
        .expect("producer");
        let value = bytes::Bytes::from(vec![7u8; SIZE]);
        producer
            .send_all((0..RECORDS).map(|i| {
                ProducerRecord::new("backlog")
                    .key(format!("{i}"))
                    .value(value.clone())
            }))
            .await
            .expect("backlog");
        producer.close(Duration::from_secs(5)).await.expect("close");
        drop(producer);
        tokio::time::sleep(Duration::from_millis(200)).await;

        const BUDGET: usize = 4 * MIB;
        let cfg = ConsumerConfig::default()
            .with_offset_reset(OffsetReset::Earliest)
            .with_max_buffered_bytes(BUDGET)
            .with_max_partition_fetch_bytes(i32::try_from(MIB).expect("fits"));
        let mut consumer = Consumer::connect(client(&bootstrap), cfg)
            .await
            .expect("consumer");
        let base = status("VmRSS");
        let reset = reset_peak();
        consumer.assign_topic("backlog").await.expect("assign");
        // A slow handler: 600 records (~37 MiB) at 5 ms each.
        let mut peak_seen = 0;
        for i in 0..600 {
            let r = tokio::time::timeout(Duration::from_secs(10), consumer.recv())
                .await
                .unwrap_or_else(|_| panic!("records keep coming (stalled after {i})"))
                .expect("open")
                .expect("record");
            assert_eq!(r.value.as_ref().map(bytes::Bytes::len), Some(SIZE));
            tokio::time::sleep(Duration::from_millis(5)).await;
            if i % 50 == 0 {
                peak_seen = peak_seen.max(status("VmRSS"));
            }
        }
        let peak = peak_since(reset, peak_seen);
        let grew = peak.saturating_sub(base);
        consumer.close().await.expect("close");
        // Budget, plus one fetch response that may overshoot it (the mock
        // answers one 64 KiB batch per partition: 2 MiB), plus a fixed
        // overhead for the decoder, allocator and runtime.
        let bound = BUDGET + 2 * MIB + 24 * MIB;
        eprintln!(
            "slow consumer ({}): backlog {} MiB, budget {} MiB: RSS {} MiB before, peak {} MiB, grew {:.1} MiB (bound {} MiB)",
            compression.name(),
            RECORDS * SIZE / MIB,
            BUDGET / MIB,
            base / MIB,
            peak / MIB,
            grew as f64 / MIB as f64,
            bound / MIB
        );
        assert!(grew < bound, "grew {grew} bytes, bound {bound}");
    });
}

#[test]
fn producer_with_unreachable_brokers_and_a_full_buffer_stays_bounded() {
    let _serial = serial();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mock = Mock::new(1);
        mock.cluster().create_topic("down", 1, 1).expect("topic");
        const BUFFER: usize = 2 * MIB;
        const DELIVERY: Duration = Duration::from_secs(2);
        let producer = Producer::connect(
            client(&mock.bootstrap_servers()),
            ProducerConfig::default()
                .with_buffer_memory(BUFFER)
                .with_delivery_timeout(DELIVERY),
        )
        .await
        .expect("producer");
        producer
            .send(ProducerRecord::new("down").value("warm-up"))
            .await
            .expect("warm-up");
        mock.cluster().broker_down(1).expect("down");
        let base = status("VmRSS");
        let reset = reset_peak();
        // Offer up to 64 MiB in 16 KiB records to a 2 MiB buffer for 3 s
        // (each offer waits 5 ms at most for buffer space).
        let value = bytes::Bytes::from(vec![1u8; 16 * 1024]);
        let started = Instant::now();
        let (mut accepted, mut refused) = (0usize, 0usize);
        let mut futures = Vec::new();
        for _ in 0..4096 {
            if started.elapsed() > Duration::from_secs(3) {
                break;
            }
            match tokio::time::timeout(
                Duration::from_millis(5),
                producer.enqueue(ProducerRecord::new("down").value(value.clone())),
            )
            .await
            {
                Ok(Ok(f)) => {
                    accepted += 1;
                    futures.push((Instant::now(), f));
                }
                Ok(Err(_)) | Err(_) => refused += 1,
            }
        }
        let offering = started.elapsed();
        let mut late = 0;
        for (at, f) in futures {
            let r = f.await;
            assert!(r.is_err(), "no broker could take it");
            if at.elapsed() > DELIVERY + Duration::from_secs(2) {
                late += 1;
            }
        }
        let grew = peak_since(reset, 0).saturating_sub(base);
        eprintln!(
            "unreachable producer: offered 64 MiB into a {} MiB buffer in {offering:?}: accepted {accepted}, refused (backpressure) {refused}, RSS grew {:.1} MiB",
            BUFFER / MIB,
            grew as f64 / MIB as f64
        );
        assert!(refused > 0, "backpressure: a full buffer refuses or blocks");
        // The buffer refills only as records expire (every 2 s): in 3 s at
        // most the first buffer plus one refill, with a little slack.
        assert!(
            accepted * value.len() <= 3 * BUFFER,
            "accepted {accepted} records of {} bytes",
            value.len()
        );
        assert_eq!(late, 0, "records failed later than the delivery timeout");
        assert!(grew < BUFFER + 24 * MIB, "grew {grew} bytes");
        let closing = Instant::now();
        let _ = producer.close(Duration::from_millis(500)).await;
        assert!(closing.elapsed() < Duration::from_secs(2));
    });
}

#[test]
fn no_background_task_outlives_close() {
    let _serial = serial();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let metrics = rt.metrics();
    rt.block_on(async {
        let mock = Mock::new(3);
        mock.cluster().create_topic("tasks", 3, 3).expect("topic");
        let bootstrap = mock.bootstrap_servers();
        let producer = Producer::connect(client(&bootstrap), ProducerConfig::default())
            .await
            .expect("producer");
        producer
            .send_all((0..300).map(|i| ProducerRecord::new("tasks").key(format!("{i}")).value("v")))
            .await
            .expect("sent");
        let mut group = Consumer::connect(
            client(&bootstrap),
            ConsumerConfig::group("tasks-group")
                .from_beginning()
                .with_session_timeout(Duration::from_secs(6))
                .with_heartbeat_interval(Duration::from_millis(300)),
        )
        .await
        .expect("consumer");
        group.subscribe(&["tasks"]).expect("subscribe");
        for _ in 0..300 {
            tokio::time::timeout(Duration::from_secs(15), group.recv())
                .await
                .expect("records")
                .expect("open")
                .expect("record");
        }
        assert!(
            metrics.num_alive_tasks() > 5,
            "the clients run background tasks: {}",
            metrics.num_alive_tasks()
        );
        producer.close(Duration::from_secs(5)).await.expect("close");
        group.close().await.expect("close");
        // Aborted tasks are gone at their next poll; give them a moment.
        let deadline = Instant::now() + Duration::from_secs(2);
        while metrics.num_alive_tasks() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            metrics.num_alive_tasks(),
            0,
            "background tasks still alive after close"
        );
    });
    let started = Instant::now();
    rt.shutdown_timeout(Duration::from_secs(2));
    assert!(started.elapsed() < Duration::from_secs(1));
}
