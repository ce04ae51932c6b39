//! The ShareGroupHeartbeat codec (KIP-932) against the real broker: share
//! groups are on by default in Apache Kafka 4.4.0 (`share.version=2` is
//! finalized at format time), a member joins with a client-generated id,
//! heartbeats until the coordinator's assignor has given it the topic's
//! partitions (by topic id), and leaves.
//!
//! Peer: Apache Kafka 4.4.0 (KRaft), one node (its own group coordinator).

use std::time::{Duration, Instant};

use kafkit::connection::BrokerConnection;
use kafkit::protocol::messages::find_coordinator::FindCoordinatorRequest;
use kafkit::protocol::messages::metadata::{MetadataRequest, MetadataRequestTopic};
use kafkit::protocol::messages::share_group_heartbeat::ShareGroupHeartbeatRequest;
use kafkit::protocol::ErrorCode;
use kafkit::ClientConfig;

mod support;
use support::{java, kafka};

#[tokio::test]
async fn a_share_group_member_joins_gets_the_partitions_and_leaves() {
    let Some(k) = kafka::single() else { return };
    let addr = k.bootstrap.split(',').next().expect("a broker");
    let topic = kafka::unique("share");
    java::create_topic(&k.bootstrap, &topic, 2).await;
    let conn = BrokerConnection::connect(addr, None, &ClientConfig::new([addr]))
        .await
        .expect("connect");
    assert_eq!(
        conn.version_for::<ShareGroupHeartbeatRequest>().ok(),
        Some(1)
    );
    let meta = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(topic.clone()),
            ..Default::default()
        }]),
        allow_auto_topic_creation: false,
        include_cluster_authorized_operations: false,
        include_topic_authorized_operations: false,
        unknown_tagged_fields: Default::default(),
    };
    let topic_id = conn.send(&meta).await.expect("metadata").topics[0].topic_id;

    let group = kafka::unique("share-group");
    let member_id = kafka::unique("share-member");
    let mut req = ShareGroupHeartbeatRequest {
        group_id: group.clone(),
        member_id: member_id.clone(),
        member_epoch: 0,
        subscribed_topic_names: Some(vec![topic.clone()]),
        ..Default::default()
    };
    // As a client does first: FindCoordinator, which on a fresh node also
    // creates the offsets topic the group coordinator lives on (without it
    // the heartbeat gets NOT_COORDINATOR for ever).
    let find = FindCoordinatorRequest {
        coordinator_keys: vec![group.clone()],
        ..Default::default()
    };
    let give_up = Instant::now() + Duration::from_secs(20);
    loop {
        let resp = conn.send(&find).await.expect("find coordinator");
        let c = resp.coordinators.first().expect("one coordinator");
        if c.error_code == ErrorCode::NONE {
            break;
        }
        assert!(
            Instant::now() < give_up,
            "no coordinator within 20 s: {c:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let assigned = loop {
        assert!(Instant::now() < give_up, "no assignment within 20 s");
        let resp = conn.send(&req).await.expect("share group heartbeat");
        if resp.error_code == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
            || resp.error_code == ErrorCode::COORDINATOR_NOT_AVAILABLE
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        assert_eq!(resp.error_code, ErrorCode::NONE, "{resp:?}");
        assert_eq!(resp.member_id.as_deref(), Some(member_id.as_str()));
        assert!(
            resp.member_epoch > 0 && resp.heartbeat_interval_ms > 0,
            "{resp:?}"
        );
        // Later heartbeats carry the epoch and nothing that did not change.
        req.member_epoch = resp.member_epoch;
        req.subscribed_topic_names = None;
        if let Some(a) = resp.assignment.filter(|a| !a.topic_partitions.is_empty()) {
            break a;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let parts: Vec<_> = assigned
        .topic_partitions
        .iter()
        .map(|tp| (tp.topic_id, tp.partitions.clone()))
        .collect();
    assert_eq!(parts, [(topic_id, vec![0, 1])], "the sole member gets both");

    let leave = ShareGroupHeartbeatRequest {
        group_id: group,
        member_id,
        member_epoch: -1,
        ..Default::default()
    };
    let left = conn.send(&leave).await.expect("leave");
    assert_eq!((left.error_code, left.member_epoch), (ErrorCode::NONE, -1));
    conn.close();
}
