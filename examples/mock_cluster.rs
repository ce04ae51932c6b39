//! A throwaway Kafka cluster for scripts: librdkafka's in-process mock
//! cluster (through the `rdkafka` dev-dependency), kept alive until stdin
//! closes or the process is killed.
//!
//! ```sh
//! cargo run --example mock_cluster -- --brokers 3 --racks orders:4 events
//! ```
//!
//! Prints the bootstrap servers as the first line on stdout, then `ready`
//! once every topic exists. Topics are `NAME[:PARTITIONS]` (default 1
//! partition), replicated on min(3, brokers) brokers. `--racks` puts broker
//! `n` in rack `rack<n>`. Broker ids are 1..=brokers.
//!
//! The group APIs are capped at the versions the mock can parse (JoinGroup
//! v5, SyncGroup v3, LeaveGroup v2): librdkafka 2.12's mock advertises newer
//! flexible versions its handlers misread (see `cap_mock_group_versions` in
//! tests/support), so a kafkit group consumer negotiates these instead.
//! `--uncapped` leaves the mock's own ranges: a kafkit group consumer then
//! sees the mock drop the connection on JoinGroup v6+, reports it and
//! steps the version down (tests/dropped_request.rs).
//!
//! Dev-only: this is the one place a program links C (librdkafka); the
//! library and the `kafkit` CLI never do.

use std::io::{BufRead, Write};

use rdkafka::mocking::MockCluster;
use rdkafka::types::RDKafkaApiKey;

type BoxError = Box<dyn std::error::Error>;

const USAGE: &str =
    "usage: mock_cluster [--brokers N] [--racks] [--uncapped] [TOPIC[:PARTITIONS]]...";

struct Options {
    brokers: i32,
    racks: bool,
    /// Keep the mock's advertised group API versions.
    uncapped: bool,
    topics: Vec<(String, i32)>,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Options, BoxError> {
    let mut opts = Options {
        brokers: 3,
        racks: false,
        uncapped: false,
        topics: Vec::new(),
    };
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Err(USAGE.into()),
            "--racks" => opts.racks = true,
            "--uncapped" => opts.uncapped = true,
            "--brokers" | "-n" => {
                let n = args.next().ok_or(USAGE)?;
                opts.brokers = n.parse().map_err(|_| format!("bad broker count {n:?}"))?;
                if opts.brokers < 1 {
                    return Err("need at least one broker".into());
                }
            }
            other if other.starts_with('-') => return Err(format!("{other}: {USAGE}").into()),
            topic => {
                let (name, partitions) = match topic.split_once(':') {
                    Some((name, p)) => (
                        name,
                        p.parse()
                            .map_err(|_| format!("bad partition count in {topic:?}"))?,
                    ),
                    None => (topic, 1),
                };
                if name.is_empty() || partitions < 1 {
                    return Err(format!("bad topic {topic:?}").into());
                }
                opts.topics.push((name.to_owned(), partitions));
            }
        }
    }
    Ok(opts)
}

fn main() -> Result<(), BoxError> {
    let opts = parse_args(std::env::args().skip(1))?;
    let mock = MockCluster::new(opts.brokers)?;
    let caps = [
        (RDKafkaApiKey::JoinGroup, 5),
        (RDKafkaApiKey::SyncGroup, 3),
        (RDKafkaApiKey::LeaveGroup, 2),
    ];
    for (api, max) in caps.into_iter().filter(|_| !opts.uncapped) {
        mock.apiversion(api, None, Some(max))?;
    }
    if opts.racks {
        for id in 1..=opts.brokers {
            mock.broker_rack(id, &format!("rack{id}"))?;
        }
    }
    for (name, partitions) in &opts.topics {
        mock.create_topic(name, *partitions, opts.brokers.min(3))?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", mock.bootstrap_servers())?;
    writeln!(out, "ready")?;
    out.flush()?;
    drop(out);
    // Block until stdin reaches end of file (the parent closed its end).
    let mut sink = Vec::new();
    let mut stdin = std::io::stdin().lock();
    while stdin.read_until(b'\n', &mut sink)? > 0 {
        sink.clear();
    }
    drop(mock);
    Ok(())
}
