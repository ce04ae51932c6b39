//! The owned broker of the KIP-848 tests (`real_groups_848`,
//! `rebalance_time`) and the wait for a settled group: Apache Kafka 4.4.0
//! with `group.consumer.heartbeat.interval.ms=500` and
//! `group.consumer.session.timeout.ms=6000` (the defaults, 5 s and 45 s,
//! make every KIP-848 rebalance take seconds); `KAFKIT_KAFKA_848` names an
//! already running one started with those settings.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kafkit::consumer::ConsumerEvent;
use tokio::sync::mpsc;

use super::kafka;
use super::members::GroupView;

/// The broker settings (`--set` values) that make KIP-848 rebalances quick.
pub const SETTINGS: [&str; 4] = [
    "group.consumer.heartbeat.interval.ms=500",
    "group.consumer.min.heartbeat.interval.ms=100",
    "group.consumer.session.timeout.ms=6000",
    "group.consumer.min.session.timeout.ms=1000",
];

/// The broker (see the module doc), started once per test process, or `None` to skip.
pub fn broker() -> Option<String> {
    static B: OnceLock<Option<String>> = OnceLock::new();
    B.get_or_init(|| {
        if let Ok(b) = std::env::var("KAFKIT_KAFKA_848") {
            return Some(b);
        }
        if !kafka::can_start() {
            return None;
        }
        let options: Vec<&str> = SETTINGS.iter().flat_map(|s| ["--set", s]).collect();
        let c = kafka::Cluster::start(1, &options);
        let b = c.bootstrap.clone();
        // Stopped by the watcher when this process exits.
        std::mem::forget(c);
        Some(b)
    })
    .clone()
}

pub type Events = mpsc::UnboundedReceiver<(usize, ConsumerEvent, Instant)>;

/// Waits until the kafkit members `ids` plus `other()` (partitions owned by
/// a member outside the view, when `other_is_member`) own each partition
/// exactly once, balanced as the uniform assignor balances them (counts
/// differ by one at most; an assignment in progress can look complete, a
/// newcomer owning nothing yet), unchanged for a second. Returns each
/// kafkit member's partitions, and when that state began.
pub async fn settle_848(
    view: &mut GroupView,
    events: &mut Events,
    ids: &[usize],
    partitions: i32,
    other_is_member: bool,
    other: impl Fn() -> BTreeSet<i32>,
) -> (BTreeMap<usize, BTreeSet<i32>>, Instant) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut since: Option<Instant> = None;
    let mut last_other = other();
    loop {
        let mine: BTreeMap<usize, BTreeSet<i32>> = ids
            .iter()
            .map(|id| (*id, view.owned.get(id).cloned().unwrap_or_default()))
            .collect();
        let theirs = other();
        let total = mine.values().map(BTreeSet::len).sum::<usize>() + theirs.len();
        let union: BTreeSet<i32> = mine.values().flatten().chain(&theirs).copied().collect();
        let counts: Vec<usize> = mine
            .values()
            .map(BTreeSet::len)
            .chain(other_is_member.then_some(theirs.len()))
            .collect();
        let balanced = counts.iter().max().copied().unwrap_or(0)
            <= counts.iter().min().copied().unwrap_or(0) + 1;
        let ok = balanced && total == union.len() && union == (0..partitions).collect();
        if theirs != last_other {
            since = None;
            last_other = theirs.clone();
        }
        since = if ok {
            since.or(Some(Instant::now()))
        } else {
            None
        };
        if let Some(t) = since.filter(|t| t.elapsed() >= Duration::from_secs(1)) {
            return (mine, t);
        }
        assert!(
            Instant::now() < deadline,
            "group did not settle: {mine:?} + {theirs:?}; events {:#?}",
            view.events
        );
        if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(50), events.recv()).await {
            since = None;
            view.apply(e);
        }
    }
}
