//! krafka's benchmark client (see the crate documentation).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use kafkit_bench::{
    latency_us, start_window, Args, BoxError, Mode, Pacer, Report, Values, MAX_PENDING,
};
use krafka::consumer::{AutoOffsetReset, Consumer};
use krafka::producer::{Acks, Producer};
use krafka::{Compression, Kafka, Record};

const CLIENT: &str = "krafka";

fn main() -> Result<(), BoxError> {
    let args = Args::parse()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let kafka = Kafka::builder(args.brokers.clone()).connect().await?;
        match args.mode {
            Mode::Produce => produce(&kafka, &args).await,
            Mode::Consume => consume(&kafka, &args).await,
            Mode::E2e => e2e(&kafka, &args).await,
            Mode::Group => group(&kafka, &args).await,
            Mode::Create => Err("create is bench-kafkit's".into()),
            Mode::Txn => Err("txn mode: kafkit, rdkafka and java only".into()),
        }
    })
}

async fn producer(kafka: &Kafka, args: &Args) -> Result<Producer, BoxError> {
    let compression = match args.compression.as_str() {
        "none" => Compression::None,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        other => return Err(format!("compression {other}").into()),
    };
    Ok(kafka
        .producer()
        .acks(if args.acks_all() {
            Acks::All
        } else {
            Acks::Leader
        })
        .idempotent(args.idempotence)
        .compression(compression)
        .linger(args.linger())
        .batch_size(256 * 1024)
        .buffer_memory(512 * 1024 * 1024)
        .build()
        .await?)
}

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
                .enqueue(Record::new(args.topic.as_str(), value))
                .await?,
        );
        if pending.len() >= MAX_PENDING {
            if let Some(f) = pending.pop_front() {
                let _ = f.await?;
            }
        }
    }
    for f in pending {
        let _ = f.await?;
    }
    Ok(bytes)
}

async fn produce(kafka: &Kafka, args: &Args) -> Result<(), BoxError> {
    let producer = producer(kafka, args).await?;
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
    producer.close().await?;
    Ok(())
}

async fn assigned(kafka: &Kafka, args: &Args) -> Result<Consumer, BoxError> {
    let consumer = kafka
        .consumer_without_group()
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .await?;
    consumer.fetch_metadata(Some(&args.topic)).await?;
    Ok(consumer)
}

async fn consume(kafka: &Kafka, args: &Args) -> Result<(), BoxError> {
    let consumer = assigned(kafka, args).await?;
    let start = start_window();
    consumer
        .assign(&args.topic, (0..args.partitions).collect())
        .await?;
    let (mut records, mut bytes) = (0, 0);
    while records < args.count {
        let r = consumer.recv().await?.ok_or("consumer closed")?;
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

async fn e2e(kafka: &Kafka, args: &Args) -> Result<(), BoxError> {
    let producer = producer(kafka, args).await?;
    let consumer = assigned(kafka, args).await?;
    consumer
        .assign(&args.topic, (0..args.partitions).collect())
        .await?;
    let count = args.count;
    let reader = tokio::spawn(async move {
        let mut latencies = Vec::with_capacity(count);
        let mut bytes = 0;
        while latencies.len() < count {
            let r = consumer.recv().await?.ok_or("consumer closed")?;
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
            let record = Record::new(args.topic.as_str(), values.stamped(sent));
            pending.push_back(producer.enqueue(record).await?);
            sent += 1;
        }
        while pending.len() > MAX_PENDING {
            if let Some(f) = pending.pop_front() {
                let _ = f.await?;
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for f in pending {
        let _ = f.await?;
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
    producer.close().await?;
    Ok(())
}

async fn group(kafka: &Kafka, args: &Args) -> Result<(), BoxError> {
    let consumer = kafka
        .consumer(args.group.as_str())
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .enable_auto_commit(false)
        .build()
        .await?;
    let start = start_window();
    let t0 = Instant::now();
    consumer.subscribe([args.topic.as_str()]).await?;
    let r = consumer.recv().await?.ok_or("consumer closed")?;
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
