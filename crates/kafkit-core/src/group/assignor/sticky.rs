//! The cooperative sticky assignor (`"cooperative-sticky"`, KIP-429).
//!
//! The assignment is computed in four steps, all deterministic:
//! 1. every partition keeps its previous owner (the newest claim among the
//!    members' `owned_partitions`) if that owner still subscribes to it;
//! 2. the remaining partitions, those with the fewest eligible members
//!    first, go one by one to the eligible member holding the fewest;
//! 3. while a chain of transfers can take one partition from a member
//!    holding at least two more than another (see `Sticky::move_one`),
//!    it is applied, first moving only partitions nobody owned, then any;
//!    the counts end as even as the subscriptions allow (with identical
//!    subscriptions, within one of each other), and a follow-up rebalance
//!    after step 4 settles without moving owned partitions again;
//! 4. cooperative adjustment: a partition that ends up with a member other
//!    than its previous owner is left out of this generation. The owner
//!    sees it missing, revokes it and rejoins, and the follow-up rebalance
//!    hands it out as unowned.
//!
//! Under the eager protocol members own nothing when they join (they
//! revoked everything first), so step 4 changes nothing.
//!
//! The algorithm is kafkit's own: it has the properties KIP-54/KIP-429 ask
//! for (balance, stickiness, no partition in two hands) but is not a port of
//! Java's `AbstractStickyAssignor`, so a kafkit leader and a Java leader may
//! pick different (equally valid) balanced assignments.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::{
    previous_owners, sorted_members, subscribed_topics, tp, Assignor, GroupAssignment,
    MemberSubscription, Owner, PartitionCounts,
};
use crate::group::error::GroupError;
use crate::group::TopicPartition;

/// Sticky, balanced, cooperative assignment.
#[derive(Debug, Clone, Copy, Default)]
pub struct CooperativeStickyAssignor;

impl Assignor for CooperativeStickyAssignor {
    fn name(&self) -> &str {
        "cooperative-sticky"
    }

    fn is_cooperative(&self) -> bool {
        true
    }

    /// The generation as a big-endian `int32`, as Java's assignor sends it
    /// for members whose subscription version lacks `generation_id`.
    fn subscription_user_data(&self, generation_id: i32) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(&generation_id.to_be_bytes()))
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions: &PartitionCounts,
    ) -> Result<GroupAssignment, GroupError> {
        let mut state = Sticky::new(members, partitions);
        state.keep_owned();
        state.place_unassigned();
        // Balance with partitions nobody owned first, so that a follow-up
        // rebalance (everything owned but what was withheld) settles
        // without moving owned partitions; then with any partition.
        while state.move_one(true) {}
        while state.move_one(false) {}
        Ok(state.finish())
    }
}

/// Working state, members by index into the input slice.
struct Sticky<'a> {
    members: &'a [MemberSubscription],
    /// Position of each member in Java's member order (tie breaker).
    rank: Vec<usize>,
    /// Eligible members per topic, in member order.
    eligible: BTreeMap<String, Vec<usize>>,
    counts: BTreeMap<String, i32>,
    owners: BTreeMap<TopicPartition, Owner>,
    held: Vec<BTreeSet<TopicPartition>>,
}

impl<'a> Sticky<'a> {
    fn new(members: &'a [MemberSubscription], partitions: &PartitionCounts) -> Self {
        let order = sorted_members(members);
        let mut rank = vec![0; members.len()];
        let mut in_order = Vec::with_capacity(members.len());
        for (r, m) in order.iter().enumerate() {
            if let Some(i) = members.iter().position(|x| std::ptr::eq(x, *m)) {
                if let Some(slot) = rank.get_mut(i) {
                    *slot = r;
                }
                in_order.push(i);
            }
        }
        let counts = subscribed_topics(members, partitions);
        let eligible = counts
            .keys()
            .map(|t| {
                let subs = in_order
                    .iter()
                    .copied()
                    .filter(|&i| members.get(i).is_some_and(|m| m.subscribes_to(t)))
                    .collect();
                (t.clone(), subs)
            })
            .collect();
        Self {
            members,
            rank,
            eligible,
            counts,
            owners: previous_owners(members),
            held: vec![BTreeSet::new(); members.len()],
        }
    }

