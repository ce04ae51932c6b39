//! kafkit's benchmark client (see the crate documentation for the protocol).
//! Also creates the harness's topics (`--mode create`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use kafkit::admin::NewTopic;
use kafkit::consumer::{Consumer, ConsumerConfig, OffsetReset};
use kafkit::producer::{Acks, Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::record::Compression;
use kafkit::{Admin, ClientConfig};
use kafkit_bench::{
    latency_us, start_window, Args, BoxError, Mode, Pacer, Report, Values, MAX_PENDING,
};

const CLIENT: &str = "kafkit";

fn main() -> Result<(), BoxError> {
    let args = Args::parse()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        match args.mode {
            Mode::Produce => produce(&args).await,
            Mode::Consume => consume(&args).await,
            Mode::E2e => e2e(&args).await,
            Mode::Group => group(&args).await,
            Mode::Create => create(&args).await,
            Mode::Txn => txn(&args).await,
        }
    })
}

fn client(args: &Args) -> ClientConfig {
    ClientConfig::new(args.brokers.split(','))
}

async fn create(args: &Args) -> Result<(), BoxError> {
    let admin = Admin::connect(client(args)).await?;
    let topic = NewTopic::new(&args.topic, args.partitions, args.replication);
    for (name, result) in admin.create_topics(&[topic], false).await? {
        result.map_err(|e| format!("creating {name}: {e}"))?;
    }
    admin.close();
    Ok(())
}

async fn producer(args: &Args) -> Result<Producer, BoxError> {
    let compression = match args.compression.as_str() {
        "none" => Compression::None,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        other => return Err(format!("compression {other}").into()),
    };
    let config = ProducerConfig::default()
        .with_acks(if args.acks_all() {
            Acks::All
        } else {
            Acks::Leader
        })
        .with_idempotence(args.idempotence)
        .with_compression(compression)
        .with_linger(args.linger())
        .with_batch_size(256 * 1024)
        .with_max_in_flight(5)
        // As every other client here without idempotence: batches may reorder on retry.
        .with_reordering_allowed(!args.idempotence)
        .with_buffer_memory(512 * 1024 * 1024);
    Ok(Producer::connect(client(args), config).await?)
}

/// Sends `n` records, awaiting deliveries oldest first once `MAX_PENDING` are out.
async fn send(
    producer: &Producer,
    args: &Args,
    values: &Values,
    n: usize,
) -> Result<usize, BoxError> {
    let mut pending = VecDeque::new();
    let mut bytes = 0;
    for i in 0..n {
        let value = values.get(i).clone();
        bytes += value.len();
        pending.push_back(
            producer
                .enqueue(ProducerRecord::new(&args.topic).value(value))
                .await?,
        );
        if pending.len() >= MAX_PENDING {
            if let Some(f) = pending.pop_front() {
                f.await?;
            }
        }
    }
    for f in pending {
        f.await?;
    }
    Ok(bytes)
}

async fn produce(args: &Args) -> Result<(), BoxError> {
    let producer = producer(args).await?;
    let values = Values::new(args.size);
    send(&producer, args, &values, args.warmup()).await?;
    let start = start_window();
    let bytes = send(&producer, args, &values, args.count).await?;
    Report {
        client: CLIENT,
        mode: "produce",
        records: args.count,
        bytes,
        elapsed: start.elapsed(),
        ..Report::default()
    }
    .print();
    producer.close(Duration::from_secs(10)).await?;
    Ok(())
}

