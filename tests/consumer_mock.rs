//! The consumer (manual assignment) against librdkafka's mock cluster, reading
//! what librdkafka and kafkit produced.

use std::collections::BTreeMap;
use std::time::Duration;

use kafkit::consumer::{Consumer, ConsumerConfig, OffsetReset};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord, TopicPartition};
use kafkit::ClientConfig;
use rdkafka::config::ClientConfig as RdConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};

async fn rdkafka_produce(bootstrap: &str, topic: &str, codec: &str, n: usize) {
    let producer: FutureProducer = RdConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("compression.codec", codec)
        .set("linger.ms", "5")
        .create()
        .expect("rdkafka producer");
    let keys: Vec<String> = (0..n).map(|i| format!("k{}", i % 10)).collect();
    let values: Vec<String> = (0..n).map(|i| format!("{codec}-{i}")).collect();
    let indexes: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let mut futures = Vec::new();
    for i in 0..n {
        let (key, value) = (&keys[i], &values[i]);
        let headers = OwnedHeaders::new().insert(Header {
            key: "i",
            value: Some(&indexes[i]),
        });
        let record = FutureRecord::to(topic)
            .key(key)
            .payload(value)
            .headers(headers);
        futures.push(producer.send(record, Duration::from_secs(10)));
    }
    for f in futures {
        f.await.expect("delivered by rdkafka");
    }
}

async fn consume(consumer: &mut Consumer, n: usize) -> Vec<kafkit::consumer::ConsumerRecord> {
    let mut out = Vec::new();
    while out.len() < n {
        let r = tokio::time::timeout(Duration::from_secs(15), consumer.recv())
            .await
            .expect("records keep coming")
            .expect("stream open")
            .expect("no error");
        out.push(r);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_librdkafka_batches_in_every_codec() {
    let mock = MockCluster::new(3).expect("mock");
    let bootstrap = mock.bootstrap_servers();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("rd-{codec}");
        mock.create_topic(&topic, 3, 3).expect("topic");
        rdkafka_produce(&bootstrap, &topic, codec, 300).await;
        let mut consumer = Consumer::connect(
            ClientConfig::new([&bootstrap]),
            ConsumerConfig::default().with_offset_reset(OffsetReset::Earliest),
        )
        .await
        .expect("consumer");
        consumer.assign_topic(&topic).await.expect("assign");
        let records = consume(&mut consumer, 300).await;
        let mut seen = BTreeMap::new();
        for r in &records {
            let value = String::from_utf8(r.value.clone().expect("value").to_vec()).expect("utf8");
            let i: usize = value
                .rsplit('-')
                .next()
                .and_then(|s| s.parse().ok())
                .expect("index");
            assert_eq!(value, format!("{codec}-{i}"));
            assert_eq!(r.key.as_deref(), Some(format!("k{}", i % 10).as_bytes()));
            assert_eq!(r.header("i").as_deref(), Some(i.to_string().as_bytes()));
            assert!(
                seen.insert(i, r.offset).is_none(),
                "{codec}: record {i} twice"
            );
        }
        assert_eq!(seen.len(), 300, "{codec}");
        consumer.close().await.expect("close");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_its_own_records_in_order_and_seeks() {
    let mock = MockCluster::new(1).expect("mock");
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic("own", 1, 1).expect("topic");
    let producer = Producer::connect(ClientConfig::new([&bootstrap]), ProducerConfig::default())
        .await
        .expect("producer");
    producer
        .send_all((0..1000).map(|i| ProducerRecord::new("own").value(format!("{i}"))))
        .await
        .expect("produced");
    producer.close(Duration::from_secs(5)).await.expect("close");

    let mut consumer =
        Consumer::connect(ClientConfig::new([&bootstrap]), ConsumerConfig::default())
            .await
            .expect("consumer");
    let tp = TopicPartition {
        topic: "own".into(),
        partition: 0,
    };
    consumer
        .assign(vec![(tp.clone(), Some(0))])
        .expect("assign");
    let records = consume(&mut consumer, 1000).await;
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.offset, i as i64);
        assert_eq!(r.value.as_deref(), Some(i.to_string().as_bytes()));
    }
    consumer.seek(tp.clone(), 990).expect("seek");
    let again = consume(&mut consumer, 10).await;
    assert_eq!(again.first().map(|r| r.offset), Some(990));
    assert_eq!(again.last().map(|r| r.offset), Some(999));
    consumer.mark_processed();
    let lag = consumer.lag().await.expect("lag");
    assert_eq!(lag.get(&tp), Some(&0));
    consumer.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_reset_skips_old_records() {
    let mock = MockCluster::new(1).expect("mock");
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic("latest", 1, 1).expect("topic");
    let producer = Producer::connect(ClientConfig::new([&bootstrap]), ProducerConfig::default())
        .await
        .expect("producer");
    producer
        .send(ProducerRecord::new("latest").value("old"))
        .await
        .expect("old");
    let mut consumer =
        Consumer::connect(ClientConfig::new([&bootstrap]), ConsumerConfig::default())
            .await
            .expect("consumer");
    consumer.assign_topic("latest").await.expect("assign");
    // Wait until the reset to the end has happened before writing the new record.
    for _ in 0..100 {
        let pos = consumer.positions().await.expect("positions");
        if pos.values().all(|(p, _)| p.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    producer
        .send(ProducerRecord::new("latest").value("new"))
        .await
        .expect("new");
    let r = consume(&mut consumer, 1).await;
    assert_eq!(r[0].value.as_deref(), Some(&b"new"[..]));
    producer.close(Duration::from_secs(2)).await.expect("close");
    consumer.close().await.expect("close");
}
