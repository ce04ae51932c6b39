//! `kafkit topics create|delete|list`, `kafkit groups list|describe` and
//! `kafkit offsets`, on kafkit's [`Admin`] client.
//!
//! Output (one line per item; failures on stderr-free lines so scripts can grep):
//!
//! ```text
//! $ kafkit topics create -t orders -p 3 -r 1
//! created topic "orders"
//! $ kafkit topics list
//! orders  partitions=3  replicas=1
//! $ kafkit groups describe -G billing
//! group "billing": state Stable, protocol consumer/range, coordinator 1, 1 members:
//!   member kafkit-1-abc (client kafkit, host /127.0.0.1): orders/0,orders/1
//! $ kafkit groups describe -G orders-848
//! group "orders-848": consumer protocol (KIP-848), state Stable, epoch 3, assignor uniform, coordinator 1, 1 members:
//!   member 5f0c… epoch 3 (client kafkit, host /127.0.0.1): orders/0,orders/1
//! $ kafkit offsets -t orders -G billing
//! partition  earliest  latest  committed  lag
//! 0          0         10      4          6
//! ```
//!
//! Each topic or group asked about is reported on its own; the exit status is 1
//! if any of them failed.

use std::io::Write;

use kafkit::admin::{
    Admin, AnyGroupDescription, ConsumerGroupDescription, GroupDescription, GroupListings,
    NewTopic, PartitionOffsets, PerItem, TopicPartition,
};
use kafkit::ClientConfig;

use crate::admin_args::{GroupsCommand, OffsetsArgs, TopicsCommand};
use crate::admin_json;
use crate::common_args::Connection;

/// The connection options of a `topics` subcommand.
pub fn topics_connection(cmd: &TopicsCommand) -> &Connection {
    match cmd {
        TopicsCommand::Create(a) => &a.conn,
        TopicsCommand::Delete(a) => &a.conn,
        TopicsCommand::List(a) => &a.conn,
        TopicsCommand::Describe(a) => &a.conn,
        TopicsCommand::CreatePartitions(a) => &a.conn,
        TopicsCommand::DeleteRecords(a) => &a.conn,
        TopicsCommand::ElectLeaders(a) => &a.conn,
    }
}

/// The connection options of a `groups` subcommand.
pub fn groups_connection(cmd: &GroupsCommand) -> &Connection {
    match cmd {
        GroupsCommand::List(a) => &a.conn,
        GroupsCommand::Describe(a) => &a.conn,
        GroupsCommand::Offsets(a) => &a.conn,
        GroupsCommand::ResetOffsets(a) => &a.conn,
        GroupsCommand::DeleteOffsets(a) => &a.conn,
    }
}

async fn connect(config: ClientConfig) -> Result<Admin, String> {
    Admin::connect(config)
        .await
        .map_err(|e| format!("cannot connect: {e}"))
}

fn stdout<F: FnOnce(&mut dyn Write) -> std::io::Result<()>>(f: F) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    f(&mut out)
        .and_then(|()| out.flush())
        .map_err(|e| format!("writing to stdout: {e}"))
}

/// Runs `kafkit topics ...`: `Ok(false)` when a topic failed.
pub async fn topics(config: ClientConfig, cmd: TopicsCommand) -> Result<bool, String> {
    let cmd = match cmd {
        TopicsCommand::Describe(a) => return crate::admin_ops::describe_topics(config, a).await,
        TopicsCommand::CreatePartitions(a) => {
            return crate::admin_ops::create_partitions(config, a).await
        }
        TopicsCommand::DeleteRecords(a) => {
            return crate::admin_ops::delete_records(config, a).await
        }
        TopicsCommand::ElectLeaders(a) => {
            return crate::admin_disks::elect_leaders(config, a).await
        }
        cmd => cmd,
    };
    let admin = connect(config).await?;
    let result = match cmd {
        TopicsCommand::Create(a) => {
            let topics: Vec<NewTopic> = a
                .topics
                .iter()
                .map(|t| {
                    a.configs.iter().fold(
                        NewTopic::new(t.clone(), a.partitions, a.replication_factor),
                        |nt, (k, v)| nt.with_config(k.clone(), v.clone()),
                    )
                })
                .collect();
            let verb = if a.validate_only {
                "validated"
            } else {
                "created"
            };
            match admin.create_topics(&topics, a.validate_only).await {
                Ok(results) => report(a.json, &results, verb),
                Err(e) => Err(format!("create topics: {e}")),
            }
        }
        TopicsCommand::Delete(a) => match admin.delete_topics(&a.topics).await {
            Ok(results) => report(a.json, &results, "deleted"),
            Err(e) => Err(format!("delete topics: {e}")),
        },
        TopicsCommand::List(a) => match admin.list_topics(a.internal).await {
            Ok(topics) if a.json => {
                crate::admin_ops::emit(true, admin_json::topic_listings(&topics), Vec::new())
                    .map(|()| true)
            }
            Ok(topics) => stdout(|out| {
                for t in &topics {
                    writeln!(
                        out,
                        "{}  partitions={}  replicas={}{}",
                        t.name,
                        t.partitions,
                        t.replication_factor,
                        if t.internal { "  internal" } else { "" }
                    )?;
                }
                Ok(())
            })
            .map(|()| true),
            Err(e) => Err(format!("list topics: {e}")),
        },
        _ => Err("unreachable topics command".into()),
    };
    admin.close();
    result
}

