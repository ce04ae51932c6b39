//! kafkajs's round-robin strategy (`"RoundRobinAssigner"`), so kafkit and
//! kafkajs consumers can share a group while a service moves from Node to
//! Rust one instance at a time.
//!
//! kafkajs offers only this protocol name by default, and a group runs a
//! protocol every member offers, so a kafkit member joining a kafkajs group
//! must offer it too. Its subscription and assignment payloads are the
//! standard consumer protocol at version 0, which kafkit reads and writes.
//!
//! kafkajs's algorithm: list every partition of every topic, topic by topic
//! with partitions in order, and deal them out one at a time to the members
//! sorted by member id. kafkajs assumes every member subscribes to every
//! topic; here a partition whose dealt-to member does not subscribe to its
//! topic goes to the next member that does (identical when subscriptions
//! match).

use super::{
    empty_assignment, tp, Assignor, GroupAssignment, GroupError, MemberSubscription,
    PartitionCounts,
};

/// kafkajs's `RoundRobinAssigner` (eager protocol).
#[derive(Debug, Clone, Copy, Default)]
pub struct KafkajsRoundRobinAssignor;

impl Assignor for KafkajsRoundRobinAssignor {
    fn name(&self) -> &str {
        "RoundRobinAssigner"
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions: &PartitionCounts,
    ) -> Result<GroupAssignment, GroupError> {
        let mut out = empty_assignment(members);
        // JavaScript's default sort: by UTF-16 code units, which for the
        // ASCII member ids brokers hand out is byte order.
        let mut sorted: Vec<&MemberSubscription> = members.iter().collect();
        sorted.sort_by(|a, b| a.member_id.encode_utf16().cmp(b.member_id.encode_utf16()));
        // Topics anyone subscribes to, by name (partition counts are keyed by name).
        let mut dealt = 0usize;
        for (topic, &count) in partitions {
            if !sorted.iter().any(|m| m.subscribes_to(topic)) {
                continue;
            }
            for partition in 0..count.max(0) {
                let n = sorted.len();
                let Some(member) = (0..n)
                    .filter_map(|k| sorted.get((dealt + k) % n).copied())
                    .find(|m| m.subscribes_to(topic))
                else {
                    continue;
                };
                dealt += 1;
                if let Some(set) = out.get_mut(&member.member_id) {
                    set.insert(tp(topic, partition));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::protocol::messages::consumer_protocol::ConsumerProtocolSubscription;

    fn member(id: &str, topics: &[&str]) -> MemberSubscription {
        MemberSubscription {
            member_id: id.to_owned(),
            group_instance_id: None,
            subscription: ConsumerProtocolSubscription {
                topics: topics.iter().map(|t| (*t).to_owned()).collect(),
                ..Default::default()
            },
        }
    }

    fn owned(a: &GroupAssignment, id: &str) -> Vec<(String, i32)> {
        a.get(id)
            .map(|s| s.iter().map(|t| (t.topic.clone(), t.partition)).collect())
            .unwrap_or_default()
    }

    #[test]
    fn deals_partitions_across_topics_to_sorted_members() {
        // kafkajs's own example shape: topic-A has 3 partitions, topic-B 2.
        let members = [member("m-2", &["A", "B"]), member("m-1", &["A", "B"])];
        let counts = BTreeMap::from([("A".to_owned(), 3), ("B".to_owned(), 2)]);
        let a = KafkajsRoundRobinAssignor
            .assign(&members, &counts)
            .expect("assign");
        let s = |t: &str, p| (t.to_owned(), p);
        // Dealt in order A0 A1 A2 B0 B1 to m-1, m-2, m-1, m-2, m-1.
        assert_eq!(owned(&a, "m-1"), vec![s("A", 0), s("A", 2), s("B", 1)]);
        assert_eq!(owned(&a, "m-2"), vec![s("A", 1), s("B", 0)]);
    }

    #[test]
    fn every_partition_once_and_only_to_subscribers() {
        let members = [
            member("a", &["x"]),
            member("b", &["x", "y"]),
            member("c", &["y"]),
        ];
        let counts = BTreeMap::from([
            ("x".to_owned(), 5),
            ("y".to_owned(), 4),
            ("z".to_owned(), 3),
        ]);
        let a = KafkajsRoundRobinAssignor
            .assign(&members, &counts)
            .expect("assign");
        let mut seen = BTreeSet::new();
        for m in &members {
            for t in &a[&m.member_id] {
                assert!(m.subscribes_to(&t.topic), "{} got {t:?}", m.member_id);
                assert!(seen.insert(t.clone()), "{t:?} twice");
            }
        }
        assert_eq!(
            seen.len(),
            9,
            "x and y fully assigned, z (no subscriber) not at all"
        );
    }

    #[test]
    fn member_ids_sort_as_javascript_strings() {
        // Byte order puts upper case before lower case, as JavaScript does.
        let members = [member("b", &["t"]), member("B", &["t"])];
        let counts = BTreeMap::from([("t".to_owned(), 1)]);
        let a = KafkajsRoundRobinAssignor
            .assign(&members, &counts)
            .expect("assign");
        assert_eq!(owned(&a, "B"), vec![("t".to_owned(), 0)]);
    }
}
