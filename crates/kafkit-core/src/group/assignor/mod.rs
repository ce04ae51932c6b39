//! Partition assignors: the leader's half of the consumer protocol.
//!
//! The group leader decodes every member's
//! [`ConsumerProtocolSubscription`] from the JoinGroup response, runs the
//! assignor the coordinator chose, and ships one assignment per member in
//! SyncGroup. An [`Assignor`] is a pure function of the members and the
//! partition count of each topic: no I/O, no clock, no randomness, so two
//! clients that implement the same algorithm assign identically.
//!
//! - [`RangeAssignor`] (`"range"`) and [`RoundRobinAssignor`]
//!   (`"roundrobin"`) reproduce the Java client's algorithms exactly,
//!   including its member order ([`java_member_order`]): static members
//!   (with a group instance id) first, by instance id, then dynamic members
//!   by member id. librdkafka orders the same way unless static and dynamic
//!   members are mixed in one group.
//! - [`CooperativeStickyAssignor`] (`"cooperative-sticky"`) keeps owned
//!   partitions where that stays balanced and, under the cooperative
//!   protocol, never hands a partition to a new owner in the generation
//!   that takes it away from the old one (KIP-429).
//! - [`KafkajsRoundRobinAssignor`] (`"RoundRobinAssigner"`) is kafkajs's
//!   default strategy, for groups shared with kafkajs consumers.
//!
//! Java's rack-aware variants (KIP-881) need each partition's replica racks,
//! which the partition-count input does not carry; kafkit assigns as Java
//! does when no rack information is available.
//!
//! Spec: Kafka's consumer protocol (`ConsumerProtocolSubscription.json`,
//! `ConsumerProtocolAssignment.json`), KIP-54 (sticky), KIP-341, KIP-429
//! (cooperative rebalancing).

mod kafkajs;
mod range;
mod roundrobin;
mod sticky;

#[cfg(test)]
mod props;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

pub use kafkajs::KafkajsRoundRobinAssignor;
pub use range::RangeAssignor;
pub use roundrobin::RoundRobinAssignor;
pub use sticky::CooperativeStickyAssignor;

use super::error::GroupError;
use super::TopicPartition;
use crate::protocol::messages::consumer_protocol::ConsumerProtocolSubscription;

/// Partition count per topic, from metadata.
pub type PartitionCounts = BTreeMap<String, i32>;

/// The partitions each member gets, by member id. Every member of the input
/// has an entry, possibly empty.
pub type GroupAssignment = BTreeMap<String, BTreeSet<TopicPartition>>;

/// One group member as the leader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSubscription {
    /// The member id the coordinator gave the member.
    pub member_id: String,
    /// The static instance id, `None` for dynamic members.
    pub group_instance_id: Option<String>,
    /// What the member subscribed to and (v1+) which partitions it owns.
    pub subscription: ConsumerProtocolSubscription,
}

impl MemberSubscription {
    /// Whether the member subscribed to `topic`.
    pub fn subscribes_to(&self, topic: &str) -> bool {
        self.subscription.topics.iter().any(|t| t == topic)
    }

    /// The partitions the member says it owns.
    pub fn owned(&self) -> impl Iterator<Item = TopicPartition> + '_ {
        self.subscription
            .owned_partitions
            .iter()
            .flat_map(|t| t.partitions.iter().map(move |&p| tp(&t.topic, p)))
    }
}

/// A partition assignment strategy, named on the wire.
pub trait Assignor: fmt::Debug + Send + Sync {
    /// The protocol name in JoinGroup, e.g. `"range"`.
    fn name(&self) -> &str;

    /// Whether the strategy supports the cooperative protocol (KIP-429). A
    /// member runs the cooperative protocol only when every assignor it
    /// offers does.
    fn is_cooperative(&self) -> bool {
        false
    }

    /// User data to put in this member's subscription for this assignor.
    fn subscription_user_data(&self, _generation_id: i32) -> Option<Bytes> {
        None
    }

