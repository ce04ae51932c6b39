//! `kafkit consume`'s command line: kcat's consumer flags (`-C` mode).

use bytes::Bytes;
use clap::Args;

use crate::common_args::{parse_delimiter, Connection};

/// `kafkit consume`.
#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// Topic to read; repeatable (topics may also follow the flags, as with `kcat -G`).
    #[arg(short = 't', long = "topic", value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// More topics.
    #[arg(value_name = "TOPIC")]
    pub more_topics: Vec<String>,
    /// Only this partition of each topic (without -G).
    #[arg(short = 'p', long = "partition", value_name = "PARTITION",
          value_parser = clap::value_parser!(i32).range(0..))]
    pub partition: Option<i32>,
    /// Join this consumer group: partitions are assigned by the group and
    /// processed offsets are committed (every 5 s and on exit).
    #[arg(short = 'G', long = "group", value_name = "GROUP")]
    pub group: Option<String>,
    /// Join this share group (KIP-932): the brokers hand each record to one
    /// member; every record printed is accepted, the rest released on exit.
    #[arg(long = "share-group", value_name = "NAME")]
    pub share_group: Option<String>,
    /// Where to start: beginning, end, stored (the group's committed offset),
    /// OFFSET (absolute), -N (N records before the end) or s@TIMESTAMP (the
    /// first record at or after it, in ms). Default: stored with -G (end
    /// where nothing is committed), beginning without.
    #[arg(short = 'o', value_name = "OFFSET", allow_hyphen_values = true,
          value_parser = parse_start)]
    pub offset: Option<StartOffset>,
    /// Stop after COUNT records.
    #[arg(short = 'c', value_name = "COUNT")]
    pub count: Option<u64>,
    /// Exit once every partition read has been read to its end.
    #[arg(short = 'e')]
    pub exit_at_end: bool,
    /// One JSON object per record, with the fields of `kcat -J`.
    #[arg(short = 'J', conflicts_with = "format")]
    pub json: bool,
    /// kcat's output format: %s value, %k key, %t topic, %p partition,
    /// %o offset, %T timestamp, %h headers, %S/%K lengths, \n \t escapes.
    #[arg(short = 'f', value_name = "FORMAT", value_parser = super::format::parse_format,
          conflicts_with = "key_delimiter")]
    pub format: Option<super::format::Pattern>,
    /// Print each key before its value, followed by this delimiter
    /// (escapes as for produce -K).
    #[arg(short = 'K', value_name = "KEY_DELIM", value_parser = parse_delimiter)]
    pub key_delimiter: Option<Bytes>,
    /// No informational messages on stderr.
    #[arg(short = 'q')]
    pub quiet: bool,
}

/// `-o`: where each partition starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOffset {
    /// The oldest record kept.
    Beginning,
    /// Only records written from now on.
    End,
    /// The group's committed offset.
    Stored,
    /// This offset in every partition.
    Absolute(i64),
    /// This many records before each partition's end.
    FromEnd(i64),
    /// The first record at or after this time (ms since the epoch); the
    /// end where there is none.
    Timestamp(i64),
}

fn parse_start(s: &str) -> Result<StartOffset, String> {
    match s {
        "beginning" => Ok(StartOffset::Beginning),
        "end" => Ok(StartOffset::End),
        "stored" => Ok(StartOffset::Stored),
        _ if s.starts_with("s@") => match s[2..].parse::<i64>() {
            Ok(ts) if ts >= 0 => Ok(StartOffset::Timestamp(ts)),
            _ => Err(format!("{s:?}: expected s@TIMESTAMP (ms since the epoch)")),
        },
        _ if s.starts_with("e@") => Err(format!("{s}: stop timestamps are not supported")),
        _ => match s.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(StartOffset::Absolute(n)),
            Ok(n) => Ok(StartOffset::FromEnd(n.saturating_neg())),
            Err(_) => Err(format!(
                "{s:?}: expected beginning, end, stored, an offset or -N"
            )),
        },
    }
}

