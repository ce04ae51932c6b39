//! The transaction coordinator's node is SIGKILLed mid-transaction on a
//! 3-node Apache Kafka 4.4.0 cluster (owned by this test). The open
//! transaction's records are written (replicated to the other nodes); the
//! commit then either succeeds once the producer has found the new
//! coordinator (the `__transaction_state` partition's new leader, which
//! has the transaction's state) or fails with an abortable error, after
//! which an abort and a retry of the whole transaction succeed. Either way
//! read_committed finds each record of the transaction once, and the next
//! transaction commits normally.
//!
//! Peer: Apache Kafka 4.4.0 (`kafka::Cluster::start(3, ..)`), the broker's
//! session timeout lowered so that the controller fences the dead node in
//! seconds.

mod support;

use std::time::{Duration, Instant};

use kafkit::cluster::CoordinatorKind;
use kafkit::consumer::{ConsumerConfig, IsolationLevel};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::Error;
use support::kafka::{self, Cluster};
use support::real::{client, create_topics, read_topic, text};

async fn send_batch(p: &Producer, topic: &str, tag: &str) -> kafkit::Result<()> {
    p.send_all((0..10).map(|i| {
        ProducerRecord::new(topic)
            .partition(i % 3)
            .value(format!("{tag}-{i}"))
    }))
    .await
    .map(drop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_transaction_coordinator_mid_transaction_loses_and_duplicates_nothing() {
    if !kafka::can_start() {
        return;
    }
    let cluster = Cluster::start(
        3,
        &[
            "--set",
            "broker.session.timeout.ms=3000",
            "--set",
            "broker.heartbeat.interval.ms=500",
            "--set",
            "transaction.state.log.num.partitions=3",
        ],
    );
    let bootstrap = cluster.bootstrap.as_str();
    let topic = kafka::unique("txn-coord");
    create_topics(bootstrap, &[(&topic, 3)], 3).await;
    let id = kafka::unique("txn-coord-id");
    let config = ProducerConfig::default()
        .with_transactional_id(&id)
        .with_transaction_timeout(Duration::from_secs(30));
    let p = Producer::connect(client(bootstrap), config)
        .await
        .expect("producer");
    p.init_transactions().await.expect("init");
    p.begin_transaction().await.expect("begin");
    send_batch(&p, &topic, "t1").await.expect("written");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let coordinator = p
        .client()
        .coordinator(CoordinatorKind::Transaction, &id, deadline)
        .await
        .expect("the transaction coordinator");
    let node = coordinator.node_id().expect("a node id");
    let node = u8::try_from(node).expect("nodes 1-3");
    cluster.kill(node);
    let killed = Instant::now();

    let outcome = match p.commit_transaction().await {
        Ok(()) => "committed after rediscovery".to_owned(),
        Err(Error::Transaction(t)) if t.is_abortable() || !t.is_fatal() => {
            // Abortable (or timed out): abort, then the whole transaction again.
            let first = t.to_string();
            p.abort_transaction().await.expect("abort");
            p.begin_transaction().await.expect("begin again");
            send_batch(&p, &topic, "t1").await.expect("written again");
            p.commit_transaction()
                .await
                .expect("the retried transaction commits");
            format!("aborted ({first}) and retried")
        }
        Err(e) => panic!("neither committed nor abortable: {e:?}"),
    };
    eprintln!("node {node} killed: {outcome} in {:?}", killed.elapsed());

    p.begin_transaction().await.expect("begin 2");
    send_batch(&p, &topic, "t2").await.expect("written 2");
    p.commit_transaction().await.expect("commit 2");
    p.close(Duration::from_secs(10)).await.expect("close");

    let config = ConsumerConfig::default()
        .with_isolation_level(IsolationLevel::ReadCommitted)
        .with_fetch_max_wait(Duration::from_millis(100));
    let read = read_topic(bootstrap, &topic, 20, config).await;
    let mut values: Vec<String> = read.values().map(|r| text(r.value.as_ref())).collect();
    values.sort();
    let mut want: Vec<String> = ["t1", "t2"]
        .iter()
        .flat_map(|t| (0..10).map(move |i| format!("{t}-{i}")))
        .collect();
    want.sort();
    assert_eq!(values, want, "each record of both transactions once");
}
