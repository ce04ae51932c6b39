//! `kafkit transactions list|describe` (ListTransactions at every broker,
//! DescribeTransactions at the transactional id's coordinator) and
//! `kafkit producers` (DescribeProducers at each partition's leader): what
//! holds a partition's last stable offset back. One line per item, or one
//! JSON array with `--json`; the exit status is 1 when any item failed.
//!
//! ```text
//! $ kafkit transactions list --state Ongoing
//! payments-1  producer_id=4001  state=Ongoing  broker=1
//! $ kafkit transactions describe payments-1
//! payments-1  state=Ongoing  producer_id=4001  epoch=0  timeout_ms=60000  started=1700000000000  coordinator=1
//!   orders/0
//! $ kafkit producers -t orders:0
//! orders/0  producer_id=4001  epoch=0  last_sequence=2  last_timestamp=1700000000001  txn_start_offset=42
//! ```

use std::time::Duration;

use clap::{Args, Subcommand};
use kafkit::admin::{
    ProducerDescription, TransactionDescription, TransactionFilter, TransactionState,
};
use kafkit::ClientConfig;
use serde_json::{json, Value};

use crate::admin_ops::{connect, emit, partitions_of, tp_name};
use crate::common_args::parse_topic_partitions;
use crate::common_args::Connection;

/// `kafkit transactions ...`.
#[derive(Debug, Subcommand)]
pub enum TransactionsCommand {
    /// The transactions every broker coordinates (ListTransactions).
    List(TransactionsListArgs),
    /// Transactional ids' state, partitions and producer at their
    /// coordinator (DescribeTransactions).
    Describe(TransactionsDescribeArgs),
}

/// `kafkit transactions list`.
#[derive(Debug, Args)]
pub struct TransactionsListArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// Only this state (`Ongoing`, `PrepareCommit`, `CompleteAbort`, ...); repeatable.
    #[arg(long = "state", value_name = "STATE")]
    pub states: Vec<String>,
    /// Only this producer id; repeatable.
    #[arg(long = "producer-id", value_name = "ID")]
    pub producer_ids: Vec<i64>,
    /// Only transactions open longer than MS milliseconds (Kafka 3.8+).
    #[arg(long = "older-than-ms", value_name = "MS")]
    pub older_than_ms: Option<u64>,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit transactions describe`.
#[derive(Debug, Args)]
pub struct TransactionsDescribeArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// The transactional ids.
    #[arg(value_name = "TRANSACTIONAL_ID", required = true)]
    pub ids: Vec<String>,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit producers`.
#[derive(Debug, Args)]
pub struct ProducersArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// TOPIC (every partition) or TOPIC:P[,P...]; repeatable.
    #[arg(short = 't', long = "topic", value_name = "TOPIC[:P,..]", required = true, value_parser = parse_topic_partitions)]
    pub topics: Vec<(String, Vec<i32>)>,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// The connection options of a `transactions` subcommand.
pub fn transactions_connection(cmd: &TransactionsCommand) -> &Connection {
    match cmd {
        TransactionsCommand::List(a) => &a.conn,
        TransactionsCommand::Describe(a) => &a.conn,
    }
}

/// Runs `kafkit transactions ...`.
pub async fn transactions(config: ClientConfig, cmd: TransactionsCommand) -> Result<bool, String> {
    match cmd {
        TransactionsCommand::List(a) => list(config, a).await,
        TransactionsCommand::Describe(a) => describe(config, a).await,
    }
}

