//! kafkit's range and round-robin assignors against librdkafka's: a group of
//! librdkafka consumers with different subscriptions forms on librdkafka's
//! mock cluster, and the partitions each member ends up with must be the
//! ones kafkit's assignor computes for the same group. The members are
//! static (`group.instance.id`), so the member order both sides use is the
//! instance-id order this test controls.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kafkit::group::{
    Assignor, MemberSubscription, PartitionCounts, RangeAssignor, RoundRobinAssignor,
    TopicPartition,
};
use kafkit::protocol::messages::consumer_protocol::ConsumerProtocolSubscription;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;

const TOPICS: [(&str, i32); 3] = [("a", 5), ("b", 3), ("c", 4)];

/// Instance ids (in an order that differs from their sort order) and topics.
const MEMBERS: [(&str, &[&str]); 4] = [
    ("inst-2", &["a", "b", "c"]),
    ("inst-0", &["a", "b"]),
    ("inst-3", &["b", "c"]),
    ("inst-1", &["a"]),
];

type Assignment = BTreeMap<String, BTreeSet<(String, i32)>>;

fn expected(assignor: &dyn Assignor) -> Assignment {
    let members: Vec<MemberSubscription> = MEMBERS
        .iter()
        .map(|(inst, topics)| MemberSubscription {
            // Static members sort by instance id; give the member ids the
            // opposite order to show they do not matter.
            member_id: format!(
                "member-{}",
                9 - inst
                    .trim_start_matches("inst-")
                    .parse::<u32>()
                    .expect("digit")
            ),
            group_instance_id: Some(inst.to_string()),
            subscription: ConsumerProtocolSubscription {
                topics: topics.iter().map(|t| t.to_string()).collect(),
                ..ConsumerProtocolSubscription::default()
            },
        })
        .collect();
    let counts: PartitionCounts = TOPICS.iter().map(|(t, n)| (t.to_string(), *n)).collect();
    let out = assignor.assign(&members, &counts).expect("assign");
    members
        .iter()
        .map(|m| {
            let parts = out
                .get(&m.member_id)
                .map(|s| {
                    s.iter()
                        .map(|TopicPartition { topic, partition }| (topic.clone(), *partition))
                        .collect()
                })
                .unwrap_or_default();
            (m.group_instance_id.clone().unwrap_or_default(), parts)
        })
        .collect()
}

fn librdkafka_assignment(bootstrap: &str, strategy: &str) -> Assignment {
    let group = format!("interop-{strategy}");
    let consumers: Vec<(String, BaseConsumer)> = MEMBERS
        .iter()
        .map(|(inst, topics)| {
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", bootstrap)
                .set("group.id", &group)
                .set("group.instance.id", *inst)
                .set("partition.assignment.strategy", strategy)
                .set("session.timeout.ms", "6000")
                .set("heartbeat.interval.ms", "500")
                .create()
                .expect("consumer");
            consumer.subscribe(topics).expect("subscribe");
            (inst.to_string(), consumer)
        })
        .collect();
    let total: usize = TOPICS
        .iter()
        .map(|(_, n)| usize::try_from(*n).expect("count"))
        .sum();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut stable_since: Option<(Instant, Assignment)> = None;
    loop {
        for (_, c) in &consumers {
            let _ = c.poll(Duration::from_millis(20));
        }
        let now: Assignment = consumers
            .iter()
            .map(|(inst, c)| {
                let parts = c
                    .assignment()
                    .expect("assignment")
                    .elements()
                    .iter()
                    .map(|e| (e.topic().to_string(), e.partition()))
                    .collect();
                (inst.clone(), parts)
            })
            .collect();
        let assigned: usize = now.values().map(BTreeSet::len).sum();
        if assigned == total {
            match &stable_since {
                Some((since, prev)) if prev == &now => {
                    if since.elapsed() > Duration::from_secs(2) {
                        return now;
                    }
                }
                _ => stable_since = Some((Instant::now(), now.clone())),
            }
        } else {
            stable_since = None;
        }
        assert!(
            Instant::now() < deadline,
            "the librdkafka group did not settle: {now:?}"
        );
    }
}

#[test]
fn range_and_roundrobin_match_librdkafka() {
    let mock = MockCluster::new(1).expect("mock cluster");
    for (topic, partitions) in TOPICS {
        mock.create_topic(topic, partitions, 1).expect("topic");
    }
    for (strategy, assignor) in [
        ("range", &RangeAssignor as &dyn Assignor),
        ("roundrobin", &RoundRobinAssignor),
    ] {
        let ours = expected(assignor);
        let theirs = librdkafka_assignment(&mock.bootstrap_servers(), strategy);
        assert_eq!(ours, theirs, "{strategy}");
    }
}
