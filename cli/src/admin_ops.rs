//! `kafkit configs`, `kafkit cluster`, `kafkit topics
//! describe|create-partitions|delete-records` and `kafkit groups
//! list|offsets|reset-offsets|delete-offsets`: one line per item (or one
//! JSON document with `--json`); the exit status is 1 when any item failed.
//!
//! ```text
//! $ kafkit configs describe --topic orders --key retention.ms --synonyms
//! retention.ms=3600000  source=DYNAMIC_TOPIC_CONFIG
//!   synonym retention.ms=3600000  source=DYNAMIC_TOPIC_CONFIG
//!   synonym log.retention.hours=168  source=DEFAULT_CONFIG
//! $ kafkit groups reset-offsets -G billing -t orders --to-earliest
//! orders/0  current=6  target=0
//! (dry run: add --execute to commit)
//! ```

use std::io::Write;

use kafkit::admin::{
    Admin, AlterConfigOp, ConfigEntry, ConfigResource, PerItem, ResetSpec, TopicPartition,
};
use kafkit::ClientConfig;
use serde_json::{json, Value};

use crate::admin_args::{
    ClusterArgs, ConfigTarget, ConfigsCommand, CreatePartitionsArgs, DeleteOffsetsArgs,
    DeleteRecordsArgs, GroupsOffsetsArgs, ResetOffsetsArgs, ResetTo, TopicsDescribeArgs,
};

/// Prints `text` lines, or `value` as JSON.
pub(crate) fn emit(json: bool, value: Value, text: Vec<String>) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    let written = if json {
        writeln!(out, "{value}")
    } else {
        text.iter().try_for_each(|l| writeln!(out, "{l}"))
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| format!("writing to stdout: {e}"))
}

pub(crate) async fn connect(config: ClientConfig) -> Result<Admin, String> {
    Admin::connect(config)
        .await
        .map_err(|e| format!("cannot connect: {e}"))
}

fn resource(t: &ConfigTarget) -> ConfigResource {
    match (&t.topic, t.broker) {
        (Some(topic), _) => ConfigResource::Topic(topic.clone()),
        (None, Some(b)) => ConfigResource::Broker(b),
        // clap requires one of them.
        (None, None) => ConfigResource::Broker(-1),
    }
}

fn entry_json(e: &ConfigEntry) -> Value {
    json!({
        "name": e.name, "value": e.value, "source": e.source.name(),
        "read_only": e.read_only, "sensitive": e.sensitive,
        "synonyms": e.synonyms.iter().map(|s| json!({"name": s.name, "value": s.value, "source": s.source.name()})).collect::<Vec<_>>(),
    })
}

/// The text lines of described entries (with their synonyms when asked).
fn config_lines(entries: &[&ConfigEntry], synonyms: bool) -> Vec<String> {
    let mut text = Vec::new();
    for e in entries {
        text.push(format!(
            "{}={}  source={}{}",
            e.name,
            e.value
                .as_deref()
                .unwrap_or(if e.sensitive { "(sensitive)" } else { "(null)" }),
            e.source.name(),
            if e.read_only { "  read-only" } else { "" }
        ));
        if synonyms {
            text.extend(e.synonyms.iter().map(|s| {
                format!(
                    "  synonym {}={}  source={}",
                    s.name,
                    s.value.as_deref().unwrap_or("(null)"),
                    s.source.name()
                )
            }));
        }
    }
    text
}

/// Runs `kafkit configs ...`.
pub async fn configs(config: ClientConfig, cmd: ConfigsCommand) -> Result<bool, String> {
    let admin = connect(config).await?;
    match cmd {
        ConfigsCommand::Describe(a) => {
            let r = resource(&a.target);
            let described = admin
                .describe_configs(std::slice::from_ref(&r), false)
                .await;
            admin.close();
            let (_, result) = described
                .map_err(|e| format!("describe configs: {e}"))?
                .into_iter()
                .next()
                .ok_or("no answer")?;
            match result {
                Ok(entries) => {
                    let entries: Vec<&ConfigEntry> = entries
                        .iter()
                        .filter(|e| a.keys.is_empty() || a.keys.contains(&e.name))
                        .collect();
                    let text = config_lines(&entries, a.synonyms);
                    let value = json!({"resource": r.to_string(), "ok": true, "configs": entries.iter().map(|e| entry_json(e)).collect::<Vec<_>>()});
                    emit(a.json, value, text).map(|()| true)
                }
                Err(e) => emit(
                    a.json,
                    json!({"resource": r.to_string(), "ok": false, "error": e.to_string()}),
                    vec![format!("{r} failed: {e}")],
                )
                .map(|()| false),
            }
        }
        ConfigsCommand::Alter(a) => {
            let r = resource(&a.target);
            let mut ops: Vec<AlterConfigOp> = a
                .set
                .iter()
                .map(|(k, v)| AlterConfigOp::Set(k.clone(), v.clone()))
                .collect();
            ops.extend(a.delete.iter().map(|k| AlterConfigOp::Delete(k.clone())));
            if ops.is_empty() {
                admin.close();
                return Err(
                    "configs alter: nothing to change (--set KEY=VALUE or --delete KEY)".into(),
                );
            }
            let altered = admin
                .alter_configs(&[(r.clone(), ops)], a.validate_only)
                .await;
            admin.close();
            let results = altered.map_err(|e| format!("alter configs: {e}"))?;
            let verb = if a.validate_only {
                "validated"
            } else {
                "altered"
            };
            report(a.json, &results, |r| r.to_string(), verb)
        }
    }
}

