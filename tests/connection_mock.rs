//! The connection layer against librdkafka's mock cluster (a real, independent
//! broker implementation, started in-process).

use std::time::{Duration, Instant};

use kafkit::connection::BrokerConnection;
use kafkit::protocol::messages::api_versions::ApiVersionsRequest;
use kafkit::protocol::ApiKey;
use kafkit::{ClientConfig, Error};
use rdkafka::mocking::MockCluster;

fn first_broker(mock: &MockCluster<'static, rdkafka::producer::DefaultProducerContext>) -> String {
    mock.bootstrap_servers()
        .split(',')
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn negotiates_versions_with_the_mock() {
    let mock = MockCluster::new(1).expect("mock cluster");
    let addr = first_broker(&mock);
    let conn = BrokerConnection::connect(&addr, None, &ClientConfig::new([&addr]))
        .await
        .expect("connect");
    // The mock bundled with rdkafka 0.39 answers ApiVersions up to v2 only, so
    // the v4 attempt must have been downgraded through the v0-shaped error.
    let av = conn
        .broker_versions(ApiKey::API_VERSIONS)
        .expect("ApiVersions listed");
    assert!(av.max >= 2, "mock advertises ApiVersions {av:?}");
    assert_eq!(
        conn.version_for::<ApiVersionsRequest>().ok(),
        Some(av.max.min(4))
    );
    assert!(conn.broker_versions(ApiKey::PRODUCE).is_some());
    assert!(conn.broker_versions(ApiKey::FETCH).is_some());
}

#[tokio::test]
async fn pipelines_many_requests_on_one_connection() {
    let mock = MockCluster::new(1).expect("mock cluster");
    let addr = first_broker(&mock);
    let conn = BrokerConnection::connect(&addr, None, &ClientConfig::new([&addr]))
        .await
        .expect("connect");
    let req = ApiVersionsRequest::default();
    let futures = (0..200).map(|_| conn.send(&req));
    let results = futures_join_all(futures).await;
    assert_eq!(results.len(), 200);
    for r in results {
        let resp = r.expect("response");
        assert!(resp.error_code.is_ok());
        assert!(!resp.api_keys.is_empty());
    }
}

#[tokio::test]
async fn broker_down_fails_requests_and_closes() {
    let mock = MockCluster::new(1).expect("mock cluster");
    let addr = first_broker(&mock);
    let config = ClientConfig::new([&addr]).with_request_timeout(Duration::from_secs(3));
    let conn = BrokerConnection::connect(&addr, None, &config)
        .await
        .expect("connect");
    mock.broker_down(1).expect("broker down");
    let started = Instant::now();
    let err = conn
        .send(&ApiVersionsRequest::default())
        .await
        .expect_err("broker is down");
    assert!(err.is_retriable(), "{err}");
    assert!(
        matches!(
            err,
            Error::Disconnected { .. } | Error::Timeout { .. } | Error::Io { .. }
        ),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // Once the socket task has stopped, the handle says so.
    for _ in 0..50 {
        if conn.is_closed() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(conn.is_closed());
}

#[tokio::test]
async fn connect_to_a_closed_port_is_a_retriable_io_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    drop(listener);
    let err = BrokerConnection::connect(&addr, None, &ClientConfig::new([&addr]))
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.is_retriable());
}

/// Polls a set of futures concurrently (a tiny join_all without the futures crate).
async fn futures_join_all<F, T>(futures: impl IntoIterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T>,
{
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out = Vec::with_capacity(set.len());
    for f in set.iter_mut() {
        out.push(f.await);
    }
    out
}
