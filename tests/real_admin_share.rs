//! Share-group administration against real Apache Kafka 4.4.0: a share
//! group with a live kafkit member is listed (ListGroups, `share` type) and
//! described (ShareGroupDescribe); its offsets can not be altered while it
//! has a member (NON_EMPTY_GROUP); once empty, its start offsets and lags
//! are read (DescribeShareGroupOffsets), reset to the earliest offset (a new
//! member then gets every record again, first delivery) and to the latest,
//! its state of the topic is deleted (DeleteShareGroupOffsets) and the group
//! itself (DeleteGroups).
//!
//! Peer: Apache Kafka 4.4.0 (KRaft), the run's single node.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kafkit::admin::{Admin, OffsetSpec, SharePartitionOffset};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::ErrorCode;
use kafkit::share::{ShareConsumer, ShareConsumerConfig, ShareRecord};

mod support;
use support::kafka;
use support::real::{admin, broker, client, topic, tp};

const PER_PARTITION: usize = 3;

/// A member owning both partitions with its share sessions open, and the
/// records it already got on the way.
async fn member(b: &str, group: &str, topic: &str) -> (ShareConsumer, Vec<ShareRecord>) {
    let mut c = ShareConsumer::connect(client(b), ShareConsumerConfig::new(group))
        .await
        .expect("share consumer");
    c.subscribe([topic]);
    let give_up = Instant::now() + Duration::from_secs(30);
    let mut early = Vec::new();
    while !(c.is_fetching() && c.assignment().len() == 2) {
        early.extend(c.poll(Duration::from_millis(100)).await.expect("poll"));
        assert!(Instant::now() < give_up, "not fetching in 30 s");
    }
    (c, early)
}

async fn produce(b: &str, topic: &str) {
    let p = Producer::connect(client(b), ProducerConfig::default())
        .await
        .expect("producer");
    p.send_all((0..2 * PER_PARTITION).map(|i| {
        ProducerRecord::new(topic)
            .partition((i % 2) as i32)
            .value(format!("v{i}"))
    }))
    .await
    .expect("produced");
    p.close(Duration::from_secs(10)).await.expect("close");
}

/// Polls until `n` records came (each accepted by the next poll).
async fn take(c: &mut ShareConsumer, n: usize, mut got: Vec<ShareRecord>) -> Vec<ShareRecord> {
    let give_up = Instant::now() + Duration::from_secs(30);
    while got.len() < n {
        got.extend(c.poll(Duration::from_millis(200)).await.expect("poll"));
        assert!(
            Instant::now() < give_up,
            "{} of {n} records in 30 s",
            got.len()
        );
    }
    c.commit_sync().await.expect("acknowledged");
    got
}

