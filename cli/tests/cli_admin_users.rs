//! `kafkit users describe|upsert|delete` against real Apache Kafka (one node
//! with SASL listeners, administered through its PLAINTEXT listener): the
//! password from stdin, `--json` output, exit status 1 when a user failed.
//! The login with an upserted credential is `tests/real_admin_scram.rs`.

#[path = "../../tests/support/kafka.rs"]
mod kafka;
#[path = "../../tests/support/secure_kafka.rs"]
mod secure_kafka;

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs kafkit against `broker` with `stdin`, expecting exit status `code`;
/// returns stdout.
fn run(broker: &str, args: &[&str], stdin: &str, code: i32) -> String {
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
    input.write_all(stdin.as_bytes()).expect("write stdin");
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

#[test]
fn users_upsert_describe_delete_on_kafka() {
    let Some(k) = secure_kafka::SecureKafka::start() else {
        return;
    };
    let b = k.cluster.bootstrap.as_str();
    let user = kafka::unique("cli-user");
    let upsert = [
        "users",
        "upsert",
        "--user",
        &user,
        "--mechanism",
        "SCRAM-SHA-512",
        "--iterations",
        "4096",
        "--password-stdin",
        "--json",
    ];
    let out = json(&run(b, &upsert, "s3cret\n", 0));
    assert_eq!(out, serde_json::json!([{"user": user, "ok": true}]));

    let out = json(&run(
        b,
        &["users", "describe", "--user", &user, "--json"],
        "",
        0,
    ));
    assert_eq!(out[0]["user"], user.as_str(), "{out}");
    assert_eq!(
        out[0]["credentials"],
        serde_json::json!([{"mechanism": "SCRAM-SHA-512", "iterations": 4096}]),
        "{out}"
    );
    let text = run(b, &["users", "describe", "--user", &user], "", 0);
    assert_eq!(
        text.trim(),
        format!("{user}  SCRAM-SHA-512 iterations=4096")
    );

    // Too few iterations: the broker refuses, exit status 1.
    let weak = [
        "users",
        "upsert",
        "--user",
        &user,
        "--iterations",
        "10",
        "--password",
        "x",
    ];
    let text = run(b, &weak, "", 1);
    assert!(text.starts_with(&format!("{user} failed: ")), "{text}");

    let delete = [
        "users",
        "delete",
        "--user",
        &user,
        "--mechanism",
        "SCRAM-SHA-512",
    ];
    assert_eq!(run(b, &delete, "", 0).trim(), format!("{user}  deleted"));
    let text = run(b, &["users", "describe", "--user", &user], "", 1);
    assert!(text.contains("RESOURCE_NOT_FOUND"), "{text}");
}
