//! A CLI that explains itself, against real Apache Kafka
//! (tests/support/kafka.rs): `-d AREAS` shows what was connected,
//! negotiated and sent; warnings reach stderr without `-d` (a consumer whose
//! group can get no coordinator says so); kcat's mode flags and `-f`, `-c`,
//! `-o`, `-e`, `-Q` print what kcat prints; `-v` prints progress.

#[path = "../../tests/support/kafka.rs"]
mod kafka;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn kafkit(args: &[&str], stdin: &[u8]) -> Output {
    run_with(env!("CARGO_BIN_EXE_kafkit"), args, stdin)
}

fn run_with(program: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    if let Some(mut pipe) = child.stdin.take() {
        let _ = pipe.write_all(stdin);
    }
    child.wait_with_output().expect("wait")
}

fn ok(out: &Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    (stdout, stderr)
}

fn sorted(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

/// stderr lines of a running child, as they come.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// Collects lines until `done` says so or `within` passes.
fn lines_until(
    rx: &mpsc::Receiver<String>,
    within: Duration,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut lines = Vec::new();
    while !done(&lines) {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => lines.push(line),
            Err(_) => break,
        }
    }
    lines
}

fn kcat() -> Option<&'static str> {
    let path = "/usr/bin/kcat";
    if std::path::Path::new(path).exists() {
        Some(path)
    } else {
        // CI runs the kcat interop elsewhere; here kcat is the reference.
        assert!(!kafka::required(), "kcat is not installed at {path}");
        None
    }
}

#[test]
fn debug_areas_show_connections_versions_and_requests() {
    let Some(k) = kafka::single() else { return };
    let b = k.bootstrap.as_str();
    let topic = kafka::unique("explain");
    ok(&kafkit(
        &[
            "topics", "create", "-b", b, "-t", &topic, "-p", "1", "-r", "1",
        ],
        b"",
    ));

    // Without -d: nothing on stderr for a command that works.
    let (stdout, stderr) = ok(&kafkit(&["-L", "-b", b, "-t", &topic], b""));
    assert!(
        stdout.contains(&format!("topic {topic:?} with 1 partitions")),
        "{stdout}"
    );
    assert_eq!(stderr, "");

    // -d protocol: the versions negotiated and each request with its answer.
    let (_, stderr) = ok(&kafkit(
        &["-L", "-b", b, "-t", &topic, "-d", "protocol"],
        b"",
    ));
    let negotiated = stderr
        .lines()
        .find(|l| l.contains("kafkit::protocol: API versions"))
        .unwrap_or_else(|| panic!("no API versions line: {stderr}"));
    assert!(
        negotiated.contains(&format!("broker={b}"))
            && negotiated.contains("Metadata v12")
            && negotiated.contains("Produce v"),
        "{negotiated}"
    );
    for said in ["request", "response"] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(&format!("kafkit::protocol: {said} "))
                    && l.contains("api=Metadata(3) version=12")),
            "no Metadata {said}: {stderr}"
        );
    }
    assert!(!stderr.contains("kafkit::consumer"), "{stderr}");

    // -d cgrp,broker on a group consumer: the group's events and the
    // connections, not the protocol traffic.
    ok(&kafkit(&["-P", "-b", b, "-t", &topic], b"one\n"));
    let group = kafka::unique("explain-group");
    let out = kafkit(
        &[
            "-b",
            b,
            "-C",
            "-G",
            &group,
            "-t",
            &topic,
            "-o",
            "beginning",
            "-c",
            "1",
            "-d",
            "cgrp,broker",
        ],
        b"",
    );
    let (stdout, stderr) = ok(&out);
    assert_eq!(stdout, "one\n");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("kafkit::consumer::group:")
                && l.contains("group event")
                && l.contains("Assigned")),
        "{stderr}"
    );
    assert!(
        stderr.contains("kafkit::connection::connect: connected"),
        "{stderr}"
    );
    assert!(!stderr.contains("kafkit::protocol"), "{stderr}");

    // An unknown area is a usage error naming the known ones.
    let out = kafkit(&["-L", "-b", b, "-d", "queue"], b"");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown debug area \"queue\"") && err.contains("cgrp"),
        "{err}"
    );
}

