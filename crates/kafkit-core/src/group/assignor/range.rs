//! The range assignor (`"range"`), as in the Java client.
//!
//! Topic by topic, the members subscribed to the topic are put in Java's
//! member order and the partitions in numeric order; each member gets a
//! contiguous range of `n / members` partitions and the first `n % members`
//! members one more.

use super::{
    empty_assignment, sorted_members, subscribed_topics, tp, Assignor, GroupAssignment,
    MemberSubscription, PartitionCounts,
};
use crate::group::error::GroupError;

/// Contiguous ranges per topic (eager protocol only).
#[derive(Debug, Clone, Copy, Default)]
pub struct RangeAssignor;

impl Assignor for RangeAssignor {
    fn name(&self) -> &str {
        "range"
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions: &PartitionCounts,
    ) -> Result<GroupAssignment, GroupError> {
        let mut out = empty_assignment(members);
        let ordered = sorted_members(members);
        for (topic, count) in subscribed_topics(members, partitions) {
            let consumers: Vec<&&MemberSubscription> =
                ordered.iter().filter(|m| m.subscribes_to(&topic)).collect();
            let Ok(n_consumers) = i32::try_from(consumers.len()) else {
                return Err(GroupError::Assignor("too many members".into()));
            };
            if n_consumers == 0 {
                continue;
            }
            let per_member = count / n_consumers;
            let with_extra = count % n_consumers;
            let mut start = 0;
            for (i, m) in (0..).zip(consumers) {
                let len = per_member + i32::from(i < with_extra);
                let entry = out.entry(m.member_id.clone()).or_default();
                entry.extend((start..start + len).map(|p| tp(&topic, p)));
                start += len;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    fn run(members: &[MemberSubscription], c: &[(&str, i32)]) -> GroupAssignment {
        RangeAssignor.assign(members, &counts(c)).unwrap()
    }

    #[test]
    fn two_members_two_topics_of_three() {
        // Java's documented example: C0 [t0p0, t0p1, t1p0, t1p1], C1 [t0p2, t1p2].
        let ms = [member("c0", &["t0", "t1"]), member("c1", &["t0", "t1"])];
        let a = run(&ms, &[("t0", 3), ("t1", 3)]);
        assert_eq!(
            parts(&a, "c0"),
            [("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)]
        );
        assert_eq!(parts(&a, "c1"), [("t0", 2), ("t1", 2)]);
    }

    #[test]
    fn uneven_counts_give_the_first_members_one_more() {
        let ms = [
            member("m2", &["t"]),
            member("m0", &["t"]),
            member("m1", &["t"]),
        ];
        let a = run(&ms, &[("t", 7)]);
        assert_eq!(parts(&a, "m0"), [("t", 0), ("t", 1), ("t", 2)]);
        assert_eq!(parts(&a, "m1"), [("t", 3), ("t", 4)]);
        assert_eq!(parts(&a, "m2"), [("t", 5), ("t", 6)]);
        // More members than partitions: the last ones get nothing.
        let a = run(&ms, &[("t", 2)]);
        assert_eq!(parts(&a, "m0"), [("t", 0)]);
        assert_eq!(parts(&a, "m1"), [("t", 1)]);
        assert_eq!(parts(&a, "m2"), []);
    }

    #[test]
    fn different_subscriptions_range_per_topic() {
        // Java's testMultipleConsumersMixedTopics.
        let ms = [
            member("consumer1", &["topic1"]),
            member("consumer2", &["topic1", "topic2"]),
            member("consumer3", &["topic1"]),
        ];
        let a = run(&ms, &[("topic1", 3), ("topic2", 2)]);
        assert_eq!(parts(&a, "consumer1"), [("topic1", 0)]);
        assert_eq!(
            parts(&a, "consumer2"),
            [("topic1", 1), ("topic2", 0), ("topic2", 1)]
        );
        assert_eq!(parts(&a, "consumer3"), [("topic1", 2)]);
    }

    #[test]
    fn static_member_sorts_before_dynamic() {
        // Java's testOneStaticConsumerAndOneDynamicConsumerTwoTopicsSixPartitions:
        // "consumer-b" is static, so it ranks before dynamic "consumer-a".
        let mut low = member("consumer-b", &["topic1", "topic2"]);
        low.group_instance_id = Some("instance1".into());
        let high = member("consumer-a", &["topic1", "topic2"]);
        let a = run(&[high, low], &[("topic1", 3), ("topic2", 3)]);
        assert_eq!(
            parts(&a, "consumer-b"),
            [("topic1", 0), ("topic1", 1), ("topic2", 0), ("topic2", 1)]
        );
        assert_eq!(parts(&a, "consumer-a"), [("topic1", 2), ("topic2", 2)]);
    }

    #[test]
    fn unknown_topics_and_unsubscribed_topics_are_skipped() {
        let ms = [member("a", &["t", "missing"])];
        let a = run(&ms, &[("t", 2), ("other", 4)]);
        assert_eq!(parts(&a, "a"), [("t", 0), ("t", 1)]);
        let none = run(&[member("a", &[])], &[("t", 2)]);
        assert_eq!(none.len(), 1);
        assert!(parts(&none, "a").is_empty());
    }
}
