//! The command line. Flags are kcat's where the two overlap (`-b`, `-t`,
//! `-p`, `-K`, `-k`, `-H`, `-z`, `-X`, `-Z`, `-d`, `-v`); kcat's modes
//! (`-L`, `-P`, `-C`, `-Q`) are subcommands here, and also accepted as
//! flags (`kafkit -C -b ... -t ...`, see `modes.rs`).

use bytes::Bytes;
use clap::{Args, Parser, Subcommand};

use crate::admin_args::{GroupsCommand, OffsetsArgs, TopicsCommand};
use crate::common_args::{parse_delimiter, Connection};
use crate::settings::{parse_acks, parse_compression};
use kafkit::producer::Acks;
use kafkit::protocol::record::Compression;

/// kafkit: a kcat-style Kafka tool on the pure-Rust kafkit client.
#[derive(Debug, Parser)]
#[command(name = "kafkit", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Debug output on stderr for these areas, comma-separated (kcat's -d):
    /// broker, protocol, metadata, security, consumer, cgrp, fetch,
    /// producer, msg, eos, admin, rpc, all. Warnings and errors are always
    /// shown.
    #[arg(short = 'd', long = "debug", value_name = "AREAS", global = true,
          value_delimiter = ',', value_parser = crate::logging::parse_area)]
    pub debug: Vec<crate::logging::Area>,
    /// More on stderr (repeatable): -v the library's info and a progress
    /// line every few seconds for produce and consume, -vv debug, -vvv trace.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Seconds between -v's progress lines.
    #[arg(long = "progress-interval", value_name = "SECONDS", global = true,
          default_value = "5", value_parser = parse_seconds)]
    pub progress_interval: std::time::Duration,
}

impl Cli {
    /// How often to print progress, if at all (only with -v).
    pub fn progress(&self) -> Option<std::time::Duration> {
        (self.verbose > 0).then_some(self.progress_interval)
    }
}

fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.01)
        .map(std::time::Duration::from_secs_f64)
        .ok_or_else(|| format!("{s:?}: expected seconds (at least 0.01)"))
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List brokers, topics and partitions (`-L`, like `kcat -L`).
    #[command(short_flag = 'L')]
    Metadata(crate::metadata::MetadataArgs),
    /// Write one record per line of stdin (`-P`, like `kcat -P`).
    #[command(short_flag = 'P')]
    Produce(ProduceArgs),
    /// Create, delete, list or describe topics; add partitions, delete records, elect leaders.
    #[command(subcommand)]
    Topics(TopicsCommand),
    /// List or describe consumer groups; their offsets and lag, reset or delete offsets.
    #[command(subcommand)]
    Groups(GroupsCommand),
    /// A topic's earliest and latest offsets per partition, with a group's
    /// committed offsets and lag.
    Offsets(OffsetsArgs),
    /// Print records (`-C`, like `kcat -C`, or `kcat -G` with a group).
    #[command(short_flag = 'C')]
    Consume(crate::consume::ConsumeArgs),
    /// The first offset at or after a timestamp (`-Q`, like `kcat -Q`).
    #[command(short_flag = 'Q')]
    Query(crate::query::QueryArgs),
    /// Describe or alter a topic's or a broker's configuration.
    #[command(subcommand)]
    Configs(crate::admin_args::ConfigsCommand),
    /// The cluster id, the active controller and the brokers with their racks.
    Cluster(crate::admin_args::ClusterArgs),
    /// Each broker's log directories and the size of every replica in them.
    #[command(name = "logdirs")]
    LogDirs(crate::admin_disks::LogDirsArgs),
    /// Describe, create or delete SCRAM user credentials.
    #[command(subcommand)]
    Users(crate::admin_users::UsersCommand),
    /// List, create or delete ACL bindings.
    #[command(subcommand)]
    Acls(crate::admin_acls::AclsCommand),
    /// List or describe transactions (stuck-transaction diagnosis).
    #[command(subcommand)]
    Transactions(crate::admin_txn::TransactionsCommand),
    /// The producers a partition's leader tracks, with open transactions.
    Producers(crate::admin_txn::ProducersArgs),
    /// List, describe, reset or delete share groups (KIP-932) and their offsets.
    #[command(subcommand, name = "share-groups")]
    ShareGroups(crate::admin_share::ShareGroupsCommand),
}

