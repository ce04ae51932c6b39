//! The admin client against librdkafka's mock cluster (`rdkafka::mocking`).
//!
//! The mock implements Metadata, ListOffsets, FindCoordinator and
//! OffsetFetch/OffsetCommit, but none of CreateTopics, DeleteTopics,
//! ListGroups, DescribeGroups, DeleteGroups or OffsetDelete
//! (`rd_kafka_mock_api_handlers` in rdkafka_mock_handlers.c): topics are
//! created through its control API here, and the test of those APIs is that
//! kafkit reports them as unsupported instead of sending them. They run
//! against tansu (tests/admin_tansu.rs) and at codec level.
//! Its ListOffsets answers every lookup by timestamp with -1 (a FIXME in the
//! mock), so lookups by timestamp are checked against tansu too.

use std::time::Duration;

use kafkit::admin::{Admin, OffsetSpec, TopicPartition};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::ErrorCode;
use kafkit::{ClientConfig, Error};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::mocking::{MockCluster, MockCoordinator};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.to_owned(),
        partition,
    }
}

async fn admin<C: rdkafka::ClientContext>(mock: &MockCluster<'_, C>) -> Admin {
    Admin::connect(ClientConfig::new([mock.bootstrap_servers()]))
        .await
        .expect("connect")
        .with_timeout(Duration::from_secs(10))
}

/// Produces `count` records to each partition of `topic` with kafkit.
async fn fill(bootstrap: &str, topic: &str, partitions: i32, count: usize) {
    let producer = Producer::connect(ClientConfig::new([bootstrap]), ProducerConfig::default())
        .await
        .expect("producer");
    for p in 0..partitions {
        let records = (0..count).map(|i| {
            ProducerRecord::new(topic)
                .partition(p)
                .value(format!("{p}-{i}"))
        });
        producer.send_all(records).await.expect("produce");
    }
    producer
        .close(Duration::from_secs(5))
        .await
        .expect("close producer");
}

/// Commits `offsets` for `group` with librdkafka (no subscription needed).
fn commit(bootstrap: &str, group: &str, offsets: &[(&str, i32, i64)]) {
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("rdkafka consumer");
    let mut tpl = TopicPartitionList::new();
    for (topic, partition, offset) in offsets {
        tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .expect("tpl");
    }
    consumer.commit(&tpl, CommitMode::Sync).expect("commit");
}

#[tokio::test]
async fn lists_topics_with_partitions_and_replicas() {
    let mock = MockCluster::new(3).expect("mock");
    mock.create_topic("alpha", 3, 2).expect("create");
    mock.create_topic("beta", 1, 3).expect("create");
    let admin = admin(&mock).await;
    let topics = admin.list_topics(false).await.expect("list");
    let seen: Vec<(&str, usize, usize)> = topics
        .iter()
        .map(|t| (t.name.as_str(), t.partitions, t.replication_factor))
        .collect();
    assert_eq!(seen, [("alpha", 3, 2), ("beta", 1, 3)]);
    admin.close();
}

