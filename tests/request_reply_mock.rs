//! Request-reply (NestJS's Kafka message pattern) against librdkafka's mock
//! cluster: concurrent requests from several clients, error replies,
//! timeouts, events, and a server restart in the middle. The concurrent
//! scenario also runs on the run's real Apache Kafka broker.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafkit::consumer::ConsumerConfig;
use kafkit::rpc::{ReplyServer, RequestClient, RpcConfig, RpcError};
use kafkit::ClientConfig;
use rdkafka::mocking::MockCluster;
use tokio::sync::mpsc;

mod support;
use support::cap_mock_group_versions;

fn server_config(group: &str) -> ConsumerConfig {
    ConsumerConfig::group(group)
        .from_beginning()
        .with_session_timeout(Duration::from_secs(6))
        .with_heartbeat_interval(Duration::from_millis(300))
        .with_auto_commit_interval(Duration::from_millis(200))
        .with_fetch_max_wait(Duration::from_millis(50))
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Echo server: replies `<value>!`; a value of `boom` fails.
async fn echo_server(bootstrap: &str, group: &str) -> ReplyServer {
    echo_server_on(bootstrap, group, "echo").await
}

/// [`echo_server`] on `topic`.
async fn echo_server_on(bootstrap: &str, group: &str, topic: &str) -> ReplyServer {
    ReplyServer::builder(ClientConfig::new([bootstrap]), server_config(group))
        .handle(topic, |req: kafkit::rpc::Request| async move {
            let v = req.value().cloned().unwrap_or_default();
            if &v[..] == b"boom" {
                return Err("boom failed".to_owned());
            }
            let mut out = v.to_vec();
            out.push(b'!');
            Ok(Bytes::from(out))
        })
        .start()
        .await
        .expect("server")
}

async fn client(bootstrap: &str, reply_partition: Option<i32>) -> Arc<RequestClient> {
    let mut config = RpcConfig::default().with_timeout(Duration::from_secs(20));
    if let Some(p) = reply_partition {
        config = config.with_reply_partition(p);
    }
    Arc::new(
        RequestClient::connect(ClientConfig::new([bootstrap]), config)
            .await
            .expect("client"),
    )
}

/// Sends `n` concurrent requests `"<name>-<i>"` and checks every reply is
/// the answer to that very request.
async fn call_many(c: Arc<RequestClient>, topic: &str, name: &'static str, n: usize) -> usize {
    let mut tasks = Vec::new();
    for i in 0..n {
        let c = c.clone();
        let topic = topic.to_owned();
        tasks.push(tokio::spawn(async move {
            let payload = format!("{name}-{i}");
            let reply = c.send(&topic, payload.clone()).await.expect("reply");
            assert_eq!(
                reply.value.as_deref(),
                Some(format!("{payload}!").as_bytes()),
                "a reply went to the wrong request"
            );
            assert!(reply.disposed, "NestJS's last-reply header is set");
        }));
    }
    for t in tasks {
        t.await.expect("request task");
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_from_several_clients() {
    init_tracing();
    let mock = MockCluster::new(3).expect("mock");
    cap_mock_group_versions(&mock);
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic("echo", 3, 1).expect("topic");
    mock.create_topic("echo.reply", 4, 1).expect("topic");
    concurrent_requests(&bootstrap, "echo", "rpc-echo").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_from_several_clients_on_kafka() {
    let Some(bootstrap) = support::real::broker() else {
        return;
    };
    let topic = support::kafka::unique("echo");
    let reply = format!("{topic}.reply");
    support::real::create_topics(&bootstrap, &[(&topic, 3), (&reply, 4)], 1).await;
    concurrent_requests(&bootstrap, &topic, &support::kafka::unique("rpc-echo")).await;
}

/// An echo server on `topic` (3 partitions; `<topic>.reply` has 4) and
/// four clients calling it at once.
async fn concurrent_requests(bootstrap: &str, topic: &str, group: &str) {
    let server = echo_server_on(bootstrap, group, topic).await;

    // Two clients on their own partitions, two sharing partition 3.
    let a = client(bootstrap, Some(0)).await;
    let b = client(bootstrap, Some(1)).await;
    let c = client(bootstrap, Some(3)).await;
    let d = client(bootstrap, Some(3)).await;
    assert_eq!(a.listen(topic).await.expect("listen"), 0);
    let (ra, rb, rc, rd) = tokio::join!(
        call_many(a.clone(), topic, "a", 40),
        call_many(b.clone(), topic, "b", 40),
        call_many(c.clone(), topic, "c", 40),
        call_many(d.clone(), topic, "d", 40),
    );
    assert_eq!(ra + rb + rc + rd, 160);

    // An error in the handler comes back as an error reply.
    match a.send(topic, "boom").await {
        Err(RpcError::Remote {
            message,
            topic: from,
        }) => {
            assert_eq!(message, "boom failed");
            assert_eq!(from, topic);
        }
        other => panic!("expected an error reply, got {other:?}"),
    }
    for x in [&a, &b, &c, &d] {
        assert_eq!(x.pending(), 0);
        x.close(Duration::from_secs(5)).await.expect("close client");
    }
    server
        .close(Duration::from_secs(5))
        .await
        .expect("close server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_server_means_a_timeout_and_no_leak() {
    init_tracing();
    let mock = MockCluster::new(1).expect("mock");
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic("nobody", 1, 1).expect("topic");
    mock.create_topic("nobody.reply", 1, 1).expect("topic");
    let c = RequestClient::connect(
        ClientConfig::new([&bootstrap]),
        RpcConfig::default().with_timeout(Duration::from_millis(700)),
    )
    .await
    .expect("client");
    let started = std::time::Instant::now();
    match c.send("nobody", "hello").await {
        Err(e @ RpcError::TimedOut { .. }) => assert!(e.is_retriable()),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        c.pending(),
        0,
        "a timed-out request leaves no waiter behind"
    );
    c.close(Duration::from_secs(5)).await.expect("close");
    // A reply partition the reply topic lacks is reported as such.
    let c = RequestClient::connect(
        ClientConfig::new([&bootstrap]),
        RpcConfig::default().with_reply_partition(5),
    )
    .await
    .expect("client");
    match c.send("nobody", "x").await {
        Err(RpcError::ReplyTopic { topic, reason }) => {
            assert_eq!(topic, "nobody.reply");
            assert!(reason.contains("no partition 5"), "{reason}");
        }
        other => panic!("expected a reply-topic error, got {other:?}"),
    }
    c.close(Duration::from_secs(5)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_the_handler_without_a_reply() {
    init_tracing();
    let mock = MockCluster::new(1).expect("mock");
    cap_mock_group_versions(&mock);
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic("audit", 1, 1).expect("topic");
    mock.create_topic("audit.reply", 1, 1).expect("topic");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let server = ReplyServer::builder(ClientConfig::new([&bootstrap]), server_config("rpc-ev"))
        .handle("audit", move |req: kafkit::rpc::Request| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((req.expects_reply(), req.value().cloned()));
                Ok::<_, String>(Bytes::from_static(b"ignored"))
            }
        })
        .start()
        .await
        .expect("server");
    let c = RequestClient::connect(ClientConfig::new([&bootstrap]), RpcConfig::default())
        .await
        .expect("client");
    c.emit("audit", "logged-in").await.expect("emit");
    let (expects_reply, value) = tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("event handled in time")
        .expect("event");
    assert!(!expects_reply);
    assert_eq!(value.as_deref(), Some(&b"logged-in"[..]));
    server.close(Duration::from_secs(5)).await.expect("close");
    // Nothing was produced to the reply topic.
    let reader = support::read_back(&bootstrap, "audit.reply", 1, 0);
    assert!(reader.is_empty(), "an event got a reply: {reader:?}");
    c.close(Duration::from_secs(5)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_loses_no_request_and_misroutes_no_reply() {
    init_tracing();
    let mock = MockCluster::new(3).expect("mock");
    cap_mock_group_versions(&mock);
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic("echo", 3, 1).expect("topic");
    mock.create_topic("echo.reply", 2, 1).expect("topic");
    let server = echo_server(&bootstrap, "rpc-restart").await;
    // Two clients share reply partition 0: each must get only its own replies.
    let a = client(&bootstrap, Some(0)).await;
    let b = client(&bootstrap, Some(0)).await;
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<String>();
    let mut callers = Vec::new();
    for (c, name) in [(a.clone(), "a"), (b.clone(), "b")] {
        let done_tx = done_tx.clone();
        callers.push(tokio::spawn(async move {
            let mut inflight = tokio::task::JoinSet::new();
            for i in 0..120 {
                let c = c.clone();
                let done_tx = done_tx.clone();
                inflight.spawn(async move {
                    let payload = format!("{name}-{i}");
                    let reply = c.send("echo", payload.clone()).await.expect("reply");
                    assert_eq!(
                        reply.value.as_deref(),
                        Some(format!("{payload}!").as_bytes())
                    );
                    let _ = done_tx.send(payload);
                });
                if inflight.len() >= 8 {
                    inflight.join_next().await.expect("task").expect("request");
                }
            }
            while let Some(r) = inflight.join_next().await {
                r.expect("request");
            }
        }));
    }
    drop(done_tx);
    let mut answered = HashSet::new();
    while answered.len() < 60 {
        let p = done_rx.recv().await.expect("replies flow");
        answered.insert(p);
    }
    // Restart the server while requests are in flight.
    server
        .close(Duration::from_secs(5))
        .await
        .expect("close first server");
    let second = echo_server(&bootstrap, "rpc-restart").await;
    while let Some(p) = done_rx.recv().await {
        assert!(
            answered.insert(p),
            "a request was answered twice to its caller"
        );
    }
    for c in callers {
        c.await.expect("caller");
    }
    assert_eq!(answered.len(), 240, "every request got its reply");
    second
        .close(Duration::from_secs(5))
        .await
        .expect("close second server");
    a.close(Duration::from_secs(5)).await.expect("close");
    b.close(Duration::from_secs(5)).await.expect("close");
}
