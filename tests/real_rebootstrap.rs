//! KIP-1102 rebootstrap: a client whose known brokers all went away finds
//! the cluster again through its bootstrap address. The bootstrap address
//! is a loopback TCP proxy of this test's own; it first leads to
//! librdkafka's mock cluster (the brokers the client learns), which then
//! goes away entirely, and the proxy is pointed at the run's real Apache
//! Kafka broker (a different cluster at a different address). With
//! `MetadataRecoveryStrategy::Rebootstrap` (the default) the client and its
//! producer carry on there; with `None` the client keeps to the brokers it
//! knew and fails.
//!
//! Peers: librdkafka's mock cluster, then the broker (`support::kafka::single()`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafkit::config::MetadataRecoveryStrategy;
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::{Client, ClientConfig};
use rdkafka::mocking::MockCluster;
use tokio::net::{TcpListener, TcpStream};

mod support;
use support::real::{broker, create_topics, WAIT};

/// Forwards every connection to the current upstream address.
struct Forwarder {
    addr: String,
    upstream: Arc<Mutex<String>>,
}

impl Forwarder {
    async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let upstream = Arc::new(Mutex::new(upstream.to_owned()));
        let target = upstream.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let to = target.lock().unwrap().clone();
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&to).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self { addr, upstream }
    }

    fn point_to(&self, upstream: &str) {
        *self.upstream.lock().unwrap() = upstream.to_owned();
    }
}

fn first(bootstrap: &str) -> String {
    bootstrap.split(',').next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_brokers_are_gone_rebootstraps() {
    let Some(real) = broker() else { return };
    let real = first(&real);
    let topic = support::kafka::unique("rebootstrap");
    create_topics(&real, &[(&topic, 1)], 1).await;

    let mock = MockCluster::new(1).expect("mock cluster");
    mock.create_topic(&topic, 1, 1).expect("mock topic");
    let mock_addr = first(&mock.bootstrap_servers());
    let proxy = Forwarder::start(&mock_addr).await;

    let config = |strategy| {
        ClientConfig::new([&proxy.addr])
            .with_request_timeout(Duration::from_secs(5))
            .with_reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
            .with_metadata_recovery(strategy, Duration::from_secs(300))
    };
    let client = Client::connect(config(MetadataRecoveryStrategy::Rebootstrap))
        .await
        .expect("client");
    let stubborn = Client::connect(config(MetadataRecoveryStrategy::None))
        .await
        .expect("client");
    // Not idempotent: a producer id of the mock cluster means nothing to
    // the real broker (that case is the application's to restart).
    let producer = Producer::with_client(
        client.clone(),
        ProducerConfig::default().with_idempotence(false),
    );
    let on_mock = producer
        .send(ProducerRecord::new(&topic).value("to the mock"))
        .await
        .expect("sent to the mock cluster");
    assert_eq!(on_mock.offset, 0);
    let known = client.metadata().broker_addrs();
    assert!(known.values().all(|a| *a == mock_addr), "{known:?}");

    // Every broker the clients know goes away; the bootstrap address now
    // leads to another cluster.
    drop(mock);
    proxy.point_to(&real);

    let refreshed = tokio::time::timeout(WAIT, client.refresh_metadata())
        .await
        .expect("within the wait")
        .expect("metadata through the bootstrap address");
    let addrs = refreshed.broker_addrs();
    assert!(
        !addrs.is_empty() && addrs.values().all(|a| *a == real),
        "{addrs:?}"
    );
    let on_real = tokio::time::timeout(
        WAIT,
        producer.send(ProducerRecord::new(&topic).value("to the real broker")),
    )
    .await
    .expect("within the wait")
    .expect("sent to the new cluster");
    assert_eq!(
        on_real.offset, 0,
        "the first record of the real broker's topic"
    );

    let refused = tokio::time::timeout(WAIT, stubborn.refresh_metadata())
        .await
        .expect("within the wait");
    assert!(
        refused.is_err(),
        "strategy None used the bootstrap list: {refused:?}"
    );
    assert!(stubborn
        .metadata()
        .broker_addrs()
        .values()
        .all(|a| *a == mock_addr));

    producer.close(WAIT).await.expect("close");
    client.close();
    stubborn.close();
}