    /// Assigns the partitions of the subscribed topics among `members`.
    /// Topics without a partition count are skipped, as Java does.
    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions: &PartitionCounts,
    ) -> Result<GroupAssignment, GroupError>;
}

/// The assignors a Java consumer offers by default (3.x): range, then
/// cooperative-sticky (so the group runs the eager protocol).
pub fn default_assignors() -> Vec<Arc<dyn Assignor>> {
    vec![Arc::new(RangeAssignor), Arc::new(CooperativeStickyAssignor)]
}

/// Java's member order (`AbstractPartitionAssignor.MemberInfo`): members with
/// a group instance id first, ordered by it, then the others by member id.
pub fn java_member_order(a: &MemberSubscription, b: &MemberSubscription) -> Ordering {
    match (&a.group_instance_id, &b.group_instance_id) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.member_id.cmp(&b.member_id),
    }
}

/// `members` sorted by [`java_member_order`].
pub(crate) fn sorted_members(members: &[MemberSubscription]) -> Vec<&MemberSubscription> {
    let mut v: Vec<&MemberSubscription> = members.iter().collect();
    v.sort_by(|a, b| java_member_order(a, b));
    v
}

/// An empty entry for every member.
pub(crate) fn empty_assignment(members: &[MemberSubscription]) -> GroupAssignment {
    members
        .iter()
        .map(|m| (m.member_id.clone(), BTreeSet::new()))
        .collect()
}

/// Every subscribed topic that has a partition count, in name order, with
/// its count (negative counts read as zero).
pub(crate) fn subscribed_topics(
    members: &[MemberSubscription],
    partitions: &PartitionCounts,
) -> BTreeMap<String, i32> {
    members
        .iter()
        .flat_map(|m| m.subscription.topics.iter())
        .filter_map(|t| partitions.get(t).map(|&n| (t.clone(), n.max(0))))
        .collect()
}

/// Builds a [`TopicPartition`].
pub(crate) fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.to_owned(),
        partition,
    }
}

/// Who owned a partition in the previous generation, from the members' claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// One member (index into the input) holds the newest claim.
    Member(usize),
    /// Several members claim it in the same, newest generation.
    Contested,
}

/// The generation a member's claims belong to: the subscription's (v2+),
/// else the cooperative-sticky user data (a big-endian `int32`), else -1.
pub(crate) fn claim_generation(s: &ConsumerProtocolSubscription) -> i32 {
    if s.generation_id >= 0 {
        return s.generation_id;
    }
    match s.user_data.as_deref() {
        Some(&[a, b, c, d]) => i32::from_be_bytes([a, b, c, d]),
        _ => -1,
    }
}

/// Resolves the previous owner of every claimed partition: the claim with
/// the highest generation wins; equal newest claims make it contested.
pub(crate) fn previous_owners(members: &[MemberSubscription]) -> BTreeMap<TopicPartition, Owner> {
    let mut best: BTreeMap<TopicPartition, (i32, Owner)> = BTreeMap::new();
    for (i, m) in members.iter().enumerate() {
        let generation = claim_generation(&m.subscription);
        for p in m.owned() {
            match best.get_mut(&p) {
                None => {
                    best.insert(p, (generation, Owner::Member(i)));
                }
                Some(entry) => match generation.cmp(&entry.0) {
                    Ordering::Greater => *entry = (generation, Owner::Member(i)),
                    Ordering::Equal if entry.1 != Owner::Member(i) => entry.1 = Owner::Contested,
                    _ => {}
                },
            }
        }
    }
    best.into_iter().map(|(p, (_, o))| (p, o)).collect()
}