/// One line (or JSON object) per item of a result without a value.
fn report<K>(
    json_out: bool,
    results: &PerItem<K>,
    name: impl Fn(&K) -> String,
    verb: &str,
) -> Result<bool, String> {
    let ok = results.iter().all(|(_, r)| r.is_ok());
    let text = results
        .iter()
        .map(|(k, r)| match r {
            Ok(()) => format!("{verb} {}", name(k)),
            Err(e) => format!("{} failed: {e}", name(k)),
        })
        .collect();
    let value = Value::Array(
        results
            .iter()
            .map(|(k, r)| match r {
                Ok(()) => json!({"item": name(k), "ok": true}),
                Err(e) => json!({"item": name(k), "ok": false, "error": e.to_string()}),
            })
            .collect(),
    );
    emit(json_out, value, text).map(|()| ok)
}

/// Runs `kafkit cluster`.
pub async fn cluster(config: ClientConfig, a: ClusterArgs) -> Result<bool, String> {
    let admin = connect(config).await?;
    let described = admin.describe_cluster().await;
    admin.close();
    let c = described.map_err(|e| format!("describe cluster: {e}"))?;
    let mut text = vec![format!(
        "cluster {}  controller={}",
        c.cluster_id,
        c.controller.map_or("-".into(), |c| c.to_string())
    )];
    text.extend(c.brokers.iter().map(|b| {
        format!(
            "broker {}  {}:{}  rack={}",
            b.id,
            b.host,
            b.port,
            b.rack.as_deref().unwrap_or("-")
        )
    }));
    let value = json!({
        "cluster_id": c.cluster_id, "controller": c.controller,
        "brokers": c.brokers.iter().map(|b| json!({"id": b.id, "host": b.host, "port": b.port, "rack": b.rack})).collect::<Vec<_>>(),
    });
    emit(a.json, value, text).map(|()| true)
}

/// Runs `kafkit topics describe`.
pub async fn describe_topics(config: ClientConfig, a: TopicsDescribeArgs) -> Result<bool, String> {
    let admin = connect(config).await?;
    let described = admin.describe_topics(&a.topics).await;
    admin.close();
    let described = described.map_err(|e| format!("describe topics: {e}"))?;
    let (mut text, mut values) = (Vec::new(), Vec::new());
    for (name, r) in &described {
        match r {
            Ok(t) => {
                text.push(format!(
                    "topic {name}  id={}  partitions={}{}",
                    t.id,
                    t.partitions.len(),
                    if t.internal { "  internal" } else { "" }
                ));
                let ids = |v: &[i32]| v.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
                text.extend(t.partitions.iter().map(|p| {
                    format!(
                        "  partition {}  leader={}  replicas={}  isr={}",
                        p.partition,
                        p.leader.map_or("-".into(), |l| l.to_string()),
                        ids(&p.replicas),
                        ids(&p.isr)
                    )
                }));
                let parts: Vec<Value> = t.partitions.iter().map(|p| json!({"partition": p.partition, "leader": p.leader, "replicas": p.replicas, "isr": p.isr})).collect();
                values.push(json!({"topic": name, "ok": true, "id": t.id.to_string(), "internal": t.internal, "partitions": parts}));
            }
            Err(e) => {
                text.push(format!("topic {name} failed: {e}"));
                values.push(json!({"topic": name, "ok": false, "error": e.to_string()}));
            }
        }
    }
    let ok = described.iter().all(|(_, r)| r.is_ok());
    emit(a.json, Value::Array(values), text).map(|()| ok)
}

/// Runs `kafkit topics create-partitions`.
pub async fn create_partitions(
    config: ClientConfig,
    a: CreatePartitionsArgs,
) -> Result<bool, String> {
    let admin = connect(config).await?;
    let counts: Vec<(String, i32)> = a.topics.iter().map(|t| (t.clone(), a.partitions)).collect();
    let grown = admin.create_partitions(&counts, a.validate_only).await;
    admin.close();
    let results = grown.map_err(|e| format!("create partitions: {e}"))?;
    let verb = if a.validate_only { "validated" } else { "grew" };
    report(a.json, &results, |t| format!("topic {t:?}"), verb)
}