    fn exists(&self, p: &TopicPartition) -> bool {
        self.counts
            .get(&p.topic)
            .is_some_and(|&n| (0..n).contains(&p.partition))
    }

    fn len(&self, i: usize) -> usize {
        self.held.get(i).map_or(0, BTreeSet::len)
    }

    fn rank(&self, i: usize) -> usize {
        self.rank.get(i).copied().unwrap_or(usize::MAX)
    }

    fn previously_owned_by(&self, p: &TopicPartition, i: usize) -> bool {
        self.owners.get(p) == Some(&Owner::Member(i))
    }

    /// Step 1: owners keep what they still subscribe to.
    fn keep_owned(&mut self) {
        let kept: Vec<(usize, TopicPartition)> = self
            .owners
            .iter()
            .filter_map(|(p, o)| match o {
                Owner::Member(i) => Some((*i, p)),
                Owner::Contested => None,
            })
            .filter(|(i, p)| {
                self.exists(p)
                    && self
                        .members
                        .get(*i)
                        .is_some_and(|m| m.subscribes_to(&p.topic))
            })
            .map(|(i, p)| (i, p.clone()))
            .collect();
        for (i, p) in kept {
            if let Some(set) = self.held.get_mut(i) {
                set.insert(p);
            }
        }
    }

    /// The eligible member for `topic` holding the fewest, skipping `except`.
    fn least_loaded(&self, topic: &str, except: Option<usize>) -> Option<usize> {
        self.eligible
            .get(topic)?
            .iter()
            .copied()
            .filter(|&i| Some(i) != except)
            .min_by_key(|&i| (self.len(i), self.rank(i)))
    }

    /// Step 2: hand out what nobody kept, most constrained first.
    fn place_unassigned(&mut self) {
        let taken: BTreeSet<&TopicPartition> = self.held.iter().flatten().collect();
        let mut free: Vec<(usize, TopicPartition)> = Vec::new();
        for (topic, &n) in &self.counts {
            let choices = self.eligible.get(topic).map_or(0, Vec::len);
            for p in 0..n {
                let part = tp(topic, p);
                if !taken.contains(&part) {
                    free.push((choices, part));
                }
            }
        }
        free.sort();
        for (_, p) in free {
            if let Some(i) = self.least_loaded(&p.topic, None) {
                if let Some(set) = self.held.get_mut(i) {
                    set.insert(p);
                }
            }
        }
    }

    /// Step 3: one balancing transfer; false when none is possible.
    ///
    /// Looks, from the most loaded member down, for a chain of holders
    /// `u → w1 → … → v` where each passes one partition to the next (who
    /// is eligible for it) and `v` holds at least two fewer than `u`. The
    /// transfer leaves every intermediate count unchanged and lowers the
    /// sum of squared counts, so balancing ends; with no such chain left
    /// the counts are as even as the subscriptions allow (a local optimum
    /// of this exchange is a global one). With `only_free`, chains may
    /// move only partitions their holder did not own before.
    fn move_one(&mut self, only_free: bool) -> bool {
        let mut sources: Vec<usize> = (0..self.held.len()).collect();
        sources.sort_by_key(|&i| (std::cmp::Reverse(self.len(i)), self.rank(i)));
        for s in sources {
            if let Some(path) = self.find_chain(s, only_free) {
                for (from, p, to) in path {
                    if let Some(set) = self.held.get_mut(from) {
                        set.remove(&p);
                    }
                    if let Some(set) = self.held.get_mut(to) {
                        set.insert(p);
                    }
                }
                return true;
            }
        }
        false
    }

