//! Properties every assignor must hold, over random groups.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::test_util::{counts, member, owning};
use super::*;

const TOPICS: [&str; 3] = ["a", "b", "c"];

/// A random group: up to 6 members with random subscriptions (some static),
/// random partition counts, and a random disjoint previous assignment.
#[derive(Debug, Clone)]
struct Group {
    members: Vec<MemberSubscription>,
    counts: PartitionCounts,
}

/// `uniform`: every member subscribes to the first member's topics.
fn group(with_owned: bool, uniform: bool) -> impl Strategy<Value = Group> {
    (
        proptest::collection::vec((0u8..8, any::<bool>()), 1..7),
        proptest::collection::vec(0i32..9, 3),
        proptest::collection::vec(any::<Option<u8>>(), 24),
    )
        .prop_map(move |(subs, sizes, owners)| {
            let pairs: Vec<(&str, i32)> = TOPICS.iter().copied().zip(sizes).collect();
            let counts = counts(&pairs);
            let n = subs.len();
            let mut owned: Vec<Vec<(&str, i32)>> = vec![Vec::new(); n];
            if with_owned {
                let all = pairs
                    .iter()
                    .flat_map(|(t, c)| (0..*c).map(move |p| (*t, p)));
                for (part, owner) in all.zip(owners) {
                    if let Some(o) = owner {
                        if let Some(v) = owned.get_mut(usize::from(o) % n) {
                            v.push(part);
                        }
                    }
                }
            }
            let first_mask = subs.first().map_or(0, |s| s.0);
            let members = subs
                .iter()
                .zip(owned)
                .enumerate()
                .map(|(i, ((own_mask, is_static), own))| {
                    let mask = if uniform { first_mask } else { *own_mask };
                    let topics: Vec<&str> = TOPICS
                        .iter()
                        .enumerate()
                        .filter(|(k, _)| mask & (1 << k) != 0)
                        .map(|(_, t)| *t)
                        .collect();
                    let mut m = owning(member(&format!("m{i}"), &topics), 7, &own);
                    if *is_static {
                        m.group_instance_id = Some(format!("i{}", n - i));
                    }
                    m
                })
                .collect();
            Group { members, counts }
        })
}

/// Every subscribed partition, with the members eligible for it.
fn universe(g: &Group) -> BTreeMap<TopicPartition, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (t, &n) in &g.counts {
        let subs: BTreeSet<String> = g
            .members
            .iter()
            .filter(|m| m.subscribes_to(t))
            .map(|m| m.member_id.clone())
            .collect();
        if subs.is_empty() {
            continue;
        }
        for p in 0..n {
            out.insert(tp(t, p), subs.clone());
        }
    }
    out
}

/// At most once, only to eligible members, and every member has an entry.
fn check_valid(g: &Group, a: &GroupAssignment) -> Result<Vec<TopicPartition>, TestCaseError> {
    let all = universe(g);
    prop_assert_eq!(a.len(), g.members.len());
    let mut seen = BTreeSet::new();
    for (m, parts) in a {
        for p in parts {
            prop_assert!(seen.insert(p.clone()), "{:?} assigned twice", p);
            let eligible = all
                .get(p)
                .ok_or_else(|| TestCaseError::fail("unknown partition"))?;
            prop_assert!(eligible.contains(m), "{:?} to unsubscribed {}", p, m);
        }
    }
    Ok(all.into_keys().filter(|p| !seen.contains(p)).collect())
}

fn sizes(a: &GroupAssignment) -> Vec<usize> {
    a.values().map(BTreeSet::len).collect()
}

fn same_subscriptions(g: &Group) -> bool {
    g.members
        .windows(2)
        .all(|w| matches!(w, [x, y] if x.subscription.topics == y.subscription.topics))
}

/// The members after a cooperative round: each owns what it was assigned.
fn after_round(g: &Group, a: &GroupAssignment, generation: i32) -> Group {
    let members = g
        .members
        .iter()
        .map(|m| {
            let mine = a.get(&m.member_id).cloned().unwrap_or_default();
            let pairs: Vec<(&str, i32)> = mine
                .iter()
                .map(|p| (p.topic.as_str(), p.partition))
                .collect();
            let mut next = owning(m.clone(), generation, &pairs);
            next.subscription.topics = m.subscription.topics.clone();
            next
        })
        .collect();
    Group {
        members,
        counts: g.counts.clone(),
    }
}