/// Prints one line (or JSON object) per topic; `Ok(false)` if any failed.
fn report(json: bool, results: &PerItem<String>, verb: &str) -> Result<bool, String> {
    if json {
        let ok = results.iter().all(|(_, r)| r.is_ok());
        return crate::admin_ops::emit(true, admin_json::topic_results(results), Vec::new())
            .map(|()| ok);
    }
    let mut out = Vec::new();
    let ok = render_results(results, verb, &mut out).map_err(|e| e.to_string())?;
    stdout(|w| w.write_all(&out))?;
    Ok(ok)
}

/// Writes `verb topic "T"` or `topic "T": error`; whether all succeeded.
pub fn render_results(
    results: &[(String, kafkit::Result<()>)],
    verb: &str,
    out: &mut impl Write,
) -> std::io::Result<bool> {
    let mut ok = true;
    for (topic, r) in results {
        match r {
            Ok(()) => writeln!(out, "{verb} topic {topic:?}")?,
            Err(e) => {
                ok = false;
                writeln!(out, "topic {topic:?} failed: {e}")?;
            }
        }
    }
    Ok(ok)
}

/// Runs `kafkit groups ...`: `Ok(false)` when a group could not be described
/// or a broker could not list its groups.
pub async fn groups(config: ClientConfig, cmd: GroupsCommand) -> Result<bool, String> {
    let cmd = match cmd {
        GroupsCommand::Offsets(a) => return crate::admin_ops::groups_offsets(config, a).await,
        GroupsCommand::ResetOffsets(a) => return crate::admin_ops::reset_offsets(config, a).await,
        GroupsCommand::DeleteOffsets(a) => {
            return crate::admin_ops::delete_offsets(config, a).await
        }
        GroupsCommand::List(a) if a.json || !a.states.is_empty() || !a.types.is_empty() => {
            return crate::admin_ops::list_groups(config, a).await
        }
        cmd => cmd,
    };
    let admin = connect(config).await?;
    let result = match cmd {
        GroupsCommand::List(_) => match admin.list_groups().await {
            Ok(listings) => {
                let mut out = Vec::new();
                render_listings(&listings, &mut out).map_err(|e| e.to_string())?;
                stdout(|w| w.write_all(&out)).map(|()| listings.errors.is_empty())
            }
            Err(e) => Err(format!("list groups: {e}")),
        },
        GroupsCommand::Describe(a) => match admin.describe_any_groups(&a.groups).await {
            Ok(described) if a.json => {
                let ok = described.iter().all(|(_, r)| r.is_ok());
                let value = admin_json::group_descriptions(&described);
                crate::admin_ops::emit(true, value, Vec::new()).map(|()| ok)
            }
            Ok(described) => {
                let mut out = Vec::new();
                let ok = render_descriptions(&described, &mut out).map_err(|e| e.to_string())?;
                stdout(|w| w.write_all(&out)).map(|()| ok)
            }
            Err(e) => Err(format!("describe groups: {e}")),
        },
        _ => Err("unreachable groups command".into()),
    };
    admin.close();
    result
}

/// One line per group, then one per broker that could not be asked.
pub fn render_listings(listings: &GroupListings, out: &mut impl Write) -> std::io::Result<()> {
    for g in &listings.groups {
        let protocol = if g.protocol_type.is_empty() {
            "-"
        } else {
            &g.protocol_type
        };
        let state = g.state.as_deref().unwrap_or("-");
        writeln!(
            out,
            "{}  protocol={protocol}  state={state}  coordinator={}",
            g.group_id, g.coordinator
        )?;
    }
    for (broker, e) in &listings.errors {
        writeln!(out, "broker {broker} failed: {e}")?;
    }
    Ok(())
}