    /// Breadth-first search for the shortest improving chain from `s`.
    fn find_chain(&self, s: usize, only_free: bool) -> Option<Vec<(usize, TopicPartition, usize)>> {
        let limit = self.len(s).checked_sub(2)?;
        let n = self.held.len();
        let mut came_from: Vec<Option<(usize, TopicPartition)>> = vec![None; n];
        let mut seen = vec![false; n];
        *seen.get_mut(s)? = true;
        let mut queue = std::collections::VecDeque::from([s]);
        while let Some(x) = queue.pop_front() {
            // Topics where `x` holds a partition it did not own come first:
            // passing those on costs no revocation.
            let mut topics: Vec<(bool, &String)> = Vec::new();
            for p in self.held.get(x)? {
                let owned = self.previously_owned_by(p, x);
                match topics.iter_mut().find(|(_, t)| *t == &p.topic) {
                    Some(entry) => entry.0 &= owned,
                    None => topics.push((owned, &p.topic)),
                }
            }
            topics.sort();
            for (_, topic) in topics {
                let Some(p) = self.pick_to_move(x, topic, only_free) else {
                    continue;
                };
                for &w in self.eligible.get(topic.as_str()).into_iter().flatten() {
                    if seen.get(w).copied().unwrap_or(true) {
                        continue;
                    }
                    if let Some(v) = seen.get_mut(w) {
                        *v = true;
                    }
                    if let Some(slot) = came_from.get_mut(w) {
                        *slot = Some((x, p.clone()));
                    }
                    if self.len(w) <= limit {
                        return Some(self.chain_to(w, &came_from));
                    }
                    queue.push_back(w);
                }
            }
        }
        None
    }

    /// Follows `came_from` back from `end` to the source, in transfer order.
    fn chain_to(
        &self,
        end: usize,
        came_from: &[Option<(usize, TopicPartition)>],
    ) -> Vec<(usize, TopicPartition, usize)> {
        let mut path = Vec::new();
        let mut to = end;
        while let Some(Some((from, p))) = came_from.get(to) {
            path.push((*from, p.clone(), to));
            to = *from;
        }
        path.reverse();
        path
    }

    /// Which of `d`'s partitions of `topic` to pass on: one it did not own
    /// before if possible (moving it costs no revocation), else (unless
    /// `only_free`) its highest-numbered one.
    fn pick_to_move(&self, d: usize, topic: &str, only_free: bool) -> Option<TopicPartition> {
        let of_topic = self.held.get(d)?.iter().filter(|p| p.topic == topic);
        let mut fallback = None;
        for p in of_topic.rev() {
            if !self.previously_owned_by(p, d) {
                return Some(p.clone());
            }
            if fallback.is_none() && !only_free {
                fallback = Some(p.clone());
            }
        }
        fallback
    }

