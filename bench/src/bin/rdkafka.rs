//! rust-rdkafka's (librdkafka's) benchmark client (see the crate documentation).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use kafkit_bench::{
    latency_us, start_window, Args, BoxError, Mode, Pacer, Report, Values, MAX_PENDING,
};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

const CLIENT: &str = "rdkafka";

fn main() -> Result<(), BoxError> {
    let args = Args::parse()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match args.mode {
        Mode::Produce => rt.block_on(produce(&args)),
        Mode::Consume => consume(&args),
        Mode::E2e => rt.block_on(e2e(&args)),
        Mode::Group => group(&args),
        Mode::Create => Err("create is bench-kafkit's".into()),
        Mode::Txn => rt.block_on(txn(&args)),
    }
}

fn producer(args: &Args) -> Result<FutureProducer, BoxError> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", &args.brokers)
        .set("acks", if args.acks_all() { "all" } else { "1" })
        .set("enable.idempotence", args.idempotence.to_string())
        .set("compression.codec", &args.compression)
        .set("linger.ms", args.linger_ms.to_string())
        .set("batch.size", (256 * 1024).to_string())
        .set("max.in.flight", "5")
        .set("queue.buffering.max.messages", "2000000")
        .set("queue.buffering.max.kbytes", "524288")
        .create()?)
}

/// Transactions of `txn_size` records; the percentiles are commit latencies.
async fn txn(args: &Args) -> Result<(), BoxError> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &args.brokers)
        .set(
            "transactional.id",
            format!("bench-{}-{}", args.topic, std::process::id()),
        )
        .set("linger.ms", args.linger_ms.to_string())
        .set("batch.size", (256 * 1024).to_string())
        .set("queue.buffering.max.messages", "2000000")
        .set("queue.buffering.max.kbytes", "524288")
        .create()?;
    let timeout = Duration::from_secs(30);
    producer.init_transactions(timeout)?;
    let values = Values::new(args.size);
    async fn one(
        producer: &FutureProducer,
        args: &Args,
        values: &Values,
        n: usize,
        timeout: Duration,
    ) -> Result<(usize, Duration), BoxError> {
        producer.begin_transaction()?;
        let mut pending = Vec::with_capacity(n);
        let mut bytes = 0;
        for i in 0..n {
            let value = values.get(i);
            bytes += value.len();
            let record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&args.topic).payload(value);
            pending.push(producer.send_result(record).map_err(|(e, _)| e)?);
        }
        let t = Instant::now();
        producer.commit_transaction(timeout)?;
        let commit = t.elapsed();
        for f in pending {
            f.await?.map_err(|(e, _)| e)?;
        }
        Ok((bytes, commit))
    }
    one(
        &producer,
        args,
        &values,
        args.txn_size.min(args.count),
        timeout,
    )
    .await?;
    let start = start_window();
    let (mut bytes, mut commits, mut sent) = (0, Vec::new(), 0);
    while sent < args.count {
        let n = args.txn_size.min(args.count - sent);
        let (b, commit) = one(&producer, args, &values, n, timeout).await?;
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
    Ok(())
}

async fn send(
    producer: &FutureProducer,
    args: &Args,
    values: &Values,
    n: usize,
) -> Result<usize, BoxError> {
    let mut pending = VecDeque::new();
    let mut bytes = 0;
    for i in 0..n {
        let value = values.get(i);
        bytes += value.len();
        let record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&args.topic).payload(value);
        pending.push_back(producer.send_result(record).map_err(|(e, _)| e)?);
        if pending.len() >= MAX_PENDING {
            if let Some(f) = pending.pop_front() {
                f.await?.map_err(|(e, _)| e)?;
            }
        }
    }
    for f in pending {
        f.await?.map_err(|(e, _)| e)?;
    }
    Ok(bytes)
}

async fn produce(args: &Args) -> Result<(), BoxError> {
    let producer = producer(args)?;
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
    Ok(())
}

fn consumer(args: &Args, group: &str) -> Result<BaseConsumer, BoxError> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", &args.brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "500")
        .create()?)
}

fn assign_all(consumer: &BaseConsumer, args: &Args) -> Result<(), BoxError> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..args.partitions {
        tpl.add_partition_offset(&args.topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    Ok(())
}

fn consume(args: &Args) -> Result<(), BoxError> {
    let consumer = consumer(args, "bench-rdkafka")?;
    consumer.fetch_metadata(Some(&args.topic), Duration::from_secs(10))?;
    let start = start_window();
    assign_all(&consumer, args)?;
    let (mut records, mut bytes) = (0, 0);
    while records < args.count {
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m?;
            records += 1;
            bytes += m.payload().map_or(0, <[u8]>::len);
        }
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
    Ok(())
}

async fn e2e(args: &Args) -> Result<(), BoxError> {
    let producer = producer(args)?;
    let consumer = consumer(args, "bench-rdkafka")?;
    consumer.fetch_metadata(Some(&args.topic), Duration::from_secs(10))?;
    assign_all(&consumer, args)?;
    let count = args.count;
    let reader = std::thread::spawn(move || {
        let mut latencies = Vec::with_capacity(count);
        let mut bytes = 0;
        while latencies.len() < count {
            if let Some(m) = consumer.poll(Duration::from_millis(100)) {
                let m = m?;
                let value = m.payload().unwrap_or_default();
                latencies.push(latency_us(value));
                bytes += value.len();
            }
        }
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
            let value = values.stamped(sent);
            let record: FutureRecord<'_, [u8], [u8]> =
                FutureRecord::to(&args.topic).payload(value.as_ref());
            pending.push_back(producer.send_result(record).map_err(|(e, _)| e)?);
            sent += 1;
        }
        while pending.len() > MAX_PENDING {
            if let Some(f) = pending.pop_front() {
                f.await?.map_err(|(e, _)| e)?;
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for f in pending {
        f.await?.map_err(|(e, _)| e)?;
    }
    let (latencies_us, bytes) = reader.join().map_err(|_| "reader panicked")??;
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
    Ok(())
}

fn group(args: &Args) -> Result<(), BoxError> {
    let consumer = consumer(args, &args.group)?;
    let start = start_window();
    let t0 = Instant::now();
    consumer.subscribe(&[&args.topic])?;
    let bytes = loop {
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            break m?.payload().map_or(0, <[u8]>::len);
        }
    };
    let startup = t0.elapsed();
    Report {
        client: CLIENT,
        mode: "group",
        records: 1,
        bytes,
        elapsed: start.elapsed(),
        startup: Some(startup),
        ..Report::default()
    }
    .print();
    Ok(())
}
