//! The admin client against the run's real Apache Kafka broker: topics
//! (create with configs, validate-only, per-topic errors, list, delete),
//! offsets (earliest, latest, by timestamp, max timestamp), a live consumer
//! group (list, describe with its decoded assignment, committed offsets and
//! lag), deleting offsets (refused while subscribed) and the group.
//!
//! Peer: the broker (`support::kafka::single()`).

use std::time::Duration;

use kafkit::admin::{NewTopic, OffsetSpec};
use kafkit::consumer::Consumer;
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::ErrorCode;
use kafkit::Error;

mod support;
use support::kafka::unique;
use support::real::{admin, broker, client, group_config, next_records, topic, tp};

fn code_of<T: std::fmt::Debug>(r: &Result<T, Error>) -> Option<ErrorCode> {
    match r {
        Err(Error::Broker { code, .. }) => Some(*code),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_lists_validates_and_deletes_topics() {
    let Some(bootstrap) = broker() else { return };
    let admin = admin(&bootstrap).await;
    let (a, b, c) = (unique("admin-a"), unique("admin-b"), unique("admin-c"));
    let created = admin
        .create_topics(
            &[
                NewTopic::new(&a, 3, 1).with_config("cleanup.policy", "compact"),
                NewTopic::new(&b, 1, 1),
            ],
            false,
        )
        .await
        .expect("create");
    assert!(created.iter().all(|(_, r)| r.is_ok()), "{created:?}");
    // validate_only creates nothing; a bad factor and an existing topic fail
    // alone, each with its own code.
    let checked = admin
        .create_topics(
            &[
                NewTopic::new(&c, 2, 1),
                NewTopic::new(&a, 3, 1),
                NewTopic::new(unique("admin-d"), 1, 3),
            ],
            true,
        )
        .await
        .expect("validate");
    assert!(checked[0].1.is_ok(), "{checked:?}");
    assert_eq!(
        code_of(&checked[1].1),
        Some(ErrorCode::TOPIC_ALREADY_EXISTS)
    );
    assert_eq!(
        code_of(&checked[2].1),
        Some(ErrorCode::INVALID_REPLICATION_FACTOR)
    );
    let listed = admin.list_topics(false).await.expect("list");
    let find = |name: &str| listed.iter().find(|t| t.name == name);
    let ta = find(&a).expect("a listed");
    assert_eq!(
        (ta.partitions, ta.replication_factor, ta.internal),
        (3, 1, false)
    );
    assert_eq!(find(&b).map(|t| t.partitions), Some(1));
    assert!(find(&c).is_none(), "validate_only created {c}");
    assert!(listed.iter().all(|t| t.name != "__consumer_offsets"));
    assert!(admin
        .list_topics(true)
        .await
        .expect("list internal")
        .iter()
        .any(|t| t.name == "__consumer_offsets" && t.internal));

    let deleted = admin
        .delete_topics(&[b.clone(), unique("admin-none")])
        .await
        .expect("delete");
    assert!(deleted[0].1.is_ok(), "{deleted:?}");
    assert_eq!(
        code_of(&deleted[1].1),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while admin
        .list_topics(false)
        .await
        .expect("list")
        .iter()
        .any(|t| t.name == b)
    {
        assert!(tokio::time::Instant::now() < deadline, "{b} still listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    admin.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn looks_up_offsets_by_position_and_time() {
    let Some(bootstrap) = broker() else { return };
    let topic = topic(&bootstrap, "admin-offsets", 1).await;
    let producer = Producer::connect(client(&bootstrap), ProducerConfig::default())
        .await
        .expect("producer");
    let t0 = 1_700_000_000_000_i64;
    producer
        .send_all((0..10).map(|i| {
            ProducerRecord::new(&topic)
                .partition(0)
                .value(format!("{i}"))
                .timestamp(t0 + i * 1000)
        }))
        .await
        .expect("produce");
    producer.close(Duration::from_secs(5)).await.expect("close");
    let admin = admin(&bootstrap).await;
    let p0 = [tp(&topic, 0)];
    let at = |spec| {
        let admin = admin.clone();
        let p0 = p0.clone();
        async move {
            let r = admin.list_offsets(&p0, spec).await.expect("list offsets");
            r[0].1.clone().unwrap_or_else(|e| panic!("{spec:?}: {e}"))
        }
    };
    assert_eq!(at(OffsetSpec::Earliest).await.offset, 0);
    assert_eq!(at(OffsetSpec::Latest).await.offset, 10);
    let by_time = at(OffsetSpec::Timestamp(t0 + 4500)).await;
    assert_eq!((by_time.offset, by_time.timestamp), (5, t0 + 5000));
    let max = at(OffsetSpec::MaxTimestamp).await;
    assert_eq!((max.offset, max.timestamp), (9, t0 + 9000));
    assert_eq!(at(OffsetSpec::Timestamp(t0 + 60_000)).await.offset, -1);
    admin.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administers_a_live_group_and_deletes_it() {
    let Some(bootstrap) = broker() else { return };
    let topic = topic(&bootstrap, "admin-group", 2).await;
    let group = unique("admin-group");
    let groups = std::slice::from_ref(&group);
    let producer = Producer::connect(client(&bootstrap), ProducerConfig::default())
        .await
        .expect("producer");
    for p in 0..2 {
        producer
            .send_all((0..5).map(|i| {
                ProducerRecord::new(&topic)
                    .partition(p)
                    .value(format!("{i}"))
            }))
            .await
            .expect("produce");
    }
    producer.close(Duration::from_secs(5)).await.expect("close");
    let mut consumer = Consumer::connect(
        client(&bootstrap),
        group_config(&group).with_auto_commit(false),
    )
    .await
    .expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    next_records(&mut consumer, 10).await;
    // Commit 3 of partition 0 and all of partition 1: lag 2 and 0.
    consumer
        .commit_offsets([(tp(&topic, 0), 3), (tp(&topic, 1), 5)])
        .await
        .expect("commit");

    let admin = admin(&bootstrap).await;
    let listed = admin.list_groups().await.expect("list groups");
    assert!(listed.errors.is_empty(), "{:?}", listed.errors);
    let ours = listed
        .groups
        .iter()
        .find(|g| g.group_id == group)
        .expect("listed");
    assert_eq!(ours.protocol_type, "consumer");
    assert_eq!(ours.state.as_deref(), Some("Stable"));
    let described = admin.describe_groups(groups).await.expect("describe");
    let d = described[0].1.as_ref().expect("described");
    assert_eq!(
        (d.state.as_str(), d.protocol_type.as_str()),
        ("Stable", "consumer")
    );
    assert_eq!(d.members.len(), 1);
    let mut assigned: Vec<i32> = d.members[0]
        .assignment
        .iter()
        .map(|t| t.partition)
        .collect();
    assigned.sort_unstable();
    assert_eq!(assigned, [0, 1]);
    let offsets = admin
        .topic_offsets(&topic, Some(&group))
        .await
        .expect("offsets");
    let lags: Vec<Option<i64>> = offsets.iter().map(|o| o.lag()).collect();
    assert_eq!(lags, [Some(2), Some(0)]);

    // Offsets of a topic the group still reads cannot be deleted.
    let refused = admin
        .delete_committed_offsets(&group, &[tp(&topic, 0)])
        .await
        .expect("offset delete");
    assert_eq!(
        code_of(&refused[0].1),
        Some(ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC)
    );
    let busy = admin.delete_groups(groups).await.expect("delete");
    assert_eq!(code_of(&busy[0].1), Some(ErrorCode::NON_EMPTY_GROUP));

    consumer.close().await.expect("close");
    let removed = admin
        .delete_committed_offsets(&group, &[tp(&topic, 0)])
        .await
        .expect("offset delete");
    assert!(removed[0].1.is_ok(), "{removed:?}");
    let committed = admin
        .committed_offsets(&group, &[tp(&topic, 0), tp(&topic, 1)])
        .await
        .expect("committed");
    let values: Vec<Option<i64>> = committed
        .into_iter()
        .map(|(_, r)| r.expect("offset"))
        .collect();
    assert_eq!(values, [None, Some(5)]);
    let deleted = admin.delete_groups(groups).await.expect("delete");
    assert!(deleted[0].1.is_ok(), "{deleted:?}");
    let listed = admin.list_groups().await.expect("list groups");
    assert!(listed.groups.iter().all(|g| g.group_id != group));
    admin.close();
}