/// Before: `kafkit consume -G` against a cluster that cannot create
/// `__consumer_offsets` (replication factor 3 on one broker) printed
/// nothing, forever. Now the first COORDINATOR_NOT_AVAILABLE is a warning
/// on stderr without -d, and the retries are not repeated there.
#[test]
fn a_consumer_whose_group_gets_no_coordinator_says_why() {
    if kafka::single().is_none() {
        return;
    }
    let cluster = kafka::Cluster::start(1, &["--set", "offsets.topic.replication.factor=3"]);
    let b = cluster.bootstrap.as_str();
    let topic = kafka::unique("nocoord");
    ok(&kafkit(&["produce", "-b", b, "-t", &topic], b"x\n"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .args(["consume", "-b", b, "-G", "stuck", "-t", &topic])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let rx = stderr_lines(&mut child);
    let first = lines_until(&rx, Duration::from_secs(30), |l| !l.is_empty());
    // The member retries every 100 ms; give it a few more seconds.
    let more = lines_until(&rx, Duration::from_secs(2), |_| false);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        first,
        [format!(
            "kafkit: warning: group request failed: FindCoordinator(10) COORDINATOR_NOT_AVAILABLE(15) \
             from broker {b}; retrying until it succeeds (broker={b}, api=FindCoordinator(10), \
             error=COORDINATOR_NOT_AVAILABLE(15))"
        )]
    );
    assert_eq!(more, Vec::<String>::new(), "repeated warnings");
}

#[test]
fn kcat_mode_flags_print_what_kcat_prints() {
    let Some(k) = kafka::single() else { return };
    let Some(kcat) = kcat() else { return };
    let b = k.bootstrap.as_str();
    let topic = kafka::unique("kcat-modes");
    ok(&kafkit(
        &[
            "topics", "create", "-b", b, "-t", &topic, "-p", "2", "-r", "1",
        ],
        b"",
    ));
    // kcat's word order: options, then the mode.
    ok(&kafkit(
        &[
            "-b", b, "-t", &topic, "-P", "-p", "0", "-K", ":", "-H", "h=1",
        ],
        b"k1:v1\n:v2\nnokey\n",
    ));
    std::thread::sleep(Duration::from_millis(20));
    let middle = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis()
        .to_string();
    std::thread::sleep(Duration::from_millis(20));
    ok(&kafkit(
        &["-P", "-b", b, "-t", &topic, "-p", "1"],
        b"a\nb\nc\n",
    ));
    ok(&kafkit(
        &["-P", "-b", b, "-t", &topic, "-p", "0"],
        b"late\n",
    ));

    let same = |args: &[&str]| {
        let ours = ok(&kafkit(args, b"")).0;
        let theirs = ok(&run_with(kcat, args, b"")).0;
        assert_eq!(sorted(&ours), sorted(&theirs), "{args:?}");
        ours
    };
    let format = "%t|%p|%o|%k|%s|%K|%S|%h\\n";
    let all = same(&["-b", b, "-C", "-t", &topic, "-e", "-f", format]);
    assert_eq!(all.lines().count(), 7, "{all}");
    assert!(all.contains(&format!("{topic}|0|1||v2|0|2|h=1\n")), "{all}");
    same(&["-C", "-b", b, "-t", &topic, "-p", "1", "-o", "1", "-e"]);
    same(&[
        "-C", "-b", b, "-t", &topic, "-p", "0", "-o", "-2", "-e", "-K", ":",
    ]);
    same(&[
        "-C",
        "-b",
        b,
        "-t",
        &topic,
        "-p",
        "1",
        "-o",
        "beginning",
        "-c",
        "2",
    ]);
    // -o s@TIMESTAMP: from the first record at or after it.
    let from_middle = format!("s@{middle}");
    let later = same(&["-C", "-b", b, "-t", &topic, "-o", &from_middle, "-e"]);
    assert_eq!(sorted(&later), ["a", "b", "c", "late"]);
    // -Q: the first offset at or after each timestamp (-1: none that recent).
    let queries = [
        format!("{topic}:0:0"),
        format!("{topic}:1:{middle}"),
        format!("{topic}:0:{middle}"),
        format!("{topic}:1:99999999999999"),
    ];
    // (kcat keeps one timestamp per partition: one query each, then two
    // partitions at once.)
    let mut out = String::new();
    for q in &queries {
        out += &same(&["-Q", "-b", b, "-t", q]);
    }
    assert_eq!(
        out,
        format!(
            "{topic} [0] offset 0\n{topic} [1] offset 0\n{topic} [0] offset 3\n{topic} [1] offset -1\n"
        )
    );
    let both = same(&["-Q", "-b", b, "-t", &queries[2], "-t", &queries[1]]);
    assert_eq!(
        both,
        format!("{topic} [0] offset 3\n{topic} [1] offset 0\n")
    );
    // kcat's balanced-consumer mode: -G GROUP TOPIC...
    let ours = ok(&kafkit(
        &[
            "-b",
            b,
            "-G",
            &kafka::unique("g"),
            "-o",
            "beginning",
            "-c",
            "7",
            &topic,
        ],
        b"",
    ))
    .0;
    let theirs = ok(&run_with(
        kcat,
        &[
            "-b",
            b,
            "-X",
            "auto.offset.reset=earliest",
            "-c",
            "7",
            "-G",
            &kafka::unique("g"),
            &topic,
        ],
        b"",
    ))
    .0;
    assert_eq!(sorted(&ours), sorted(&theirs));
}

#[test]
fn verbose_prints_progress_for_produce_and_consume() {
    let Some(k) = kafka::single() else { return };
    let b = k.bootstrap.as_str();
    let topic = kafka::unique("progress");
    ok(&kafkit(
        &[
            "topics", "create", "-b", b, "-t", &topic, "-p", "1", "-r", "1",
        ],
        b"",
    ));
    // Produce: stdin stays open a while, so lines come out meanwhile.
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .args([
            "-P",
            "-b",
            b,
            "-t",
            &topic,
            "-v",
            "--progress-interval",
            "0.2",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let rx = stderr_lines(&mut child);
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"1\n2\n3\n").expect("write");
    let seen = lines_until(&rx, Duration::from_secs(20), |l| {
        l.iter()
            .any(|l| l.starts_with("kafkit: progress: 3 records delivered, "))
    });
    drop(stdin);
    let _ = child.wait();
    let progress: Vec<&String> = seen.iter().filter(|l| l.contains("progress:")).collect();
    assert!(
        progress
            .last()
            .is_some_and(|l| l.starts_with("kafkit: progress: 3 records delivered, ")
                && l.ends_with("/s overall")),
        "{seen:?}"
    );

    // Consume: the count printed so far, every interval.
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .args([
            "-C",
            "-b",
            b,
            "-t",
            &topic,
            "-v",
            "--progress-interval",
            "0.2",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let rx = stderr_lines(&mut child);
    let seen = lines_until(&rx, Duration::from_secs(20), |l| {
        l.iter()
            .filter(|l| l.starts_with("kafkit: progress: 3 records consumed, "))
            .count()
            >= 2
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen.iter()
            .filter(|l| l.starts_with("kafkit: progress: 3 records consumed, 0/s now, "))
            .count()
            >= 1,
        "{seen:?}"
    );

    // Without -v: no progress.
    let (_, stderr) = ok(&kafkit(
        &[
            "-C",
            "-b",
            b,
            "-t",
            &topic,
            "-e",
            "--progress-interval",
            "0.01",
        ],
        b"",
    ));
    assert!(!stderr.contains("progress"), "{stderr}");
}
