//! kafkit against tansu, a second real broker (see tests/support/tansu.rs and
//! DESIGN.md for what tansu 0.6.0 does and does not do).
//!
//! tansu speaks the newest flexible versions and implements CreateTopics and
//! DeleteTopics, which the librdkafka mock lacks: topic administration is
//! checked here end to end, and so are produce and fetch at the newest
//! versions both sides support, and the administration of a group that only
//! has committed offsets. Its group coordinator is not dependable in 0.6.0,
//! so group membership tests stay on the mock cluster. What tansu 0.6.0 gets
//! wrong (validate_only, high watermarks, lookups by timestamp, no
//! OffsetDelete) is listed in DESIGN.md and pinned by comments below.

mod support;

use std::time::Duration;

use kafkit::admin::{Admin, NewTopic, OffsetSpec, TopicPartition};
use kafkit::connection::BrokerConnection;
use kafkit::consumer::{Consumer, ConsumerConfig, OffsetReset};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::messages::create_topics::CreateTopicsRequest;
use kafkit::protocol::messages::delete_topics::DeleteTopicsRequest;
use kafkit::protocol::messages::fetch::FetchRequest;
use kafkit::protocol::messages::list_offsets::ListOffsetsRequest;
use kafkit::protocol::messages::metadata::MetadataRequest;
use kafkit::protocol::messages::produce::ProduceRequest;
use kafkit::protocol::{ErrorCode, Message, Request};
use kafkit::ClientConfig;
use support::tansu::Tansu;

async fn admin(tansu: &Tansu) -> Admin {
    Admin::connect(ClientConfig::new([tansu.bootstrap.as_str()]))
        .await
        .unwrap_or_else(|e| panic!("connect to tansu: {e}; {}", tansu.log_tail()))
        .with_timeout(Duration::from_secs(10))
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.to_owned(),
        partition,
    }
}

/// The version kafkit negotiated for `R` with the broker, after checking it
/// is the highest both advertise.
fn negotiated<R: Request>(conn: &BrokerConnection) -> i16 {
    let theirs = conn
        .broker_versions(R::API_KEY)
        .unwrap_or_else(|| panic!("tansu does not advertise {:?}", R::API_KEY));
    let version = conn.version_for::<R>().expect("a common version");
    assert_eq!(version, theirs.max.min(R::VERSIONS.max), "{:?}", R::API_KEY);
    version
}

async fn names(admin: &Admin) -> Vec<String> {
    let topics = admin.list_topics(false).await.expect("list topics");
    topics.into_iter().map(|t| t.name).collect()
}