async fn list(config: ClientConfig, a: TransactionsListArgs) -> Result<bool, String> {
    let mut filter = TransactionFilter::default()
        .states(a.states.iter().map(|s| TransactionState::parse(s)))
        .producer_ids(a.producer_ids.iter().copied());
    if let Some(ms) = a.older_than_ms {
        filter = filter.running_longer_than(Duration::from_millis(ms));
    }
    let admin = connect(config).await?;
    let listed = admin.list_transactions(&filter).await;
    admin.close();
    let listed = listed.map_err(|e| format!("list transactions: {e}"))?;
    let (mut text, mut values, mut ok) = (Vec::new(), Vec::new(), true);
    for (node, r) in &listed {
        match r {
            Ok(txns) => {
                for t in txns {
                    text.push(format!(
                        "{}  producer_id={}  state={}  broker={node}",
                        t.transactional_id, t.producer_id, t.state
                    ));
                    values.push(json!({
                        "transactional_id": t.transactional_id, "producer_id": t.producer_id,
                        "state": t.state.as_str(), "broker": node, "ok": true,
                    }));
                }
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

fn description_json(d: &TransactionDescription) -> Value {
    json!({
        "transactional_id": d.transactional_id, "ok": true, "state": d.state.as_str(),
        "producer_id": d.producer_id, "producer_epoch": d.producer_epoch,
        "timeout_ms": u64::try_from(d.timeout.as_millis()).unwrap_or(u64::MAX),
        "start_time_ms": d.start_time_ms, "coordinator": d.coordinator,
        "partitions": d.partitions.iter().map(|tp| json!({"topic": tp.topic, "partition": tp.partition})).collect::<Vec<_>>(),
    })
}

async fn describe(config: ClientConfig, a: TransactionsDescribeArgs) -> Result<bool, String> {
    let admin = connect(config).await?;
    let ids: Vec<&str> = a.ids.iter().map(String::as_str).collect();
    let described = admin.describe_transactions(&ids).await;
    admin.close();
    let described = described.map_err(|e| format!("describe transactions: {e}"))?;
    let (mut text, mut values, mut ok) = (Vec::new(), Vec::new(), true);
    let or_dash = |n: Option<i64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
    for (id, r) in &described {
        match r {
            Ok(d) => {
                text.push(format!(
                    "{id}  state={}  producer_id={}  epoch={}  timeout_ms={}  started={}  coordinator={}",
                    d.state,
                    d.producer_id,
                    d.producer_epoch,
                    d.timeout.as_millis(),
                    or_dash(d.start_time_ms),
                    or_dash(d.coordinator.map(i64::from)),
                ));
                text.extend(d.partitions.iter().map(|tp| format!("  {}", tp_name(tp))));
                values.push(description_json(d));
            }
            Err(e) => {
                ok = false;
                text.push(format!("{id} failed: {e}"));
                values.push(json!({"transactional_id": id, "ok": false, "error": e.to_string()}));
            }
        }
    }
    emit(a.json, Value::Array(values), text).map(|()| ok)
}

fn producer_json(p: &ProducerDescription) -> Value {
    json!({
        "producer_id": p.producer_id, "producer_epoch": p.producer_epoch,
        "last_sequence": p.last_sequence, "last_timestamp_ms": p.last_timestamp_ms,
        "coordinator_epoch": p.coordinator_epoch,
        "current_transaction_start_offset": p.current_transaction_start_offset,
    })
}

fn producer_line(name: &str, p: &ProducerDescription) -> String {
    let or_dash = |n: Option<i64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
    format!(
        "{name}  producer_id={}  epoch={}  last_sequence={}  last_timestamp={}  txn_start_offset={}",
        p.producer_id,
        p.producer_epoch,
        or_dash(p.last_sequence.map(i64::from)),
        or_dash(p.last_timestamp_ms),
        or_dash(p.current_transaction_start_offset),
    )
}

/// Runs `kafkit producers`: exit status 1 when a partition failed.
pub async fn producers(config: ClientConfig, a: ProducersArgs) -> Result<bool, String> {
    let admin = connect(config).await?;
    let result = async {
        let tps = partitions_of(&admin, &a.topics).await?;
        admin
            .describe_producers(&tps)
            .await
            .map_err(|e| format!("describe producers: {e}"))
    }
    .await;
    admin.close();
    let results = result?;
    let (mut text, mut values, mut ok) = (Vec::new(), Vec::new(), true);
    for (tp, r) in &results {
        let name = tp_name(tp);
        match r {
            Ok(producers) => {
                if producers.is_empty() {
                    text.push(format!("{name}  no producers"));
                }
                text.extend(producers.iter().map(|p| producer_line(&name, p)));
                let list: Vec<Value> = producers.iter().map(producer_json).collect();
                values.push(json!({"topic": tp.topic, "partition": tp.partition, "ok": true, "producers": list}));
            }
            Err(e) => {
                ok = false;
                text.push(format!("{name} failed: {e}"));
                values.push(json!({"topic": tp.topic, "partition": tp.partition, "ok": false, "error": e.to_string()}));
            }
        }
    }
    emit(a.json, Value::Array(values), text).map(|()| ok)
}
