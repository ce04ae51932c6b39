//! The consumer group of a real-fault scenario: kafkit consumers with
//! auto-commit recording what they were handed, and the check that a
//! consumer only goes back in a partition after a new assignment.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafkit::consumer::{Consumer, ConsumerConfig, ConsumerEvent};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::{client_config, lock, AUTO_COMMIT, HEARTBEAT, SESSION_TIMEOUT};
use crate::audit::Acked;

#[derive(Debug, Clone)]
pub struct Seen {
    pub consumer: usize,
    pub partition: i32,
    pub offset: i64,
    pub value: String,
    pub at: Instant,
}

#[derive(Default)]
pub struct Observed {
    pub seen: Mutex<Vec<Seen>>,
    pub events: Mutex<Vec<(usize, ConsumerEvent)>>,
    pub errors: Mutex<Vec<String>>,
}

/// What a consumer is told: commit what it processed, then close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Commit,
    Close,
}

pub struct Member {
    stop: watch::Sender<Option<Stop>>,
    committed: oneshot::Receiver<()>,
    task: JoinHandle<()>,
}

pub async fn member(
    i: usize,
    bootstrap: &str,
    group: &str,
    topic: &str,
    obs: Arc<Observed>,
) -> Member {
    let cfg = ConsumerConfig::group(group)
        .from_beginning()
        .with_session_timeout(SESSION_TIMEOUT)
        .with_heartbeat_interval(HEARTBEAT)
        .with_auto_commit_interval(AUTO_COMMIT)
        .with_fetch_max_wait(Duration::from_millis(200));
    let mut consumer = Consumer::connect(client_config(bootstrap), cfg)
        .await
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut events = consumer.events().expect("events");
    let log = obs.clone();
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            lock(&log.events).push((i, e));
        }
    });
    let (stop, mut stopped) = watch::channel(None);
    let (committed_tx, committed) = oneshot::channel();
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                r = consumer.recv() => match r {
                    Some(Ok(r)) => lock(&obs.seen).push(Seen {
                        consumer: i,
                        partition: r.partition,
                        offset: r.offset,
                        value: String::from_utf8_lossy(r.value.as_deref().unwrap_or_default())
                            .into_owned(),
                        at: Instant::now(),
                    }),
                    Some(Err(e)) => lock(&obs.errors).push(format!("consumer {i}: {e}")),
                    None => break,
                },
            }
        }
        // Every member commits before any leaves, so no final commit meets
        // the rebalance a LeaveGroup starts.
        consumer.mark_processed();
        if let Err(e) = consumer.commit().await {
            lock(&obs.errors).push(format!("consumer {i} final commit: {e}"));
        }
        let _ = committed_tx.send(());
        while *stopped.borrow() != Some(Stop::Close) {
            if stopped.changed().await.is_err() {
                break;
            }
        }
        if let Err(e) = tokio::time::timeout(Duration::from_secs(15), consumer.close()).await {
            lock(&obs.errors).push(format!("consumer {i} close: {e}"));
        }
    });
    Member {
        stop,
        committed,
        task,
    }
}

/// Waits (up to 30 s) until each of `members` consumers was assigned partitions.
pub async fn wait_assigned(obs: &Observed, members: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let assigned: BTreeSet<usize> = lock(&obs.events)
            .iter()
            .filter(|(_, e)| matches!(e, ConsumerEvent::Assigned { .. }))
            .map(|(i, _)| *i)
            .collect();
        if assigned.len() == members {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The group drains (up to 40 s), every member commits, then every member
/// closes (so no final commit meets the rebalance a LeaveGroup starts).
pub async fn drain_and_close(members: Vec<Member>, obs: &Observed, acked: &[Acked]) {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let got: BTreeSet<String> = lock(&obs.seen).iter().map(|s| s.value.clone()).collect();
        if acked.iter().all(|k| got.contains(&k.value)) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut members = members;
    for m in &members {
        let _ = m.stop.send(Some(Stop::Commit));
    }
    for m in &mut members {
        let _ = tokio::time::timeout(Duration::from_secs(15), &mut m.committed).await;
    }
    for m in &members {
        let _ = m.stop.send(Some(Stop::Close));
    }
    for m in members {
        let _ = m.task.await;
    }
}

/// A consumer only goes back in a partition after it was assigned that
/// partition again; one offset always holds one value.
pub fn check_consumption(seen: &[Seen], events: &[(usize, ConsumerEvent)]) -> Vec<String> {
    let mut failures = Vec::new();
    let mut assigned: HashMap<(usize, i32), usize> = HashMap::new();
    for (i, e) in events {
        if let ConsumerEvent::Assigned { partitions, .. } = e {
            for tp in partitions {
                *assigned.entry((*i, tp.partition)).or_default() += 1;
            }
        }
    }
    let mut last: HashMap<(usize, i32), i64> = HashMap::new();
    let mut rewinds: HashMap<(usize, i32), usize> = HashMap::new();
    let mut value_at: HashMap<(i32, i64), &str> = HashMap::new();
    for s in seen {
        if let Some(prev) = last.insert((s.consumer, s.partition), s.offset) {
            if s.offset <= prev {
                *rewinds.entry((s.consumer, s.partition)).or_default() += 1;
            }
        }
        if let Some(v) = value_at.insert((s.partition, s.offset), &s.value) {
            if v != s.value {
                failures.push(format!(
                    "partition {} offset {} read as {v} and as {}",
                    s.partition, s.offset, s.value
                ));
            }
        }
    }
    for ((consumer, partition), n) in rewinds {
        let allowed = assigned
            .get(&(consumer, partition))
            .copied()
            .unwrap_or(0)
            .saturating_sub(1);
        if n > allowed {
            failures.push(format!(
                "consumer {consumer} went back {n} times in partition {partition} \
                 after {allowed} reassignments"
            ));
        }
    }
    failures
}