proptest! {
    #[test]
    fn eager_assignors_assign_everything_once(g in group(false, false)) {
        for assignor in [&RangeAssignor as &dyn Assignor, &RoundRobinAssignor, &CooperativeStickyAssignor] {
            let a = assignor.assign(&g.members, &g.counts).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let missing = check_valid(&g, &a)?;
            prop_assert!(missing.is_empty(), "{} left out {:?}", assignor.name(), missing);
        }
    }

    #[test]
    fn identical_subscriptions_are_balanced(g in group(false, true), owned in group(true, true)) {
        prop_assert!(same_subscriptions(&g) && same_subscriptions(&owned));
        let s = sizes(&CooperativeStickyAssignor.assign(&owned.members, &owned.counts).map_err(|e| TestCaseError::fail(e.to_string()))?);
        // Before the cooperative adjustment the counts are balanced; withheld
        // partitions can only lower a count, so nobody exceeds the fair ceiling.
        let total = universe(&owned).len();
        let ceiling = total.div_ceil(owned.members.len());
        prop_assert!(s.iter().all(|&n| n <= ceiling), "sizes {:?} ceiling {}", s, ceiling);
        for assignor in [&RoundRobinAssignor as &dyn Assignor, &CooperativeStickyAssignor] {
            let a = assignor.assign(&g.members, &g.counts).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let s = sizes(&a);
            let spread = s.iter().max().copied().unwrap_or(0) - s.iter().min().copied().unwrap_or(0);
            prop_assert!(spread <= 1, "{} sizes {:?}", assignor.name(), s);
        }
    }

    #[test]
    fn range_balances_each_topic(g in group(false, false)) {
        let a = RangeAssignor.assign(&g.members, &g.counts).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for t in g.counts.keys() {
            let per: Vec<usize> = g.members.iter().filter(|m| m.subscribes_to(t)).map(|m| {
                a.get(&m.member_id).map_or(0, |s| s.iter().filter(|p| &p.topic == t).count())
            }).collect();
            let spread = per.iter().max().copied().unwrap_or(0) - per.iter().min().copied().unwrap_or(0);
            prop_assert!(spread <= 1, "topic {} sizes {:?}", t, per);
        }
    }

    #[test]
    fn cooperative_never_hands_over_directly_and_converges(
        g in prop_oneof![group(true, false), group(true, true)],
    ) {
        let first = CooperativeStickyAssignor.assign(&g.members, &g.counts).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_valid(&g, &first)?;
        prop_assert!(check_cooperative(&g.members, &first).is_ok());
        // Stickiness: a member keeps its owned partitions up to its fair share.
        if same_subscriptions(&g) && !g.members.is_empty() {
            let total = universe(&g).len();
            let floor = total / g.members.len();
            for m in &g.members {
                let owned: BTreeSet<TopicPartition> = m.owned().filter(|p| universe(&g).contains_key(p)).collect();
                let kept = first.get(&m.member_id).map_or(0, |s| s.intersection(&owned).count());
                prop_assert!(kept >= owned.len().min(floor), "{} kept {} of {}", m.member_id, kept, owned.len());
            }
        }
        // Follow-up round: everything is assigned, nothing more moves.
        let g2 = after_round(&g, &first, 8);
        let second = CooperativeStickyAssignor.assign(&g2.members, &g2.counts).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let missing = check_valid(&g2, &second)?;
        prop_assert!(missing.is_empty(), "left out {:?}", missing);
        prop_assert!(check_cooperative(&g2.members, &second).is_ok());
        let g3 = after_round(&g2, &second, 9);
        let third = CooperativeStickyAssignor.assign(&g3.members, &g3.counts).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&third, &second);
    }

    #[test]
    fn assignment_ignores_member_input_order(g in group(true, false)) {
        let mut reversed = g.members.clone();
        reversed.reverse();
        for assignor in [&RangeAssignor as &dyn Assignor, &RoundRobinAssignor, &CooperativeStickyAssignor] {
            let a = assignor.assign(&g.members, &g.counts).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let b = assignor.assign(&reversed, &g.counts).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(a, b);
        }
    }
}
