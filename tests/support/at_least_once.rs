//! The at-least-once checks of a group's reads (`real_group_rollover`):
//! every record written read, nothing read that was not written there, no
//! partition read past a gap, and a record read again only when its re-read
//! run began at or after the group's latest commit observed before it (what
//! was committed is never delivered again); commits never go back. Tested
//! here on made-up logs.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::support::members::Read;
/// Checks the reads against what was written; returns, per read, whether it
/// repeated an earlier read. Asserts nothing lost, nothing made up, no
/// partition skipped ahead, and that every re-read run starts at or after the
/// latest commit observed before it began.
pub fn check_reads(
    all: &[Read],
    written: &BTreeMap<String, (i32, i64)>,
    commits: &[(Instant, i32, i64)],
) -> Vec<bool> {
    for r in all {
        assert_eq!(
            written.get(&r.value),
            Some(&(r.partition, r.offset)),
            "read {} at {}/{} that was not written there",
            r.value,
            r.partition,
            r.offset
        );
    }
    let seen: BTreeSet<&str> = all.iter().map(|r| r.value.as_str()).collect();
    let lost: Vec<&String> = written
        .keys()
        .filter(|v| !seen.contains(v.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} records lost: {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    let mut dup = vec![false; all.len()];
    // Per partition: the highest offset read, and per member its last read.
    let mut high: BTreeMap<i32, i64> = BTreeMap::new();
    let mut last: BTreeMap<(usize, i32), i64> = BTreeMap::new();
    let mut run_start: BTreeMap<(usize, i32), (i64, Instant)> = BTreeMap::new();
    for (i, r) in all.iter().enumerate() {
        let key = (r.member, r.partition);
        let prev = last.insert(key, r.offset);
        if prev != Some(r.offset - 1) {
            // A member starts reading a partition (again): from a position
            // at most one past everything read so far (nothing skipped).
            let top = high.get(&r.partition).copied().unwrap_or(-1);
            assert!(r.offset <= top + 1, "{r:?} skipped past {top}");
            run_start.insert(key, (r.offset, r.at));
        }
        let top = high.entry(r.partition).or_insert(-1);
        if r.offset <= *top {
            dup[i] = true;
            let (start, began) = run_start[&key];
            let floor = commits
                .iter()
                .filter(|(at, p, _)| *p == r.partition && *at < began)
                .map(|(_, _, o)| *o)
                .max()
                .unwrap_or(0);
            assert!(
                start >= floor,
                "{r:?}: its run began at {start}, under the commit {floor} made before"
            );
        }
        *top = (*top).max(r.offset);
    }
    dup
}

/// Commits never go back.
pub fn check_commits_monotonic(commits: &[(Instant, i32, i64)]) {
    let mut high: BTreeMap<i32, i64> = BTreeMap::new();
    for (_, p, o) in commits {
        let h = high.entry(*p).or_insert(*o);
        assert!(*o >= *h, "partition {p}: commit went back from {h} to {o}");
        *h = *o;
    }
}

/// Reads of partition 0: `(member, offset)` in order, 10 ms apart from
/// `t0`; the values written are `r<offset>` for `0..written`.
fn synthetic(
    t0: Instant,
    reads: &[(usize, i64)],
    written: i64,
) -> (Vec<Read>, BTreeMap<String, (i32, i64)>) {
    let all = reads
        .iter()
        .zip(0u64..)
        .map(|(&(member, offset), i)| Read {
            member,
            partition: 0,
            offset,
            value: format!("r{offset}"),
            at: t0 + Duration::from_millis(10 * i),
        })
        .collect();
    let written = (0..written).map(|o| (format!("r{o}"), (0, o))).collect();
    (all, written)
}

#[test]
fn the_read_check_counts_re_reads_above_the_commit_as_duplicates() {
    let t0 = Instant::now();
    let (all, written) = synthetic(
        t0,
        &[(0, 0), (0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (1, 4)],
        5,
    );
    // Offset 2 was committed before member 1 began at 2: 2 and 3 re-read.
    let commits = [(t0 + Duration::from_millis(5), 0, 2)];
    let dup = check_reads(&all, &written, &commits);
    assert_eq!(dup, [false, false, false, false, true, true, false]);
}

#[test]
#[should_panic(expected = "under the commit")]
fn the_read_check_refuses_a_re_read_of_committed_records() {
    let t0 = Instant::now();
    let (all, written) = synthetic(t0, &[(0, 0), (0, 1), (0, 2), (0, 3), (1, 2), (1, 3)], 4);
    // Offset 3 was committed before member 1 began at 2.
    let commits = [(t0 + Duration::from_millis(35), 0, 3)];
    check_reads(&all, &written, &commits);
}

#[test]
#[should_panic(expected = "records lost")]
fn the_read_check_refuses_a_lost_record() {
    let (all, written) = synthetic(Instant::now(), &[(0, 0), (0, 1), (1, 3)], 4);
    check_reads(&all, &written, &[]);
}

#[test]
#[should_panic(expected = "skipped past")]
fn the_read_check_refuses_a_partition_read_past_a_gap() {
    // Everything read in the end, but member 1 began beyond what was read.
    let (all, written) = synthetic(Instant::now(), &[(0, 0), (0, 1), (1, 3), (0, 2)], 4);
    check_reads(&all, &written, &[]);
}

#[test]
#[should_panic(expected = "commit went back")]
fn commits_going_back_are_refused() {
    let t0 = Instant::now();
    check_commits_monotonic(&[(t0, 0, 5), (t0, 1, 2), (t0, 0, 4)]);
}
