//! TLS against a real TLS terminator: Debian's `stunnel4` (OpenSSL) in front
//! of librdkafka's mock cluster, with a CA, server and client certificates
//! generated at test time (rcgen).
//!
//! The mock advertises its own plaintext listener in Metadata; the test
//! re-advertises its one broker as `localhost:<stunnel port>` (librdkafka's
//! `rd_kafka_mock_broker_set_host_port`), so every connection kafkit opens,
//! bootstrap and leader alike, goes through stunnel.
//!
//! Needs `stunnel` on the PATH (`apt-get install stunnel4`; `.ci/run` does it).

#[path = "support/advertised_mock.rs"]
mod advertised_mock;
#[path = "support/stunnel.rs"]
mod stunnel;

use std::path::Path;
use std::time::Duration;

use kafkit::consumer::{Consumer, ConsumerConfig, OffsetReset};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::security::SecurityProtocol;
use kafkit::{Client, ClientConfig, Error};

use advertised_mock::Mock;
use stunnel::{pki, Pki, Stunnel};

/// A mock behind stunnel: `(pki, mock, stunnel)`.
fn cluster(require_client_cert: bool) -> (Pki, Mock, Stunnel) {
    let pki = pki();
    let mock = Mock::new();
    let stunnel = Stunnel::start(&pki, &mock.listener, require_client_cert);
    mock.advertise("localhost", stunnel.port);
    (pki, mock, stunnel)
}

fn tls_config(bootstrap: &str, ca: &Path) -> ClientConfig {
    ClientConfig::new([bootstrap])
        .with_security_protocol(SecurityProtocol::Ssl)
        .with_ca_file(ca)
        .with_connect_timeout(Duration::from_secs(5))
        .with_request_timeout(Duration::from_secs(5))
}

/// Produces `n` records over TLS and reads them back over TLS.
async fn produce_and_fetch(config: ClientConfig, topic: &str, n: usize) {
    let producer = Producer::connect(config.clone(), ProducerConfig::default())
        .await
        .expect("producer over TLS");
    for i in 0..n {
        producer
            .send(
                ProducerRecord::new(topic)
                    .key(format!("k{i}"))
                    .value(format!("v{i}")),
            )
            .await
            .expect("delivered over TLS");
    }
    producer.close(Duration::from_secs(5)).await.expect("close");
    let mut consumer = Consumer::connect(
        config,
        ConsumerConfig::default().with_offset_reset(OffsetReset::Earliest),
    )
    .await
    .expect("consumer over TLS");
    consumer.assign_topic(topic).await.expect("assign");
    let mut values = Vec::new();
    while values.len() < n {
        let record = tokio::time::timeout(Duration::from_secs(10), consumer.recv())
            .await
            .expect("records arrive")
            .expect("stream open")
            .expect("record");
        values.push(String::from_utf8(record.value.expect("value").to_vec()).expect("utf8"));
    }
    let want: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
    assert_eq!(values, want);
    consumer.close().await.expect("close consumer");
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

#[tokio::test]
async fn right_ca_connects_produces_and_fetches() {
    init_tracing();
    let (pki, mock, stunnel) = cluster(false);
    mock.create_topic("tls-orders");
    let bootstrap = format!("localhost:{}", stunnel.port);
    produce_and_fetch(tls_config(&bootstrap, &pki.ca), "tls-orders", 20).await;
    // The port really is TLS only: a plaintext client gets nowhere.
    let plain = Client::connect(
        ClientConfig::new([&bootstrap]).with_request_timeout(Duration::from_secs(2)),
    )
    .await;
    assert!(plain.is_err(), "plaintext through stunnel must fail");
}

#[tokio::test]
async fn wrong_ca_is_refused_with_a_tls_error() {
    init_tracing();
    let (pki, _mock, stunnel) = cluster(false);
    let bootstrap = format!("localhost:{}", stunnel.port);
    let err = Client::connect(tls_config(&bootstrap, &pki.other_ca))
        .await
        .expect_err("an untrusted CA must be refused");
    match &err {
        Error::Tls { message, .. } => {
            assert!(message.contains("UnknownIssuer"), "{err}");
        }
        other => panic!("not a TLS error: {other}"),
    }
    assert!(!err.is_retriable());
}

#[tokio::test]
async fn wrong_host_name_is_refused_unless_explicitly_disabled() {
    init_tracing();
    let (pki, mock, stunnel) = cluster(false);
    // The certificate names `localhost` only.
    let by_ip = format!("127.0.0.1:{}", stunnel.port);
    let err = Client::connect(tls_config(&by_ip, &pki.ca))
        .await
        .expect_err("a certificate for another name must be refused");
    match &err {
        Error::Tls { message, .. } => {
            assert!(message.contains("not valid for name"), "{err}");
        }
        other => panic!("not a TLS error: {other}"),
    }
    // The loudly named switch turns the name check (and only it) off.
    mock.create_topic("tls-by-ip");
    mock.advertise("127.0.0.1", stunnel.port);
    let insecure = tls_config(&by_ip, &pki.ca).danger_disable_hostname_verification();
    produce_and_fetch(insecure, "tls-by-ip", 3).await;
    let still_checks_chain =
        tls_config(&by_ip, &pki.other_ca).danger_disable_hostname_verification();
    assert!(matches!(
        Client::connect(still_checks_chain).await,
        Err(Error::Tls { .. })
    ));
}

#[tokio::test]
async fn mutual_tls_needs_the_client_certificate() {
    init_tracing();
    let (pki, mock, stunnel) = cluster(true);
    mock.create_topic("mtls");
    let bootstrap = format!("localhost:{}", stunnel.port);
    let with_cert =
        tls_config(&bootstrap, &pki.ca).with_client_certificate(&pki.client_cert, &pki.client_key);
    produce_and_fetch(with_cert, "mtls", 5).await;
    let err = Client::connect(tls_config(&bootstrap, &pki.ca))
        .await
        .expect_err("stunnel requires a client certificate");
    match &err {
        // TLS 1.3: the server's verdict arrives as an alert after the handshake.
        Error::Tls { message, .. } => assert!(message.contains("CertificateRequired"), "{err}"),
        other => panic!("not a TLS error: {other}"),
    }
}