/// `kafkit produce`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// Topic to write to.
    #[arg(short = 't', long = "topic", value_name = "TOPIC")]
    pub topic: String,
    /// Partition (-1, the default, lets the partitioner choose: murmur2 of the key).
    #[arg(
        short = 'p',
        long = "partition",
        value_name = "PARTITION",
        default_value_t = -1,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(i32).range(-1..)
    )]
    pub partition: i32,
    /// Key delimiter: the key is what precedes its first occurrence in a line
    /// (a line without it has a null key). Escapes: \t \n \r \0 \\ \xHH.
    #[arg(short = 'K', value_name = "KEY_DELIM", value_parser = parse_delimiter)]
    pub key_delimiter: Option<Bytes>,
    /// The same key for every record.
    #[arg(short = 'k', value_name = "KEY", conflicts_with = "key_delimiter")]
    pub key: Option<String>,
    /// Header NAME=VALUE added to every record (NAME alone: a null value); repeatable.
    #[arg(short = 'H', value_name = "NAME=VALUE", value_parser = parse_header)]
    pub headers: Vec<Header>,
    /// Compression codec (overrides -X compression.type).
    #[arg(short = 'z', value_name = "CODEC", value_parser = parse_compression)]
    pub compression: Option<Compression>,
    /// Acknowledgements: 0, 1, -1 or all (overrides -X acks; default all).
    #[arg(long = "acks", value_name = "N", allow_negative_numbers = true, value_parser = parse_acks)]
    pub acks: Option<Acks>,
    /// Send empty keys and values as null (a tombstone for an empty value).
    #[arg(short = 'Z')]
    pub null_empty: bool,
    /// Write all of stdin in one transaction with this transactional id:
    /// committed at end of input if every record was written, else aborted
    /// (non-zero exit). Implies acks=all and idempotence.
    #[arg(long = "transactional-id", value_name = "ID")]
    pub transactional_id: Option<String>,
}

/// One `-H` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header name.
    pub name: String,
    /// Header value; `None` for a null value.
    pub value: Option<Bytes>,
}

