//! `kafkit share-groups list|describe|offsets|reset|delete`: KIP-932 share
//! groups (ListGroups with the `share` type, ShareGroupDescribe,
//! DescribeShareGroupOffsets, AlterShareGroupOffsets,
//! DeleteShareGroupOffsets, DeleteGroups). Text lines, or one JSON document
//! with `--json`; exit status 1 when any group, partition or topic failed.
//!
//! ```text
//! $ kafkit share-groups offsets --group jobs --topic orders
//! orders/0  start=42  lag=3
//! $ kafkit share-groups reset --group jobs --topic orders --to-earliest
//! orders/0  reset
//! ```

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use kafkit::admin::{Admin, OffsetSpec, PerItem, ShareGroupDescription, TopicPartition};
use kafkit::ClientConfig;
use serde_json::{json, Value};

use crate::admin_ops::{connect, emit};
use crate::common_args::Connection;

/// `kafkit share-groups ...`.
#[derive(Debug, Subcommand)]
pub enum ShareGroupsCommand {
    /// The share groups of every broker.
    List(ShareListArgs),
    /// Share groups' state, members and assignments.
    Describe(ShareGroupArgs),
    /// A share group's start offsets and lags per partition.
    Offsets(ShareOffsetsArgs),
    /// Set a share group's start offsets (the group must be empty).
    Reset(ShareResetArgs),
    /// Delete share groups, or (with --topic) one group's state of topics.
    Delete(ShareDeleteArgs),
}

/// `kafkit share-groups list`.
#[derive(Debug, Args)]
pub struct ShareListArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit share-groups describe`.
#[derive(Debug, Args)]
pub struct ShareGroupArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// The group; repeatable.
    #[arg(short = 'g', long = "group", value_name = "NAME", required = true)]
    pub groups: Vec<String>,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit share-groups offsets`.
#[derive(Debug, Args)]
pub struct ShareOffsetsArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// The group.
    #[arg(short = 'g', long = "group", value_name = "NAME")]
    pub group: String,
    /// A topic; repeatable. Default: every topic the group has state for.
    #[arg(short = 't', long = "topic", value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit share-groups reset`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("to").required(true)
    .args(["to_earliest", "to_latest", "to_offset"])))]
