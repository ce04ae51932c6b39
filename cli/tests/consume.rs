//! `kafkit consume` command lines that need no broker: help and usage
//! errors (runs against a cluster are in `scripts/interop_kcat.sh`).

use std::process::{Command, Output};

fn kafkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .args(args)
        .output()
        .expect("run kafkit")
}

#[test]
fn help_lists_kcats_consumer_flags() {
    let out = kafkit(&["consume", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in ["-b", "-t", "-p", "-G", "-o", "-c", "-e", "-J", "-K", "-X"] {
        assert!(text.contains(flag), "consume --help lacks {flag}: {text}");
    }
}

#[test]
fn contradictory_flags_are_usage_errors() {
    for (args, says) in [
        (
            &["consume", "-b", "h:1", "-t", "t", "-o", "stored"][..],
            "-G",
        ),
        (
            &["consume", "-b", "h:1", "-t", "t", "-G", "g", "-o", "7"],
            "beginning",
        ),
        (
            &["consume", "-b", "h:1", "-t", "t", "-G", "g", "-p", "0"],
            "-p",
        ),
        (&["consume", "-b", "h:1"], "no topic"),
        (&["consume", "-b", "h:1", "-t", "t", "-o", "later"], "later"),
    ] {
        let out = kafkit(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn unreachable_cluster_fails_with_status_1() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let broker = listener.local_addr().expect("addr").to_string();
    drop(listener);
    let out = kafkit(&["consume", "-b", &broker, "-t", "t", "-e"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect"), "{err}");
}
