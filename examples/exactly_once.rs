//! Consume, transform, produce: exactly once, with transactions.
//!
//! Produces 200 records to an input topic, then a group consumer
//! (read_committed, no auto-commit) reads them in chunks of 40 and a
//! transactional producer writes each chunk, upper-cased, to an output
//! topic in one transaction together with the consumer's offsets
//! (`send_offsets_to_transaction` with `Consumer::group_metadata`, KIP-447):
//! the output records and the input progress commit together or not at
//! all. The third chunk "crashes" before its commit: the transaction is
//! aborted and the consumer goes back to the chunk's first offsets, so
//! the chunk is processed again. At the end a read_committed reader finds
//! every output record exactly once, and the group's committed offsets are
//! the input's end.
//!
//! ```text
//! cargo run --example exactly_once                               # in-process mock cluster
//! KAFKA_BROKERS=localhost:9092 cargo run --example exactly_once  # a real cluster
//! ```
//!
//! Without `KAFKA_BROKERS` it starts librdkafka's mock cluster in this
//! process (transaction protocol v1); Apache Kafka 4 uses v2 (KIP-890).
//! The topics, group and transactional id are new for every run.
//!
//! librdkafka's mock (2.12.1) answers every transactional request but
//! writes no transaction markers, answers every Fetch with no aborted
//! transactions (its read_committed readers see aborted records too) and
//! does not store the offsets of TxnOffsetCommit. On the mock the example
//! therefore only checks that every input record has its output (at least
//! once); the exactly-once checks (each output record once, the group's
//! offsets at the input's end) need a real broker.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafkit::consumer::{Consumer, ConsumerConfig, IsolationLevel};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::{ClientConfig, TopicPartition};

type BoxError = Box<dyn std::error::Error>;