#[tokio::test]
async fn lists_earliest_and_latest_offsets_at_each_leader() {
    let mock = MockCluster::new(3).expect("mock");
    mock.create_topic("offsets", 3, 1).expect("create");
    let bootstrap = mock.bootstrap_servers();
    fill(&bootstrap, "offsets", 3, 5).await;
    let admin = admin(&mock).await;
    let tps = [tp("offsets", 2), tp("offsets", 0), tp("offsets", 1)];
    let latest = admin
        .list_offsets(&tps, OffsetSpec::Latest)
        .await
        .expect("latest");
    let earliest = admin
        .list_offsets(&tps, OffsetSpec::Earliest)
        .await
        .expect("earliest");
    // Results come back in the order asked, one per partition.
    let order: Vec<i32> = latest.iter().map(|(tp, _)| tp.partition).collect();
    assert_eq!(order, [2, 0, 1]);
    for ((_, hi), (_, lo)) in latest.iter().zip(&earliest) {
        assert_eq!(hi.as_ref().expect("latest offset").offset, 5);
        assert_eq!(lo.as_ref().expect("earliest offset").offset, 0);
    }
    // The leaders differ: the lookups went to more than one broker.
    let metadata = admin.client().metadata();
    let leaders: std::collections::BTreeSet<_> = (0..3)
        .filter_map(|p| metadata.leader("offsets", p))
        .collect();
    assert!(leaders.len() > 1, "{leaders:?}");
    // A partition that does not exist fails alone.
    let mixed = admin
        .list_offsets(&[tp("offsets", 0), tp("offsets", 7)], OffsetSpec::Latest)
        .await
        .expect("lookup");
    assert_eq!(mixed[0].1.as_ref().map(|o| o.offset).ok(), Some(5));
    let err = mixed[1].1.as_ref().expect_err("no partition 7");
    assert_eq!(err.code(), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
    admin.close();
}

#[tokio::test]
async fn list_offsets_retries_after_not_leader() {
    let mock = MockCluster::new(2).expect("mock");
    mock.create_topic("moving", 1, 2).expect("create");
    let bootstrap = mock.bootstrap_servers();
    fill(&bootstrap, "moving", 1, 3).await;
    let admin = admin(&mock).await;
    admin.client().track_topics(["moving"]);
    admin.client().refresh_metadata().await.expect("refresh");
    mock.request_errors(
        RDKafkaApiKey::ListOffsets,
        &[
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        ],
    );
    let got = admin
        .list_offsets(&[tp("moving", 0)], OffsetSpec::Latest)
        .await
        .expect("lookup");
    assert_eq!(got[0].1.as_ref().map(|o| o.offset).ok(), Some(3), "{got:?}");
    admin.close();
}

#[tokio::test]
async fn group_lag_uses_the_coordinator_and_the_high_watermark() {
    let mock = MockCluster::new(3).expect("mock");
    mock.create_topic("lagging", 3, 1).expect("create");
    let bootstrap = mock.bootstrap_servers();
    fill(&bootstrap, "lagging", 3, 10).await;
    mock.coordinator(MockCoordinator::Group("lag-group".into()), 3)
        .expect("coordinator");
    commit(
        &bootstrap,
        "lag-group",
        &[("lagging", 0, 4), ("lagging", 1, 10)],
    );
    let admin = admin(&mock).await;
    // The first OffsetFetch is refused as from a moved coordinator.
    mock.request_errors(
        RDKafkaApiKey::OffsetFetch,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_COORDINATOR],
    );
    let rows = admin
        .topic_offsets("lagging", Some("lag-group"))
        .await
        .expect("offsets");
    // partition, earliest, latest, committed, lag
    type Row = (i32, i64, i64, Option<i64>, Option<i64>);
    let table: Vec<Row> = rows
        .iter()
        .map(|r| {
            let committed = r
                .committed
                .as_ref()
                .and_then(|c| c.as_ref().ok().copied().flatten());
            (
                r.partition,
                *r.earliest.as_ref().expect("earliest"),
                *r.latest.as_ref().expect("latest"),
                committed,
                r.lag(),
            )
        })
        .collect();
    assert_eq!(
        table,
        [
            (0, 0, 10, Some(4), Some(6)),
            (1, 0, 10, Some(10), Some(0)),
            (2, 0, 10, None, None),
        ]
    );
    // Without a group: offsets only.
    let rows = admin.topic_offsets("lagging", None).await.expect("offsets");
    assert!(rows
        .iter()
        .all(|r| r.committed.is_none() && r.lag().is_none()));
    admin.close();
}

#[tokio::test]
async fn apis_the_mock_lacks_are_reported_unsupported() {
    let mock = MockCluster::new(1).expect("mock");
    let admin = admin(&mock).await;
    let unsupported = |e: &Error| matches!(e, Error::UnsupportedApi { .. });
    let err = admin
        .create_topics(&[kafkit::admin::NewTopic::new("t", 1, 1)], false)
        .await
        .expect_err("no CreateTopics in the mock");
    assert!(unsupported(&err), "{err}");
    let err = admin
        .delete_topics(&["t".to_owned()])
        .await
        .expect_err("no DeleteTopics in the mock");
    assert!(unsupported(&err), "{err}");
    let listed = admin.list_groups().await.expect("list groups");
    assert!(listed.groups.is_empty());
    assert_eq!(listed.errors.len(), 1);
    assert!(unsupported(&listed.errors[0].1), "{:?}", listed.errors);
    let described = admin
        .describe_groups(&["g".to_owned()])
        .await
        .expect("describe");
    assert!(unsupported(
        described[0].1.as_ref().expect_err("unsupported")
    ));
    let deleted = admin
        .delete_groups(&["g".to_owned()])
        .await
        .expect("delete");
    assert!(unsupported(deleted[0].1.as_ref().expect_err("unsupported")));
    let err = admin
        .delete_committed_offsets("g", &[tp("t", 0)])
        .await
        .expect_err("no OffsetDelete in the mock");
    assert!(unsupported(&err), "{err}");
    admin.close();
}