fn parse_header(s: &str) -> Result<Header, String> {
    let (name, value) = match s.split_once('=') {
        Some((n, v)) => (n, Some(Bytes::copy_from_slice(v.as_bytes()))),
        None => (s, None),
    };
    if name.is_empty() {
        return Err(format!("header {s:?} has an empty name"));
    }
    Ok(Header {
        name: name.to_owned(),
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("kafkit").chain(args.iter().copied()))
    }

    fn produce(args: &[&str]) -> ProduceArgs {
        match parse(args).map(|c| c.command) {
            Ok(Command::Produce(p)) => p,
            other => panic!("not a produce command: {other:?}"),
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn produce_with_every_kcat_flag() {
        let p = produce(&[
            "produce",
            "-b",
            "h1:9092,h2:9092",
            "-t",
            "orders",
            "-p",
            "2",
            "-K",
            ":",
            "-H",
            "src=kafkit",
            "-H",
            "trace",
            "-H",
            "empty=",
            "-z",
            "lz4",
            "--acks",
            "-1",
            "-X",
            "linger.ms=0",
            "-X",
            "client.id=me",
            "-Z",
        ]);
        assert_eq!(p.conn.brokers.as_deref(), Some("h1:9092,h2:9092"));
        assert_eq!(p.topic, "orders");
        assert_eq!(p.partition, 2);
        assert_eq!(p.key_delimiter, Some(Bytes::from_static(b":")));
        assert_eq!(p.compression, Some(Compression::Lz4));
        assert_eq!(p.acks, Some(Acks::All));
        assert!(p.null_empty);
        let headers: Vec<(&str, Option<&[u8]>)> = p
            .headers
            .iter()
            .map(|h| (h.name.as_str(), h.value.as_deref()))
            .collect();
        assert_eq!(
            headers,
            [
                ("src", Some(&b"kafkit"[..])),
                ("trace", None),
                ("empty", Some(&b""[..]))
            ]
        );
        assert_eq!(p.conn.settings.len(), 2);
    }

    #[test]
    fn produce_defaults() {
        let p = produce(&["produce", "-b", "h:1", "-t", "t"]);
        assert_eq!(p.partition, -1);
        assert_eq!(
            (p.key_delimiter, p.key, p.compression, p.acks),
            (None, None, None, None)
        );
        assert!(p.headers.is_empty() && p.conn.settings.is_empty() && !p.null_empty);
    }

    #[test]
    fn acks_and_codecs() {
        for (arg, want) in [
            ("0", Acks::None),
            ("1", Acks::Leader),
            ("-1", Acks::All),
            ("all", Acks::All),
        ] {
            assert_eq!(
                produce(&["produce", "-t", "t", "--acks", arg]).acks,
                Some(want)
            );
        }
        for codec in ["gzip", "snappy", "lz4", "zstd", "none"] {
            let p = produce(&["produce", "-t", "t", "-z", codec]);
            assert_eq!(p.compression.map(Compression::name), Some(codec));
        }
        assert!(parse(&["produce", "-t", "t", "--acks", "2"]).is_err());
        assert!(parse(&["produce", "-t", "t", "-z", "brotli"]).is_err());
    }

    #[test]
    fn bad_produce_command_lines_are_usage_errors() {
        use clap::error::ErrorKind;
        let kind = |args: &[&str]| parse(args).map(|_| ()).map_err(|e| e.kind());
        assert_eq!(
            kind(&["produce", "-b", "h:1"]),
            Err(ErrorKind::MissingRequiredArgument)
        );
        assert_eq!(
            kind(&["produce", "-t", "t", "-p", "-2"]),
            Err(ErrorKind::ValueValidation)
        );
        assert_eq!(
            kind(&["produce", "-t", "t", "-X", "nope=1"]),
            Err(ErrorKind::ValueValidation)
        );
        assert_eq!(
            kind(&["produce", "-t", "t", "-H", "=v"]),
            Err(ErrorKind::ValueValidation)
        );
        assert_eq!(
            kind(&["produce", "-t", "t", "-K", ":", "-k", "x"]),
            Err(ErrorKind::ArgumentConflict)
        );
        assert_eq!(kind(&["frobnicate"]), Err(ErrorKind::InvalidSubcommand));
        let err = parse(&["produce", "-t", "t", "-X", "sasl.pasword=hunter2"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueValidation);
        let shown = err.to_string();
        assert!(
            shown.contains("sasl.pasword") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn metadata_flags() {
        let Ok(Command::Metadata(m)) =
            parse(&["metadata", "-b", "h:1", "-t", "x", "-O"]).map(|c| c.command)
        else {
            panic!("metadata")
        };
        assert_eq!(
            (m.conn.brokers.as_deref(), m.topic.as_deref(), m.offsets),
            (Some("h:1"), Some("x"), true)
        );
        let Ok(Command::Metadata(m)) =
            parse(&["metadata", "-X", "bootstrap.servers=h:2"]).map(|c| c.command)
        else {
            panic!("metadata")
        };
        assert_eq!((m.conn.brokers, m.topic, m.offsets), (None, None, false));
    }

    #[test]
    fn topics_groups_and_offsets_flags() {
        let Ok(Command::Topics(TopicsCommand::Create(c))) = parse(&[
            "topics",
            "create",
            "-b",
            "h:1",
            "-t",
            "a",
            "-t",
            "b",
            "-p",
            "3",
            "-r",
            "2",
            "--config",
            "cleanup.policy=compact",
            "--config",
            "retention.ms=1000",
            "--validate-only",
        ])
        .map(|c| c.command) else {
            panic!("topics create")
        };
        assert_eq!(c.topics, ["a", "b"]);
        assert_eq!(
            (c.partitions, c.replication_factor, c.validate_only),
            (3, 2, true)
        );
        assert_eq!(
            c.configs,
            [
                ("cleanup.policy".to_owned(), "compact".to_owned()),
                ("retention.ms".to_owned(), "1000".to_owned())
            ]
        );
        let Ok(Command::Topics(TopicsCommand::Create(c))) =
            parse(&["topics", "create", "-t", "a"]).map(|c| c.command)
        else {
            panic!("topics create")
        };
        assert_eq!(
            (c.partitions, c.replication_factor, c.validate_only),
            (-1, -1, false)
        );
        assert!(matches!(
            parse(&["topics", "delete", "-t", "x"]).map(|c| c.command),
            Ok(Command::Topics(TopicsCommand::Delete(d))) if d.topics == ["x"]
        ));
        assert!(matches!(
            parse(&["topics", "list", "--internal"]).map(|c| c.command),
            Ok(Command::Topics(TopicsCommand::List(l))) if l.internal
        ));
        assert!(matches!(
            parse(&["groups", "list", "-b", "h:1"]).map(|c| c.command),
            Ok(Command::Groups(GroupsCommand::List(_)))
        ));
        assert!(matches!(
            parse(&["groups", "describe", "-G", "g"]).map(|c| c.command),
            Ok(Command::Groups(GroupsCommand::Describe(d))) if d.groups == ["g"]
        ));
        let Ok(Command::Offsets(o)) = parse(&["offsets", "-t", "t", "-G", "g"]).map(|c| c.command)
        else {
            panic!("offsets")
        };
        assert_eq!((o.topic.as_str(), o.group.as_deref()), ("t", Some("g")));
        use clap::error::ErrorKind;
        let kind = |args: &[&str]| parse(args).map(|_| ()).map_err(|e| e.kind());
        assert_eq!(
            kind(&["topics", "create"]),
            Err(ErrorKind::MissingRequiredArgument)
        );
        assert_eq!(
            kind(&["topics", "create", "-t", "a", "-p", "-2"]),
            Err(ErrorKind::ValueValidation)
        );
        assert_eq!(
            kind(&["topics", "create", "-t", "a", "--config", "x"]),
            Err(ErrorKind::ValueValidation)
        );
        assert_eq!(
            kind(&["groups", "describe"]),
            Err(ErrorKind::MissingRequiredArgument)
        );
        assert_eq!(kind(&["offsets"]), Err(ErrorKind::MissingRequiredArgument));
    }
}
