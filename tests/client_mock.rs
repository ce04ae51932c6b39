//! The shared client (pool + metadata cache) against librdkafka's mock cluster.

use std::time::Duration;

use kafkit::{Client, ClientConfig, Error};
use rdkafka::mocking::MockCluster;

#[tokio::test]
async fn loads_brokers_and_topic_leaders() {
    let mock = MockCluster::new(3).expect("mock cluster");
    mock.create_topic("orders", 6, 3).expect("create topic");
    let client = Client::connect(ClientConfig::new([mock.bootstrap_servers()]))
        .await
        .expect("connect");
    let meta = client.metadata();
    assert_eq!(meta.brokers.len(), 3, "{meta:?}");
    let topic = client
        .topic("orders", Duration::from_secs(5))
        .await
        .expect("topic");
    assert_eq!(topic.partitions.len(), 6);
    for p in &topic.partitions {
        let leader = p.leader.expect("leader");
        let conn = client
            .leader("orders", p.partition)
            .await
            .expect("leader connection");
        assert_eq!(conn.node_id(), Some(leader));
    }
    client.close();
}

#[tokio::test]
async fn sees_a_moved_leader_after_refresh() {
    let mock = MockCluster::new(3).expect("mock cluster");
    mock.create_topic("moves", 2, 3).expect("create topic");
    let client = Client::connect(ClientConfig::new([mock.bootstrap_servers()]))
        .await
        .expect("connect");
    let before = client
        .topic("moves", Duration::from_secs(5))
        .await
        .expect("topic");
    let old = before.partition(0).and_then(|p| p.leader).expect("leader");
    let new = if old == 1 { 2 } else { 1 };
    mock.partition_leader("moves", 0, Some(new))
        .expect("move leader");
    let after = client.refresh_metadata().await.expect("refresh");
    assert_eq!(after.leader("moves", 0), Some(new));
    client.close();
}

#[tokio::test]
async fn unknown_topic_times_out_with_a_clear_error() {
    let mock = MockCluster::new(1).expect("mock cluster");
    let client = Client::connect(ClientConfig::new([mock.bootstrap_servers()]))
        .await
        .expect("connect");
    // The mock auto-creates topics unless told otherwise; ask for a topic with
    // an injected error instead.
    mock.topic_error(
        "broken",
        rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
    )
    .expect("inject");
    let err = client
        .topic("broken", Duration::from_millis(300))
        .await
        .expect_err("topic is not usable");
    assert!(
        matches!(err, Error::Broker { .. } | Error::DeadlineExceeded(_)),
        "{err}"
    );
    client.close();
}

#[tokio::test]
async fn no_reachable_bootstrap_is_an_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    drop(listener);
    let err = Client::connect(
        ClientConfig::new([addr.as_str()]).with_connect_timeout(Duration::from_secs(1)),
    )
    .await
    .expect_err("nothing listens");
    assert!(matches!(err, Error::NoBrokers(_)), "{err}");
}
