//! librdkafka's mock cluster as a stand-alone broker process, for benchmarks
//! and manual testing with other tools (kcat, kafka-python, ...).
//!
//! ```text
//! cargo run --example mock_cluster -- [--brokers N] [TOPIC:PARTITIONS ...]
//! ```
//!
//! Starts `N` mock brokers (default 3), creates each `TOPIC` with
//! `PARTITIONS` partitions (replication factor `min(N, 3)`), prints the
//! bootstrap servers as the first line on stdout and runs until stdin is
//! closed (end of file), so a parent process stops it by dropping the pipe.

use std::io::{BufRead, Write};

use rdkafka::mocking::MockCluster;

fn main() {
    if let Err(e) = run() {
        eprintln!("mock_cluster: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut brokers: i32 = 3;
    let mut topics: Vec<(String, i32)> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--brokers" {
            let n = args.next().ok_or("--brokers needs a number")?;
            brokers = n.parse().map_err(|_| format!("bad broker count {n:?}"))?;
            continue;
        }
        let (name, partitions) = arg
            .rsplit_once(':')
            .ok_or_else(|| format!("expected TOPIC:PARTITIONS, got {arg:?}"))?;
        let partitions = partitions
            .parse()
            .map_err(|_| format!("bad partition count in {arg:?}"))?;
        topics.push((name.to_owned(), partitions));
    }
    let cluster = MockCluster::new(brokers).map_err(|e| format!("start: {e}"))?;
    for (name, partitions) in &topics {
        cluster
            .create_topic(name, *partitions, brokers.min(3))
            .map_err(|e| format!("create topic {name}: {e}"))?;
    }
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", cluster.bootstrap_servers()).map_err(|e| e.to_string())?;
    stdout.flush().map_err(|e| e.to_string())?;
    // Run until the parent closes our stdin.
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
    }
    Ok(())
}
