//! `kafkit topics` and `kafkit offsets` as a user runs them, against tansu
//! (a Kafka-compatible broker in Rust; see tests/support/tansu.rs at the
//! repository root for how it is found and started).

#[path = "../../tests/support/tansu.rs"]
mod tansu;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use tansu::Tansu;

fn kafkit(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kafkit");
    if let Some(mut pipe) = child.stdin.take() {
        let _ = pipe.write_all(stdin);
    }
    child.wait_with_output().expect("wait")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs kafkit against `broker`, expecting exit status `code`; returns stdout.
fn run(broker: &str, args: &[&str], stdin: &[u8], code: i32) -> String {
    let mut full = args.to_vec();
    full.extend(["-b", broker]);
    let out = kafkit(&full, stdin);
    assert_eq!(
        out.status.code(),
        Some(code),
        "kafkit {args:?}\nstdout: {}\nstderr: {}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

#[test]
fn topics_and_offsets_on_tansu() {
    let Some(tansu) = Tansu::start() else { return };
    let b = tansu.bootstrap.as_str();
    let out = run(
        b,
        &[
            "topics", "create", "-t", "cli-a", "-t", "cli-b", "-p", "2", "-r", "1",
        ],
        b"",
        0,
    );
    assert_eq!(out, "created topic \"cli-a\"\ncreated topic \"cli-b\"\n");
    let out = run(
        b,
        &[
            "topics",
            "create",
            "-t",
            "cli-c",
            "-p",
            "1",
            "-r",
            "1",
            "--validate-only",
        ],
        b"",
        0,
    );
    assert_eq!(out, "validated topic \"cli-c\"\n");
    // tansu 0.6.0 ignores validate_only and creates the topic (DESIGN.md).
    run(b, &["topics", "delete", "-t", "cli-c"], b"", 0);
    // An existing topic: its own line and exit status 1.
    let out = run(
        b,
        &["topics", "create", "-t", "cli-a", "-p", "2", "-r", "1"],
        b"",
        1,
    );
    assert!(
        out.starts_with("topic \"cli-a\" failed: TOPIC_ALREADY_EXISTS(36)"),
        "{out}"
    );
    let out = run(b, &["topics", "list"], b"", 0);
    assert_eq!(
        out,
        "cli-a  partitions=2  replicas=1\ncli-b  partitions=2  replicas=1\n"
    );

    // One record per run, so one per batch: tansu 0.6.0 reports the high
    // watermark as the last batch's base offset + 1 (DESIGN.md).
    for line in ["one\n", "two\n", "three\n"] {
        run(
            b,
            &["produce", "-t", "cli-a", "-p", "1"],
            line.as_bytes(),
            0,
        );
    }
    let out = run(b, &["offsets", "-t", "cli-a"], b"", 0);
    assert_eq!(
        out,
        "partition  earliest  latest\n0          0         0\n1          0         3\n"
    );

    // No group has offsets: an empty listing from the one broker.
    assert_eq!(run(b, &["groups", "list"], b"", 0), "");

    let out = run(b, &["topics", "delete", "-t", "cli-b"], b"", 0);
    assert_eq!(out, "deleted topic \"cli-b\"\n");
    let out = run(b, &["topics", "list"], b"", 0);
    assert_eq!(out, "cli-a  partitions=2  replicas=1\n");
}
