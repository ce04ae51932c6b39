//! `kafkit metadata --json` (kcat's `-L -J`): the cluster as one JSON
//! object, in the shape of `kafkit cluster --json` for the brokers and of
//! `kafkit topics describe --json` for the topics (each with `"ok"` and,
//! when the broker reported one, `"error"`).

use std::collections::BTreeMap;

use kafkit::cluster::{ClusterMetadata, TopicMetadata};
use serde_json::{json, Value};

/// A partition's offset range, or why it could not be read.
pub type OffsetRange = Result<(i64, i64), String>;
/// Offset ranges by (topic, partition).
pub type Offsets = BTreeMap<(String, i32), OffsetRange>;

/// The metadata as JSON; `only` limits the topics to one name.
pub fn render(
    metadata: &ClusterMetadata,
    source: &str,
    only: Option<&str>,
    offsets: Option<&Offsets>,
) -> Value {
    let brokers: Vec<Value> = metadata
        .brokers
        .values()
        .map(|b| json!({"id": b.node_id, "host": b.host, "port": b.port, "rack": b.rack}))
        .collect();
    let mut topics: Vec<&TopicMetadata> = metadata
        .topics
        .values()
        .filter(|t| only.is_none_or(|o| o == t.name))
        .collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    let topics: Vec<Value> = topics.into_iter().map(|t| topic(t, offsets)).collect();
    json!({
        "source": source, "cluster_id": metadata.cluster_id,
        "controller": metadata.controller_id, "brokers": brokers, "topics": topics,
    })
}

fn topic(t: &TopicMetadata, offsets: Option<&Offsets>) -> Value {
    let partitions: Vec<Value> = t
        .partitions
        .iter()
        .map(|p| {
            let mut v = json!({
                "partition": p.partition, "leader": p.leader, "leader_epoch": p.leader_epoch,
                "replicas": p.replicas, "isr": p.isr, "ok": p.error.is_ok(),
            });
            if !p.error.is_ok() {
                v["error"] = json!(p.error.to_string());
            }
            match offsets.map(|o| o.get(&(t.name.clone(), p.partition))) {
                Some(Some(Ok((low, high)))) => {
                    v["earliest"] = json!(low);
                    v["latest"] = json!(high);
                }
                Some(Some(Err(e))) => v["offsets_error"] = json!(e),
                Some(None) => v["offsets_error"] = json!("no leader"),
                None => {}
            }
            v
        })
        .collect();
    let mut v = json!({
        "topic": t.name, "id": t.id.to_string(), "internal": t.is_internal,
        "ok": t.error.is_ok(), "partitions": partitions,
    });
    if !t.error.is_ok() {
        v["error"] = json!(t.error.to_string());
    }
    v
}