/// A paragraph per group (classic or KIP-848 consumer group); whether
/// every group could be described.
pub fn render_descriptions(
    described: &PerItem<String, AnyGroupDescription>,
    out: &mut impl Write,
) -> std::io::Result<bool> {
    let mut ok = true;
    for (group, r) in described {
        match r {
            Ok(AnyGroupDescription::Classic(g)) => render_classic(g, out)?,
            Ok(AnyGroupDescription::Consumer(g)) => render_consumer(g, out)?,
            Ok(other) => writeln!(out, "group {group:?}: {other:?}")?,
            Err(e) => {
                ok = false;
                writeln!(out, "group {group:?} failed: {e}")?;
            }
        }
    }
    Ok(ok)
}

fn partition_list(tps: &[TopicPartition]) -> String {
    if tps.is_empty() {
        return "-".to_owned();
    }
    let all: Vec<String> = tps
        .iter()
        .map(|tp| format!("{}/{}", tp.topic, tp.partition))
        .collect();
    all.join(",")
}

fn render_classic(g: &GroupDescription, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "group {:?}: state {}, protocol {}/{}, coordinator {}, {} members:",
        g.group_id,
        g.state,
        g.protocol_type,
        g.protocol,
        g.coordinator,
        g.members.len()
    )?;
    for m in &g.members {
        let instance = m
            .group_instance_id
            .as_ref()
            .map_or(String::new(), |i| format!(", instance {i}"));
        writeln!(
            out,
            "  member {} (client {}, host {}{instance}): {}",
            m.member_id,
            m.client_id,
            m.client_host,
            partition_list(&m.assignment)
        )?;
    }
    Ok(())
}

fn render_consumer(g: &ConsumerGroupDescription, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "group {:?}: consumer protocol (KIP-848), state {}, epoch {}, assignor {}, coordinator {}, {} members:",
        g.group_id,
        g.state,
        g.group_epoch,
        g.assignor,
        g.coordinator,
        g.members.len()
    )?;
    for m in &g.members {
        let instance = m
            .instance_id
            .as_ref()
            .map_or(String::new(), |i| format!(", instance {i}"));
        let target = if m.target_assignment == m.assignment {
            String::new()
        } else {
            format!(" (target {})", partition_list(&m.target_assignment))
        };
        writeln!(
            out,
            "  member {} epoch {} (client {}, host {}{instance}): {}{target}",
            m.member_id,
            m.member_epoch,
            m.client_id,
            m.client_host,
            partition_list(&m.assignment)
        )?;
    }
    Ok(())
}

/// Runs `kafkit offsets`: `Ok(false)` when a partition's offsets could not be read.
pub async fn offsets(config: ClientConfig, args: OffsetsArgs) -> Result<bool, String> {
    let admin = connect(config).await?;
    let result = admin
        .topic_offsets(&args.topic, args.group.as_deref())
        .await
        .map_err(|e| format!("offsets of {:?}: {e}", args.topic));
    admin.close();
    let rows = result?;
    if args.json {
        let value = admin_json::offsets(&args.topic, &rows, args.group.as_deref());
        let ok = value
            .as_array()
            .is_some_and(|rows| rows.iter().all(|r| r["ok"] == true));
        return crate::admin_ops::emit(true, value, Vec::new()).map(|()| ok);
    }
    let mut out = Vec::new();
    let ok = render_offsets(&rows, args.group.is_some(), &mut out).map_err(|e| e.to_string())?;
    stdout(|w| w.write_all(&out))?;
    Ok(ok)
}

