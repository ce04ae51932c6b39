//! `kafkit logdirs` (DescribeLogDirs: each broker's log directories and the
//! size of every replica in them) and `kafkit topics elect-leaders`
//! (ElectLeaders at the controller). One line per item, or one JSON
//! document with `--json`; the exit status is 1 when any item failed.
//!
//! ```text
//! $ kafkit logdirs -b localhost:9092 -t orders
//! broker 1  /var/kafka/data  total=250000000000  usable=120000000000  size=8123
//!   orders/0  size=8123  lag=0
//! $ kafkit topics elect-leaders -t orders:0
//! orders/0  elected
//! ```

use clap::Args;
use kafkit::admin::{ElectionType, LogDir};
use kafkit::ClientConfig;
use serde_json::{json, Value};

use crate::admin_args::ElectLeadersArgs;
use crate::admin_ops::{connect, emit, partitions_of, tp_name};
use crate::common_args::{parse_topic_partitions, Connection};

/// `kafkit logdirs`.
#[derive(Debug, Args)]
pub struct LogDirsArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// Only this broker (node id); repeatable. Default: every broker.
    #[arg(long = "broker", value_name = "ID")]
    pub nodes: Vec<i32>,
    /// Only TOPIC (every partition) or TOPIC:P[,P...]; repeatable. Default:
    /// every partition.
    #[arg(short = 't', long = "topic", value_name = "TOPIC[:P,..]", value_parser = parse_topic_partitions)]
    pub topics: Vec<(String, Vec<i32>)>,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

fn dir_json(d: &LogDir) -> Value {
    json!({
        "path": d.path,
        "error": d.error.as_ref().map(ToString::to_string),
        "total_bytes": d.total_bytes,
        "usable_bytes": d.usable_bytes,
        "size": d.size(),
        "replicas": d.replicas.iter().map(|r| json!({
            "topic": r.partition.topic,
            "partition": r.partition.partition,
            "size": r.size,
            "offset_lag": r.offset_lag,
            "future": r.is_future,
        })).collect::<Vec<_>>(),
    })
}

fn dir_lines(node: i32, d: &LogDir, out: &mut Vec<String>) {
    let known = |n: Option<i64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
    let mut head = format!(
        "broker {node}  {}  total={}  usable={}  size={}",
        d.path,
        known(d.total_bytes),
        known(d.usable_bytes),
        d.size()
    );
    if let Some(e) = &d.error {
        head.push_str(&format!("  error: {e}"));
    }
    out.push(head);
    for r in &d.replicas {
        let future = if r.is_future { "  (future)" } else { "" };
        let name = tp_name(&r.partition);
        out.push(format!(
            "  {name}  size={}  lag={}{future}",
            r.size, r.offset_lag
        ));
    }
}

/// Runs `kafkit logdirs`: exit status 1 when a broker or a directory failed.
pub async fn log_dirs(config: ClientConfig, a: LogDirsArgs) -> Result<bool, String> {
    let admin = connect(config).await?;
    let result = async {
        let partitions = if a.topics.is_empty() {
            None
        } else {
            Some(partitions_of(&admin, &a.topics).await?)
        };
        admin
            .describe_log_dirs(&a.nodes, partitions.as_deref())
            .await
            .map_err(|e| format!("describe log dirs: {e}"))
    }
    .await;
    admin.close();
    let results = result?;
    let (mut text, mut values, mut ok) = (Vec::new(), Vec::new(), true);
    for (node, r) in &results {
        match r {
            Ok(dirs) => {
                ok &= dirs.iter().all(|d| d.error.is_none());
                dirs.iter().for_each(|d| dir_lines(*node, d, &mut text));
                let dirs: Vec<Value> = dirs.iter().map(dir_json).collect();
                values.push(json!({"broker": node, "ok": true, "log_dirs": dirs}));
            }
            Err(e) => {
                ok = false;
                text.push(format!("broker {node} failed: {e}"));
                values.push(json!({"broker": node, "ok": false, "error": e.to_string()}));
            }
        }
    }
    emit(a.json, Value::Array(values), text).map(|()| ok)
}

/// Runs `kafkit topics elect-leaders`.
pub async fn elect_leaders(config: ClientConfig, a: ElectLeadersArgs) -> Result<bool, String> {
    let admin = connect(config).await?;
    let election = if a.unclean {
        ElectionType::Unclean
    } else {
        ElectionType::Preferred
    };
    let result = async {
        let tps = partitions_of(&admin, &a.topics).await?;
        admin
            .elect_leaders(&tps, election)
            .await
            .map_err(|e| format!("elect leaders: {e}"))
    }
    .await;
    admin.close();
    let results = result?;
    let ok = results.iter().all(|(_, r)| r.is_ok());
    let text = results
        .iter()
        .map(|(tp, r)| match r {
            Ok(true) => format!("{}  elected", tp_name(tp)),
            Ok(false) => format!("{}  already led by the wanted replica", tp_name(tp)),
            Err(e) => format!("{} failed: {e}", tp_name(tp)),
        })
        .collect();
    let value = Value::Array(
        results
            .iter()
            .map(|(tp, r)| {
                let mut v = json!({"topic": tp.topic, "partition": tp.partition});
                match r {
                    Ok(elected) => {
                        v["ok"] = json!(true);
                        v["elected"] = json!(elected);
                    }
                    Err(e) => {
                        v["ok"] = json!(false);
                        v["error"] = json!(e.to_string());
                    }
                }
                v
            })
            .collect(),
    );
    emit(a.json, value, text).map(|()| ok)
}
