//! `kafkit share-groups list|describe|offsets|reset|delete` against a real
//! Apache Kafka broker: a share group made by `kafkit consume
//! --share-group` (which accepts the 4 records it prints) is listed,
//! described (an unknown group next to it fails: exit status 1), its
//! offsets read, reset to the earliest offset (lag back to every record),
//! its state of the topic deleted and the group deleted.

#[path = "../../tests/support/kafka.rs"]
mod kafka;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs kafkit against `broker` with `stdin`, expecting exit status `code`;
/// returns stdout.
fn run(broker: &str, args: &[&str], stdin: &[u8], code: i32) -> String {
    let mut full = args.to_vec();
    full.extend(["-b", broker]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .args(&full)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kafkit");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin).expect("write stdin");
    drop(input);
    let out = child.wait_with_output().expect("kafkit output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "kafkit {args:?}\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `share-groups offsets --json` until `want` holds (the broker persists
/// share state a moment after the acknowledgement).
fn offsets_until(b: &str, group: &str, topic: &str, want: impl Fn(&serde_json::Value) -> bool) {
    let give_up = Instant::now() + Duration::from_secs(20);
    loop {
        let args = [
            "share-groups",
            "offsets",
            "-g",
            group,
            "-t",
            topic,
            "--json",
        ];
        let got = json(&run(b, &args, b"", 0));
        if want(&got) {
            return;
        }
        assert!(Instant::now() < give_up, "offsets stay {got}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn share_groups_list_describe_offsets_reset_delete_on_kafka() {
    let Some(k) = kafka::single() else { return };
    let b = k.bootstrap.as_str();
    let (topic, group) = (kafka::unique("cli-sg"), kafka::unique("cli-sg"));
    let create = ["topics", "create", "-t", &topic, "-p", "2", "-r", "1"];
    run(b, &create, b"", 0);
    let mut reader = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .args([
            "consume",
            "--share-group",
            &group,
            "-t",
            &topic,
            "-c",
            "4",
            "-b",
            b,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kafkit");
    let mut stderr = BufReader::new(reader.stderr.take().expect("stderr")).lines();
    let first = stderr.next().and_then(Result::ok).unwrap_or_default();
    assert_eq!(first, format!("kafkit: share group {group}: fetching"));
    run(b, &["produce", "-t", &topic, "-p", "0"], b"a\nb\n", 0);
    run(b, &["produce", "-t", &topic, "-p", "1"], b"c\nd\n", 0);
    let out = reader.wait_with_output().expect("wait");
    assert!(out.status.success(), "{out:?}");

    let listed = json(&run(b, &["share-groups", "list", "--json"], b"", 0));
    let ours = listed
        .as_array()
        .and_then(|l| l.iter().find(|g| g["group"] == group.as_str()))
        .unwrap_or_else(|| panic!("{group} not listed: {listed}"));
    assert_eq!(ours["state"], "Empty", "the reader left: {ours}");

    let args = [
        "share-groups",
        "describe",
        "-g",
        &group,
        "-g",
        "no-such-share-group",
        "--json",
    ];
    let described = json(&run(b, &args, b"", 1));
    assert_eq!(described[0]["ok"], true, "{described}");
    assert_eq!(described[0]["state"], "Empty");
    assert_eq!(described[1]["ok"], false, "{described}");
    assert!(
        described[1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("GROUP_ID_NOT_FOUND")),
        "{described}"
    );

    offsets_until(b, &group, &topic, |o| {
        o.as_array()
            .is_some_and(|l| l.len() == 2 && l.iter().all(|p| p["lag"] == 0))
    });
    let args = [
        "share-groups",
        "reset",
        "-g",
        &group,
        "-t",
        &topic,
        "--to-earliest",
    ];
    let reset = run(b, &args, b"", 0);
    assert_eq!(reset, format!("{topic}/0  reset\n{topic}/1  reset\n"));
    offsets_until(b, &group, &topic, |o| {
        o.as_array().is_some_and(|l| {
            l.len() == 2 && l.iter().all(|p| p["start_offset"] == 0 && p["lag"] == 2)
        })
    });
    let text = run(
        b,
        &["share-groups", "offsets", "-g", &group, "-t", &topic],
        b"",
        0,
    );
    assert_eq!(
        text,
        format!("{topic}/0  start=0  lag=2\n{topic}/1  start=0  lag=2\n")
    );

    let args = [
        "share-groups",
        "delete",
        "-g",
        &group,
        "-t",
        &topic,
        "--json",
    ];
    let deleted = json(&run(b, &args, b"", 0));
    assert_eq!(deleted, serde_json::json!([{"item": topic, "ok": true}]));
    let all = run(b, &["share-groups", "offsets", "-g", &group], b"", 0);
    assert_eq!(all, "", "no state left");
    let dropped = run(b, &["share-groups", "delete", "-g", &group], b"", 0);
    assert_eq!(dropped, format!("{group}  deleted\n"));
    let listed = run(b, &["share-groups", "list"], b"", 0);
    assert!(!listed.contains(&group), "{listed}");
}