/// The offsets table; whether every offset could be read. `-` marks a
/// partition with nothing committed (and so no lag).
pub fn render_offsets(
    rows: &[PartitionOffsets],
    with_group: bool,
    out: &mut impl Write,
) -> std::io::Result<bool> {
    let mut ok = true;
    let mut cell = |r: &kafkit::Result<i64>| match r {
        Ok(v) => v.to_string(),
        Err(e) => {
            ok = false;
            format!("error({e})")
        }
    };
    let mut lines = Vec::new();
    for row in rows {
        let mut line = vec![
            row.partition.to_string(),
            cell(&row.earliest),
            cell(&row.latest),
        ];
        if with_group {
            let committed = match &row.committed {
                Some(Ok(Some(c))) => c.to_string(),
                Some(Ok(None)) | None => "-".to_owned(),
                Some(Err(e)) => cell(&Err(e.clone())),
            };
            line.push(committed);
            line.push(row.lag().map_or("-".to_owned(), |l| l.to_string()));
        }
        lines.push(line);
    }
    let mut header = vec!["partition", "earliest", "latest"];
    if with_group {
        header.extend(["committed", "lag"]);
    }
    let widths: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            lines
                .iter()
                .filter_map(|l| l.get(i).map(String::len))
                .chain([h.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for line in std::iter::once(&header).chain(&lines) {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafkit::admin::{ConsumerGroupMember, GroupListing, MemberDescription};
    use kafkit::protocol::{ApiKey, ErrorCode};
    use kafkit::Error;

    fn broker_error(code: ErrorCode) -> Error {
        Error::broker(code, ApiKey::CREATE_TOPICS, " for topic b")
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn topic_results_one_line_each() {
        let results = vec![
            ("a".to_owned(), Ok(())),
            (
                "b".to_owned(),
                Err(broker_error(ErrorCode::TOPIC_ALREADY_EXISTS)),
            ),
        ];
        let mut out = Vec::new();
        assert!(!render_results(&results, "created", &mut out).unwrap());
        assert_eq!(
            text(out),
            "created topic \"a\"\ntopic \"b\" failed: TOPIC_ALREADY_EXISTS(36) from CreateTopics(19) for topic b\n"
        );
        let mut out = Vec::new();
        assert!(render_results(&results[..1], "validated", &mut out).unwrap());
        assert_eq!(text(out), "validated topic \"a\"\n");
    }

    #[test]
    fn groups_listed_and_described() {
        let listings = GroupListings {
            groups: vec![GroupListing {
                group_id: "billing".into(),
                protocol_type: "consumer".into(),
                state: Some("Stable".into()),
                coordinator: 2,
            }],
            errors: vec![(3, Error::Closed)],
        };
        let mut out = Vec::new();
        render_listings(&listings, &mut out).unwrap();
        assert_eq!(
            text(out),
            "billing  protocol=consumer  state=Stable  coordinator=2\nbroker 3 failed: closed\n"
        );
        let described = vec![
            (
                "billing".to_owned(),
                Ok(AnyGroupDescription::Classic(GroupDescription {
                    group_id: "billing".into(),
                    state: "Stable".into(),
                    protocol_type: "consumer".into(),
                    protocol: "range".into(),
                    members: vec![MemberDescription {
                        member_id: "m-1".into(),
                        group_instance_id: None,
                        client_id: "c".into(),
                        client_host: "/127.0.0.1".into(),
                        assignment: vec![
                            TopicPartition {
                                topic: "orders".into(),
                                partition: 0,
                            },
                            TopicPartition {
                                topic: "orders".into(),
                                partition: 1,
                            },
                        ],
                    }],
                    coordinator: 2,
                })),
            ),
            (
                "orders".to_owned(),
                Ok(AnyGroupDescription::Consumer(ConsumerGroupDescription {
                    group_id: "orders".into(),
                    state: "Reconciling".into(),
                    group_epoch: 4,
                    assignment_epoch: 4,
                    assignor: "uniform".into(),
                    members: vec![ConsumerGroupMember {
                        member_id: "m-2".into(),
                        instance_id: None,
                        rack_id: None,
                        member_epoch: 3,
                        client_id: "c".into(),
                        client_host: "/127.0.0.1".into(),
                        subscribed_topic_names: vec!["orders".into()],
                        subscribed_topic_regex: None,
                        assignment: vec![TopicPartition {
                            topic: "orders".into(),
                            partition: 0,
                        }],
                        target_assignment: Vec::new(),
                        classic: false,
                    }],
                    coordinator: 1,
                })),
            ),
            ("gone".to_owned(), Err(Error::Closed)),
        ];
        let mut out = Vec::new();
        assert!(!render_descriptions(&described, &mut out).unwrap());
        assert_eq!(
            text(out),
            "group \"billing\": state Stable, protocol consumer/range, coordinator 2, 1 members:\n\
             \x20 member m-1 (client c, host /127.0.0.1): orders/0,orders/1\n\
             group \"orders\": consumer protocol (KIP-848), state Reconciling, epoch 4, \
             assignor uniform, coordinator 1, 1 members:\n\
             \x20 member m-2 epoch 3 (client c, host /127.0.0.1): orders/0 (target -)\n\
             group \"gone\" failed: closed\n"
        );
    }

    #[test]
    fn offsets_table_with_lag() {
        let row = |partition, committed| PartitionOffsets {
            partition,
            earliest: Ok(0),
            latest: Ok(120),
            committed,
        };
        let rows = [row(0, Some(Ok(Some(100)))), row(1, Some(Ok(None)))];
        let mut out = Vec::new();
        assert!(render_offsets(&rows, true, &mut out).unwrap());
        assert_eq!(
            text(out),
            "partition  earliest  latest  committed  lag\n\
             0          0         120     100        20\n\
             1          0         120     -          -\n"
        );
        let mut out = Vec::new();
        let failed = [PartitionOffsets {
            partition: 0,
            earliest: Err(Error::Closed),
            latest: Ok(5),
            committed: None,
        }];
        assert!(!render_offsets(&failed, false, &mut out).unwrap());
        assert_eq!(
            text(out),
            "partition  earliest       latest\n0          error(closed)  5\n"
        );
    }
}
