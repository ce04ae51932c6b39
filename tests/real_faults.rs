//! Real faults on a 3-node Apache Kafka cluster (KRaft, combined nodes)
//! under an idempotent `acks=all` kafkit producer and a group of two kafkit
//! consumers (`support/real_scenario.rs` runs them and computes the row):
//! SIGKILL of a partition leader, SIGSTOP of a broker for longer than the
//! request timeout and the broker session timeout, SIGKILL of the active
//! controller, and a rolling restart of all three nodes.
//!
//! Targets, asserted per scenario: no acknowledged record lost, none
//! written twice in the log, per-key order kept, every record acknowledged
//! and consumed, committed offsets never backwards and at the end of every
//! partition after the group closed, and recovery within the bound the
//! configured timeouts give. Consumer-side redelivery after a rebalance is
//! reported, not failed. One cluster serves the scenarios in turn, healed
//! between them. Run with `--nocapture` for the table rows.

#[path = "support/audit.rs"]
mod audit;
#[path = "support/commits.rs"]
mod commits;
#[path = "support/real_scenario/mod.rs"]
mod real_scenario;
mod support;

use std::future::Future;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use real_scenario::{run, table, Ctl, Outcome, PARTITIONS};
use support::kafka::{self, Cluster};

/// Broker settings that make failover quick (and allow short group sessions).
const BROKER_OPTIONS: [&str; 6] = [
    "--set",
    "broker.session.timeout.ms=4000",
    "--set",
    "broker.heartbeat.interval.ms=1000",
    "--set",
    "group.min.session.timeout.ms=1000",
];

/// The cluster of this file's tests, one scenario at a time.
fn rig() -> Option<(&'static Cluster, MutexGuard<'static, ()>)> {
    static SERIAL: Mutex<()> = Mutex::new(());
    static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
    let guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let cluster = CLUSTER
        .get_or_init(|| kafka::can_start().then(|| Cluster::start(3, &BROKER_OPTIONS)))
        .as_ref()?;
    heal(cluster);
    Some((cluster, guard))
}

fn alive(cluster: &Cluster, n: u8) -> bool {
    std::fs::read_to_string(format!("/proc/{}/stat", cluster.pid(n)))
        .is_ok_and(|stat| !stat.contains(") Z "))
}