#[tokio::test]
async fn creates_lists_and_deletes_topics_with_per_topic_results() {
    let Some(tansu) = Tansu::start() else { return };
    let admin = admin(&tansu).await;
    let conn = admin.client().pool().any().await.expect("connection");
    let create_version = negotiated::<CreateTopicsRequest>(&conn);
    let delete_version = negotiated::<DeleteTopicsRequest>(&conn);
    negotiated::<MetadataRequest>(&conn);
    assert!(
        CreateTopicsRequest::is_flexible(create_version)
            && DeleteTopicsRequest::is_flexible(delete_version),
        "CreateTopics v{create_version}, DeleteTopics v{delete_version}"
    );

    let created = admin
        .create_topics(
            &[
                NewTopic::new("orders", 3, 1).with_config("cleanup.policy", "delete"),
                NewTopic::new("audit", 1, 1),
            ],
            false,
        )
        .await
        .expect("create");
    for (name, r) in &created {
        assert!(r.is_ok(), "{name}: {r:?}; {}", tansu.log_tail());
    }
    let validated = admin
        .create_topics(&[NewTopic::new("dry-run", 2, 1)], true)
        .await
        .expect("validate");
    assert!(validated[0].1.is_ok(), "{validated:?}");
    // tansu 0.6.0 ignores validate_only and creates the topic (DESIGN.md);
    // the scripted broker of tests/admin_routing.rs checks that kafkit sends
    // the flag. Should this fail, tansu honours it now: assert the opposite.
    assert_eq!(names(&admin).await, ["audit", "dry-run", "orders"]);
    let deleted = admin
        .delete_topics(&["dry-run".to_owned()])
        .await
        .expect("delete dry-run");
    assert!(deleted[0].1.is_ok(), "{deleted:?}");
    let topics = admin.list_topics(false).await.expect("list");
    let listed: Vec<(&str, usize)> = topics
        .iter()
        .map(|t| (t.name.as_str(), t.partitions))
        .collect();
    assert_eq!(listed, [("audit", 1), ("orders", 3)]);

    // One existing topic fails alone; the new one in the same call is created.
    let again = admin
        .create_topics(
            &[
                NewTopic::new("orders", 3, 1),
                NewTopic::new("refunds", 2, 1),
            ],
            false,
        )
        .await
        .expect("create again");
    let err = again[0].1.as_ref().expect_err("orders exists");
    assert_eq!(err.code(), Some(ErrorCode::TOPIC_ALREADY_EXISTS), "{err}");
    assert!(again[1].1.is_ok(), "{again:?}");
    assert_eq!(names(&admin).await, ["audit", "orders", "refunds"]);

    let deleted = admin
        .delete_topics(&["audit".to_owned(), "no-such-topic".to_owned()])
        .await
        .expect("delete");
    assert!(deleted[0].1.is_ok(), "{deleted:?}");
    let err = deleted[1].1.as_ref().expect_err("unknown topic");
    assert_eq!(
        err.code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        "{err}"
    );
    assert_eq!(names(&admin).await, ["orders", "refunds"]);
    admin.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produces_and_fetches_at_the_newest_common_versions() {
    let Some(tansu) = Tansu::start() else { return };
    let admin = admin(&tansu).await;
    let created = admin
        .create_topics(&[NewTopic::new("newest", 2, 1)], false)
        .await
        .expect("create");
    assert!(created[0].1.is_ok(), "{created:?}");
    let conn = admin.client().pool().any().await.expect("connection");
    let produce = negotiated::<ProduceRequest>(&conn);
    let fetch = negotiated::<FetchRequest>(&conn);
    let list_offsets = negotiated::<ListOffsetsRequest>(&conn);
    // tansu advertises at least what kafkit implements: kafkit's newest
    // (flexible) versions are the ones in use.
    assert_eq!(produce, ProduceRequest::VERSIONS.max);
    assert_eq!(fetch, FetchRequest::VERSIONS.max);
    assert!(ProduceRequest::is_flexible(produce) && FetchRequest::is_flexible(fetch));

    let bootstrap = tansu.bootstrap.as_str();
    let producer = Producer::connect(ClientConfig::new([bootstrap]), ProducerConfig::default())
        .await
        .expect("producer");
    let records = (0..200).map(|i| {
        ProducerRecord::new("newest")
            .partition(i % 2)
            .key(format!("k{i}"))
            .value(format!("v{i}"))
            .header("i", i.to_string())
            .timestamp(1_700_000_000_000 + i64::from(i) * 1000)
    });
    let reports = producer.send_all(records).await.expect("produce");
    assert_eq!(reports.len(), 200);
    // One more record per partition, alone in its batch: tansu 0.6.0 reports
    // the high watermark as the last batch's base offset + 1 (DESIGN.md),
    // which is right only when that batch holds one record.
    for p in 0..2 {
        let last = ProducerRecord::new("newest")
            .partition(p)
            .header("i", (200 + p).to_string())
            .key(format!("k{}", 200 + p))
            .value(format!("v{}", 200 + p))
            .timestamp(1_700_000_000_000 + i64::from(200 + p) * 1000);
        let report = producer.send(last).await.expect("produce last");
        assert_eq!(report.offset, 100, "partition {p}");
    }
    producer.close(Duration::from_secs(5)).await.expect("close");

    let mut consumer = Consumer::connect(
        ClientConfig::new([bootstrap]),
        ConsumerConfig::default().with_offset_reset(OffsetReset::Earliest),
    )
    .await
    .expect("consumer");
    consumer.assign_topic("newest").await.expect("assign");
    let mut seen = std::collections::BTreeMap::new();
    while seen.len() < 202 {
        let r = tokio::time::timeout(Duration::from_secs(15), consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of 202 records; {}", seen.len(), tansu.log_tail()))
            .expect("stream open")
            .expect("record");
        let i: i32 = r
            .header("i")
            .and_then(|h| std::str::from_utf8(&h).ok()?.parse().ok())
            .expect("header");
        assert_eq!(r.partition, i % 2);
        assert_eq!(r.key.as_deref(), Some(format!("k{i}").as_bytes()));
        assert_eq!(r.value.as_deref(), Some(format!("v{i}").as_bytes()));
        assert_eq!(r.timestamp, 1_700_000_000_000 + i64::from(i) * 1000);
        assert!(
            seen.insert(i, (r.partition, r.offset)).is_none(),
            "record {i} twice"
        );
    }
    consumer.close().await.expect("close consumer");
    // Offsets are contiguous per partition, in production order.
    for p in 0..2 {
        let offsets: Vec<i64> = seen
            .iter()
            .filter(|(i, _)| *i % 2 == p)
            .map(|(_, (_, offset))| *offset)
            .collect();
        assert_eq!(offsets, (0..101).collect::<Vec<i64>>(), "partition {p}");
    }

    // Offsets at the leader, at ListOffsets' newest common version.
    let tps = [tp("newest", 0), tp("newest", 1)];
    let latest = admin
        .list_offsets(&tps, OffsetSpec::Latest)
        .await
        .expect("latest");
    let earliest = admin
        .list_offsets(&tps, OffsetSpec::Earliest)
        .await
        .expect("earliest");
    for ((_, hi), (_, lo)) in latest.iter().zip(&earliest) {
        let v = list_offsets;
        assert_eq!(hi.as_ref().expect("latest").offset, 101, "ListOffsets v{v}");
        assert_eq!(lo.as_ref().expect("earliest").offset, 0, "ListOffsets v{v}");
    }
    admin.close();
}

/// Group administration on a group that only has committed offsets (an
/// "admin" commit: generation -1, no member), which needs no working
/// membership protocol: listing, describing, committed offsets and lag,
/// deleting offsets and the group.
#[tokio::test]
async fn administers_a_group_with_committed_offsets() {
    use kafkit::protocol::messages::offset_commit::{
        OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    let Some(tansu) = Tansu::start() else { return };
    let admin = admin(&tansu).await;
    let created = admin
        .create_topics(&[NewTopic::new("grouped", 2, 1)], false)
        .await
        .expect("create");
    assert!(created[0].1.is_ok(), "{created:?}");
    let producer = Producer::connect(
        ClientConfig::new([tansu.bootstrap.as_str()]),
        ProducerConfig::default(),
    )
    .await
    .expect("producer");
    // One record per batch: see the high-watermark note in the test above.
    for i in 0..10 {
        let record = ProducerRecord::new("grouped").partition(i % 2).value("x");
        producer.send(record).await.expect("produce");
    }
    producer.close(Duration::from_secs(5)).await.expect("close");

    // Commit offset 2 for partition 0 only (tansu is its own coordinator).
    let conn = admin.client().pool().any().await.expect("connection");
    let commit = OffsetCommitRequest {
        group_id: "admin-group".into(),
        generation_id_or_member_epoch: -1,
        topics: vec![OffsetCommitRequestTopic {
            name: "grouped".into(),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: 2,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let committed = conn.send(&commit).await.expect("commit");
    let code = committed.topics[0].partitions[0].error_code;
    assert!(code.is_ok(), "OffsetCommit: {code}");

    let rows = admin
        .topic_offsets("grouped", Some("admin-group"))
        .await
        .expect("offsets");
    let lags: Vec<(i32, Option<i64>)> = rows.iter().map(|r| (r.partition, r.lag())).collect();
    assert_eq!(lags, [(0, Some(3)), (1, None)]);

    let listed = admin.list_groups().await.expect("list groups");
    assert!(listed.errors.is_empty(), "{:?}", listed.errors);
    assert!(
        listed.groups.iter().any(|g| g.group_id == "admin-group"),
        "{:?}",
        listed.groups
    );
    let described = admin
        .describe_groups(&["admin-group".to_owned()])
        .await
        .expect("describe");
    let group = described[0].1.as_ref().expect("described");
    assert!(group.members.is_empty(), "{group:?}");

    // tansu 0.6.0 does not implement OffsetDelete (it is not in its
    // ApiVersions): kafkit says so instead of sending it.
    let err = admin
        .delete_committed_offsets("admin-group", &[tp("grouped", 0)])
        .await
        .expect_err("no OffsetDelete in tansu");
    assert!(matches!(err, kafkit::Error::UnsupportedApi { .. }), "{err}");
    let deleted = admin
        .delete_groups(&["admin-group".to_owned()])
        .await
        .expect("delete group");
    assert!(deleted[0].1.is_ok(), "{deleted:?}");
    admin.close();
}
