//! The `kafkit` binary as a user runs it: exit statuses and messages for
//! command lines that need no broker (the runs against a cluster are in
//! `scripts/interop_kcat.sh`, which needs librdkafka's mock and kcat).

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn kafkit(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kafkit");
    // kafkit may exit (e.g. on a usage error) before reading: a broken pipe is fine.
    if let Some(mut pipe) = child.stdin.take() {
        let _ = pipe.write_all(stdin);
    }
    child.wait_with_output().expect("wait")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A local address nothing listens on.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    addr.to_string()
}

#[test]
fn help_lists_the_subcommands() {
    let out = kafkit(&["--help"], b"");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("metadata") && text.contains("produce"),
        "{text}"
    );
    // Every subcommand, kcat's mode flags and the global -d / -v.
    for word in [
        "metadata",
        "produce",
        "topics",
        "groups",
        "offsets",
        "consume",
        "query",
        "-L",
        "-P",
        "-C",
        "-Q",
        "--debug",
        "--verbose",
        "--progress-interval",
    ] {
        assert!(text.contains(word), "--help lacks {word}: {text}");
    }
    let out = kafkit(&["produce", "--help"], b"");
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in ["-b", "-t", "-p", "-K", "-H", "-z", "--acks", "-X"] {
        assert!(text.contains(flag), "produce --help lacks {flag}: {text}");
    }
}

#[test]
fn unknown_property_is_a_usage_error_naming_it() {
    let out = kafkit(&["produce", "-b", "h:1", "-t", "t", "-X", "linger=5"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown property `linger`"),
        "{}",
        stderr(&out)
    );
    let out = kafkit(
        &[
            "metadata",
            "-b",
            "h:1",
            "-X",
            "ssl.keystore.location=/k.p12",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("ssl.keystore.location is not supported"),
        "{}",
        stderr(&out)
    );
    // A misspelt password key is named; its value is not repeated.
    let out = kafkit(
        &["metadata", "-b", "h:1", "-X", "sasl.pasword=hunter2"],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains("hunter2"), "{}", stderr(&out));
}

#[test]
fn missing_brokers_is_a_usage_error() {
    let out = kafkit(&["metadata"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("-b HOST:PORT"), "{}", stderr(&out));
}

#[test]
fn unreachable_cluster_fails_with_status_1() {
    let broker = closed_port();
    let out = kafkit(
        &[
            "metadata",
            "-b",
            &broker,
            "-X",
            "socket.connection.setup.timeout.ms=2000",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot connect"), "{}", stderr(&out));
    let out = kafkit(&["produce", "-b", &broker, "-t", "t"], b"a\nb\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&broker), "{}", stderr(&out));
}
