//! `kafkit query` (`-Q`, kcat's query mode): for each `-t
//! TOPIC:PARTITION:TIMESTAMP`, the offset of the first record whose
//! timestamp is at or after TIMESTAMP (milliseconds since the epoch), one
//! line each in kcat's form, `TOPIC [PARTITION] offset N`; `-1` when no
//! record is that recent. A ListOffsets per leader and timestamp.
//!
//! The timestamps -1 (latest) and -2 (earliest) print the broker's answer,
//! the partition's next or first offset (kcat prints librdkafka's logical
//! -1 and -2 back for these).
//!
//! Exit status 1 when a topic or partition is unknown or the broker reports
//! an error for a partition.

use std::collections::BTreeMap;

use clap::Args;
use kafkit::{Client, ClientConfig};

use crate::common_args::Connection;

/// `kafkit query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// TOPIC:PARTITION:TIMESTAMP (milliseconds); repeatable.
    #[arg(short = 't', long = "topic", value_name = "TOPIC:PARTITION:TIMESTAMP",
          required = true, value_parser = parse_query)]
    pub queries: Vec<Query>,
}

/// One `-t TOPIC:PARTITION:TIMESTAMP`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Milliseconds since the epoch (or -1 latest, -2 earliest).
    pub timestamp: i64,
}

fn parse_query(s: &str) -> Result<Query, String> {
    let mut parts = s.rsplitn(3, ':');
    let (Some(ts), Some(p), Some(topic)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("{s:?} is not TOPIC:PARTITION:TIMESTAMP"));
    };
    let partition = p
        .parse::<i32>()
        .ok()
        .filter(|p| *p >= 0)
        .ok_or_else(|| format!("{s:?}: bad partition {p:?}"))?;
    let timestamp = ts
        .parse::<i64>()
        .ok()
        .filter(|t| *t >= -2)
        .ok_or_else(|| format!("{s:?}: bad timestamp {ts:?}"))?;
    if topic.is_empty() {
        return Err(format!("{s:?}: empty topic"));
    }
    Ok(Query {
        topic: topic.to_owned(),
        partition,
        timestamp,
    })
}

/// Runs the command: `Ok(false)` when some query failed.
pub async fn run(client: ClientConfig, args: QueryArgs) -> Result<bool, String> {
    let client = Client::connect(client)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let timeout = client.config().request_timeout;
    let mut leaders = BTreeMap::new();
    let mut ok = true;
    for q in &args.queries {
        let meta = client
            .topic(&q.topic, timeout)
            .await
            .map_err(|e| format!("topic {}: {e}", q.topic))?;
        match meta.partitions.iter().find(|p| p.partition == q.partition) {
            Some(p) => match p.leader {
                Some(leader) => {
                    leaders.insert((q.topic.clone(), q.partition), leader);
                }
                None => {
                    eprintln!("kafkit: {} [{}]: no leader", q.topic, q.partition);
                    ok = false;
                }
            },
            None => {
                eprintln!("kafkit: topic {} has no partition {}", q.topic, q.partition);
                ok = false;
            }
        }
    }
    // One request per leader and timestamp.
    let mut batches: BTreeMap<(i32, i64), BTreeMap<&str, Vec<i32>>> = BTreeMap::new();
    for q in &args.queries {
        if let Some(leader) = leaders.get(&(q.topic.clone(), q.partition)) {
            batches
                .entry((*leader, q.timestamp))
                .or_default()
                .entry(q.topic.as_str())
                .or_default()
                .push(q.partition);
        }
    }
    let mut answers = BTreeMap::new();
    for ((leader, timestamp), topics) in &batches {
        for (key, result) in crate::metadata::query(&client, *leader, topics, *timestamp).await? {
            answers.insert((key.0, key.1, *timestamp), result);
        }
    }
    for q in &args.queries {
        match answers.get(&(q.topic.clone(), q.partition, q.timestamp)) {
            Some(Ok(offset)) => println!("{} [{}] offset {offset}", q.topic, q.partition),
            Some(Err(e)) => {
                eprintln!("kafkit: {} [{}]: {e}", q.topic, q.partition);
                ok = false;
            }
            None if leaders.contains_key(&(q.topic.clone(), q.partition)) => {
                eprintln!("kafkit: {} [{}]: no answer", q.topic, q.partition);
                ok = false;
            }
            None => {}
        }
    }
    client.close();
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_as_kcat_writes_them() {
        assert_eq!(
            parse_query("orders:3:1700000000000"),
            Ok(Query {
                topic: "orders".into(),
                partition: 3,
                timestamp: 1_700_000_000_000
            })
        );
        assert_eq!(parse_query("t:0:-2").map(|q| q.timestamp), Ok(-2));
        for bad in [
            "orders", "orders:1", ":0:5", "t:-1:5", "t:x:5", "t:0:soon", "t:0:-3",
        ] {
            assert!(parse_query(bad).is_err(), "{bad}");
        }
    }
}