/// Checks the cooperative rule on a computed assignment: a partition goes
/// only to its previous owner, or to anyone if nobody owned it.
pub fn check_cooperative(
    members: &[MemberSubscription],
    assignment: &GroupAssignment,
) -> Result<(), GroupError> {
    let owners = previous_owners(members);
    for (member_id, parts) in assignment {
        for p in parts {
            let ok = match owners.get(p) {
                None => true,
                Some(Owner::Member(i)) => members
                    .get(*i)
                    .is_some_and(|owner| &owner.member_id == member_id),
                Some(Owner::Contested) => false,
            };
            if !ok {
                return Err(GroupError::Assignor(format!(
                    "{}-{} handed to {member_id} while another member still owns it",
                    p.topic, p.partition
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use crate::protocol::messages::consumer_protocol::TopicPartitions;

    /// A dynamic member subscribed to `topics`.
    pub fn member(id: &str, topics: &[&str]) -> MemberSubscription {
        MemberSubscription {
            member_id: id.into(),
            group_instance_id: None,
            subscription: ConsumerProtocolSubscription {
                topics: topics.iter().map(|t| t.to_string()).collect(),
                ..ConsumerProtocolSubscription::default()
            },
        }
    }

    /// The member with `owned` partitions claimed in `generation`.
    pub fn owning(
        mut m: MemberSubscription,
        generation: i32,
        owned: &[(&str, i32)],
    ) -> MemberSubscription {
        let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for (t, p) in owned {
            by_topic.entry(t.to_string()).or_default().push(*p);
        }
        m.subscription.owned_partitions = by_topic
            .into_iter()
            .map(|(topic, partitions)| TopicPartitions { topic, partitions })
            .collect();
        m.subscription.generation_id = generation;
        m
    }

    /// Partition counts from pairs.
    pub fn counts(pairs: &[(&str, i32)]) -> PartitionCounts {
        pairs.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    /// A member's partitions as `(topic, partition)` pairs, sorted.
    pub fn parts<'a>(a: &'a GroupAssignment, id: &str) -> Vec<(&'a str, i32)> {
        a.get(id)
            .map(|s| s.iter().map(|p| (p.topic.as_str(), p.partition)).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;

    #[test]
    fn static_members_sort_first_by_instance_id() {
        let mut a = member("a", &[]);
        let mut b = member("b", &[]);
        let c = member("c", &[]);
        a.group_instance_id = Some("z".into());
        b.group_instance_id = Some("y".into());
        let all = [c.clone(), a.clone(), b.clone()];
        let ids: Vec<&str> = sorted_members(&all)
            .iter()
            .map(|m| m.member_id.as_str())
            .collect();
        assert_eq!(ids, ["b", "a", "c"]);
    }

    #[test]
    fn newest_claim_wins_and_ties_are_contested() {
        let ms = [
            owning(member("a", &["t"]), 3, &[("t", 0), ("t", 1)]),
            owning(member("b", &["t"]), 4, &[("t", 1)]),
            owning(member("c", &["t"]), 3, &[("t", 0)]),
        ];
        let owners = previous_owners(&ms);
        assert_eq!(owners.get(&tp("t", 0)), Some(&Owner::Contested));
        assert_eq!(owners.get(&tp("t", 1)), Some(&Owner::Member(1)));
        assert_eq!(owners.get(&tp("t", 2)), None);
    }

    #[test]
    fn generation_falls_back_to_sticky_user_data() {
        let mut m = member("a", &["t"]);
        m.subscription.user_data = Some(Bytes::from_static(&[0, 0, 1, 2]));
        assert_eq!(claim_generation(&m.subscription), 258);
        m.subscription.generation_id = 7;
        assert_eq!(claim_generation(&m.subscription), 7);
        m.subscription.generation_id = -1;
        m.subscription.user_data = Some(Bytes::from_static(&[1]));
        assert_eq!(claim_generation(&m.subscription), -1);
    }

    #[test]
    fn cooperative_check_rejects_direct_moves() {
        let ms = [
            owning(member("a", &["t"]), 1, &[("t", 0)]),
            member("b", &["t"]),
        ];
        let mut moved = empty_assignment(&ms);
        moved.entry("b".into()).or_default().insert(tp("t", 0));
        assert!(check_cooperative(&ms, &moved).is_err());
        let mut kept = empty_assignment(&ms);
        kept.entry("a".into()).or_default().insert(tp("t", 0));
        kept.entry("b".into()).or_default().insert(tp("t", 1));
        assert!(check_cooperative(&ms, &kept).is_ok());
    }
}
