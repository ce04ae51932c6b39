//! Group members in other clients' processes (kafkajs, kafka-python) for
//! the mixed-group tests: each prints one JSON line per assignment
//! (`{"join":{"leader":..,"protocol":..,"partitions":[..]}}`, optionally
//! with the `"generation"`) and per record
//! (`{"record":{"partition":..,"offset":..,"value":..}}`), and leaves the
//! group when its stdin closes; other JSON lines are kept as they are. Plus
//! the checks the tests make.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafkit::consumer::ConsumerEvent;
use tokio::sync::mpsc;

use super::members::{check_once_by_owner, reads, GroupView, Read, ReadLog};

/// One `{"join":...}` line of a child member.
#[derive(Debug, Clone)]
pub struct ChildJoin {
    pub leader: bool,
    pub protocol: String,
    /// The group generation, when the member says (-1 otherwise).
    pub generation: i32,
    pub partitions: BTreeSet<i32>,
}

/// A member in another client's process, killed when dropped.
pub struct ChildMember {
    child: Child,
    joins: Arc<Mutex<Vec<ChildJoin>>>,
    others: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl ChildMember {
    /// Runs `command` (its stdin kept open; closing it asks the member to
    /// leave), logging its records as member `id` into `log`.
    pub fn spawn(mut command: Command, id: usize, log: ReadLog) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the member's program runs");
        let out = child.stdout.take().expect("stdout");
        let joins = Arc::new(Mutex::new(Vec::new()));
        let others = Arc::new(Mutex::new(Vec::new()));
        let (seen, other) = (joins.clone(), others.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                    eprintln!("member {id}: {line}");
                    continue;
                };
                if v.get("restart").is_some() {
                    eprintln!("member {id} restarts its consumer: {line}");
                }
                if let Some(r) = v.get("record") {
                    let read = Read {
                        member: id,
                        partition: r["partition"].as_i64().unwrap_or(-1) as i32,
                        offset: r["offset"].as_i64().unwrap_or(-1),
                        value: r["value"].as_str().unwrap_or_default().to_owned(),
                        at: Instant::now(),
                    };
                    log.lock().unwrap_or_else(|p| p.into_inner()).push(read);
                } else if let Some(j) = v.get("join") {
                    let join = ChildJoin {
                        leader: j["leader"].as_bool().unwrap_or(false),
                        protocol: j["protocol"].as_str().unwrap_or_default().to_owned(),
                        generation: j["generation"].as_i64().unwrap_or(-1) as i32,
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
                } else {
                    other.lock().unwrap_or_else(|p| p.into_inner()).push(v);
                }
            }
        });
        Self {
            child,
            joins,
            others,
        }
    }

    /// Every assignment it reported, in order.
    pub fn joins(&self) -> Vec<ChildJoin> {
        self.joins.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Writes `line` to its stdin (a command, for members that take them).
    pub fn send(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write to the member");
        stdin.flush().expect("flush to the member");
    }

    /// Waits up to 30 s for a JSON line other than a join or a record that
    /// has `key`, beyond the first `skip` such lines; returns its value.
    pub fn await_line(&self, key: &str, skip: usize) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self
                .others
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .filter_map(|v| v.get(key))
                .nth(skip)
                .cloned();
            if let Some(v) = found {
                return v;
            }
            assert!(Instant::now() < deadline, "no {key:?} line from the member");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its latest assignment.
    pub fn last_join(&self) -> Option<ChildJoin> {
        self.joins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last()
            .cloned()
    }
}

