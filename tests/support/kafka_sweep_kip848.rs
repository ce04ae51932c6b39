//! The KIP-848 part of the version sweep (`kafka_sweep.rs`): at every shared
//! ConsumerGroupHeartbeat version a new member joins a group of its own
//! (epoch 0, subscribing the sweep's topic), gets a member id, an epoch, a
//! heartbeat interval and the topic's partitions by topic id, then leaves
//! (epoch -1). Nothing is sent to a broker that does not list the API.
//!
//! A broker that lists the API without the `group.version` feature finalized
//! (3.9.1: it lists ConsumerGroupHeartbeat v0 but runs classic groups only)
//! must refuse the join with UNSUPPORTED_VERSION, which is what a client
//! falls back to the classic protocol on.

use kafkit::protocol::messages::api_versions::ApiVersionsRequest;
use kafkit::protocol::messages::consumer_group_heartbeat::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse,
};
use kafkit::protocol::messages::metadata::{MetadataRequest, MetadataRequestTopic};
use kafkit::protocol::ErrorCode;

use super::kafka_golden::Recorder;
use super::kafka_sweep::versions;

/// One join and leave per shared ConsumerGroupHeartbeat version.
pub async fn consumer_groups(rec: &mut Recorder, topic: &str, unique: &dyn Fn(&str) -> String) {
    let shared = versions::<ConsumerGroupHeartbeatRequest>(rec);
    if shared.is_empty() {
        return;
    }
    let meta = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(topic.to_string()),
            ..Default::default()
        }]),
        allow_auto_topic_creation: false,
        include_cluster_authorized_operations: false,
        include_topic_authorized_operations: false,
        unknown_tagged_fields: Default::default(),
    };
    let ask = ApiVersionsRequest {
        client_software_name: "kafkit".into(),
        client_software_version: "sweep".into(),
        ..Default::default()
    };
    let features = rec.call("sweep-kip848-features", &ask).await;
    assert_eq!(features.error_code, ErrorCode::NONE, "{features:?}");
    let enabled = features
        .finalized_features
        .iter()
        .any(|f| f.name == "group.version" && f.max_version >= 1);
    let described = rec.call("sweep-kip848-metadata", &meta).await;
    let t = described.topics.first().expect("the sweep's topic");
    let (topic_id, partitions) = (t.topic_id, t.partitions.len());
    for v in shared {
        let group = unique("sweep-kip848");
        // v1 wants a client-generated member id (KIP-1082); v0 lets the
        // coordinator choose one.
        let member_id = if v >= 1 {
            unique("member")
        } else {
            String::new()
        };
        let join = ConsumerGroupHeartbeatRequest {
            group_id: group.clone(),
            member_id: member_id.clone(),
            member_epoch: 0,
            rebalance_timeout_ms: 30_000,
            subscribed_topic_names: Some(vec![topic.to_string()]),
            topic_partitions: Some(Vec::new()),
            ..Default::default()
        };
        let loading = |r: &ConsumerGroupHeartbeatResponse| {
            r.error_code != ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
                && r.error_code != ErrorCode::COORDINATOR_NOT_AVAILABLE
        };
        let joined = rec
            .call_until_at("sweep-kip848-join", &join, v, loading)
            .await;
        if !enabled {
            assert_eq!(
                (
                    joined.error_code,
                    joined.member_epoch,
                    joined.assignment.is_none()
                ),
                (ErrorCode::UNSUPPORTED_VERSION, 0, true),
                "join v{v} without group.version: {joined:?}"
            );
            continue;
        }
        assert_eq!(joined.error_code, ErrorCode::NONE, "join v{v}: {joined:?}");
        let id = joined.member_id.clone().unwrap_or_default();
        assert!(!id.is_empty(), "join v{v}: a member id");
        if v >= 1 {
            assert_eq!(id, member_id, "join v{v}: the client's member id is kept");
        }
        assert!(joined.member_epoch > 0, "join v{v}: {joined:?}");
        assert!(joined.heartbeat_interval_ms > 0, "join v{v}: {joined:?}");
        let assigned = joined
            .assignment
            .as_ref()
            .expect("join v{v}: an assignment");
        let owned: usize = assigned
            .topic_partitions
            .iter()
            .inspect(|tp| assert_eq!(tp.topic_id, topic_id, "join v{v}: topic id"))
            .map(|tp| tp.partitions.len())
            .sum();
        assert_eq!(
            owned, partitions,
            "join v{v}: the sole member gets every partition"
        );
        let leave = ConsumerGroupHeartbeatRequest {
            group_id: group,
            member_id: id,
            member_epoch: -1,
            ..Default::default()
        };
        let left = rec.call_at("sweep-kip848-leave", &leave, v).await;
        assert_eq!(left.error_code, ErrorCode::NONE, "leave v{v}: {left:?}");
        assert_eq!(left.member_epoch, -1, "leave v{v}: {left:?}");
    }
}
