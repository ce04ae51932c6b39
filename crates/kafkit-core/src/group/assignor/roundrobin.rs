//! The round-robin assignor (`"roundrobin"`), as in the Java client.
//!
//! All partitions of all subscribed topics are laid out by topic name, then
//! partition number; the members, in Java's member order, take them in turn.
//! A member not subscribed to a partition's topic is skipped, and the turn
//! moves on past the member that took the partition.

use super::{
    empty_assignment, sorted_members, subscribed_topics, tp, Assignor, GroupAssignment,
    MemberSubscription, PartitionCounts,
};
use crate::group::error::GroupError;

/// Partitions dealt to members in turn (eager protocol only).
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundRobinAssignor;

impl Assignor for RoundRobinAssignor {
    fn name(&self) -> &str {
        "roundrobin"
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions: &PartitionCounts,
    ) -> Result<GroupAssignment, GroupError> {
        let mut out = empty_assignment(members);
        let ordered = sorted_members(members);
        let n = ordered.len();
        let mut turn = 0usize;
        for (topic, count) in subscribed_topics(members, partitions) {
            for partition in 0..count {
                // The topic came from some member's subscription, so a scan
                // of one full round finds a subscriber.
                let found = (0..n)
                    .map(|k| (turn + k) % n)
                    .find(|&i| ordered.get(i).is_some_and(|m| m.subscribes_to(&topic)));
                let Some(i) = found else { break };
                if let Some(m) = ordered.get(i) {
                    let entry = out.entry(m.member_id.clone()).or_default();
                    entry.insert(tp(&topic, partition));
                }
                turn = (i + 1) % n;
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
        RoundRobinAssignor.assign(members, &counts(c)).unwrap()
    }

    #[test]
    fn two_members_two_topics_of_three() {
        // Java's documented example: C0 [t0p0, t0p2, t1p1], C1 [t0p1, t1p0, t1p2].
        let ms = [member("C1", &["t1", "t0"]), member("C0", &["t0", "t1"])];
        let a = run(&ms, &[("t0", 3), ("t1", 3)]);
        assert_eq!(parts(&a, "C0"), [("t0", 0), ("t0", 2), ("t1", 1)]);
        assert_eq!(parts(&a, "C1"), [("t0", 1), ("t1", 0), ("t1", 2)]);
    }

    #[test]
    fn different_subscriptions_skip_members() {
        // Java's documented example: C0 [t0], C1 [t0, t1], C2 [t0, t1, t2] with
        // 1, 2 and 3 partitions → C0 [t0p0], C1 [t1p0], C2 [t1p1, t2p0, t2p1, t2p2].
        let ms = [
            member("C0", &["t0"]),
            member("C1", &["t0", "t1"]),
            member("C2", &["t0", "t1", "t2"]),
        ];
        let a = run(&ms, &[("t0", 1), ("t1", 2), ("t2", 3)]);
        assert_eq!(parts(&a, "C0"), [("t0", 0)]);
        assert_eq!(parts(&a, "C1"), [("t1", 0)]);
        assert_eq!(
            parts(&a, "C2"),
            [("t1", 1), ("t2", 0), ("t2", 1), ("t2", 2)]
        );
    }

    #[test]
    fn uneven_counts_deal_in_turn_across_topics() {
        let ms = [
            member("a", &["x", "y"]),
            member("b", &["x", "y"]),
            member("c", &["x", "y"]),
        ];
        // x0 a, x1 b, x2 c, x3 a, y0 b, y1 c, y2 a
        let a = run(&ms, &[("x", 4), ("y", 3)]);
        assert_eq!(parts(&a, "a"), [("x", 0), ("x", 3), ("y", 2)]);
        assert_eq!(parts(&a, "b"), [("x", 1), ("y", 0)]);
        assert_eq!(parts(&a, "c"), [("x", 2), ("y", 1)]);
    }

    #[test]
    fn static_members_take_the_first_turns() {
        let mut z = member("z", &["t"]);
        z.group_instance_id = Some("i0".into());
        let a_ = member("a", &["t"]);
        let a = run(&[a_, z], &[("t", 3)]);
        assert_eq!(parts(&a, "z"), [("t", 0), ("t", 2)]);
        assert_eq!(parts(&a, "a"), [("t", 1)]);
    }

    #[test]
    fn no_members_or_no_partitions() {
        assert!(run(&[], &[("t", 3)]).is_empty());
        let a = run(&[member("a", &["t"])], &[("t", 0)]);
        assert!(parts(&a, "a").is_empty());
    }
}
