//! kafkit's request-reply against NestJS's own Kafka transport
//! (`@nestjs/microservices` 10, `ServerKafka` and `ClientKafka` over
//! kafkajs 2), both ways, on librdkafka's mock cluster.
//!
//! The NestJS side lives in `tests/interop/nest/` and needs its npm
//! dependencies (`scripts/nest_deps.sh`, run by `scripts/test.sh`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use kafkit::consumer::ConsumerConfig;
use kafkit::rpc::{ReplyServer, RequestClient, RpcConfig};
use kafkit::ClientConfig;
use rdkafka::mocking::MockCluster;

mod support;
use support::cap_mock_group_versions;

fn nest_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/nest");
    assert!(
        dir.join("node_modules/@nestjs/microservices").is_dir(),
        "NestJS is not installed for the interop tests: run scripts/nest_deps.sh (needs node and npm)"
    );
    dir
}

/// A child process killed when dropped.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn node(script: &str, bootstrap: &str) -> Node {
    let child = Command::new("node")
        .arg(script)
        .arg(bootstrap)
        .current_dir(nest_dir())
        .env("KAFKAJS_NO_PARTITIONER_WARNING", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs");
    Node(child)
}

/// Reads the child's stdout lines until one satisfies `f` (NestJS logs go
/// there too). Blocking is fine: kafkit's tasks run on the runtime's workers.
fn wait_for_line(child: &mut Node, timeout: Duration, f: impl Fn(&str) -> bool) -> String {
    let out = child.0.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("the NestJS process printed the expected line in time");
        if f(&line) {
            return line;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkit_client_calls_a_nestjs_server() {
    let _dir = nest_dir();
    let mock = MockCluster::new(1).expect("mock");
    cap_mock_group_versions(&mock);
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic("sum", 2, 1).expect("topic");
    mock.create_topic("sum.reply", 2, 1).expect("topic");
    let mut server = node("server.js", &bootstrap);
    wait_for_line(&mut server, Duration::from_secs(60), |l| l == "ready");

    let client = RequestClient::connect(
        ClientConfig::new([&bootstrap]),
        RpcConfig::default().with_timeout(Duration::from_secs(30)),
    )
    .await
    .expect("client");
    for (payload, sum) in [("[1,2,3]", "6"), ("[40,2]", "42"), ("[]", "0")] {
        let reply = client.send("sum", payload).await.expect("NestJS replied");
        assert_eq!(
            reply.value.as_deref(),
            Some(sum.as_bytes()),
            "sum of {payload}"
        );
        assert!(reply.disposed, "NestJS marks its last reply");
    }
    // A handler exception comes back as an error reply.
    match client.send("sum", "\"not an array\"").await {
        Err(kafkit::rpc::RpcError::Remote { message, .. }) => {
            let err: serde_json::Value = serde_json::from_str(&message).expect("JSON error");
            assert_eq!(err["message"], "expected an array", "{message}");
        }
        other => panic!("expected NestJS's error reply, got {other:?}"),
    }
    client.close(Duration::from_secs(5)).await.expect("close");
    drop(server.0.stdin.take());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nestjs_client_calls_a_kafkit_server() {
    let _dir = nest_dir();
    let mock = MockCluster::new(1).expect("mock");
    cap_mock_group_versions(&mock);
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic("double", 2, 1).expect("topic");
    mock.create_topic("double.reply", 2, 1).expect("topic");
    let server = ReplyServer::builder(
        ClientConfig::new([&bootstrap]),
        ConsumerConfig::group("kafkit-double")
            .from_beginning()
            .with_session_timeout(Duration::from_secs(6))
            .with_heartbeat_interval(Duration::from_millis(300)),
    )
    .handle("double", |req: kafkit::rpc::Request| async move {
        let v: serde_json::Value =
            serde_json::from_slice(req.value().map_or(&b"null"[..], |b| &b[..]))
                .map_err(|e| format!("bad JSON: {e}"))?;
        let n = v
            .get("n")
            .and_then(serde_json::Value::as_i64)
            .ok_or_else(|| "expected a number n".to_owned())?;
        Ok::<_, String>(Bytes::from((n * 2).to_string()))
    })
    .start()
    .await
    .expect("server");

    let mut client = node("client.js", &bootstrap);
    let line = wait_for_line(&mut client, Duration::from_secs(90), |l| {
        l.starts_with("{\"results\"")
    });
    let out: serde_json::Value = serde_json::from_str(&line).expect("JSON from the NestJS client");
    // NestJS parses a reply as JSON only when it starts with `{` or `[`.
    assert_eq!(
        out["results"],
        serde_json::json!(["2", "4", "42"]),
        "{line}"
    );
    assert_eq!(out["error"], "expected a number n", "{line}");
    server.close(Duration::from_secs(5)).await.expect("close");
}
