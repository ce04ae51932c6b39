//! `--json` for the first admin commands (`topics create|delete|list`,
//! `groups describe`, `offsets`), in the shape the later ones use: one
//! JSON array, one object per item asked about, naming it (`topic`,
//! `group`, `partition`, `broker`), with `"ok"` and, when it failed,
//! `"error"` (the message the text output prints).

use kafkit::admin::{AnyGroupDescription, PartitionOffsets, PerItem, TopicListing, TopicPartition};
use serde_json::{json, Value};

fn tps(tps: &[TopicPartition]) -> Vec<Value> {
    tps.iter()
        .map(|tp| json!({"topic": tp.topic, "partition": tp.partition}))
        .collect()
}

/// `topics create|delete`: `{"topic", "ok", "error"?}` per topic.
pub fn topic_results(results: &PerItem<String>) -> Value {
    let items = results.iter().map(|(topic, r)| match r {
        Ok(()) => json!({"topic": topic, "ok": true}),
        Err(e) => json!({"topic": topic, "ok": false, "error": e.to_string()}),
    });
    Value::Array(items.collect())
}

/// `topics list`: one object per topic.
pub fn topic_listings(topics: &[TopicListing]) -> Value {
    let items = topics.iter().map(|t| {
        json!({
            "topic": t.name, "ok": true, "id": t.id.to_string(), "partitions": t.partitions,
            "replication_factor": t.replication_factor, "internal": t.internal,
        })
    });
    Value::Array(items.collect())
}

/// `groups describe`: a classic or a KIP-848 consumer group per object.
pub fn group_descriptions(described: &PerItem<String, AnyGroupDescription>) -> Value {
    let items = described.iter().map(|(group, r)| match r {
        Ok(AnyGroupDescription::Classic(g)) => json!({
            "group": group, "ok": true, "type": "classic", "state": g.state,
            "protocol_type": g.protocol_type, "protocol": g.protocol,
            "coordinator": g.coordinator,
            "members": g.members.iter().map(|m| json!({
                "member_id": m.member_id, "group_instance_id": m.group_instance_id,
                "client_id": m.client_id, "client_host": m.client_host,
                "assignment": tps(&m.assignment),
            })).collect::<Vec<_>>(),
        }),
        Ok(AnyGroupDescription::Consumer(g)) => json!({
            "group": group, "ok": true, "type": "consumer", "state": g.state,
            "group_epoch": g.group_epoch, "assignment_epoch": g.assignment_epoch,
            "assignor": g.assignor, "coordinator": g.coordinator,
            "members": g.members.iter().map(|m| json!({
                "member_id": m.member_id, "instance_id": m.instance_id, "rack_id": m.rack_id,
                "member_epoch": m.member_epoch, "client_id": m.client_id,
                "client_host": m.client_host, "subscribed_topics": m.subscribed_topic_names,
                "subscribed_topic_regex": m.subscribed_topic_regex,
                "assignment": tps(&m.assignment),
                "target_assignment": tps(&m.target_assignment), "classic": m.classic,
            })).collect::<Vec<_>>(),
        }),
        Ok(other) => json!({"group": group, "ok": true, "description": format!("{other:?}")}),
        Err(e) => json!({"group": group, "ok": false, "error": e.to_string()}),
    });
    Value::Array(items.collect())
}

/// `offsets`: one object per partition; `"ok": false` with every failed
/// offset's error in `"error"`.
pub fn offsets(topic: &str, rows: &[PartitionOffsets], group: Option<&str>) -> Value {
    let items = rows.iter().map(|row| {
        let mut errors = Vec::new();
        let mut cell = |r: &kafkit::Result<i64>| match r {
            Ok(v) => Some(*v),
            Err(e) => {
                errors.push(e.to_string());
                None
            }
        };
        let earliest = cell(&row.earliest);
        let latest = cell(&row.latest);
        let mut v = json!({
            "topic": topic, "partition": row.partition,
            "earliest": earliest, "latest": latest,
        });
        if let Some(group) = group {
            let committed = match &row.committed {
                Some(Ok(c)) => *c,
                Some(Err(e)) => {
                    errors.push(e.to_string());
                    None
                }
                None => None,
            };
            v["group"] = json!(group);
            v["committed"] = json!(committed);
            v["lag"] = json!(row.lag());
        }
        v["ok"] = json!(errors.is_empty());
        if !errors.is_empty() {
            v["error"] = json!(errors.join("; "));
        }
        v
    });
    Value::Array(items.collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafkit::Error;

    #[test]
    fn failed_items_say_ok_false_with_the_error() {
        let v = topic_results(&vec![
            ("a".into(), Ok(())),
            ("b".into(), Err(Error::Closed)),
        ]);
        assert_eq!(
            v,
            json!([{"topic": "a", "ok": true}, {"topic": "b", "ok": false, "error": "closed"}])
        );
        let rows = [PartitionOffsets {
            partition: 0,
            earliest: Err(Error::Closed),
            latest: Ok(5),
            committed: Some(Ok(Some(2))),
        }];
        let v = offsets("t", &rows, Some("g"));
        assert_eq!(
            v,
            json!([{"topic": "t", "partition": 0, "earliest": null, "latest": 5, "group": "g",
                    "committed": 2, "lag": 3, "ok": false, "error": "closed"}])
        );
    }
}