/// Every node running (a scenario that failed may have left one down).
fn heal(cluster: &Cluster) {
    for n in 1..=cluster.nodes {
        if alive(cluster, n) {
            cluster.resume(n);
        } else {
            cluster.restart(n);
        }
    }
    assert!(cluster.wait_ready(90), "the cluster came back");
}

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Prints the row and asserts the targets; recovery within `bound` (from
/// every disruption the scenario marked).
fn check(out: Outcome, bound: Duration) {
    let mut failures = out.failures;
    let r = &out.row;
    eprintln!("settings: {}", real_scenario::settings());
    eprintln!("{}", table(std::slice::from_ref(r)));
    if r.acknowledged != r.produced {
        failures.push(format!(
            "{} of {} records not acknowledged",
            r.produced - r.acknowledged,
            r.produced
        ));
    }
    if r.consumed != r.acknowledged {
        failures.push(format!("{} consumed of {}", r.consumed, r.acknowledged));
    }
    if r.producer_recovery > bound {
        failures.push(format!(
            "producer recovered after {:?}, bound {bound:?}",
            r.producer_recovery
        ));
    }
    // A consumer may also wait for a rebalance: one more session timeout
    // and a fetch round.
    let e2e_bound = bound + real_scenario::SESSION_TIMEOUT + Duration::from_secs(5);
    if r.e2e_recovery > e2e_bound {
        failures.push(format!(
            "consumers recovered after {:?}, bound {e2e_bound:?}",
            r.e2e_recovery
        ));
    }
    assert!(failures.is_empty(), "{}: {failures:#?}", r.scenario);
}

/// A partition leader that is not the active controller (so the scenario
/// kills only a data leader).
async fn leader_apart_from_controller(ctl: &Ctl) -> Result<u8, String> {
    let controller = ctl.active_controller();
    for p in 0..PARTITIONS {
        if let Some(leader) = ctl.leader(p).await {
            let node = u8::try_from(leader).map_err(|_| format!("leader id {leader}"))?;
            if Some(node) != controller {
                eprintln!("partition {p}: leader {node}; active controller {controller:?}");
                return Ok(node);
            }
        }
    }
    Err("every partition is led by the active controller".to_owned())
}

async fn heal_node(ctl: &Ctl, n: u8) -> Result<(), String> {
    ctl.act(|c| c.restart(n));
    if ctl.wait_healthy(Duration::from_secs(90)).await {
        Ok(())
    } else {
        Err(format!(
            "node {n} did not rejoin with every replica in sync"
        ))
    }
}

/// Failover: broker session timeout (4 s) + request timeout (3 s) + a
/// metadata refresh and retry backoff, with room for a loaded machine.
const FAILOVER: Duration = Duration::from_secs(15);

#[test]
fn sigkill_of_a_partition_leader() {
    let Some((cluster, _serial)) = rig() else {
        return;
    };
    let out = block_on(run("SIGKILL partition leader", cluster, |ctl| async move {
        let victim = leader_apart_from_controller(&ctl).await?;
        ctl.mark();
        ctl.act(|c| c.kill(victim));
        tokio::time::sleep(Duration::from_secs(8)).await;
        heal_node(&ctl, victim).await
    }));
    check(out, FAILOVER);
}

#[test]
fn sigstop_of_a_broker_past_the_request_timeout() {
    let Some((cluster, _serial)) = rig() else {
        return;
    };
    let pause = Duration::from_secs(8);
    let out = block_on(run("SIGSTOP broker 8 s", cluster, |ctl| async move {
        let victim = leader_apart_from_controller(&ctl).await?;
        ctl.mark();
        ctl.act(|c| c.pause(victim));
        tokio::time::sleep(pause).await;
        ctl.act(|c| c.resume(victim));
        if ctl.wait_healthy(Duration::from_secs(90)).await {
            Ok(())
        } else {
            Err(format!("node {victim} did not rejoin after SIGCONT"))
        }
    }));
    check(out, FAILOVER + pause);
}

#[test]
fn sigkill_of_the_active_controller() {
    let Some((cluster, _serial)) = rig() else {
        return;
    };
    let out = block_on(run(
        "SIGKILL active controller",
        cluster,
        |ctl| async move {
            let victim = ctl
                .active_controller()
                .ok_or("no active controller in quorum-state")?;
            eprintln!("active controller: node {victim}");
            ctl.act(|c| c.kill(victim));
            let killed = Instant::now();
            let elected = loop {
                match ctl.active_controller() {
                    Some(n) if n != victim => break n,
                    _ if killed.elapsed() > Duration::from_secs(15) => {
                        return Err("no new controller elected within 15 s".to_owned());
                    }
                    _ => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            };
            eprintln!(
                "new active controller: node {elected}, {:?} after the kill",
                killed.elapsed()
            );
            tokio::time::sleep(Duration::from_secs(8).saturating_sub(killed.elapsed())).await;
            heal_node(&ctl, victim).await
        },
    ));
    check(out, FAILOVER);
}

#[test]
fn rolling_restart_of_all_three_nodes() {
    let Some((cluster, _serial)) = rig() else {
        return;
    };
    let out = block_on(run("rolling restart", cluster, |ctl| async move {
        for n in 1..=ctl.cluster.nodes {
            let started = Instant::now();
            ctl.mark();
            heal_node(&ctl, n).await?;
            eprintln!("node {n} restarted and in sync in {:?}", started.elapsed());
        }
        Ok(())
    }));
    // Each controlled shutdown moves leadership first: recovery from each
    // restart is bounded like a failover.
    check(out, FAILOVER);
}