/// Reads the group's offsets of `topic` until `want` holds (the broker
/// persists share state a moment after the acknowledgement).
async fn offsets_until(
    admin: &Admin,
    group: &str,
    topic: &str,
    want: impl Fn(&[SharePartitionOffset]) -> bool,
) -> Vec<SharePartitionOffset> {
    let give_up = Instant::now() + Duration::from_secs(20);
    loop {
        let got = admin
            .share_group_offsets(group, &[topic.to_owned()])
            .await
            .expect("share group offsets");
        if want(&got) {
            return got;
        }
        assert!(Instant::now() < give_up, "offsets stay {got:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn list_describe_reset_and_delete_a_share_group() {
    let Some(b) = broker() else { return };
    let topic = topic(&b, "admin-share", 2).await;
    let group = kafka::unique("admin-share-group");
    let admin = admin(&b).await;
    let (mut c, early) = member(&b, &group, &topic).await;
    assert!(
        early.is_empty(),
        "records before any were produced: {early:?}"
    );
    produce(&b, &topic).await;
    let first = take(&mut c, 2 * PER_PARTITION, Vec::new()).await;
    assert_eq!(first.len(), 2 * PER_PARTITION);

    let listed = admin.list_share_groups().await.expect("list");
    let ours = listed.iter().find(|g| g.group_id == group).expect("listed");
    assert_eq!(ours.state.as_deref(), Some("Stable"));
    assert!(
        listed
            .iter()
            .all(|g| g.protocol_type.is_empty() || g.protocol_type == "share"),
        "only share groups: {listed:?}"
    );
    let described = admin
        .describe_share_groups(&[group.clone(), "no-such-share-group".into()])
        .await
        .expect("describe");
    let d = described[0].1.as_ref().expect("our group");
    assert_eq!((d.state.as_str(), d.members.len()), ("Stable", 1));
    let m = &d.members[0];
    assert_eq!(m.member_id, c.member_id());
    assert_eq!(m.subscribed_topic_names, [topic.as_str()]);
    let mut owned = m.assignment.clone();
    owned.sort();
    assert_eq!(owned, [tp(&topic, 0), tp(&topic, 1)]);
    let unknown = described[1].1.as_ref().expect_err("no such group");
    assert_eq!(
        unknown.code(),
        Some(ErrorCode::GROUP_ID_NOT_FOUND),
        "{unknown}"
    );

    let busy = admin
        .reset_share_group_offsets(&group, std::slice::from_ref(&topic), OffsetSpec::Earliest)
        .await;
    let refused = match busy {
        Err(e) => e.code(),
        Ok(per) => per
            .into_iter()
            .find_map(|(_, r)| r.err())
            .and_then(|e| e.code()),
    };
    assert_eq!(refused, Some(ErrorCode::NON_EMPTY_GROUP));
    c.close().await.expect("close");

    let done = offsets_until(&admin, &group, &topic, |o| {
        o.len() == 2 && o.iter().all(|p| p.lag == Some(0))
    })
    .await;
    assert_eq!(done[0].partition, tp(&topic, 0));

    let reset = admin
        .reset_share_group_offsets(&group, std::slice::from_ref(&topic), OffsetSpec::Earliest)
        .await
        .expect("reset");
    assert!(reset.iter().all(|(_, r)| r.is_ok()), "{reset:?}");
    let rewound = offsets_until(&admin, &group, &topic, |o| {
        o.iter().all(|p| p.start_offset == Some(0))
    })
    .await;
    let lags: Vec<_> = rewound.iter().map(|p| p.lag).collect();
    assert_eq!(lags, [Some(PER_PARTITION as i64); 2]);

    // A new member gets every record again, as a first delivery.
    let (mut again, early) = member(&b, &group, &topic).await;
    let records = take(&mut again, 2 * PER_PARTITION, early).await;
    let counts: BTreeMap<String, i16> = records
        .iter()
        .map(|r| (support::real::text(r.value.as_ref()), r.delivery_count))
        .collect();
    assert_eq!(counts.len(), 2 * PER_PARTITION, "{counts:?}");
    assert!(counts.values().all(|c| *c == 1), "{counts:?}");
    again.close().await.expect("close");

    let latest = admin
        .reset_share_group_offsets(&group, std::slice::from_ref(&topic), OffsetSpec::Latest)
        .await
        .expect("reset to latest");
    assert!(latest.iter().all(|(_, r)| r.is_ok()), "{latest:?}");
    offsets_until(&admin, &group, &topic, |o| {
        o.iter()
            .all(|p| p.start_offset == Some(PER_PARTITION as i64))
    })
    .await;

    let deleted = admin
        .delete_share_group_offsets(&group, std::slice::from_ref(&topic))
        .await
        .expect("delete offsets");
    assert!(deleted[0].1.is_ok(), "{deleted:?}");
    let gone = admin
        .share_group_offsets(&group, &[])
        .await
        .expect("offsets of every topic");
    assert!(gone.is_empty(), "state left: {gone:?}");

    let dropped = admin
        .delete_groups(std::slice::from_ref(&group))
        .await
        .expect("delete");
    assert!(dropped[0].1.is_ok(), "{dropped:?}");
    let listed = admin.list_share_groups().await.expect("list");
    assert!(listed.iter().all(|g| g.group_id != group), "{listed:?}");
}
