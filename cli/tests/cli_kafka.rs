//! The `kafkit` command line against the run's real Apache Kafka broker
//! (tests/support/kafka.rs at the repository root: `KAFKA_BROKERS`, the
//! broker `scripts/test.sh` started, or one started for this process):
//! topics, produce, metadata, consume (partitions and a group), offsets and
//! groups, as a user runs them.

#[path = "../../tests/support/kafka.rs"]
mod kafka;

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
    if let Some(mut pipe) = child.stdin.take() {
        let _ = pipe.write_all(stdin);
    }
    child.wait_with_output().expect("wait")
}

/// Runs kafkit against `broker`, expecting exit status `code`; returns stdout.
fn run(broker: &str, args: &[&str], stdin: &[u8], code: i32) -> String {
    let mut full = args.to_vec();
    full.extend(["-b", broker]);
    let out = kafkit(&full, stdin);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "kafkit {args:?}\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn topics_produce_consume_offsets_and_groups_on_kafka() {
    let Some(k) = kafka::single() else { return };
    let b = k.bootstrap.as_str();
    let (topic, other) = (kafka::unique("cli"), kafka::unique("cli-other"));
    let out = run(
        b,
        &[
            "topics", "create", "-t", &topic, "-t", &other, "-p", "2", "-r", "1",
        ],
        b"",
        0,
    );
    assert_eq!(
        out,
        format!("created topic {topic:?}\ncreated topic {other:?}\n")
    );
    let out = run(
        b,
        &["topics", "create", "-t", &topic, "-p", "2", "-r", "1"],
        b"",
        1,
    );
    assert!(
        out.starts_with(&format!("topic {topic:?} failed: TOPIC_ALREADY_EXISTS(36)")),
        "{out}"
    );
    let out = run(b, &["topics", "list"], b"", 0);
    assert!(
        out.contains(&format!("{topic}  partitions=2  replicas=1\n")),
        "{out}"
    );

    let out = run(b, &["metadata", "-t", &topic], b"", 0);
    assert!(
        out.contains(&format!("topic {topic:?} with 2 partitions:")),
        "{out}"
    );
    assert!(
        out.contains("partition 1, leader 1, replicas: 1, isrs: 1"),
        "{out}"
    );

    run(b, &["produce", "-t", &topic, "-p", "1"], b"a\nb\nc\n", 0);
    run(
        b,
        &["produce", "-t", &topic, "-p", "0", "-K", ":"],
        b"k1:v1\nk2:v2\n",
        0,
    );
    let out = run(
        b,
        &["consume", "-t", &topic, "-p", "0", "-e", "-K", ":"],
        b"",
        0,
    );
    assert_eq!(out, "k1:v1\nk2:v2\n");

    // A group reads everything once and commits it.
    let group = kafka::unique("cli-group");
    let out = run(
        b,
        &[
            "consume",
            "-t",
            &topic,
            "-G",
            &group,
            "-o",
            "beginning",
            "-c",
            "5",
        ],
        b"",
        0,
    );
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["a", "b", "c", "v1", "v2"]);
    let out = run(b, &["offsets", "-t", &topic, "-G", &group], b"", 0);
    assert_eq!(
        out,
        "partition  earliest  latest  committed  lag\n\
         0          0         2       2          0\n\
         1          0         3       3          0\n"
    );
    let out = run(b, &["offsets", "-t", &topic], b"", 0);
    assert_eq!(
        out,
        "partition  earliest  latest\n0          0         2\n1          0         3\n"
    );
    let out = run(b, &["groups", "list"], b"", 0);
    assert!(
        out.contains(&format!("{group}  protocol=consumer  state=Empty")),
        "{out}"
    );
    let out = run(b, &["groups", "describe", "-G", &group], b"", 0);
    assert!(
        out.starts_with(&format!("group {group:?}: state Empty")),
        "{out}"
    );

    let out = run(b, &["topics", "delete", "-t", &other], b"", 0);
    assert_eq!(out, format!("deleted topic {other:?}\n"));
}

#[test]
fn consume_with_a_group_on_the_consumer_protocol_and_describe_it() {
    let Some(k) = kafka::single() else { return };
    let b = k.bootstrap.as_str();
    let (topic, group) = (kafka::unique("cli-848"), kafka::unique("cli-848-g"));
    run(
        b,
        &["topics", "create", "-t", &topic, "-p", "2", "-r", "1"],
        b"",
        0,
    );
    run(b, &["produce", "-t", &topic], b"a\nb\nc\nd\n", 0);
    let consume = |expected: i32| {
        run(
            b,
            &[
                "consume",
                "-t",
                &topic,
                "-G",
                &group,
                "-o",
                "beginning",
                "-e",
                "-X",
                "group.protocol=consumer",
                "-X",
                "group.remote.assignor=range",
            ],
            b"",
            expected,
        )
    };
    let out = consume(0);
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["a", "b", "c", "d"]);
    // Committed on exit (OffsetCommit with the member epoch): a second run
    // of the group reads nothing.
    let out = run(b, &["offsets", "-t", &topic, "-G", &group], b"", 0);
    let lags: Vec<&str> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(4))
        .collect();
    assert_eq!(lags, ["0", "0"], "{out}");
    let out = run(b, &["groups", "describe", "-G", &group], b"", 0);
    assert!(
        out.starts_with(&format!(
            "group {group:?}: consumer protocol (KIP-848), state Empty"
        )),
        "{out}"
    );
    let err = kafkit(
        &[
            "consume",
            "-t",
            &topic,
            "-G",
            &group,
            "-b",
            b,
            "-X",
            "group.protocol=new",
        ],
        b"",
    );
    assert_eq!(
        err.status.code(),
        Some(2),
        "a bad group.protocol is a usage error"
    );
}

