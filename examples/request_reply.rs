//! Request-reply in the NestJS style: a server answering `math.sum` and a
//! client calling it (and a NestJS `@MessagePattern('math.sum')` service
//! or `ClientKafka` could take either side).
//!
//! ```text
//! cargo run --example request_reply                          # in-process mock cluster
//! KAFKA_BROKERS=localhost:9092 cargo run --example request_reply
//! ```
//!
//! Against a real cluster, create `math.sum` and `math.sum.reply` first
//! (e.g. `kafkit topics create -t math.sum -p 3`).

use std::time::Duration;

use bytes::Bytes;
use kafkit::consumer::ConsumerConfig;
use kafkit::rpc::{ReplyServer, Request, RequestClient, RpcConfig, RpcError};
use kafkit::ClientConfig;

type BoxError = Box<dyn std::error::Error>;

/// The handler: the sum of a comma-separated list of integers.
async fn sum(req: Request) -> Result<Bytes, String> {
    let text = std::str::from_utf8(req.value().map_or(&[][..], |v| &v[..]))
        .map_err(|_| "not UTF-8".to_owned())?;
    let mut total = 0i64;
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        total += part
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("not a number: {part:?}"))?;
    }
    Ok(Bytes::from(total.to_string()))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut _mock = None;
    let bootstrap = match std::env::var("KAFKA_BROKERS") {
        Ok(brokers) => brokers,
        Err(_) => {
            let mock = rdkafka::mocking::MockCluster::new(1)?;
            mock.create_topic("math.sum", 3, 1)?;
            mock.create_topic("math.sum.reply", 3, 1)?;
            // The mock advertises group API versions it cannot parse; cap them.
            use rdkafka::types::RDKafkaApiKey;
            mock.apiversion(RDKafkaApiKey::JoinGroup, None, Some(5))?;
            mock.apiversion(RDKafkaApiKey::SyncGroup, None, Some(3))?;
            mock.apiversion(RDKafkaApiKey::LeaveGroup, None, Some(2))?;
            let servers = mock.bootstrap_servers();
            println!("started a mock cluster at {servers}");
            _mock = Some(mock);
            servers
        }
    };

    let server = ReplyServer::builder(
        ClientConfig::new([&bootstrap]),
        ConsumerConfig::group("math-service").from_beginning(),
    )
    .handle("math.sum", sum)
    .start()
    .await?;

    let client = RequestClient::connect(
        ClientConfig::new([&bootstrap]),
        RpcConfig::default().with_timeout(Duration::from_secs(30)),
    )
    .await?;
    for input in ["1,2,3", "40,2", "7"] {
        let reply = client.send("math.sum", input).await?;
        let value =
            String::from_utf8_lossy(reply.value.as_deref().unwrap_or_default()).into_owned();
        println!("sum({input}) = {value}");
    }
    match client.send("math.sum", "1,two").await {
        Err(RpcError::Remote { message, .. }) => {
            println!("sum(1,two) failed on the server: {message}")
        }
        other => return Err(format!("expected an error reply, got {other:?}").into()),
    }
    client.emit("math.sum", "5,5").await?; // an event: handled, not answered

    client.close(Duration::from_secs(5)).await?;
    server.close(Duration::from_secs(5)).await?;
    Ok(())
}