    /// Step 4 and output: drop partitions that would change hands directly.
    fn finish(self) -> GroupAssignment {
        let mut out = GroupAssignment::new();
        for (i, (m, set)) in self.members.iter().zip(self.held.iter()).enumerate() {
            let keep = set
                .iter()
                .filter(|p| match self.owners.get(*p) {
                    None => true,
                    Some(Owner::Member(o)) => *o == i,
                    Some(Owner::Contested) => false,
                })
                .cloned();
            out.entry(m.member_id.clone()).or_default().extend(keep);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    fn run(members: &[MemberSubscription], c: &[(&str, i32)]) -> GroupAssignment {
        CooperativeStickyAssignor
            .assign(members, &counts(c))
            .unwrap()
    }

    #[test]
    fn fresh_group_is_balanced() {
        let ms = [
            member("a", &["t"]),
            member("b", &["t"]),
            member("c", &["t"]),
        ];
        let a = run(&ms, &[("t", 7)]);
        let sizes: Vec<usize> = ["a", "b", "c"].iter().map(|m| parts(&a, m).len()).collect();
        assert_eq!(sizes, [3, 2, 2]);
        assert_eq!(parts(&a, "a"), [("t", 0), ("t", 3), ("t", 6)]);
    }

    #[test]
    fn owners_keep_their_partitions_when_balanced() {
        let ms = [
            owning(member("a", &["t"]), 5, &[("t", 1), ("t", 3)]),
            owning(member("b", &["t"]), 5, &[("t", 0), ("t", 2)]),
        ];
        let a = run(&ms, &[("t", 4)]);
        assert_eq!(parts(&a, "a"), [("t", 1), ("t", 3)]);
        assert_eq!(parts(&a, "b"), [("t", 0), ("t", 2)]);
    }

    #[test]
    fn a_new_member_gets_moved_partitions_only_in_the_follow_up() {
        // a owns all four; b joins.
        let ms = [
            owning(
                member("a", &["t"]),
                5,
                &[("t", 0), ("t", 1), ("t", 2), ("t", 3)],
            ),
            member("b", &["t"]),
        ];
        let first = run(&ms, &[("t", 4)]);
        // a keeps two and must revoke two; b gets nothing yet.
        assert_eq!(parts(&first, "a"), [("t", 0), ("t", 1)]);
        assert_eq!(parts(&first, "b"), []);
        // Follow-up: a owns what it kept, the revoked two are unowned.
        let ms = [
            owning(member("a", &["t"]), 6, &[("t", 0), ("t", 1)]),
            member("b", &["t"]),
        ];
        let second = run(&ms, &[("t", 4)]);
        assert_eq!(parts(&second, "a"), [("t", 0), ("t", 1)]);
        assert_eq!(parts(&second, "b"), [("t", 2), ("t", 3)]);
    }

    #[test]
    fn departed_members_partitions_are_spread_at_once() {
        // c left: its partitions are unowned and can be given out directly.
        let ms = [
            owning(member("a", &["t"]), 3, &[("t", 0), ("t", 1)]),
            owning(member("b", &["t"]), 3, &[("t", 2), ("t", 3)]),
        ];
        let a = run(&ms, &[("t", 6)]);
        assert_eq!(parts(&a, "a"), [("t", 0), ("t", 1), ("t", 4)]);
        assert_eq!(parts(&a, "b"), [("t", 2), ("t", 3), ("t", 5)]);
    }

    #[test]
    fn different_subscriptions_respect_eligibility() {
        // x has 2 partitions (only a), y has 4 (a and b).
        let ms = [member("a", &["x", "y"]), member("b", &["y"])];
        let a = run(&ms, &[("x", 2), ("y", 4)]);
        let got_a = parts(&a, "a");
        let got_b = parts(&a, "b");
        assert!(got_b.iter().all(|(t, _)| *t == "y"));
        assert_eq!(got_a.len(), 3);
        assert_eq!(got_b.len(), 3);
        assert!(got_a.contains(&("x", 0)) && got_a.contains(&("x", 1)));
    }

    #[test]
    fn contested_and_stale_claims() {
        // a and b both claim t-0 in generation 4: nobody gets it this round.
        // c claims t-1 in stale generation 2 while a claims it in 4: a keeps it.
        let ms = [
            owning(member("a", &["t"]), 4, &[("t", 0), ("t", 1)]),
            owning(member("b", &["t"]), 4, &[("t", 0)]),
            owning(member("c", &["t"]), 2, &[("t", 1)]),
        ];
        let a = run(&ms, &[("t", 3)]);
        let all: Vec<(&str, i32)> = ["a", "b", "c"].iter().flat_map(|m| parts(&a, m)).collect();
        assert!(!all.contains(&("t", 0)));
        assert!(parts(&a, "a").contains(&("t", 1)));
        assert!(all.contains(&("t", 2)));
    }

    #[test]
    fn unsubscribed_topic_is_released_without_direct_handover() {
        // a dropped topic x but still reports owning x-0; b subscribes to x.
        let ms = [
            owning(member("a", &["y"]), 2, &[("x", 0)]),
            member("b", &["x", "y"]),
        ];
        let a = run(&ms, &[("x", 1), ("y", 2)]);
        assert!(!parts(&a, "b").contains(&("x", 0)));
        assert!(!parts(&a, "a").contains(&("x", 0)));
    }

    #[test]
    fn user_data_carries_the_generation() {
        assert_eq!(
            CooperativeStickyAssignor
                .subscription_user_data(258)
                .as_deref(),
            Some(&[0, 0, 1, 2][..])
        );
    }
}
