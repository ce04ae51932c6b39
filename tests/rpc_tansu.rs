//! Request-reply against tansu (a second, real broker; see
//! tests/support/tansu.rs): topics created with kafkit's admin client,
//! concurrent requests from two clients with their own reply partitions,
//! an error reply, and an event. The server's consumer group has a single
//! member here; group membership under rebalances is tested on the mock
//! cluster (tansu 0.6.0's coordinator is not dependable, see DESIGN.md), as
//! is the server restart (tests/request_reply_mock.rs).

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafkit::admin::{Admin, NewTopic};
use kafkit::consumer::ConsumerConfig;
use kafkit::rpc::{ReplyServer, Request, RequestClient, RpcConfig, RpcError};
use kafkit::ClientConfig;
use support::tansu::Tansu;
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_reply_on_tansu() {
    let Some(tansu) = Tansu::start() else { return };
    let bootstrap = tansu.bootstrap.clone();
    let admin = Admin::connect(ClientConfig::new([bootstrap.as_str()]))
        .await
        .expect("admin");
    let topics = [
        NewTopic::new("calc", 2, 1),
        NewTopic::new("calc.reply", 2, 1),
    ];
    for (topic, result) in admin.create_topics(&topics, false).await.expect("create") {
        result.unwrap_or_else(|e| panic!("create {topic}: {e}; {}", tansu.log_tail()));
    }
    admin.close();

    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    let server = ReplyServer::builder(
        ClientConfig::new([bootstrap.as_str()]),
        ConsumerConfig::group("calc-service")
            .from_beginning()
            .with_fetch_max_wait(Duration::from_millis(50)),
    )
    .handle("calc", move |req: Request| {
        let events_tx = events_tx.clone();
        async move {
            let v = req.value().cloned().unwrap_or_default();
            if !req.expects_reply() {
                let _ = events_tx.send(v);
                return Ok(Bytes::new());
            }
            let n: i64 = std::str::from_utf8(&v)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("not a number: {}", String::from_utf8_lossy(&v)))?;
            Ok::<_, String>(Bytes::from((n * n).to_string()))
        }
    })
    .start()
    .await
    .expect("server");

    let mut clients = Vec::new();
    for p in 0..2 {
        clients.push(Arc::new(
            RequestClient::connect(
                ClientConfig::new([bootstrap.as_str()]),
                RpcConfig::default()
                    .with_reply_partition(p)
                    .with_timeout(Duration::from_secs(30)),
            )
            .await
            .expect("client"),
        ));
    }
    let mut tasks = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        for n in 0..20i64 {
            let c = c.clone();
            let n = n + 100 * i64::try_from(i).expect("small");
            tasks.push(tokio::spawn(async move {
                let reply = c.send("calc", n.to_string()).await.expect("reply");
                assert_eq!(reply.value.as_deref(), Some((n * n).to_string().as_bytes()));
            }));
        }
    }
    for t in tasks {
        t.await.expect("request");
    }
    match clients[0].send("calc", "x").await {
        Err(RpcError::Remote { message, .. }) => assert_eq!(message, "not a number: x"),
        other => panic!("expected an error reply, got {other:?}"),
    }
    clients[1].emit("calc", "event").await.expect("emit");
    let event = tokio::time::timeout(Duration::from_secs(20), events_rx.recv())
        .await
        .expect("event handled")
        .expect("event");
    assert_eq!(&event[..], b"event");
    for c in &clients {
        assert_eq!(c.pending(), 0);
        c.close(Duration::from_secs(5)).await.expect("close client");
    }
    server
        .close(Duration::from_secs(5))
        .await
        .expect("close server");
}
