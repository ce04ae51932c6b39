//! The command lines of the administrative subcommands: `kafkit topics`,
//! `kafkit groups`, `kafkit offsets`, `kafkit configs` and `kafkit cluster`.

use clap::{Args, Subcommand};

use crate::common_args::{parse_topic_partitions, Connection};

/// `kafkit topics ...`.
#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// Create topics (on the controller).
    Create(TopicsCreateArgs),
    /// Delete topics (on the controller).
    Delete(TopicsDeleteArgs),
    /// List the cluster's topics.
    List(TopicsListArgs),
    /// Describe topics: id, partitions, leaders, replicas, in-sync replicas.
    Describe(TopicsDescribeArgs),
    /// Raise topics' partition counts.
    CreatePartitions(CreatePartitionsArgs),
    /// Delete the records before an offset (at each partition's leader).
    DeleteRecords(DeleteRecordsArgs),
    /// Elect the preferred (or, with --unclean, any live) replica as leader.
    ElectLeaders(ElectLeadersArgs),
}

/// `kafkit topics create`.
#[derive(Debug, Args)]
pub struct TopicsCreateArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// Topic to create; repeatable.
    #[arg(short = 't', long = "topic", value_name = "TOPIC", required = true)]
    pub topics: Vec<String>,
    /// Partitions (-1: the broker's default).
    #[arg(
        short = 'p',
        long = "partitions",
        value_name = "N",
        default_value_t = -1,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(i32).range(-1..)
    )]
    pub partitions: i32,
    /// Replication factor (-1: the broker's default).
    #[arg(
        short = 'r',
        long = "replication-factor",
        value_name = "N",
        default_value_t = -1,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(i16).range(-1..)
    )]
    pub replication_factor: i16,
    /// Topic configuration KEY=VALUE; repeatable.
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_topic_config)]
    pub configs: Vec<(String, String)>,
    /// Only check that the topics could be created.
    #[arg(long = "validate-only")]
    pub validate_only: bool,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit topics delete`.
#[derive(Debug, Args)]
pub struct TopicsDeleteArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// Topic to delete; repeatable.
    #[arg(short = 't', long = "topic", value_name = "TOPIC", required = true)]
    pub topics: Vec<String>,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit topics list`.
#[derive(Debug, Args)]
pub struct TopicsListArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// Include internal topics (`__consumer_offsets`).
    #[arg(long = "internal")]
    pub internal: bool,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit topics elect-leaders`.
#[derive(Debug, Args)]
pub struct ElectLeadersArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// TOPIC (every partition) or TOPIC:P[,P...]; repeatable.
    #[arg(short = 't', long = "topic", value_name = "TOPIC[:P,..]", required = true, value_parser = parse_topic_partitions)]
    pub topics: Vec<(String, Vec<i32>)>,
    /// Elect any live replica, even an out-of-sync one (may lose records).
    #[arg(long = "unclean")]
    pub unclean: bool,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit groups ...`.
#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// List the groups of every broker.
    List(GroupsListArgs),
    /// Describe a group: state, protocol, members and their partitions.
    Describe(GroupsDescribeArgs),
    /// Committed offsets and lag of one or more groups.
    Offsets(GroupsOffsetsArgs),
    /// Reset a group's offsets (a dry run unless --execute; refused while
    /// the group has members).
    ResetOffsets(ResetOffsetsArgs),
    /// Delete a group's committed offsets of some partitions.
    DeleteOffsets(DeleteOffsetsArgs),
}

/// `kafkit groups list`.
#[derive(Debug, Args)]
pub struct GroupsListArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// Only groups in this state (`Stable`, `Empty`, ...); repeatable.
    #[arg(long = "state", value_name = "STATE")]
    pub states: Vec<String>,
    /// Only groups of this type (`classic`, `consumer`, `share`); repeatable.
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// Print JSON (with each group's state and type).
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit groups describe`.
#[derive(Debug, Args)]
pub struct GroupsDescribeArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// Group to describe; repeatable.
    #[arg(short = 'G', long = "group", value_name = "GROUP", required = true)]
    pub groups: Vec<String>,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit offsets`.
#[derive(Debug, Args)]
pub struct OffsetsArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// The topic.
    #[arg(short = 't', long = "topic", value_name = "TOPIC")]
    pub topic: String,
    /// Also show this group's committed offsets and lag.
    #[arg(short = 'G', long = "group", value_name = "GROUP")]
    pub group: Option<String>,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

fn parse_topic_config(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("topic config {s:?} is not KEY=VALUE")),
    }
}

/// `kafkit configs ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigsCommand {
    /// Show a topic's or a broker's configuration: value, source, synonyms.
    Describe(ConfigsDescribeArgs),
    /// Set or delete single keys of a topic's or a broker's configuration.
    Alter(ConfigsAlterArgs),
}

/// Which resource a `configs` command concerns.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ConfigTarget {
    /// The topic.
    #[arg(long = "topic", value_name = "TOPIC")]
    pub topic: Option<String>,
    /// The broker, by node id.
    #[arg(long = "broker", value_name = "ID")]
    pub broker: Option<i32>,
}