const RECORDS: usize = 200;
const CHUNK: usize = 40;
const PARTITIONS: i32 = 3;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let run = format!("{}-{}", std::process::id(), now_ms());
    let (input, output) = (format!("eos-in-{run}"), format!("eos-out-{run}"));
    let mut _mock = None;
    let real = std::env::var("KAFKA_BROKERS").is_ok();
    let bootstrap = match std::env::var("KAFKA_BROKERS") {
        Ok(brokers) => {
            let admin = kafkit::Admin::connect(ClientConfig::new([&brokers])).await?;
            let topics = [&input, &output].map(|t| kafkit::admin::NewTopic::new(t, PARTITIONS, 1));
            for (name, result) in admin.create_topics(&topics, false).await? {
                result.map_err(|e| format!("create {name}: {e}"))?;
            }
            admin.close();
            brokers
        }
        Err(_) => {
            let mock = rdkafka::mocking::MockCluster::new(1)?;
            // librdkafka 2.12's mock advertises group API versions it cannot parse.
            use rdkafka::types::RDKafkaApiKey as Api;
            for (api, max) in [
                (Api::JoinGroup, 5),
                (Api::SyncGroup, 3),
                (Api::LeaveGroup, 2),
            ] {
                mock.apiversion(api, None, Some(max))?;
            }
            mock.create_topic(&input, PARTITIONS, 1)?;
            mock.create_topic(&output, PARTITIONS, 1)?;
            let servers = mock.bootstrap_servers();
            println!("started a mock cluster at {servers}");
            _mock = Some(mock);
            servers
        }
    };
    let client = || ClientConfig::new([&bootstrap]);

    let plain = Producer::connect(client(), ProducerConfig::default()).await?;
    plain
        .send_all((0..RECORDS).map(|i| {
            ProducerRecord::new(&input)
                .key(format!("k{}", i % 11))
                .value(format!("item {i}"))
        }))
        .await?;
    plain.close(Duration::from_secs(5)).await?;
    println!("produced {RECORDS} records to {input}");

    let group = format!("eos-group-{run}");
    let mut consumer = Consumer::connect(
        client(),
        ConsumerConfig::group(&group)
            .from_beginning()
            .with_auto_commit(false)
            .with_isolation_level(IsolationLevel::ReadCommitted)
            .with_fetch_max_wait(Duration::from_millis(100)),
    )
    .await?;
    consumer.subscribe(&[&input])?;
    let producer = Producer::connect(
        client(),
        ProducerConfig::default()
            .with_transactional_id(format!("eos-{run}"))
            .with_transaction_timeout(Duration::from_secs(30)),
    )
    .await?;
    producer.init_transactions().await?;

    let (mut done, mut chunk_no) = (0usize, 0usize);
    while done < RECORDS {
        let chunk = next_chunk(&mut consumer, CHUNK.min(RECORDS - done)).await?;
        chunk_no += 1;
        producer.begin_transaction().await?;
        let mut next: BTreeMap<TopicPartition, i64> = BTreeMap::new();
        let mut first: BTreeMap<TopicPartition, i64> = BTreeMap::new();
        let transformed = chunk.iter().map(|(tp, offset, value)| {
            next.insert(tp.clone(), offset + 1);
            first.entry(tp.clone()).or_insert(*offset);
            ProducerRecord::new(&output).value(value.to_uppercase())
        });
        let transformed: Vec<ProducerRecord> = transformed.collect();
        producer.send_all(transformed).await?;
        let meta = consumer.group_metadata().ok_or("a group consumer")?;
        producer
            .send_offsets_to_transaction(next.clone(), &meta)
            .await?;
        if chunk_no == 3 {
            // A crash before the commit: nothing of this chunk is visible, and
            // the group's offsets did not move. Process it again.
            producer.abort_transaction().await?;
            for (tp, offset) in first {
                consumer.seek(tp, offset)?;
            }
            println!(
                "chunk {chunk_no}: aborted ({} records), going back",
                chunk.len()
            );
            continue;
        }
        producer.commit_transaction().await?;
        done += chunk.len();
        println!(
            "chunk {chunk_no}: committed {} records with offsets {:?} ({done}/{RECORDS})",
            chunk.len(),
            next.iter()
                .map(|(tp, o)| (tp.partition, *o))
                .collect::<Vec<_>>()
        );
    }
    println!(
        "transaction protocol: {:?}",
        producer.transaction_protocol()
    );
    producer.close(Duration::from_secs(5)).await?;

    // Every output record once, as a read_committed reader sees it.
    let mut reader = Consumer::connect(
        client(),
        ConsumerConfig::default()
            .from_beginning()
            .with_isolation_level(IsolationLevel::ReadCommitted),
    )
    .await?;
    reader.assign_topic(&output).await?;
    let mut seen = BTreeSet::new();
    let mut read = 0usize;
    while seen.len() < RECORDS && (real || read < RECORDS + CHUNK) {
        let record = tokio::time::timeout(Duration::from_secs(30), reader.recv())
            .await
            .map_err(|_| format!("only {read} output records"))?
            .ok_or("reader closed")??;
        read += 1;
        seen.insert(
            String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()).into_owned(),
        );
    }
    if real {
        if read != RECORDS {
            return Err(format!("{read} output records for {RECORDS} inputs: a duplicate").into());
        }
        let more = tokio::time::timeout(Duration::from_millis(500), reader.recv()).await;
        if let Ok(Some(extra)) = more {
            return Err(format!("an extra output record: {extra:?}").into());
        }
    }
    if seen.len() != RECORDS {
        return Err(format!("{} distinct outputs of {RECORDS}", seen.len()).into());
    }
    let want: BTreeSet<String> = (0..RECORDS).map(|i| format!("ITEM {i}")).collect();
    if seen != want {
        return Err("the outputs are not the upper-cased inputs".into());
    }
    let positions = consumer.positions().await?;
    let committed = consumer
        .committed(positions.keys().cloned().collect())
        .await?;
    for (tp, (_, end)) in positions.iter().filter(|_| real) {
        let at = committed.get(tp).copied().flatten();
        if at != Some(*end) {
            return Err(
                format!("{}/{}: committed {at:?}, end {end}", tp.topic, tp.partition).into(),
            );
        }
    }
    if real {
        println!("read {read} output records, each once; the group committed the input's end");
    } else {
        println!("read {read} output records (the mock shows aborted ones too), every input's output among them");
    }
    reader.close().await?;
    consumer.close().await?;
    Ok(())
}

/// The next `n` records as (partition, offset, value).
async fn next_chunk(
    consumer: &mut Consumer,
    n: usize,
) -> Result<Vec<(TopicPartition, i64, String)>, BoxError> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let record = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .map_err(|_| format!("stuck after {} records", out.len()))?
            .ok_or("consumer closed")??;
        let tp = TopicPartition {
            topic: record.topic.to_string(),
            partition: record.partition,
        };
        let value =
            String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()).into_owned();
        out.push((tp, record.offset, value));
    }
    Ok(out)
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}
