//! Where the admin client sends its requests, against the scripted two-broker
//! cluster of tests/support/scripted.rs, whose controller and group
//! coordinator move: CreateTopics/DeleteTopics must reach the controller after
//! a `NOT_CONTROLLER`, group requests the coordinator after a
//! `NOT_COORDINATOR`, ListGroups every broker, ListOffsets the leader;
//! per-item errors stay per item.
//!
//! The librdkafka mock cannot play this: it lacks the admin and group APIs.

mod support;

use std::time::Duration;

use kafkit::admin::{Admin, NewTopic, TopicPartition};
use kafkit::protocol::ErrorCode;
use kafkit::ClientConfig;
use support::scripted::{cluster, sent};

async fn admin(bootstrap: &str) -> Admin {
    Admin::connect(ClientConfig::new([bootstrap]))
        .await
        .expect("connect")
        .with_timeout(Duration::from_secs(5))
}

#[tokio::test]
async fn topic_admin_follows_the_controller_and_reports_per_topic() {
    let (state, bootstrap) = cluster().await;
    let admin = admin(&bootstrap).await;
    let results = admin
        .create_topics(
            &[
                NewTopic::new("fresh", 3, 2).with_config("cleanup.policy", "compact"),
                NewTopic::new("existing", 1, 1),
            ],
            false,
        )
        .await
        .expect("create");
    // Broker 1 (the advertised controller) refused; after a refresh broker 2 answered.
    assert_eq!(sent(&state, "CreateTopics"), [1, 2]);
    assert_eq!(results[0].0, "fresh");
    assert!(results[0].1.is_ok(), "{results:?}");
    assert_eq!(results[1].0, "existing");
    let err = results[1].1.as_ref().expect_err("exists");
    assert_eq!(err.code(), Some(ErrorCode::TOPIC_ALREADY_EXISTS));
    assert!(err.to_string().contains("it exists"), "{err}");

    let validated = admin
        .create_topics(&[NewTopic::new("dry", 1, 1)], true)
        .await
        .expect("validate");
    assert!(validated[0].1.is_ok());
    assert!(
        !state.lock().unwrap().topics.contains("dry"),
        "validate_only created it"
    );

    let listed: Vec<String> = admin
        .list_topics(false)
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(listed, ["existing", "fresh"]);

    let deleted = admin
        .delete_topics(&["fresh".to_owned(), "never".to_owned()])
        .await
        .expect("delete");
    assert!(deleted[0].1.is_ok());
    let err = deleted[1].1.as_ref().expect_err("unknown");
    assert_eq!(err.code(), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
    assert_eq!(
        sent(&state, "DeleteTopics"),
        [2],
        "straight to the new controller"
    );
    admin.close();
}

#[tokio::test]
async fn group_admin_follows_the_coordinator_and_lists_every_broker() {
    let (state, bootstrap) = cluster().await;
    let admin = admin(&bootstrap).await;
    let described = admin
        .describe_groups(&["g".to_owned()])
        .await
        .expect("describe");
    let g = described[0].1.as_ref().expect("described");
    assert_eq!((g.state.as_str(), g.coordinator), ("Empty", 2));
    // FindCoordinator named broker 1 first, which refused; the second lookup found 2.
    assert_eq!(sent(&state, "DescribeGroups"), [1, 2]);
    assert_eq!(sent(&state, "FindCoordinator").len(), 2);

    let listed = admin.list_groups().await.expect("list");
    let ids: Vec<(&str, i32)> = listed
        .groups
        .iter()
        .map(|g| (g.group_id.as_str(), g.coordinator))
        .collect();
    assert_eq!(ids, [("group-of-1", 1), ("group-of-2", 2)]);
    assert!(listed
        .groups
        .iter()
        .all(|g| g.state.as_deref() == Some("Stable")));
    assert!(listed.errors.is_empty());

    let deleted = admin
        .delete_groups(&["idle".to_owned(), "busy".to_owned()])
        .await
        .expect("delete groups");
    assert!(deleted[0].1.is_ok());
    let err = deleted[1].1.as_ref().expect_err("busy");
    assert_eq!(err.code(), Some(ErrorCode::NON_EMPTY_GROUP));

    let tp = |partition| TopicPartition {
        topic: "t".into(),
        partition,
    };
    let offsets = admin
        .delete_committed_offsets("g", &[tp(1), tp(0)])
        .await
        .expect("offset delete");
    assert_eq!(offsets[0].0, tp(1));
    let err = offsets[0].1.as_ref().expect_err("subscribed");
    assert_eq!(err.code(), Some(ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC));
    assert!(offsets[1].1.is_ok());
    assert!(sent(&state, "OffsetDelete").iter().all(|&n| n == 2));
    admin.close();
}

/// Lookups by timestamp, which neither the librdkafka mock (always -1) nor
/// tansu 0.6.0 (always 0) answer: kafkit sends the timestamp to the leader at
/// the newest version and reads the offset and record timestamp back.
#[tokio::test]
async fn offsets_by_timestamp_reach_the_leader() {
    use kafkit::admin::OffsetSpec;
    use kafkit::protocol::messages::list_offsets::ListOffsetsRequest;
    use kafkit::protocol::Message;
    let (state, bootstrap) = cluster().await;
    let admin = admin(&bootstrap).await;
    let tps = [TopicPartition {
        topic: "existing".into(),
        partition: 0,
    }];
    let at = |spec| {
        let admin = admin.clone();
        let tps = tps.clone();
        async move {
            let r = admin.list_offsets(&tps, spec).await.expect("lookup");
            let o = r[0].1.as_ref().expect("offset");
            (o.offset, o.timestamp)
        }
    };
    assert_eq!(at(OffsetSpec::Timestamp(2500)).await, (2, 3000));
    assert_eq!(at(OffsetSpec::Timestamp(3000)).await, (2, 3000));
    assert_eq!(at(OffsetSpec::Timestamp(20_000)).await, (-1, -1));
    assert_eq!(at(OffsetSpec::MaxTimestamp).await, (9, 10_000));
    assert_eq!(at(OffsetSpec::Latest).await.0, 10);
    assert_eq!(
        sent(&state, "ListOffsets"),
        [1, 1, 1, 1, 1],
        "only the leader"
    );
    let frames = state.lock().unwrap().frames.clone();
    let versions: Vec<i16> = frames
        .iter()
        .filter(|(k, _, _)| *k == 2)
        .map(|(_, v, _)| *v)
        .collect();
    assert!(
        versions
            .iter()
            .all(|&v| v == ListOffsetsRequest::VERSIONS.max),
        "{versions:?}"
    );
    admin.close();
}