/// The partitions `TOPIC[:P,..]` arguments name (every partition of a bare topic).
pub(crate) async fn partitions_of(
    admin: &Admin,
    topics: &[(String, Vec<i32>)],
) -> Result<Vec<TopicPartition>, String> {
    let mut out = Vec::new();
    for (topic, parts) in topics {
        let parts = if parts.is_empty() {
            let d = admin
                .describe_topics(std::slice::from_ref(topic))
                .await
                .map_err(|e| e.to_string())?;
            let t = d
                .into_iter()
                .next()
                .ok_or("no answer")?
                .1
                .map_err(|e| e.to_string())?;
            t.partitions.iter().map(|p| p.partition).collect()
        } else {
            parts.clone()
        };
        out.extend(parts.into_iter().map(|partition| TopicPartition {
            topic: topic.clone(),
            partition,
        }));
    }
    Ok(out)
}

pub(crate) fn tp_name(tp: &TopicPartition) -> String {
    format!("{}/{}", tp.topic, tp.partition)
}

/// Runs `kafkit topics delete-records`.
pub async fn delete_records(config: ClientConfig, a: DeleteRecordsArgs) -> Result<bool, String> {
    let admin = connect(config).await?;
    let result = async {
        let tps = partitions_of(&admin, &a.topics).await?;
        let offsets: Vec<(TopicPartition, i64)> =
            tps.into_iter().map(|tp| (tp, a.before)).collect();
        admin
            .delete_records(&offsets)
            .await
            .map_err(|e| format!("delete records: {e}"))
    }
    .await;
    admin.close();
    let results = result?;
    let ok = results.iter().all(|(_, r)| r.is_ok());
    let text = results.iter().map(|(tp, r)| match r {
        Ok(low) => format!("{}  log start offset {low}", tp_name(tp)),
        Err(e) => format!("{} failed: {e}", tp_name(tp)),
    });
    let value = results.iter().map(|(tp, r)| match r {
        Ok(low) => json!({"topic": tp.topic, "partition": tp.partition, "ok": true, "low_watermark": low}),
        Err(e) => json!({"topic": tp.topic, "partition": tp.partition, "ok": false, "error": e.to_string()}),
    });
    emit(a.json, Value::Array(value.collect()), text.collect()).map(|()| ok)
}

/// Runs `kafkit groups offsets`.
pub async fn groups_offsets(config: ClientConfig, a: GroupsOffsetsArgs) -> Result<bool, String> {
    let admin = connect(config).await?;
    let result = admin.groups_offsets(&a.groups).await;
    admin.close();
    let results = result.map_err(|e| format!("group offsets: {e}"))?;
    let (mut text, mut values, mut ok) = (Vec::new(), Vec::new(), true);
    for (group, r) in &results {
        match r {
            Ok(rows) => {
                text.push(format!("group {group}"));
                for o in rows {
                    let latest = o.latest.as_ref().map_or_else(
                        |e| {
                            ok = false;
                            format!("error: {e}")
                        },
                        i64::to_string,
                    );
                    let lag = o.lag().map_or("-".into(), |l| l.to_string());
                    text.push(format!(
                        "  {}  committed={}  latest={latest}  lag={lag}",
                        tp_name(&o.partition),
                        o.committed
                    ));
                }
                let rows: Vec<Value> = rows.iter().map(|o| json!({"topic": o.partition.topic, "partition": o.partition.partition, "committed": o.committed, "latest": o.latest.as_ref().ok(), "lag": o.lag()})).collect();
                values.push(json!({"group": group, "ok": true, "partitions": rows}));
            }
            Err(e) => {
                ok = false;
                text.push(format!("group {group} failed: {e}"));
                values.push(json!({"group": group, "ok": false, "error": e.to_string()}));
            }
        }
    }
    emit(a.json, Value::Array(values), text).map(|()| ok)
}

fn reset_spec(to: &ResetTo) -> ResetSpec {
    match (to.datetime, to.shift_by, to.offset) {
        _ if to.earliest => ResetSpec::Earliest,
        _ if to.latest => ResetSpec::Latest,
        (Some(t), _, _) => ResetSpec::Timestamp(t),
        (_, Some(n), _) => ResetSpec::ShiftBy(n),
        (_, _, Some(o)) => ResetSpec::Offset(o),
        // clap requires one of them.
        _ => ResetSpec::Latest,
    }
}