impl ChildMember {
    /// Closes its stdin (the member leaves the group) and waits for it.
    pub fn leave(mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ChildMember {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the kafkit members `ids` (each assigned at least once, on
/// the child's generation when it reports one) and the child member
/// together own every partition exactly once, unchanged for a second; returns the child member's latest join and each kafkit
/// member's partitions.
pub async fn settle_with(
    view: &mut GroupView,
    events: &mut mpsc::UnboundedReceiver<(usize, ConsumerEvent, Instant)>,
    ids: &[usize],
    child: &ChildMember,
    partitions: i32,
) -> (ChildJoin, BTreeMap<usize, BTreeSet<i32>>) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut since: Option<(Instant, usize)> = None;
    loop {
        let joins = child.joins.lock().unwrap_or_else(|p| p.into_inner()).len();
        let kafkit: BTreeMap<usize, BTreeSet<i32>> = ids
            .iter()
            .map(|id| (*id, view.owned.get(id).cloned().unwrap_or_default()))
            .collect();
        let child_owned = child.last_join().map(|j| j.partitions).unwrap_or_default();
        let total = kafkit.values().map(BTreeSet::len).sum::<usize>() + child_owned.len();
        let union: BTreeSet<i32> = kafkit
            .values()
            .flatten()
            .chain(&child_owned)
            .copied()
            .collect();
        // On one generation, when the child names it: with cooperative
        // rebalancing, the newcomer's empty first assignment next to the old
        // owner's not yet revoked partitions also covers every partition once.
        let child_generation = child.last_join().map_or(-1, |j| j.generation);
        let assigned = ids.iter().all(|id| match view.generation.get(id) {
            Some(g) => child_generation < 0 || *g == child_generation,
            None => false,
        });
        let ok = assigned && total == union.len() && union == (0..partitions).collect();
        since = match since {
            Some((t, n)) if ok && n == joins => Some((t, n)),
            _ if ok => Some((Instant::now(), joins)),
            _ => None,
        };
        if let (Some((t, _)), Some(join)) = (since, child.last_join()) {
            if t.elapsed() >= Duration::from_secs(1) {
                return (join, kafkit);
            }
        }
        assert!(
            Instant::now() < deadline,
            "group did not settle: kafkit {kafkit:?}, child joins {:?}, events {:#?}",
            child.joins.lock().unwrap_or_else(|p| p.into_inner()),
            view.events
        );
        if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(50), events.recv()).await {
            since = None;
            view.apply(e);
        }
    }
}

/// Each value of `values` read exactly once, by the member owning its partition.
pub fn read_once_by_owner(
    log: &ReadLog,
    values: &BTreeSet<String>,
    owners: &BTreeMap<usize, BTreeSet<i32>>,
) {
    let read: Vec<Read> = reads(log)
        .into_iter()
        .filter(|r| values.contains(&r.value))
        .collect();
    check_once_by_owner(&read, owners);
    let seen: BTreeSet<&String> = read.iter().map(|r| &r.value).collect();
    assert_eq!(seen.len(), values.len(), "every record read");
}

/// The member id a child member has in the read log.
pub const CHILD: usize = 100;

/// A service moving between clients, on a 3-broker mock cluster with
/// `topic` (6 partitions) and `group`:
/// a kafkit member (offering `assignors`) reads alone, then the child member
/// joins and the kafkit member leads, handing it half the partitions; then
/// the kafkit member leaves and the child takes everything. With
/// `child_leads`, a second kafkit member then joins and the child, now the
/// leader, hands it half. In every shared generation each record produced is
/// read exactly once, by its partition's owner, and both sides run
/// `protocol`; nothing produced goes unread.
pub async fn migration_scenario(
    topic: &str,
    group: &str,
    assignors: Vec<std::sync::Arc<dyn kafkit::group::Assignor>>,
    protocol: &str,
    child_leads: bool,
    spawn_child: impl FnOnce(&str, ReadLog) -> ChildMember,
) {
    use super::members::{await_reads, kafkit_config, produce, KafkitMember};
    const PARTITIONS: i32 = 6;
    let mock = rdkafka::mocking::MockCluster::new(3).expect("mock");
    super::cap_mock_group_versions(&mock);
    mock.create_topic(topic, PARTITIONS, 3).expect("topic");
    let bootstrap = mock.bootstrap_servers();
    let bootstrap = bootstrap.as_str();
    let config = || kafkit_config(group).with_assignors(assignors.clone());
    let log = ReadLog::default();
    let (tx, mut events) = mpsc::unbounded_channel();
    let mut view = GroupView::default();

    let first = KafkitMember::spawn(0, bootstrap, topic, config(), log.clone(), tx.clone()).await;
    let early = produce(bootstrap, topic, "early-", 0..60).await;
    await_reads(&log, &early).await;
    let child = spawn_child(bootstrap, log.clone());
    let (join, kafkit) = settle_with(&mut view, &mut events, &[0], &child, PARTITIONS).await;
    assert_eq!(join.protocol, protocol);
    assert!(!join.leader, "the kafkit member leads: {join:?}");
    assert_eq!(
        join.partitions.len(),
        3,
        "kafkit's assignment gives the other client half: {join:?}"
    );
    let mut owners = kafkit;
    owners.insert(CHILD, join.partitions.clone());
    let shared = produce(bootstrap, topic, "shared-", 0..120).await;
    await_reads(&log, &shared).await;
    read_once_by_owner(&log, &shared, &owners);
    first.commit().await;

    first.leave().await;
    view.remove(0);
    let (join, _) = settle_with(&mut view, &mut events, &[], &child, PARTITIONS).await;
    assert_eq!(join.partitions.len(), PARTITIONS as usize, "{join:?}");
    if !child_leads {
        let alone = produce(bootstrap, topic, "alone-", 0..60).await;
        await_reads(&log, &alone).await;
        let all: BTreeSet<String> = early.iter().chain(&shared).chain(&alone).cloned().collect();
        let read: BTreeSet<String> = reads(&log).into_iter().map(|r| r.value).collect();
        assert!(all.is_subset(&read), "records lost");
        child.leave();
        return;
    }
    let second = KafkitMember::spawn(1, bootstrap, topic, config(), log.clone(), tx.clone()).await;
    let (join, kafkit) = settle_with(&mut view, &mut events, &[1], &child, PARTITIONS).await;
    assert!(join.leader, "the other client leads: {join:?}");
    assert_eq!(join.protocol, protocol);
    assert_eq!(
        kafkit.get(&1).map(BTreeSet::len),
        Some(3),
        "the other client's assignment gives kafkit half: {kafkit:?}"
    );
    let mut owners = kafkit;
    owners.insert(CHILD, join.partitions.clone());
    let late = produce(bootstrap, topic, "late-", 0..120).await;
    await_reads(&log, &late).await;
    read_once_by_owner(&log, &late, &owners);

    // Nothing produced was lost across the rebalances.
    let all: BTreeSet<String> = early.iter().chain(&shared).chain(&late).cloned().collect();
    let read: BTreeSet<String> = reads(&log).into_iter().map(|r| r.value).collect();
    assert!(all.is_subset(&read), "records lost");
    second.leave().await;
    child.leave();
}