/// `consume --share-group`: waits until the share sessions are open (share
/// groups start at the latest offset), prints and accepts the records
/// produced next, and stops at `-c`; a second reader of the group then finds
/// nothing left (`-e`), because every record printed was accepted.
#[test]
fn consume_as_a_share_group_member_on_kafka() {
    use std::io::{BufRead, BufReader};
    let Some(k) = kafka::single() else { return };
    let b = k.bootstrap.as_str();
    let (topic, group) = (kafka::unique("cli-share"), kafka::unique("cli-share"));
    run(
        b,
        &["topics", "create", "-t", &topic, "-p", "2", "-r", "1"],
        b"",
        0,
    );
    let mut reader = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .args([
            "consume",
            "--share-group",
            &group,
            "-t",
            &topic,
            "-c",
            "6",
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
    run(
        b,
        &["produce", "-t", &topic],
        b"s1\ns2\ns3\ns4\ns5\ns6\n",
        0,
    );
    let out = reader.wait_with_output().expect("wait");
    assert!(out.status.success(), "{out:?}");
    let mut lines: Vec<&str> = std::str::from_utf8(&out.stdout)
        .expect("utf8")
        .lines()
        .collect();
    lines.sort_unstable();
    assert_eq!(lines, ["s1", "s2", "s3", "s4", "s5", "s6"]);
    let rest: Vec<String> = stderr.map_while(Result::ok).collect();
    assert_eq!(rest, ["kafkit: 6 records consumed (count reached)"]);

    let out = kafkit(
        &[
            "consume",
            "--share-group",
            &group,
            "-t",
            &topic,
            "-e",
            "-b",
            b,
        ],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .ends_with("0 records consumed (nothing more to read)\n"),
        "{out:?}"
    );
}

/// Every value of `topic`'s partition 0 a read_committed kafkit consumer
/// sees, up to its end.
fn read_committed(broker: &str, topic: &str) -> Vec<String> {
    use kafkit::consumer::{Consumer, ConsumerConfig, IsolationLevel};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let config = ConsumerConfig::default().with_isolation_level(IsolationLevel::ReadCommitted);
        let mut consumer = Consumer::connect(kafkit::ClientConfig::new([broker]), config)
            .await
            .expect("consumer");
        let tp = kafkit::TopicPartition {
            topic: topic.to_owned(),
            partition: 0,
        };
        consumer.assign(vec![(tp, Some(0))]).expect("assign");
        let mut values = Vec::new();
        // Until nothing more comes for a second (the data is all written).
        while let Ok(Some(r)) =
            tokio::time::timeout(std::time::Duration::from_secs(1), consumer.recv()).await
        {
            let r = r.expect("record");
            values
                .push(String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned());
        }
        let _ = consumer.close().await;
        values
    })
}

#[test]
fn produce_with_a_transactional_id_commits_all_of_stdin_or_nothing() {
    let Some(k) = kafka::single() else { return };
    let b = k.bootstrap.as_str();
    let topic = kafka::unique("cli-txn");
    run(
        b,
        &["topics", "create", "-t", &topic, "-p", "1", "-r", "1"],
        b"",
        0,
    );
    let id = kafka::unique("cli-txn-id");
    let args = [
        "produce",
        "-t",
        &topic,
        "-p",
        "0",
        "--transactional-id",
        &id,
    ];
    let out = kafkit(&[&args[..], &["-b", b]].concat(), b"t1\nt2\nt3\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("transaction committed"), "{stderr}");

    // A line larger than the broker accepts (message.max.bytes, 1 MiB)
    // fails after the first line was written: the transaction aborts.
    let mut input = b"doomed\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 1_200_000));
    input.extend(b"\nlater\n");
    let big = [
        &args[..],
        &[
            "-X",
            "max.request.size=4000000",
            "-X",
            "batch.size=16384",
            "-b",
            b,
        ],
    ]
    .concat();
    let out = kafkit(&big, &input);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("transaction aborted"), "{stderr}");

    // The same id again, after the abort: the next transaction commits.
    let out = kafkit(&[&args[..], &["-b", b]].concat(), b"t4\n");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert_eq!(read_committed(b, &topic), ["t1", "t2", "t3", "t4"]);
    // read_uncommitted (the CLI's consumer) sees the aborted line too.
    let out = run(b, &["consume", "-t", &topic, "-p", "0", "-e"], b"", 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"t1"));
    assert!(lines.contains(&"doomed"), "{lines:?}");
    assert_eq!(lines.last(), Some(&"t4"));
}
