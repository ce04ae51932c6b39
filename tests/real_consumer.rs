//! The consumer with manual assignment against the run's real Apache Kafka
//! broker: order and offsets, seek (also into the middle of a batch),
//! pause/resume, `read_committed` on data written without transactions,
//! the latest reset, positions and lag.
//!
//! Peer: the broker (`support::kafka::single()`).

use std::time::Duration;

use kafkit::consumer::{Consumer, ConsumerConfig, IsolationLevel};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};

mod support;
use support::real::{
    assert_no_more, broker, client, next_records, read_topic, text, topic, tp, WAIT,
};

/// Writes values `"<prefix><i>"` for `range` to `partition` of `topic`.
async fn write(bootstrap: &str, topic: &str, partition: i32, prefix: &str, n: usize) {
    let producer = Producer::connect(client(bootstrap), ProducerConfig::default())
        .await
        .expect("producer");
    producer
        .send_all((0..n).map(|i| {
            ProducerRecord::new(topic)
                .partition(partition)
                .value(format!("{prefix}{i}"))
        }))
        .await
        .expect("produced");
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_in_order_seeks_and_reports_positions_and_lag() {
    let Some(bootstrap) = broker() else { return };
    let topic = topic(&bootstrap, "order", 1).await;
    write(&bootstrap, &topic, 0, "", 1000).await;
    let mut consumer = Consumer::connect(client(&bootstrap), ConsumerConfig::default())
        .await
        .expect("consumer");
    let p0 = tp(&topic, 0);
    consumer
        .assign(vec![(p0.clone(), Some(0))])
        .expect("assign");
    let read = next_records(&mut consumer, 1000).await;
    for (i, r) in read.iter().enumerate() {
        assert_eq!(
            (r.offset, text(r.value.as_ref())),
            (i as i64, i.to_string())
        );
    }
    // Back into the middle of a batch, and forward again.
    for (at, n) in [(990, 10), (3, 5), (500, 500)] {
        consumer.seek(p0.clone(), at).expect("seek");
        let again = next_records(&mut consumer, n).await;
        let offsets: Vec<i64> = again.iter().map(|r| r.offset).collect();
        assert_eq!(
            offsets,
            (at..at + n as i64).collect::<Vec<_>>(),
            "seek {at}"
        );
    }
    consumer.mark_processed();
    let positions = consumer.positions().await.expect("positions");
    assert_eq!(
        positions.get(&p0).map(|(p, end)| (*p, *end)),
        Some((Some(1000), 1000))
    );
    assert_eq!(consumer.lag().await.expect("lag").get(&p0), Some(&0));
    write(&bootstrap, &topic, 0, "more-", 7).await;
    let more = next_records(&mut consumer, 7).await;
    assert_eq!(more.first().map(|r| r.offset), Some(1000));
    consumer.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_partition_waits_for_resume() {
    let Some(bootstrap) = broker() else { return };
    let topic = topic(&bootstrap, "pause", 2).await;
    let mut consumer = Consumer::connect(client(&bootstrap), ConsumerConfig::default())
        .await
        .expect("consumer");
    let (p0, p1) = (tp(&topic, 0), tp(&topic, 1));
    consumer
        .assign(vec![(p0.clone(), Some(0)), (p1.clone(), Some(0))])
        .expect("assign");
    consumer.pause(vec![p0.clone()]).expect("pause");
    write(&bootstrap, &topic, 0, "zero-", 10).await;
    write(&bootstrap, &topic, 1, "one-", 10).await;
    let first = next_records(&mut consumer, 10).await;
    assert!(first.iter().all(|r| r.partition == 1), "{first:?}");
    assert_no_more(&mut consumer, Duration::from_secs(1)).await;
    consumer.resume(vec![p0.clone()]).expect("resume");
    let rest = next_records(&mut consumer, 10).await;
    let values: Vec<String> = rest.iter().map(|r| text(r.value.as_ref())).collect();
    assert_eq!(
        values,
        (0..10).map(|i| format!("zero-{i}")).collect::<Vec<_>>()
    );
    consumer.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_committed_reads_records_written_without_transactions() {
    let Some(bootstrap) = broker() else { return };
    let topic = topic(&bootstrap, "committed", 3).await;
    for p in 0..3 {
        write(&bootstrap, &topic, p, &format!("p{p}-"), 40).await;
    }
    // The last stable offset equals the high watermark without transactions.
    let config = ConsumerConfig::default().with_isolation_level(IsolationLevel::ReadCommitted);
    let read = read_topic(&bootstrap, &topic, 120, config).await;
    for ((partition, offset), r) in &read {
        assert_eq!(text(r.value.as_ref()), format!("p{partition}-{offset}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_latest_reset_skips_what_was_there() {
    let Some(bootstrap) = broker() else { return };
    let topic = topic(&bootstrap, "latest", 1).await;
    write(&bootstrap, &topic, 0, "old-", 5).await;
    let mut consumer = Consumer::connect(client(&bootstrap), ConsumerConfig::default())
        .await
        .expect("consumer");
    consumer.assign_topic(&topic).await.expect("assign");
    // Wait for the reset to the end before writing the new record.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let pos = consumer.positions().await.expect("positions");
        if pos.values().all(|(p, _)| *p == Some(5)) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no reset: {pos:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    write(&bootstrap, &topic, 0, "new-", 1).await;
    let r = next_records(&mut consumer, 1).await;
    assert_eq!(
        (r[0].offset, text(r[0].value.as_ref())),
        (5, "new-0".to_owned())
    );
    consumer.close().await.expect("close");
}
