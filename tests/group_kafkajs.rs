//! kafkit and kafkajs consumers in one group, as during a service's move
//! from Node to Rust: both offer kafkajs's `RoundRobinAssigner`
//! (`KafkajsRoundRobinAssignor` on the kafkit side) on librdkafka's mock
//! cluster (3 brokers, 6 partitions).
//!
//! First a kafkit member leads and hands the kafkajs member its partitions
//! (kafkajs decodes kafkit's assignment); then the kafkit member leaves, the
//! kafkajs member leads, and it hands a new kafkit member its share (kafkit
//! decodes kafkajs's). In each settled generation every record produced is
//! read exactly once, by the member owning its partition.
//!
//! The kafkajs side is `tests/interop/nest/kafkajs_member.js` (kafkajs 2.2.4
//! from the NestJS interop's npm packages, `scripts/nest_deps.sh`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafkit::consumer::ConsumerEvent;
use kafkit::group::{Assignor, KafkajsRoundRobinAssignor};
use rdkafka::mocking::MockCluster;
use tokio::sync::mpsc;

mod support;
use support::cap_mock_group_versions;
use support::members::{
    await_reads, kafkit_config, produce, reads, GroupView, KafkitMember, Read, ReadLog,
};

const PARTITIONS: i32 = 6;
const TOPIC: &str = "migrating";
const GROUP: &str = "g-migrating";
/// The kafkajs member's id in the read log.
const JS: usize = 100;

/// One `{"join":...}` line of the kafkajs member.
#[derive(Debug, Clone)]
struct JsJoin {
    leader: bool,
    protocol: String,
    partitions: BTreeSet<i32>,
}

/// The kafkajs member: a node child process, killed when dropped.
struct JsMember {
    child: Child,
    joins: Arc<Mutex<Vec<JsJoin>>>,
}

impl JsMember {
    fn spawn(bootstrap: &str, log: ReadLog) -> Self {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/nest");
        assert!(
            dir.join("node_modules/kafkajs").is_dir(),
            "kafkajs is not installed for the interop tests: run scripts/nest_deps.sh (needs node and npm)"
        );
        let mut child = Command::new("node")
            .args(["kafkajs_member.js", bootstrap, TOPIC, GROUP])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        let out = child.stdout.take().expect("stdout");
        let joins = Arc::new(Mutex::new(Vec::new()));
        let seen = joins.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if let Some(r) = v.get("record") {
                    let read = Read {
                        member: JS,
                        partition: r["partition"].as_i64().unwrap_or(-1) as i32,
                        offset: r["offset"].as_i64().unwrap_or(-1),
                        value: r["value"].as_str().unwrap_or_default().to_owned(),
                        at: Instant::now(),
                    };
                    log.lock().unwrap_or_else(|p| p.into_inner()).push(read);
                } else if let Some(j) = v.get("join") {
                    let join = JsJoin {
                        leader: j["leader"].as_bool().unwrap_or(false),
                        protocol: j["protocol"].as_str().unwrap_or_default().to_owned(),
                        partitions: j["partitions"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|p| p.as_i64())
                                    .map(|p| p as i32)
                                    .collect()
                            })
                            .unwrap_or_default(),
                    };
                    seen.lock().unwrap_or_else(|p| p.into_inner()).push(join);
                }
            }
        });
        Self { child, joins }
    }

    fn last_join(&self) -> Option<JsJoin> {
        self.joins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last()
            .cloned()
    }
}

impl Drop for JsMember {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the kafkit members `ids` (each assigned at least once) and
/// the kafkajs member together own every partition exactly once, unchanged
/// for a second; returns the
/// kafkajs member's latest join and each kafkit member's partitions.
async fn settle(
    view: &mut GroupView,
    events: &mut mpsc::UnboundedReceiver<(usize, ConsumerEvent, Instant)>,
    ids: &[usize],
    js: &JsMember,
) -> (JsJoin, BTreeMap<usize, BTreeSet<i32>>) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut since: Option<(Instant, usize)> = None;
    loop {
        let joins = js.joins.lock().unwrap_or_else(|p| p.into_inner()).len();
        let kafkit: BTreeMap<usize, BTreeSet<i32>> = ids
            .iter()
            .map(|id| (*id, view.owned.get(id).cloned().unwrap_or_default()))
            .collect();
        let js_owned = js.last_join().map(|j| j.partitions).unwrap_or_default();
        let total = kafkit.values().map(BTreeSet::len).sum::<usize>() + js_owned.len();
        let union: BTreeSet<i32> = kafkit
            .values()
            .flatten()
            .chain(&js_owned)
            .copied()
            .collect();
        let assigned = ids.iter().all(|id| view.generation.contains_key(id));
        let ok = assigned && total == union.len() && union == (0..PARTITIONS).collect();
        since = match since {
            Some((t, n)) if ok && n == joins => Some((t, n)),
            _ if ok => Some((Instant::now(), joins)),
            _ => None,
        };
        if let (Some((t, _)), Some(join)) = (since, js.last_join()) {
            if t.elapsed() >= Duration::from_secs(1) {
                return (join, kafkit);
            }
        }
        assert!(
            Instant::now() < deadline,
            "group did not settle: kafkit {kafkit:?}, kafkajs joins {:?}, events {:#?}",
            js.joins.lock().unwrap_or_else(|p| p.into_inner()),
            view.events
        );
        if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(50), events.recv()).await {
            since = None;
            view.apply(e);
        }
    }
}