pub struct ShareResetArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// The group.
    #[arg(short = 'g', long = "group", value_name = "NAME")]
    pub group: String,
    /// A topic (all its partitions); repeatable.
    #[arg(short = 't', long = "topic", value_name = "TOPIC", required = true)]
    pub topics: Vec<String>,
    /// To each partition's earliest offset.
    #[arg(long = "to-earliest")]
    pub to_earliest: bool,
    /// To each partition's latest offset (skip what is there).
    #[arg(long = "to-latest")]
    pub to_latest: bool,
    /// To this offset in every partition.
    #[arg(long = "to-offset", value_name = "OFFSET")]
    pub to_offset: Option<i64>,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit share-groups delete`.
#[derive(Debug, Args)]
pub struct ShareDeleteArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// The group; repeatable (only one with --topic).
    #[arg(short = 'g', long = "group", value_name = "NAME", required = true)]
    pub groups: Vec<String>,
    /// Delete only the group's state of this topic; repeatable.
    #[arg(short = 't', long = "topic", value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// The connection options of `cmd`.
pub fn share_groups_connection(cmd: &ShareGroupsCommand) -> &Connection {
    match cmd {
        ShareGroupsCommand::List(a) => &a.conn,
        ShareGroupsCommand::Describe(a) => &a.conn,
        ShareGroupsCommand::Offsets(a) => &a.conn,
        ShareGroupsCommand::Reset(a) => &a.conn,
        ShareGroupsCommand::Delete(a) => &a.conn,
    }
}

/// Runs `kafkit share-groups ...`: `Ok(false)` when an item failed.
pub async fn share_groups(config: ClientConfig, cmd: ShareGroupsCommand) -> Result<bool, String> {
    let admin = connect(config).await?;
    let result = match cmd {
        ShareGroupsCommand::List(a) => list(&admin, a.json).await,
        ShareGroupsCommand::Describe(a) => describe(&admin, &a.groups, a.json).await,
        ShareGroupsCommand::Offsets(a) => offsets(&admin, &a).await,
        ShareGroupsCommand::Reset(a) => reset(&admin, &a).await,
        ShareGroupsCommand::Delete(a) => delete(&admin, &a).await,
    };
    admin.close();
    result
}

async fn list(admin: &Admin, json_out: bool) -> Result<bool, String> {
    let groups = admin
        .list_share_groups()
        .await
        .map_err(|e| format!("list share groups: {e}"))?;
    let text = groups
        .iter()
        .map(|g| format!("{}  {}", g.group_id, g.state.as_deref().unwrap_or("?")))
        .collect();
    let value = groups
        .iter()
        .map(|g| json!({"group": g.group_id, "state": g.state, "coordinator": g.coordinator}))
        .collect();
    emit(json_out, Value::Array(value), text).map(|()| true)
}

fn partitions_text(tps: &[TopicPartition]) -> String {
    let list: Vec<String> = tps
        .iter()
        .map(|tp| format!("{}/{}", tp.topic, tp.partition))
        .collect();
    list.join(",")
}

fn group_json(d: &ShareGroupDescription) -> Value {
    let members: Vec<Value> = d
        .members
        .iter()
        .map(|m| {
            json!({
                "member_id": m.member_id, "client_id": m.client_id,
                "client_host": m.client_host, "member_epoch": m.member_epoch,
                "rack_id": m.rack_id, "subscribed_topics": m.subscribed_topic_names,
                "assignment": m.assignment.iter()
                    .map(|tp| json!({"topic": tp.topic, "partition": tp.partition}))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "group": d.group_id, "ok": true, "state": d.state, "group_epoch": d.group_epoch,
        "assignment_epoch": d.assignment_epoch, "assignor": d.assignor, "members": members,
    })
}

async fn describe(admin: &Admin, groups: &[String], json_out: bool) -> Result<bool, String> {
    let results = admin
        .describe_share_groups(groups)
        .await
        .map_err(|e| format!("describe share groups: {e}"))?;
    let ok = results.iter().all(|(_, r)| r.is_ok());
    let mut text = Vec::new();
    let mut values = Vec::new();
    for (group, r) in &results {
        match r {
            Ok(d) => {
                text.push(format!(
                    "{group}  state={} epoch={} assignor={} members={}",
                    d.state,
                    d.group_epoch,
                    d.assignor,
                    d.members.len()
                ));
                for m in &d.members {
                    text.push(format!(
                        "  {} {} {}  {}",
                        m.member_id,
                        m.client_id,
                        m.client_host,
                        partitions_text(&m.assignment)
                    ));
                }
                values.push(group_json(d));
            }
            Err(e) => {
                text.push(format!("{group} failed: {e}"));
                values.push(json!({"group": group, "ok": false, "error": e.to_string()}));
            }
        }
    }
    emit(json_out, Value::Array(values), text).map(|()| ok)
}

async fn offsets(admin: &Admin, a: &ShareOffsetsArgs) -> Result<bool, String> {
    let list = admin
        .share_group_offsets(&a.group, &a.topics)
        .await
        .map_err(|e| format!("share group {} offsets: {e}", a.group))?;
    let show = |o: Option<i64>| o.map_or_else(|| "-".to_owned(), |v| v.to_string());
    let text = list
        .iter()
        .map(|p| {
            format!(
                "{}/{}  start={}  lag={}",
                p.partition.topic,
                p.partition.partition,
                show(p.start_offset),
                show(p.lag)
            )
        })
        .collect();
    let value = list
        .iter()
        .map(|p| {
            json!({"topic": p.partition.topic, "partition": p.partition.partition,
                   "start_offset": p.start_offset, "lag": p.lag})
        })
        .collect();
    emit(a.json, Value::Array(value), text).map(|()| true)
}

fn per_item<K>(
    results: &PerItem<K>,
    name: impl Fn(&K) -> String,
    verb: &str,
) -> (Vec<String>, Value) {
    let text = results
        .iter()
        .map(|(k, r)| match r {
            Ok(()) => format!("{}  {verb}", name(k)),
            Err(e) => format!("{} failed: {e}", name(k)),
        })
        .collect();
    let value = results
        .iter()
        .map(|(k, r)| match r {
            Ok(()) => json!({"item": name(k), "ok": true}),
            Err(e) => json!({"item": name(k), "ok": false, "error": e.to_string()}),
        })
        .collect();
    (text, Value::Array(value))
}

async fn reset(admin: &Admin, a: &ShareResetArgs) -> Result<bool, String> {
    let results = match a.to_offset {
        Some(offset) => {
            let mut offsets = BTreeMap::new();
            for topic in &a.topics {
                let parts = admin
                    .topic_offsets(topic, None)
                    .await
                    .map_err(|e| format!("topic {topic}: {e}"))?;
                for p in parts {
                    let tp = TopicPartition {
                        topic: topic.clone(),
                        partition: p.partition,
                    };
                    offsets.insert(tp, offset);
                }
            }
            admin.alter_share_group_offsets(&a.group, &offsets).await
        }
        None => {
            let spec = match a.to_latest {
                true => OffsetSpec::Latest,
                false => OffsetSpec::Earliest,
            };
            admin
                .reset_share_group_offsets(&a.group, &a.topics, spec)
                .await
        }
    }
    .map_err(|e| format!("reset share group {}: {e}", a.group))?;
    let ok = results.iter().all(|(_, r)| r.is_ok());
    let (text, value) = per_item(
        &results,
        |tp| format!("{}/{}", tp.topic, tp.partition),
        "reset",
    );
    emit(a.json, value, text).map(|()| ok)
}

async fn delete(admin: &Admin, a: &ShareDeleteArgs) -> Result<bool, String> {
    let results = match (a.topics.is_empty(), a.groups.as_slice()) {
        (true, groups) => admin
            .delete_groups(groups)
            .await
            .map_err(|e| format!("delete share groups: {e}"))?,
        (false, [group]) => admin
            .delete_share_group_offsets(group, &a.topics)
            .await
            .map_err(|e| format!("delete share group {group} offsets: {e}"))?,
        (false, _) => return Err("--topic takes exactly one --group".to_owned()),
    };
    let ok = results.iter().all(|(_, r)| r.is_ok());
    let (text, value) = per_item(&results, String::clone, "deleted");
    emit(a.json, value, text).map(|()| ok)
}
