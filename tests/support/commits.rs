//! Watches a group's committed offsets from outside the group: a librdkafka
//! client (same group id, never joining) sends OffsetFetch every 100 ms on
//! its own thread and records any offset that went backwards.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::config::ClientConfig as RdConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

/// What the watcher saw.
#[derive(Debug, Default)]
pub struct CommitReport {
    /// Successful OffsetFetch answers.
    pub observations: usize,
    /// Offsets that went backwards, and (after `finish`) partitions whose
    /// final committed offset is not the end of the partition.
    pub failures: Vec<String>,
}

/// A running watcher.
pub struct CommitWatch {
    group: String,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<CommitReport>,
}

fn client(bootstrap: &str, group: &str) -> BaseConsumer {
    RdConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("offset watcher")
}

fn tpl(topic: &str, partitions: i32) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    tpl
}

fn committed(c: &BaseConsumer, topic: &str, partitions: i32) -> Option<HashMap<i32, i64>> {
    let got = c
        .committed_offsets(tpl(topic, partitions), Duration::from_secs(2))
        .ok()?;
    Some(
        got.elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((e.partition(), o)),
                _ => None,
            })
            .collect(),
    )
}

impl CommitWatch {
    /// Starts watching `group`'s offsets for `topic`.
    pub fn start(bootstrap: &str, group: &str, topic: &str, partitions: i32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (bootstrap, group, topic) = (bootstrap.to_owned(), group.to_owned(), topic.to_owned());
        let flag = stop.clone();
        let watched = group.clone();
        let thread = std::thread::spawn(move || {
            let c = client(&bootstrap, &watched);
            let mut report = CommitReport::default();
            let mut high: HashMap<i32, i64> = HashMap::new();
            while !flag.load(Ordering::Acquire) {
                if let Some(now) = committed(&c, &topic, partitions) {
                    report.observations += 1;
                    for (p, o) in now {
                        let prev = high.entry(p).or_insert(o);
                        if o < *prev {
                            report.failures.push(format!(
                                "committed offset of partition {p} went back from {prev} to {o}"
                            ));
                        }
                        *prev = (*prev).max(o);
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            report
        });
        Self {
            group: group.clone(),
            stop,
            thread,
        }
    }

    /// Stops watching and checks that the final committed offsets are the
    /// ends of the partitions (everything consumed was committed).
    pub fn finish(self, bootstrap: &str, topic: &str, partitions: i32) -> CommitReport {
        self.stop.store(true, Ordering::Release);
        let mut report = self.thread.join().expect("watcher thread");
        let c = client(bootstrap, &self.group);
        let last = committed(&c, topic, partitions).unwrap_or_default();
        for p in 0..partitions {
            let end = c
                .fetch_watermarks(topic, p, Duration::from_secs(5))
                .map(|(_, high)| high)
                .unwrap_or(-1);
            let got = last.get(&p).copied();
            if end > 0 && got != Some(end) {
                report.failures.push(format!(
                    "partition {p}: final committed offset {got:?}, end of log {end}"
                ));
            }
        }
        report
    }
}