/// Each value of `values` read exactly once, by the member owning its partition.
fn read_once_by_owner(
    log: &ReadLog,
    values: &BTreeSet<String>,
    owners: &BTreeMap<usize, BTreeSet<i32>>,
) {
    let mut seen = BTreeSet::new();
    for r in reads(log).iter().filter(|r| values.contains(&r.value)) {
        assert!(seen.insert(r.value.clone()), "{} read twice", r.value);
        assert!(
            owners
                .get(&r.member)
                .is_some_and(|o| o.contains(&r.partition)),
            "member {} read partition {} it does not own ({owners:?})",
            r.member,
            r.partition
        );
    }
    assert_eq!(seen.len(), values.len(), "every record read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkit_and_kafkajs_share_a_group_both_ways() {
    let mock = MockCluster::new(3).expect("mock");
    cap_mock_group_versions(&mock);
    mock.create_topic(TOPIC, PARTITIONS, 3).expect("topic");
    let bootstrap = mock.bootstrap_servers();
    let assignors: Vec<Arc<dyn Assignor>> = vec![Arc::new(KafkajsRoundRobinAssignor)];
    let config = || kafkit_config(GROUP).with_assignors(assignors.clone());
    let log = ReadLog::default();
    let (tx, mut events) = mpsc::unbounded_channel();
    let mut view = GroupView::default();

    // A kafkit member alone, then a kafkajs member joins: kafkit leads.
    let first = KafkitMember::spawn(0, &bootstrap, TOPIC, config(), log.clone(), tx.clone()).await;
    let early = produce(&bootstrap, TOPIC, "early-", 0..60).await;
    await_reads(&log, &early).await;
    let js = JsMember::spawn(&bootstrap, log.clone());
    let (join, kafkit) = settle(&mut view, &mut events, &[0], &js).await;
    assert_eq!(join.protocol, "RoundRobinAssigner");
    assert!(!join.leader, "the kafkit member leads: {join:?}");
    assert_eq!(
        join.partitions.len(),
        3,
        "kafkit's assignment gives kafkajs half: {join:?}"
    );
    let mut owners = kafkit.clone();
    owners.insert(JS, join.partitions.clone());
    let shared = produce(&bootstrap, TOPIC, "shared-", 0..120).await;
    await_reads(&log, &shared).await;
    read_once_by_owner(&log, &shared, &owners);
    first.commit().await;

    // The kafkit member leaves: kafkajs takes everything and leads; a new
    // kafkit member joins and gets its share from kafkajs's assignment.
    first.leave().await;
    view.remove(0);
    let (join, _) = settle(&mut view, &mut events, &[], &js).await;
    assert_eq!(join.partitions.len(), PARTITIONS as usize, "{join:?}");
    let second = KafkitMember::spawn(1, &bootstrap, TOPIC, config(), log.clone(), tx.clone()).await;
    let (join, kafkit) = settle(&mut view, &mut events, &[1], &js).await;
    assert!(join.leader, "the kafkajs member leads: {join:?}");
    assert_eq!(
        kafkit.get(&1).map(BTreeSet::len),
        Some(3),
        "kafkajs's assignment gives kafkit half: {kafkit:?}"
    );
    let mut owners = kafkit;
    owners.insert(JS, join.partitions.clone());
    let late = produce(&bootstrap, TOPIC, "late-", 0..120).await;
    await_reads(&log, &late).await;
    read_once_by_owner(&log, &late, &owners);

    // Nothing produced was lost across the two rebalances.
    let all: BTreeSet<String> = early.iter().chain(&shared).chain(&late).cloned().collect();
    let read: BTreeSet<String> = reads(&log).into_iter().map(|r| r.value).collect();
    assert!(all.is_subset(&read));
    second.leave().await;
}
