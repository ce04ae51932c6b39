//! `kafkit acls list|create|delete` against real Apache Kafka with the
//! KRaft `StandardAuthorizer` (ANONYMOUS on PLAINTEXT is a super user):
//! text and `--json` output, exit status 1 when a binding fails.

#[path = "../../tests/support/kafka.rs"]
mod kafka;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs kafkit against `broker`; returns (exit status, stdout).
fn kafkit(broker: &str, args: &[&str]) -> (Option<i32>, String) {
    let mut full = args.to_vec();
    full.extend(["-b", broker]);
    let out = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .args(&full)
        .stdin(Stdio::null())
        .output()
        .expect("run kafkit");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn acls_create_list_delete_on_kafka() {
    if !kafka::can_start() {
        return;
    }
    let cluster = kafka::Cluster::start(
        1,
        &[
            "--set",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "--set",
            "super.users=User:ANONYMOUS",
        ],
    );
    let b = cluster.bootstrap.as_str();
    let topic = kafka::unique("cli-acl");
    let acl = format!("TOPIC:LITERAL:{topic} User:carol@* READ ALLOW");
    let create = [
        "acls",
        "create",
        "--resource-type",
        "topic",
        "--resource",
        &topic,
        "--principal",
        "User:carol",
        "--operation",
        "read",
    ];
    assert_eq!(kafkit(b, &create), (Some(0), format!("created {acl}\n")));
    let bad = [
        "acls",
        "create",
        "--resource-type",
        "topic",
        "--resource",
        &topic,
        "--principal",
        "carol",
        "--operation",
        "read",
        "--json",
    ];
    let (code, out) = kafkit(b, &bad);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("\"ok\":false"), "{out}");
    let (code, out) = kafkit(
        b,
        &["acls", "create", "--resource", "x", "--operation", "fly"],
    );
    assert_eq!(
        (code, out.as_str()),
        (Some(1), ""),
        "unknown names are refused"
    );

    let list = ["acls", "list", "--principal", "User:carol", "--json"];
    let deadline = Instant::now() + Duration::from_secs(15);
    let listed = loop {
        let (code, out) = kafkit(b, &list);
        assert_eq!(code, Some(0), "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
        if v.as_array().is_some_and(|a| !a.is_empty()) || Instant::now() > deadline {
            break v;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(listed[0]["acl"], acl.as_str(), "{listed}");

    let delete = [
        "acls",
        "delete",
        "--principal",
        "User:carol",
        "--resource",
        &topic,
    ];
    assert_eq!(kafkit(b, &delete), (Some(0), format!("deleted {acl}\n")));
}