/// `kafkit configs describe`.
#[derive(Debug, Args)]
pub struct ConfigsDescribeArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// The resource.
    #[command(flatten)]
    pub target: ConfigTarget,
    /// Only these keys; repeatable.
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// Also print each key's synonyms (its value at every source).
    #[arg(long = "synonyms")]
    pub synonyms: bool,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit configs alter`.
#[derive(Debug, Args)]
pub struct ConfigsAlterArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// The resource.
    #[command(flatten)]
    pub target: ConfigTarget,
    /// Set KEY to VALUE; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
    /// Remove KEY (the next source's value applies); repeatable.
    #[arg(long = "delete", value_name = "KEY")]
    pub delete: Vec<String>,
    /// Only check that the change would be accepted.
    #[arg(long = "validate-only")]
    pub validate_only: bool,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit cluster`.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit topics describe`.
#[derive(Debug, Args)]
pub struct TopicsDescribeArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// Topic to describe; repeatable.
    #[arg(short = 't', long = "topic", value_name = "TOPIC", required = true)]
    pub topics: Vec<String>,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit topics create-partitions`.
#[derive(Debug, Args)]
pub struct CreatePartitionsArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// Topic to grow; repeatable.
    #[arg(short = 't', long = "topic", value_name = "TOPIC", required = true)]
    pub topics: Vec<String>,
    /// The new total partition count.
    #[arg(short = 'p', long = "partitions", value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    pub partitions: i32,
    /// Only check that the topics could grow.
    #[arg(long = "validate-only")]
    pub validate_only: bool,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit topics delete-records`.
#[derive(Debug, Args)]
pub struct DeleteRecordsArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// TOPIC (every partition) or TOPIC:P[,P...]; repeatable.
    #[arg(short = 't', long = "topic", value_name = "TOPIC[:P,..]", required = true, value_parser = parse_topic_partitions)]
    pub topics: Vec<(String, Vec<i32>)>,
    /// Delete the records before this offset (-1: every record).
    #[arg(long = "before", value_name = "OFFSET", allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(-1..))]
    pub before: i64,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit groups offsets`.
#[derive(Debug, Args)]
pub struct GroupsOffsetsArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// Group; repeatable (the groups of one coordinator are asked at once).
    #[arg(short = 'G', long = "group", value_name = "GROUP", required = true)]
    pub groups: Vec<String>,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// Where `groups reset-offsets` moves the offsets.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ResetTo {
    /// To the log start.
    #[arg(long = "to-earliest")]
    pub earliest: bool,
    /// To the high watermark.
    #[arg(long = "to-latest")]
    pub latest: bool,
    /// To the first record at or after a time: YYYY-MM-DDTHH:MM:SS[.sss] (UTC) or ms since the epoch.
    #[arg(long = "to-datetime", value_name = "TIME", value_parser = parse_datetime)]
    pub datetime: Option<i64>,
    /// By N from the committed offset (negative: back).
    #[arg(long = "shift-by", value_name = "N", allow_negative_numbers = true)]
    pub shift_by: Option<i64>,
    /// To this offset.
    #[arg(long = "to-offset", value_name = "OFFSET")]
    pub offset: Option<i64>,
}

/// `kafkit groups reset-offsets`.
#[derive(Debug, Args)]
pub struct ResetOffsetsArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// The group (it must have no members).
    #[arg(short = 'G', long = "group", value_name = "GROUP")]
    pub group: String,
    /// TOPIC (every partition) or TOPIC:P[,P...]; repeatable.
    #[arg(short = 't', long = "topic", value_name = "TOPIC[:P,..]", required = true, value_parser = parse_topic_partitions)]
    pub topics: Vec<(String, Vec<i32>)>,
    /// The target.
    #[command(flatten)]
    pub to: ResetTo,
    /// Commit the plan (without it, only print it).
    #[arg(long = "execute")]
    pub execute: bool,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit groups delete-offsets`.
#[derive(Debug, Args)]
pub struct DeleteOffsetsArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// The group.
    #[arg(short = 'G', long = "group", value_name = "GROUP")]
    pub group: String,
    /// TOPIC (every partition) or TOPIC:P[,P...]; repeatable.
    #[arg(short = 't', long = "topic", value_name = "TOPIC[:P,..]", required = true, value_parser = parse_topic_partitions)]
    pub topics: Vec<(String, Vec<i32>)>,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

/// Milliseconds since the epoch, or `YYYY-MM-DDTHH:MM:SS[.sss][Z]` in UTC.
pub fn parse_datetime(s: &str) -> Result<i64, String> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    let bad = || format!("{s:?} is not YYYY-MM-DDTHH:MM:SS[.sss] (UTC) or milliseconds");
    let s = s.strip_suffix('Z').unwrap_or(s);
    let (date, time) = s.split_once('T').ok_or_else(bad)?;
    let num = |p: &str| p.parse::<i64>().map_err(|_| bad());
    let d: Vec<&str> = date.split('-').collect();
    let (time, millis) = match time.split_once('.') {
        Some((t, f)) if f.len() == 3 => (t, num(f)?),
        Some(_) => return Err(bad()),
        None => (time, 0),
    };
    let t: Vec<&str> = time.split(':').collect();
    let ([y, m, day], [h, mi, sec]) = (d.as_slice(), t.as_slice()) else {
        return Err(bad());
    };
    let (y, m, day, h, mi, sec) = (num(y)?, num(m)?, num(day)?, num(h)?, num(mi)?, num(sec)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    Ok(((days_from_civil(y, m, day) * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil` algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_parse() {
        assert_eq!(parse_datetime("1700000000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_datetime("1970-01-01T00:00:00"), Ok(0));
        assert_eq!(
            parse_datetime("2023-11-14T22:13:20.123Z"),
            Ok(1_700_000_000_123)
        );
        assert_eq!(parse_datetime("2000-03-01T00:00:01"), Ok(951_868_801_000));
        assert!(parse_datetime("2023-13-01T00:00:00").is_err());
        assert!(parse_datetime("yesterday").is_err());
    }
}
