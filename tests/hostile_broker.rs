//! kafkit behind a hostile proxy (`support/proxy.rs`) in front of a
//! one-broker librdkafka mock that advertises the proxy's address, so every
//! kafkit connection goes through it. Each broken response must surface as
//! an error naming the broker and the request (or be recovered from
//! transparently), the connection must be dropped, the next request must
//! work on a new connection, nothing may panic, and no allocation may follow
//! a forged size prefix (a counting allocator records the largest one).

#[path = "support/alloc_watch.rs"]
mod alloc_watch;
#[path = "support/mock.rs"]
mod mock;
#[path = "support/proxy.rs"]
mod proxy;
mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use alloc_watch::{count_task_panics, LARGEST, TASK_PANICS};
use bytes::{Bytes, BytesMut};
use kafkit::consumer::{Consumer, ConsumerConfig, OffsetReset};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::frame::{decode_response_message, encode_response};
use kafkit::protocol::messages::fetch::FetchResponse;
use kafkit::protocol::record::{BatchAttributes, BatchHeader, Compression, Record, RecordBatch};
use kafkit::protocol::ApiKey;
use kafkit::{Client, ClientConfig, Error};
use mock::Mock;
use proxy::{Fault, Proxy};

/// A one-broker mock behind a proxy, topic `t` with one partition.
async fn setup() -> (Mock, Proxy, String) {
    count_task_panics();
    let mock = Mock::new(1);
    mock.cluster().create_topic("t", 1, 1).expect("topic");
    let proxy = Proxy::start(mock.broker_addr(1)).await;
    mock.advertise(1, "127.0.0.1", proxy.port);
    let bootstrap = format!("127.0.0.1:{}", proxy.port);
    (mock, proxy, bootstrap)
}

fn client_config(bootstrap: &str) -> ClientConfig {
    ClientConfig::new([bootstrap])
        .with_request_timeout(Duration::from_secs(2))
        .with_reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_metadata_responses_name_broker_and_request_and_recover() {
    let (_mock, proxy, bootstrap) = setup().await;
    let client = Client::connect(client_config(&bootstrap))
        .await
        .expect("connect");
    let metadata = ApiKey::METADATA.0;
    for fault in [
        Fault::Trickle(Duration::from_millis(1)),
        Fault::CutMidFrame,
        Fault::SizePrefix(i32::MAX), // 2 GiB
        Fault::SizePrefix(-5),
        Fault::Garbage(64),
    ] {
        let name = format!("{fault:?}");
        let before = proxy.connections();
        proxy.arm(metadata, fault);
        let started = std::time::Instant::now();
        let result = client.refresh_metadata().await;
        assert!(proxy.all_applied(), "{name}: fault not applied");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name}: took {:?}",
            started.elapsed()
        );
        match (&name[..], result) {
            ("Trickle(1ms)", r) => {
                r.expect("a trickled response is just slow");
                // On a loaded machine the 1 ms sleeps stretch and the trickle
                // can outlast the 2 s request timeout: the client then starts
                // again from the bootstrap list on a new connection (seen in
                // CI). Sooner than that, it must have kept the connection.
                let took = started.elapsed();
                assert!(
                    proxy.connections() == before || took >= Duration::from_secs(2),
                    "{name}: reconnected after {took:?}, before any timeout"
                );
            }
            // The request is retried on a new connection by itself.
            ("CutMidFrame", Ok(_)) => {}
            (_, Ok(_)) => panic!("{name}: a broken response was accepted"),
            (_, Err(e)) => {
                let text = e.to_string();
                eprintln!("{name}: {text}");
                assert!(
                    text.contains(&bootstrap),
                    "{name}: names the broker: {text}"
                );
                assert!(
                    text.contains("Metadata"),
                    "{name}: names the request: {text}"
                );
                assert!(
                    matches!(
                        e,
                        Error::BadResponse { .. }
                            | Error::Timeout { .. }
                            | Error::Io { .. }
                            | Error::Disconnected { .. }
                    ),
                    "{name}: {e:?}"
                );
                assert!(e.is_retriable(), "{name}");
            }
        }
        // Recovered: the next request works, on a new connection if the old one broke.
        client
            .refresh_metadata()
            .await
            .unwrap_or_else(|e| panic!("{name}: no recovery: {e}"));
        if name != "Trickle(1ms)" {
            assert!(proxy.connections() > before, "{name}: reconnected");
        }
    }
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest < 64 << 20,
        "largest allocation {largest} bytes: a forged size prefix was believed"
    );
    assert_eq!(
        TASK_PANICS.load(Ordering::Acquire),
        0,
        "a kafkit task panicked"
    );
    client.close();
}

/// Rewrites the first partition's records of a fetch response that has
/// some, with `f(records)`.
fn rewrite_records(f: fn(Bytes) -> Bytes) -> Fault {
    Fault::Rewrite(std::sync::Arc::new(move |version, frame| {
        let (header, mut resp) = decode_response_message::<FetchResponse>(frame, version).ok()?;
        let p = resp.responses.first_mut()?.partitions.first_mut()?;
        let records = p.records.take().filter(|r| !r.is_empty())?;
        p.records = Some(f(records));
        let mut out = BytesMut::new();
        encode_response(&resp, version, header.correlation_id, &mut out).ok()?;
        Some(out.freeze().slice(4..))
    }))
}