/// Transactions of `txn_size` records; the percentiles are commit latencies.
async fn txn(args: &Args) -> Result<(), BoxError> {
    let config = ProducerConfig::default()
        .with_transactional_id(format!("bench-{}-{}", args.topic, std::process::id()))
        .with_linger(args.linger())
        .with_batch_size(256 * 1024)
        .with_buffer_memory(512 * 1024 * 1024);
    let producer = Producer::connect(client(args), config).await?;
    producer.init_transactions().await?;
    let values = Values::new(args.size);
    let one = |n: usize| {
        let producer = &producer;
        let values = &values;
        async move {
            producer.begin_transaction().await?;
            let mut pending = Vec::with_capacity(n);
            let mut bytes = 0;
            for i in 0..n {
                let value = values.get(i).clone();
                bytes += value.len();
                pending.push(
                    producer
                        .enqueue(ProducerRecord::new(&args.topic).value(value))
                        .await?,
                );
            }
            let t = Instant::now();
            producer.commit_transaction().await?;
            let commit = t.elapsed();
            for f in pending {
                f.await?;
            }
            Ok::<_, BoxError>((bytes, commit))
        }
    };
    one(args.txn_size.min(args.count)).await?;
    let start = start_window();
    let (mut bytes, mut commits) = (0, Vec::new());
    let mut sent = 0;
    while sent < args.count {
        let n = args.txn_size.min(args.count - sent);
        let (b, commit) = one(n).await?;
        bytes += b;
        sent += n;
        commits.push(u64::try_from(commit.as_micros()).unwrap_or(u64::MAX));
    }
    Report {
        client: CLIENT,
        mode: "txn",
        records: args.count,
        bytes,
        elapsed: start.elapsed(),
        latencies_us: commits,
        ..Report::default()
    }
    .print();
    producer.close(Duration::from_secs(10)).await?;
    Ok(())
}

async fn consume(args: &Args) -> Result<(), BoxError> {
    let config = ConsumerConfig::default().with_offset_reset(OffsetReset::Earliest);
    let mut consumer = Consumer::connect(client(args), config).await?;
    consumer
        .client()
        .topic(&args.topic, Duration::from_secs(10))
        .await?;
    let start = start_window();
    consumer.assign_topic(&args.topic).await?;
    let (mut records, mut bytes) = (0, 0);
    while records < args.count {
        let r = consumer.recv().await.ok_or("consumer closed")??;
        records += 1;
        bytes += r.value.as_ref().map_or(0, |v| v.len());
    }
    Report {
        client: CLIENT,
        mode: "consume",
        records,
        bytes,
        elapsed: start.elapsed(),
        ..Report::default()
    }
    .print();
    consumer.close().await?;
    Ok(())
}

async fn e2e(args: &Args) -> Result<(), BoxError> {
    let producer = producer(args).await?;
    let config = ConsumerConfig::default().with_offset_reset(OffsetReset::Earliest);
    let mut consumer = Consumer::connect(client(args), config).await?;
    consumer
        .client()
        .topic(&args.topic, Duration::from_secs(10))
        .await?;
    consumer.assign_topic(&args.topic).await?;
    let count = args.count;
    let reader = tokio::spawn(async move {
        let mut latencies = Vec::with_capacity(count);
        let mut bytes = 0;
        while latencies.len() < count {
            let r = consumer.recv().await.ok_or("consumer closed")??;
            let value = r.value.unwrap_or_default();
            latencies.push(latency_us(&value));
            bytes += value.len();
        }
        let _ = consumer.close().await;
        Ok::<_, BoxError>((latencies, bytes))
    });
    let values = Values::new(args.size);
    let start = start_window();
    let pacer = Pacer::new(args.rate);
    let mut pending = VecDeque::new();
    let mut sent = 0;
    while sent < count {
        let due = pacer.due().min(count);
        while sent < due {
            let record = ProducerRecord::new(&args.topic).value(values.stamped(sent));
            pending.push_back(producer.enqueue(record).await?);
            sent += 1;
        }
        while pending.len() > MAX_PENDING {
            if let Some(f) = pending.pop_front() {
                f.await?;
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for f in pending {
        f.await?;
    }
    let (latencies_us, bytes) = reader.await??;
    Report {
        client: CLIENT,
        mode: "e2e",
        records: count,
        bytes,
        elapsed: start.elapsed(),
        latencies_us,
        ..Report::default()
    }
    .print();
    producer.close(Duration::from_secs(10)).await?;
    Ok(())
}

async fn group(args: &Args) -> Result<(), BoxError> {
    let config = ConsumerConfig::group(&args.group)
        .from_beginning()
        .with_auto_commit(false);
    let mut consumer = Consumer::connect(client(args), config).await?;
    let start = start_window();
    let t0 = Instant::now();
    consumer.subscribe(&[&args.topic])?;
    let r = consumer.recv().await.ok_or("consumer closed")??;
    let startup = t0.elapsed();
    Report {
        client: CLIENT,
        mode: "group",
        records: 1,
        bytes: r.value.map_or(0, |v| v.len()),
        elapsed: start.elapsed(),
        startup: Some(startup),
        ..Report::default()
    }
    .print();
    consumer.close().await?;
    Ok(())
}
