//! The admin operations beyond topics and groups, against the run's real
//! Apache Kafka broker: configs (describe with sources and synonyms,
//! incremental alter of a topic and a broker), the cluster and topics
//! (DescribeCluster, topic ids, CreatePartitions, DeleteRecords), groups in
//! bulk (list with state and type filters, offsets and lag of several
//! groups in one call, reset offsets planned and executed, refused while
//! the group has members).
//!
//! Peer: the broker (`support::kafka::single()`).

use std::time::Duration;

use kafkit::admin::{AlterConfigOp, ConfigResource, ConfigSource, OffsetSpec, ResetSpec};
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

async fn produce(bootstrap: &str, topic: &str, partition: i32, n: usize) {
    let producer = Producer::connect(client(bootstrap), ProducerConfig::default())
        .await
        .expect("producer");
    producer
        .send_all((0..n).map(|i| {
            ProducerRecord::new(topic)
                .partition(partition)
                .value(format!("{i}"))
        }))
        .await
        .expect("produce");
    producer.close(Duration::from_secs(5)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describes_and_alters_topic_and_broker_configs() {
    let Some(bootstrap) = broker() else { return };
    let admin = admin(&bootstrap).await;
    let t = topic(&bootstrap, "cfg", 1).await;
    let node = admin.describe_cluster().await.expect("cluster").brokers[0].id;
    let (topic_r, broker_r) = (
        ConfigResource::Topic(t.clone()),
        ConfigResource::Broker(node),
    );
    let missing = ConfigResource::Topic(unique("cfg-missing"));

    let before = admin
        .describe_configs(&[topic_r.clone(), broker_r.clone(), missing.clone()], false)
        .await
        .expect("describe");
    let entries = before[0].1.as_ref().expect("topic configs");
    let retention = entries
        .iter()
        .find(|e| e.name == "retention.ms")
        .expect("retention.ms");
    assert_eq!(retention.source, ConfigSource::Default, "{retention:?}");
    let broker_entries = before[1].1.as_ref().expect("broker configs");
    let node_id = broker_entries
        .iter()
        .find(|e| e.name == "node.id")
        .expect("node.id");
    assert_eq!(node_id.source, ConfigSource::StaticBroker);
    assert_eq!(node_id.value.as_deref(), Some(node.to_string().as_str()));
    assert_eq!(
        code_of(&before[2].1),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
    );

    // Set two keys on the topic and one on the broker; a bad key fails its
    // resource alone.
    let altered = admin
        .alter_configs(
            &[
                (
                    topic_r.clone(),
                    vec![
                        AlterConfigOp::Set("retention.ms".into(), "3600000".into()),
                        AlterConfigOp::Set("cleanup.policy".into(), "compact".into()),
                    ],
                ),
                (
                    broker_r.clone(),
                    vec![AlterConfigOp::Set(
                        "log.cleaner.backoff.ms".into(),
                        "16000".into(),
                    )],
                ),
                (
                    missing.clone(),
                    vec![AlterConfigOp::Set("retention.ms".into(), "1".into())],
                ),
            ],
            false,
        )
        .await
        .expect("alter");
    assert!(altered[0].1.is_ok() && altered[1].1.is_ok(), "{altered:?}");
    assert_eq!(
        code_of(&altered[2].1),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
    );
    let bad = admin
        .alter_configs(
            &[(
                topic_r.clone(),
                vec![AlterConfigOp::Set("no.such.key".into(), "1".into())],
            )],
            true,
        )
        .await
        .expect("alter");
    assert_eq!(
        code_of(&bad[0].1),
        Some(ErrorCode::INVALID_CONFIG),
        "{bad:?}"
    );
    let err = bad[0].1.as_ref().expect_err("bad key").to_string();
    assert!(
        err.contains(&t) && err.contains("IncrementalAlterConfigs") && err.contains(" v"),
        "{err}"
    );

    // Applied when the KRaft metadata record reaches the broker: read until
    // both changes show (or 10 s pass).
    let mut after = Vec::new();
    for _ in 0..100 {
        after = admin
            .describe_configs(&[topic_r.clone(), broker_r.clone()], true)
            .await
            .expect("describe");
        // Source and value both: the broker can report the dynamic source a
        // moment before its running config takes the new value.
        let shows = |i: usize, key: &str, value: &str, source: ConfigSource| {
            after[i].1.as_ref().is_ok_and(|entries| {
                entries.iter().any(|e| {
                    e.name == key && e.source == source && e.value.as_deref() == Some(value)
                })
            })
        };
        if shows(0, "retention.ms", "3600000", ConfigSource::DynamicTopic)
            && shows(1, "log.cleaner.backoff.ms", "16000", ConfigSource::DynamicBroker)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let entries = after[0].1.as_ref().expect("topic configs");
    let retention = entries
        .iter()
        .find(|e| e.name == "retention.ms")
        .expect("retention.ms");
    assert_eq!(
        (retention.value.as_deref(), retention.source),
        (Some("3600000"), ConfigSource::DynamicTopic)
    );
    // The synonyms: the value at each source that sets the key, the topic's first.
    let first = retention.synonyms.first().expect("a synonym");
    assert_eq!(
        (first.name.as_str(), first.source),
        ("retention.ms", ConfigSource::DynamicTopic)
    );
    assert!(retention
        .documentation
        .as_deref()
        .is_some_and(|d| !d.is_empty()));
    let backoff = after[1]
        .1
        .as_ref()
        .expect("broker")
        .iter()
        .find(|e| e.name == "log.cleaner.backoff.ms")
        .expect("key");
    assert_eq!(
        (backoff.value.as_deref(), backoff.source),
        (Some("16000"), ConfigSource::DynamicBroker)
    );
    let first = backoff.synonyms.first().expect("a synonym");
    assert_eq!(
        (first.value.as_deref(), first.source),
        (Some("16000"), ConfigSource::DynamicBroker)
    );

    // Deleting reverts to the next source.
    let reverted = admin
        .alter_configs(
            &[
                (
                    topic_r.clone(),
                    vec![AlterConfigOp::Delete("retention.ms".into())],
                ),
                (
                    broker_r.clone(),
                    vec![AlterConfigOp::Delete("log.cleaner.backoff.ms".into())],
                ),
            ],
            false,
        )
        .await
        .expect("alter");
    assert!(reverted.iter().all(|(_, r)| r.is_ok()), "{reverted:?}");
    // The broker applies a dynamic config change when the KRaft metadata
    // record reaches it, a moment after the controller's answer: read until
    // the deleted broker key is no longer dynamic (or 10 s pass).
    let mut last = Vec::new();
    for _ in 0..100 {
        last = admin
            .describe_configs(&[topic_r.clone(), broker_r.clone()], false)
            .await
            .expect("describe");
        let dynamic = last[1].1.as_ref().is_ok_and(|entries| {
            entries.iter().any(|e| {
                e.name == "log.cleaner.backoff.ms" && e.source == ConfigSource::DynamicBroker
            })
        });
        let topic_default = last[0].1.as_ref().is_ok_and(|entries| {
            entries
                .iter()
                .any(|e| e.name == "retention.ms" && e.source == ConfigSource::Default)
        });
        if !dynamic && topic_default {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let entries = last[0].1.as_ref().expect("topic configs");
    let find = |n: &str| entries.iter().find(|e| e.name == n).cloned().expect("key");
    assert_eq!(find("retention.ms").source, ConfigSource::Default);
    assert_eq!(find("cleanup.policy").value.as_deref(), Some("compact"));
    let backoff = last[1]
        .1
        .as_ref()
        .expect("broker")
        .iter()
        .find(|e| e.name == "log.cleaner.backoff.ms")
        .cloned()
        .expect("key");
    assert_ne!(backoff.source, ConfigSource::DynamicBroker);
    admin.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describes_the_cluster_grows_topics_and_deletes_records() {
    let Some(bootstrap) = broker() else { return };
    let admin = admin(&bootstrap).await;
    let cluster = admin.describe_cluster().await.expect("cluster");
    assert!(!cluster.cluster_id.is_empty());
    assert!(!cluster.brokers.is_empty());
    let controller = cluster.controller.expect("a controller");
    assert!(
        cluster.brokers.iter().any(|b| b.id == controller),
        "{cluster:?}"
    );
    assert!(cluster
        .brokers
        .iter()
        .all(|b| b.port > 0 && !b.host.is_empty()));

    let t = topic(&bootstrap, "grow", 1).await;
    let missing = unique("grow-missing");
    let described = admin
        .describe_topics(&[t.clone(), missing.clone()])
        .await
        .expect("describe");
    let d = described[0].1.as_ref().expect("described");
    assert_ne!(d.id, kafkit::protocol::Uuid::default(), "a topic id");
    assert_eq!(d.partitions.len(), 1);
    assert_eq!(
        code_of(&described[1].1),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
    );

    let grown = admin
        .create_partitions(&[(t.clone(), 3), (missing.clone(), 2)], false)
        .await
        .expect("create partitions");
    assert!(grown[0].1.is_ok(), "{grown:?}");
    assert_eq!(
        code_of(&grown[1].1),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
    );
    let shrink = admin
        .create_partitions(&[(t.clone(), 2)], true)
        .await
        .expect("create partitions");
    assert_eq!(
        code_of(&shrink[0].1),
        Some(ErrorCode::INVALID_PARTITIONS),
        "{shrink:?}"
    );
    let d = admin
        .describe_topics(std::slice::from_ref(&t))
        .await
        .expect("describe");
    let parts: Vec<i32> = d[0]
        .1
        .as_ref()
        .expect("described")
        .partitions
        .iter()
        .map(|p| p.partition)
        .collect();
    assert_eq!(parts, [0, 1, 2]);

    produce(&bootstrap, &t, 0, 10).await;
    produce(&bootstrap, &t, 2, 3).await;
    let deleted = admin
        .delete_records(&[(tp(&t, 0), 4), (tp(&t, 2), -1), (tp(&missing, 0), 1)])
        .await
        .expect("delete records");
    assert_eq!(deleted[0].1.as_ref().ok(), Some(&4), "{deleted:?}");
    assert_eq!(deleted[1].1.as_ref().ok(), Some(&3), "{deleted:?}");
    assert_eq!(
        code_of(&deleted[2].1),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
    );
    let beyond = admin
        .delete_records(&[(tp(&t, 1), 5)])
        .await
        .expect("delete records");
    assert_eq!(
        code_of(&beyond[0].1),
        Some(ErrorCode::OFFSET_OUT_OF_RANGE),
        "{beyond:?}"
    );
    let earliest = admin
        .list_offsets(&[tp(&t, 0), tp(&t, 2)], OffsetSpec::Earliest)
        .await
        .expect("offsets");
    let starts: Vec<i64> = earliest
        .iter()
        .map(|(_, r)| r.as_ref().expect("offset").offset)
        .collect();
    assert_eq!(starts, [4, 3]);
    admin.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_reads_and_resets_group_offsets() {
    let Some(bootstrap) = broker() else { return };
    let admin = admin(&bootstrap).await;
    let t = topic(&bootstrap, "reset", 2).await;
    produce(&bootstrap, &t, 0, 10).await;
    produce(&bootstrap, &t, 1, 4).await;
    let (g1, g2, nobody) = (unique("reset-g1"), unique("reset-g2"), unique("reset-none"));

    // g2 gets its offsets from the admin client alone (a group with no
    // members may be given offsets).
    let made = admin
        .reset_offsets(&g2, &[(tp(&t, 0), 7), (tp(&t, 1), 1)])
        .await
        .expect("commit");
    assert!(made.iter().all(|(_, r)| r.is_ok()), "{made:?}");

    let mut consumer = Consumer::connect(
        client(&bootstrap),
        group_config(&g1).with_auto_commit(false),
    )
    .await
    .expect("consumer");
    consumer.subscribe(&[&t]).expect("subscribe");
    next_records(&mut consumer, 14).await;
    consumer
        .commit_offsets([(tp(&t, 0), 6), (tp(&t, 1), 4)])
        .await
        .expect("commit");

    let many = admin
        .groups_offsets(&[g1.clone(), g2.clone(), nobody.clone()])
        .await
        .expect("offsets");
    let lags = |i: usize| -> Vec<(i32, i64, Option<i64>)> {
        many[i]
            .1
            .as_ref()
            .expect("group")
            .iter()
            .map(|o| (o.partition.partition, o.committed, o.lag()))
            .collect()
    };
    assert_eq!(lags(0), [(0, 6, Some(4)), (1, 4, Some(0))]);
    assert_eq!(lags(1), [(0, 7, Some(3)), (1, 1, Some(3))]);
    assert!(many[2].1.as_ref().expect("unknown group").is_empty());

    let (listed, errors) = admin
        .list_groups_filtered(&["Stable".into()], &["classic".into()])
        .await
        .expect("list");
    assert!(errors.is_empty(), "{errors:?}");
    let ours = listed
        .iter()
        .find(|g| g.group_id == g1)
        .expect("g1 listed as Stable");
    assert_eq!(
        (ours.state.as_str(), ours.group_type.as_str()),
        ("Stable", "classic")
    );
    assert!(listed.iter().all(|g| g.group_id != g2), "g2 is Empty");
    let (empty, _) = admin
        .list_groups_filtered(&["Empty".into()], &[])
        .await
        .expect("list");
    assert!(empty.iter().any(|g| g.group_id == g2));

    // Refused while g1 has a member, naming the group and its state.
    let refused = admin
        .plan_offset_reset(&g1, &[tp(&t, 0)], ResetSpec::Earliest)
        .await;
    let text = refused.expect_err("refused").to_string();
    assert!(text.contains(&g1) && text.contains("Stable"), "{text}");
    consumer.close().await.expect("close");
    // The consumer may have committed its position on close: set known
    // offsets on the now empty group.
    let set = admin
        .reset_offsets(&g1, &[(tp(&t, 0), 6), (tp(&t, 1), 4)])
        .await
        .expect("commit");
    assert!(set.iter().all(|(_, r)| r.is_ok()), "{set:?}");

    let both = [tp(&t, 0), tp(&t, 1)];
    let plan = |spec| {
        let admin = admin.clone();
        let (g1, both) = (g1.clone(), both.clone());
        async move {
            admin
                .plan_offset_reset(&g1, &both, spec)
                .await
                .expect("plan")
                .into_iter()
                .map(|(_, r)| r.map(|o| (o.current, o.target)).map_err(|e| e.to_string()))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        plan(ResetSpec::Earliest).await,
        [Ok((Some(6), 0)), Ok((Some(4), 0))]
    );
    assert_eq!(
        plan(ResetSpec::Latest).await,
        [Ok((Some(6), 10)), Ok((Some(4), 4))]
    );
    assert_eq!(
        plan(ResetSpec::ShiftBy(-5)).await,
        [Ok((Some(6), 1)), Ok((Some(4), 0))]
    );
    assert_eq!(
        plan(ResetSpec::Offset(8)).await,
        [Ok((Some(6), 8)), Ok((Some(4), 4))]
    );
    let future = plan(ResetSpec::Timestamp(i64::from(i32::MAX) * 1000)).await;
    assert_eq!(future, [Ok((Some(6), 10)), Ok((Some(4), 4))]);
    assert_eq!(
        plan(ResetSpec::Timestamp(0)).await,
        [Ok((Some(6), 0)), Ok((Some(4), 0))]
    );
    // Planning committed nothing.
    let committed = admin
        .committed_offsets(&g1, &both)
        .await
        .expect("committed");
    assert_eq!(committed[0].1.as_ref().ok(), Some(&Some(6)));

    let done = admin
        .reset_offsets(&g1, &[(tp(&t, 0), 2), (tp(&t, 1), 3)])
        .await
        .expect("execute");
    assert!(done.iter().all(|(_, r)| r.is_ok()), "{done:?}");
    let committed: Vec<Option<i64>> = admin
        .committed_offsets(&g1, &both)
        .await
        .expect("committed")
        .into_iter()
        .map(|(_, r)| r.expect("offset"))
        .collect();
    assert_eq!(committed, [Some(2), Some(3)]);
    let removed = admin
        .delete_committed_offsets(&g1, &[tp(&t, 1)])
        .await
        .expect("offset delete");
    assert!(removed[0].1.is_ok(), "{removed:?}");
    let shifted = admin
        .plan_offset_reset(&g1, &both, ResetSpec::ShiftBy(1))
        .await
        .expect("plan");
    assert_eq!(shifted[0].1.as_ref().ok().map(|o| o.target), Some(3));
    assert!(
        shifted[1].1.is_err(),
        "nothing committed to shift: {shifted:?}"
    );
    admin.close();
}