impl ConsumeArgs {
    /// Every topic named, in order, without repeats.
    pub fn all_topics(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in self.topics.iter().chain(&self.more_topics) {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
        out
    }

    /// Combinations clap cannot express; the message is a usage error.
    pub fn check(&self) -> Result<(), String> {
        if self.all_topics().is_empty() {
            return Err("no topic: give -t TOPIC".to_owned());
        }
        if self.share_group.is_some() {
            return if self.group.is_some() || self.partition.is_some() || self.offset.is_some() {
                Err(
                    "--share-group cannot be used with -G, -p or -o (the share group \
                     assigns partitions and keeps the position)"
                        .to_owned(),
                )
            } else {
                Ok(())
            };
        }
        match (&self.group, self.offset) {
            (None, Some(StartOffset::Stored)) => {
                Err("-o stored needs a group (-G GROUP)".to_owned())
            }
            (
                Some(_),
                Some(
                    StartOffset::Absolute(_) | StartOffset::FromEnd(_) | StartOffset::Timestamp(_),
                ),
            ) => Err(
                "with -G, -o takes beginning, end or stored (the group assigns partitions)"
                    .to_owned(),
            ),
            (Some(_), _) if self.partition.is_some() => {
                Err("-p cannot be used with -G (the group assigns partitions)".to_owned())
            }
            _ => Ok(()),
        }
    }

    /// The effective start position.
    pub fn start(&self) -> StartOffset {
        self.offset.unwrap_or(if self.group.is_some() {
            StartOffset::Stored
        } else {
            StartOffset::Beginning
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn consume(args: &[&str]) -> Result<ConsumeArgs, String> {
        let cli = Cli::try_parse_from(
            ["kafkit", "consume"]
                .into_iter()
                .chain(args.iter().copied()),
        )
        .map_err(|e| e.to_string())?;
        match cli.command {
            Command::Consume(c) => c.check().map(|()| c),
            other => Err(format!("not consume: {other:?}")),
        }
    }

    #[test]
    fn kcat_flags() {
        let c = consume(&[
            "-b",
            "h:1",
            "-t",
            "a",
            "-t",
            "b",
            "-G",
            "g",
            "-o",
            "beginning",
            "-c",
            "10",
            "-e",
            "-J",
            "-K",
            ":",
            "c",
            "a",
        ])
        .unwrap();
        assert_eq!(c.all_topics(), ["a", "b", "c"]);
        assert_eq!(c.group.as_deref(), Some("g"));
        assert_eq!(c.start(), StartOffset::Beginning);
        assert_eq!(c.count, Some(10));
        assert!(c.exit_at_end && c.json);
        assert_eq!(c.key_delimiter.as_deref(), Some(&b":"[..]));
    }

    #[test]
    fn offsets() {
        let start = |o: &str| consume(&["-t", "t", "-o", o]).map(|c| c.start());
        assert_eq!(start("end"), Ok(StartOffset::End));
        assert_eq!(start("42"), Ok(StartOffset::Absolute(42)));
        assert_eq!(start("-10"), Ok(StartOffset::FromEnd(10)));
        assert!(start("stored").unwrap_err().contains("-G"));
        assert_eq!(start("s@1000"), Ok(StartOffset::Timestamp(1000)));
        assert!(start("s@soon").is_err());
        assert!(start("e@1000").unwrap_err().contains("not supported"));
        assert!(start("soon").is_err());
        assert_eq!(
            consume(&["-t", "t"]).map(|c| c.start()),
            Ok(StartOffset::Beginning)
        );
        assert_eq!(
            consume(&["-t", "t", "-G", "g"]).map(|c| c.start()),
            Ok(StartOffset::Stored)
        );
        assert!(consume(&["-t", "t", "-G", "g", "-o", "5"]).is_err());
        assert!(consume(&["-t", "t", "-G", "g", "-p", "1"]).is_err());
        assert!(consume(&["-b", "h:1"]).unwrap_err().contains("no topic"));
        let share = consume(&["-t", "t", "--share-group", "s", "-c", "3"]).unwrap();
        assert_eq!(share.share_group.as_deref(), Some("s"));
        for bad in [["-G", "g"], ["-p", "1"], ["-o", "end"]] {
            let args = ["-t", "t", "--share-group", "s", bad[0], bad[1]];
            assert!(consume(&args).unwrap_err().contains("--share-group"));
        }
    }
}
