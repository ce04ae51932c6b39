//! kacrab's benchmark client (see the crate documentation).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use kacrab::common::TopicPartition;
use kacrab::consumer::Consumer;
use kacrab::producer::{Producer, ProducerRecord};
use kafkit_bench::{
    latency_us, start_window, Args, BoxError, Mode, Pacer, Report, Values, MAX_PENDING,
};

const CLIENT: &str = "kacrab";

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
            Mode::Create => Err("create is bench-kafkit's".into()),
            Mode::Txn => Err("txn mode: kafkit, rdkafka and java only".into()),
        }
    })
}

async fn producer(args: &Args) -> Result<Producer, BoxError> {
    Ok(Producer::builder()
        .set("bootstrap.servers", args.brokers.as_str())
        .set("acks", if args.acks_all() { "all" } else { "1" })
        .set("enable.idempotence", args.idempotence.to_string())
        .set("compression.type", args.compression.as_str())
        .set("linger.ms", args.linger_ms.to_string())
        .set("batch.size", (256 * 1024).to_string())
        .set("max.in.flight.requests.per.connection", "5")
        .set("buffer.memory", (512 * 1024 * 1024).to_string())
        .build()
        .await?)
}

async fn send(
    producer: &Producer,
    topic: &std::sync::Arc<str>,
    values: &Values,
    n: usize,
) -> Result<usize, BoxError> {
    let mut pending = VecDeque::new();
    let mut bytes = 0;
    for i in 0..n {
        let value = values.get(i).clone();
        bytes += value.len();
        pending.push_back(producer.send(ProducerRecord::unassigned(topic.clone()).value(value))?);
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
    let topic: std::sync::Arc<str> = args.topic.as_str().into();
    let values = Values::new(args.size);
    send(&producer, &topic, &values, args.warmup()).await?;
    let start = start_window();
    let bytes = send(&producer, &topic, &values, args.count).await?;
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

async fn consumer(args: &Args, group: Option<&str>) -> Result<Consumer, BoxError> {
    let mut config = vec![
        ("bootstrap.servers", args.brokers.clone()),
        ("auto.offset.reset", "earliest".to_owned()),
        ("enable.auto.commit", "false".to_owned()),
    ];
    if let Some(g) = group {
        config.push(("group.id", g.to_owned()));
    }
    Ok(Consumer::from_map(config).await?)
}

fn partitions(args: &Args) -> Vec<TopicPartition> {
    (0..args.partitions)
        .map(|p| TopicPartition::new(args.topic.as_str(), p))
        .collect()
}

async fn consume(args: &Args) -> Result<(), BoxError> {
    let mut consumer = consumer(args, None).await?;
    let start = start_window();
    consumer.assign(partitions(args))?;
    let (mut records, mut bytes) = (0, 0);
    while records < args.count {
        let batch = consumer.poll(Duration::from_millis(100)).await?;
        for r in &batch {
            records += 1;
            bytes += r.value.as_ref().map_or(0, |v| v.len());
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
    consumer.close().await;
    Ok(())
}

async fn e2e(args: &Args) -> Result<(), BoxError> {
    let producer = producer(args).await?;
    let mut consumer = consumer(args, None).await?;
    consumer.assign(partitions(args))?;
    let count = args.count;
    let reader = tokio::spawn(async move {
        let mut latencies = Vec::with_capacity(count);
        let mut bytes = 0;
        while latencies.len() < count {
            let batch = consumer.poll(Duration::from_millis(100)).await?;
            for r in &batch {
                let value = r.value.as_deref().unwrap_or_default();
                latencies.push(latency_us(value));
                bytes += value.len();
            }
        }
        consumer.close().await;
        Ok::<_, BoxError>((latencies, bytes))
    });
    let topic: std::sync::Arc<str> = args.topic.as_str().into();
    let values = Values::new(args.size);
    let start = start_window();
    let pacer = Pacer::new(args.rate);
    let mut pending = VecDeque::new();
    let mut sent = 0;
    while sent < count {
        let due = pacer.due().min(count);
        while sent < due {
            let record = ProducerRecord::unassigned(topic.clone()).value(values.stamped(sent));
            pending.push_back(producer.send(record)?);
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
    producer.close().await?;
    Ok(())
}

async fn group(args: &Args) -> Result<(), BoxError> {
    let mut consumer = consumer(args, Some(&args.group)).await?;
    let start = start_window();
    let t0 = Instant::now();
    consumer.subscribe([args.topic.as_str()])?;
    let bytes = loop {
        let batch = consumer.poll(Duration::from_millis(100)).await?;
        let first = batch
            .iter()
            .next()
            .map(|r| r.value.as_ref().map_or(0, |v| v.len()));
        if let Some(bytes) = first {
            break bytes;
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
    consumer.close().await;
    Ok(())
}