fn flip_last_byte(records: Bytes) -> Bytes {
    let mut v = records.to_vec();
    if let Some(b) = v.last_mut() {
        *b ^= 0xff;
    }
    Bytes::from(v)
}

/// One gzip batch at the same base offset holding 16 MiB of zeros.
fn gzip_bomb(records: Bytes) -> Bytes {
    let base_offset = records
        .get(..8)
        .map_or(0, |b| i64::from_be_bytes(b.try_into().expect("8 bytes")));
    let batch = RecordBatch {
        header: BatchHeader {
            base_offset,
            attributes: BatchAttributes {
                compression: Compression::Gzip,
                ..BatchAttributes::default()
            },
            ..BatchHeader::default()
        },
        records: vec![Record {
            value: Some(Bytes::from(vec![0u8; 16 << 20])),
            ..Record::default()
        }],
    };
    let mut buf = BytesMut::new();
    batch.encode(&mut buf).expect("bomb");
    buf.freeze()
}

async fn produce(bootstrap: &str, range: std::ops::Range<usize>) {
    let producer = Producer::connect(client_config(bootstrap), ProducerConfig::default())
        .await
        .expect("producer");
    producer
        .send_all(range.map(|i| ProducerRecord::new("t").value(format!("{i}"))))
        .await
        .expect("produced");
    producer.close(Duration::from_secs(5)).await.expect("close");
}

async fn next(consumer: &mut Consumer) -> kafkit::Result<String> {
    let r = tokio::time::timeout(Duration::from_secs(10), consumer.recv())
        .await
        .expect("the consumer answers")
        .expect("stream open")?;
    Ok(String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_and_inflating_batches_are_reported_and_refetched() {
    let (_mock, proxy, bootstrap) = setup().await;
    produce(&bootstrap, 0..20).await;
    let mut cfg = ConsumerConfig::default()
        .with_offset_reset(OffsetReset::Earliest)
        .with_fetch_max_wait(Duration::from_millis(100));
    cfg.max_decompressed_size = 1 << 20;
    let mut consumer = Consumer::connect(client_config(&bootstrap), cfg)
        .await
        .expect("consumer");
    let fetch = ApiKey::FETCH.0;

    // A corrupt CRC: reported, then the same records arrive on a new connection.
    let before = proxy.connections();
    proxy.arm(fetch, rewrite_records(flip_last_byte));
    consumer.assign_topic("t").await.expect("assign");
    let e = next(&mut consumer).await.expect_err("corrupt batch");
    let text = e.to_string();
    eprintln!("corrupt CRC: {text}");
    assert!(text.contains("CRC"), "{text}");
    assert!(
        text.contains("Fetch") && text.contains(&bootstrap),
        "{text}"
    );
    for i in 0..20 {
        assert_eq!(next(&mut consumer).await.expect("record"), i.to_string());
    }
    assert!(
        proxy.connections() > before,
        "reconnected after the corrupt batch"
    );

    // A batch inflating past the 1 MiB limit: reported, then refetched.
    proxy.arm(fetch, rewrite_records(gzip_bomb));
    produce(&bootstrap, 20..25).await;
    let e = next(&mut consumer).await.expect_err("bomb");
    let text = e.to_string();
    eprintln!("bomb: {text}");
    assert!(text.contains("exceeds the limit of 1048576"), "{text}");
    assert!(
        text.contains("Fetch") && text.contains(&bootstrap),
        "{text}"
    );
    for i in 20..25 {
        assert_eq!(next(&mut consumer).await.expect("record"), i.to_string());
    }
    assert!(proxy.all_applied());
    assert_eq!(
        TASK_PANICS.load(Ordering::Acquire),
        0,
        "a kafkit task panicked"
    );
    consumer.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_recovers_from_broken_produce_responses() {
    let (_mock, proxy, bootstrap) = setup().await;
    let producer = Producer::connect(client_config(&bootstrap), ProducerConfig::default())
        .await
        .expect("producer");
    producer
        .send(ProducerRecord::new("t").value("warm-up"))
        .await
        .expect("warm-up");
    let produce = ApiKey::PRODUCE.0;
    for fault in [
        Fault::Trickle(Duration::from_millis(1)),
        Fault::SizePrefix(i32::MAX),
        Fault::SizePrefix(-1),
        Fault::CutMidFrame,
        Fault::Garbage(100),
    ] {
        let name = format!("{fault:?}");
        let before = proxy.connections();
        proxy.arm(produce, fault);
        let report = tokio::time::timeout(
            Duration::from_secs(10),
            producer.send(ProducerRecord::new("t").value(name.clone())),
        )
        .await
        .unwrap_or_else(|_| panic!("{name}: send did not resolve"));
        // The batch is retried on a new connection (idempotent: a real
        // broker would drop the copy it had already written).
        report.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(proxy.all_applied(), "{name}: fault not applied");
        if name != "Trickle(1ms)" {
            assert!(proxy.connections() > before, "{name}: reconnected");
        }
    }
    assert!(producer.metrics().retries > 0);
    assert_eq!(
        TASK_PANICS.load(Ordering::Acquire),
        0,
        "a kafkit task panicked"
    );
    producer.close(Duration::from_secs(5)).await.expect("close");
}