/// Runs `kafkit groups reset-offsets`: prints the plan; commits it with `--execute`.
pub async fn reset_offsets(config: ClientConfig, a: ResetOffsetsArgs) -> Result<bool, String> {
    let admin = connect(config).await?;
    let result = async {
        let tps = partitions_of(&admin, &a.topics).await?;
        let plan = admin
            .plan_offset_reset(&a.group, &tps, reset_spec(&a.to))
            .await
            .map_err(|e| format!("reset offsets: {e}"))?;
        let targets: Vec<(TopicPartition, i64)> = plan
            .iter()
            .filter_map(|(tp, r)| r.as_ref().ok().map(|o| (tp.clone(), o.target)))
            .collect();
        let committed = if a.execute && !targets.is_empty() {
            Some(
                admin
                    .reset_offsets(&a.group, &targets)
                    .await
                    .map_err(|e| format!("reset offsets: {e}"))?,
            )
        } else {
            None
        };
        Ok::<_, String>((plan, committed))
    }
    .await;
    admin.close();
    let (plan, committed) = result?;
    let outcome = |tp: &TopicPartition| {
        committed
            .as_ref()
            .and_then(|c| c.iter().find(|(t, _)| t == tp))
            .map(|(_, r)| r)
    };
    let (mut text, mut values, mut ok) = (Vec::new(), Vec::new(), true);
    for (tp, r) in &plan {
        match (r, outcome(tp)) {
            (Ok(o), done) => {
                let current = o.current.map_or("-".into(), |c| c.to_string());
                let failed = done.and_then(|d| d.as_ref().err());
                ok &= failed.is_none();
                let tail = failed.map_or(String::new(), |e| format!("  failed: {e}"));
                text.push(format!(
                    "{}  current={current}  target={}{tail}",
                    tp_name(tp),
                    o.target
                ));
                values.push(json!({"topic": tp.topic, "partition": tp.partition, "current": o.current, "target": o.target, "ok": failed.is_none(), "error": failed.map(|e| e.to_string())}));
            }
            (Err(e), _) => {
                ok = false;
                text.push(format!("{} failed: {e}", tp_name(tp)));
                values.push(
                    json!({"topic": tp.topic, "partition": tp.partition, "ok": false, "error": e.to_string()}),
                );
            }
        }
    }
    if committed.is_none() {
        text.push("(dry run: add --execute to commit)".into());
    }
    emit(
        a.json,
        json!({"group": a.group, "executed": committed.is_some(), "partitions": values}),
        text,
    )
    .map(|()| ok)
}

/// Runs `kafkit groups delete-offsets`.
pub async fn delete_offsets(config: ClientConfig, a: DeleteOffsetsArgs) -> Result<bool, String> {
    let admin = connect(config).await?;
    let result = async {
        let tps = partitions_of(&admin, &a.topics).await?;
        admin
            .delete_committed_offsets(&a.group, &tps)
            .await
            .map_err(|e| format!("delete offsets: {e}"))
    }
    .await;
    admin.close();
    report(a.json, &result?, tp_name, "deleted offset of")
}

/// The connection options of a `configs` subcommand.
pub fn configs_connection(cmd: &ConfigsCommand) -> &crate::common_args::Connection {
    match cmd {
        ConfigsCommand::Describe(a) => &a.conn,
        ConfigsCommand::Alter(a) => &a.conn,
    }
}

/// Runs `kafkit groups list` with state or type filters or `--json`.
pub async fn list_groups(
    config: ClientConfig,
    a: crate::admin_args::GroupsListArgs,
) -> Result<bool, String> {
    let admin = connect(config).await?;
    let listed = admin.list_groups_filtered(&a.states, &a.types).await;
    admin.close();
    let (groups, errors) = listed.map_err(|e| format!("list groups: {e}"))?;
    let dash = |s: &str| {
        if s.is_empty() {
            "-".to_owned()
        } else {
            s.to_owned()
        }
    };
    let mut text: Vec<String> = groups
        .iter()
        .map(|g| {
            format!(
                "{}  protocol={}  state={}  type={}  coordinator={}",
                g.group_id,
                dash(&g.protocol_type),
                dash(&g.state),
                dash(&g.group_type),
                g.coordinator
            )
        })
        .collect();
    text.extend(
        errors
            .iter()
            .map(|(b, e)| format!("broker {b} failed: {e}")),
    );
    let value = json!({
        "groups": groups.iter().map(|g| json!({"group": g.group_id, "protocol_type": g.protocol_type, "state": g.state, "type": g.group_type, "coordinator": g.coordinator})).collect::<Vec<_>>(),
        "errors": errors.iter().map(|(b, e)| json!({"broker": b, "error": e.to_string()})).collect::<Vec<_>>(),
    });
    emit(a.json, value, text).map(|()| errors.is_empty())
}
