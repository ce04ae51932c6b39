//! Audits a topic read back by librdkafka against the producer's delivery
//! reports, offset by offset.
//!
//! Every acknowledged record must sit at the offset its report gave. Another
//! copy *after* that offset means the producer wrote an acknowledged record
//! again: a duplicate. Another copy *before* it is a batch the broker wrote
//! whose response was lost (connection cut mid-request) and that the
//! producer therefore retried with the same sequence number: Apache Kafka
//! drops such a retry (DUPLICATE_SEQUENCE_NUMBER), but librdkafka's mock
//! checks sequences only for transactional producers and writes it again.
//! Those are counted apart as `rewritten`. Order is checked on the
//! acknowledged copies: per partition and key, values (`"<key>:<n>"`) must
//! come in increasing `n`.

use std::collections::{BTreeMap, HashMap};

use crate::support::ReadBack;

/// One acknowledged record.
#[derive(Debug, Clone)]
pub struct Acked {
    pub value: String,
    pub partition: i32,
    /// -1 when the broker reported it as an already written duplicate.
    pub offset: i64,
}

/// What the audit found.
#[derive(Debug, Default)]
pub struct LogAudit {
    /// Acknowledged records not in the log at their offset.
    pub lost: usize,
    /// Acknowledged records with another copy after their offset.
    pub duplicated: usize,
    /// Acknowledged records with another copy before their offset (see the module doc).
    pub rewritten: usize,
    /// Per-key order violations among the acknowledged copies.
    pub out_of_order: usize,
    /// Records in the log that were never acknowledged.
    pub unacknowledged: usize,
    /// The first few problems, described.
    pub problems: Vec<String>,
}

impl LogAudit {
    fn note(&mut self, problem: String) {
        if self.problems.len() < 5 {
            self.problems.push(problem);
        }
    }
}

fn value_of(r: &ReadBack) -> String {
    String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()
}

/// Audits `read` against `acked`.
pub fn audit(read: &[ReadBack], acked: &[Acked]) -> LogAudit {
    let mut a = LogAudit::default();
    let at: HashMap<(i32, i64), String> = read
        .iter()
        .map(|r| ((r.partition, r.offset), value_of(r)))
        .collect();
    let mut copies: HashMap<String, Vec<(i32, i64)>> = HashMap::new();
    for r in read {
        copies
            .entry(value_of(r))
            .or_default()
            .push((r.partition, r.offset));
    }
    for k in acked {
        let all = copies.get(&k.value).map(Vec::as_slice).unwrap_or_default();
        let present = if k.offset >= 0 {
            at.get(&(k.partition, k.offset)) == Some(&k.value)
        } else {
            !all.is_empty()
        };
        if !present {
            a.lost += 1;
            a.note(format!(
                "{} acknowledged at {}/{} is not there",
                k.value, k.partition, k.offset
            ));
            continue;
        }
        if k.offset >= 0 && all.len() > 1 {
            if all.iter().any(|&(p, o)| p != k.partition || o > k.offset) {
                a.duplicated += 1;
                a.note(format!(
                    "{} acknowledged at {}/{} also at {all:?}",
                    k.value, k.partition, k.offset
                ));
            } else {
                a.rewritten += 1;
            }
        }
    }
    let acked_values: std::collections::HashSet<&str> =
        acked.iter().map(|k| k.value.as_str()).collect();
    a.unacknowledged = copies
        .keys()
        .filter(|v| !acked_values.contains(v.as_str()))
        .count();
    let mut sorted: Vec<&Acked> = acked.iter().filter(|k| k.offset >= 0).collect();
    sorted.sort_by_key(|k| (k.partition, k.offset));
    let mut last: BTreeMap<(i32, &str), u64> = BTreeMap::new();
    for k in sorted {
        let Some((key, n)) = k.value.rsplit_once(':') else {
            continue;
        };
        let n: u64 = n.parse().unwrap_or(0);
        if let Some(prev) = last.insert((k.partition, key), n) {
            if n < prev {
                a.out_of_order += 1;
                a.note(format!(
                    "partition {} key {key}: {n} after {prev}",
                    k.partition
                ));
            }
        }
    }
    a
}
