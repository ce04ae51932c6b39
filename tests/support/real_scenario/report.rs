//! The row of a real-fault scenario: what the producer, the group, the log
//! and the commit watcher saw, judged against the targets.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use super::group::{check_consumption, Seen};
use super::{Outcome, Row};
use crate::audit::{audit, Acked};
use crate::commits::CommitReport;
use crate::support::ReadBack;

/// Everything a scenario collected.
pub struct Collected {
    pub name: String,
    pub started: Instant,
    pub produced: usize,
    pub acked: Vec<Acked>,
    /// `(partition, enqueued, acknowledged)` per acknowledged record.
    pub latencies: Vec<(i32, Instant, Instant)>,
    pub read: Vec<ReadBack>,
    pub commits: CommitReport,
    pub seen: Vec<Seen>,
    pub events: Vec<(usize, kafkit::consumer::ConsumerEvent)>,
    pub errors: Vec<String>,
    /// Disruptions the fault marked.
    pub marks: Vec<Instant>,
    /// Failures found while running.
    pub failures: Vec<String>,
}

/// Computes the row and every failed target.
pub fn judge(c: Collected) -> Outcome {
    let mut failures = c.failures;
    let log = audit(&c.read, &c.acked);
    failures.extend(log.problems.iter().map(|p| format!("log: {p}")));
    failures.extend(check_consumption(&c.seen, &c.events));
    failures.extend(
        c.errors
            .iter()
            .filter(|e| e.contains("final commit") || e.contains("close"))
            .cloned(),
    );
    let commits_backwards = c
        .commits
        .failures
        .iter()
        .filter(|f| f.contains("went back"))
        .count();
    failures.extend(c.commits.failures.iter().cloned());
    let consumed: BTreeSet<&str> = c.seen.iter().map(|s| s.value.as_str()).collect();
    let not_consumed = c
        .acked
        .iter()
        .filter(|k| !consumed.contains(k.value.as_str()))
        .count();
    let distinct: BTreeSet<(i32, i64)> = c.seen.iter().map(|s| (s.partition, s.offset)).collect();
    let sent_at: HashMap<&str, Instant> = c
        .acked
        .iter()
        .zip(&c.latencies)
        .map(|(k, (_, at, _))| (k.value.as_str(), *at))
        .collect();
    let e2e: Vec<(i32, Instant, Instant)> = c
        .seen
        .iter()
        .filter_map(|s| Some((s.partition, *sent_at.get(s.value.as_str())?, s.at)))
        .collect();
    let row = Row {
        scenario: c.name.clone(),
        produced: c.produced,
        acknowledged: c.acked.len(),
        consumed: c.acked.len() - not_consumed,
        lost: log.lost.max(not_consumed),
        duplicated: log.duplicated + log.rewritten,
        redelivered: c.seen.len() - distinct.len(),
        commits_backwards,
        commit_checks: c.commits.observations,
        producer_recovery: recovery(&c.marks, &c.latencies),
        e2e_recovery: recovery(&c.marks, &e2e),
        max_ack: c
            .latencies
            .iter()
            .map(|(_, a, d)| d.duration_since(*a))
            .max()
            .unwrap_or_default(),
        consumer_errors: c.errors.len(),
        wall: c.started.elapsed(),
    };
    for e in c.errors.iter().take(5) {
        eprintln!("{}: {e}", c.name);
    }
    if log.out_of_order > 0 {
        failures.push(format!("{} records out of order", log.out_of_order));
    }
    if log.unacknowledged > 0 {
        failures.push(format!(
            "{} records in the log never acknowledged",
            log.unacknowledged
        ));
    }
    if row.lost > 0 {
        failures.push(format!(
            "{} acknowledged records lost ({} not in the log, {not_consumed} never consumed)",
            row.lost, log.lost
        ));
    }
    if row.duplicated > 0 {
        failures.push(format!("{} records duplicated in the log", row.duplicated));
    }
    Outcome { row, failures }
}

/// The worst, over `marks`, of the time from the mark until every
/// partition completed a `(partition, start, done)` started after it.
fn recovery(marks: &[Instant], pairs: &[(i32, Instant, Instant)]) -> Duration {
    let mut worst = Duration::ZERO;
    for &mark in marks {
        let mut first: HashMap<i32, Instant> = HashMap::new();
        for &(p, start, done) in pairs {
            if start >= mark {
                let slot = first.entry(p).or_insert(done);
                *slot = (*slot).min(done);
            }
        }
        for done in first.values() {
            worst = worst.max(done.saturating_duration_since(mark));
        }
    }
    worst
}

/// Renders rows as the fault table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | produced | acknowledged | consumed | lost | duplicated (log) | \
         redelivered (consumer) | commits backwards (checks) | producer recovery | \
         end-to-end recovery | slowest ack | consumer errors | wall |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} ({}) | {:.1} s | {:.1} s | {:.1} s | {} | {:.0} s |\n",
            r.scenario,
            r.produced,
            r.acknowledged,
            r.consumed,
            r.lost,
            r.duplicated,
            r.redelivered,
            r.commits_backwards,
            r.commit_checks,
            r.producer_recovery.as_secs_f64(),
            r.e2e_recovery.as_secs_f64(),
            r.max_ack.as_secs_f64(),
            r.consumer_errors,
            r.wall.as_secs_f64(),
        ));
    }
    out
}
