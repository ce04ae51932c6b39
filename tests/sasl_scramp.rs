//! SCRAM-SHA-256/512 against an independent SCRAM server: the `scramp`
//! Python package (PyPI), in a small SASL front (tests/support/scram_front.py)
//! in front of librdkafka's mock cluster. The front answers SaslHandshake and
//! SaslAuthenticate with scramp's server, then relays the authenticated
//! connection to the mock, whose broker is advertised at the front's port; so
//! every connection kafkit opens (bootstrap and leader) authenticates, and
//! records are really produced and fetched through it.
//!
//! SASL_SSL chains stunnel (OpenSSL) in front of the SCRAM front.
//!
//! Needs `python3` with `scramp` (`pip install scramp`; `.ci/run` does it)
//! and `stunnel`.

#[path = "support/advertised_mock.rs"]
mod advertised_mock;
#[path = "support/stunnel.rs"]
mod stunnel;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use advertised_mock::Mock;
use kafkit::connection::Pool;
use kafkit::consumer::{Consumer, ConsumerConfig, OffsetReset};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::security::{SaslMechanism, SecurityProtocol};
use kafkit::{Client, ClientConfig, Error};

/// The Python SASL front; killed on drop.
struct Front {
    child: Child,
    port: u16,
}

impl Front {
    fn start(upstream: &str, mechanism: SaslMechanism, user: &str, password: &str) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/scram_front.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args([upstream, mechanism.name(), user, password])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("front output");
        let port = line
            .strip_prefix("LISTENING ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| {
                panic!("the SCRAM front did not start (is scramp installed? pip install scramp): {line:?}")
            });
        Self { child, port }
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A mock behind a SCRAM front accepting `user`/`password`.
fn cluster(mechanism: SaslMechanism, user: &str, password: &str) -> (Mock, Front) {
    let mock = Mock::new();
    let front = Front::start(&mock.listener, mechanism, user, password);
    mock.advertise("127.0.0.1", front.port);
    (mock, front)
}

fn sasl(addr: &str, mechanism: SaslMechanism, user: &str, password: &str) -> ClientConfig {
    ClientConfig::new([addr])
        .with_security_protocol(SecurityProtocol::SaslPlaintext)
        .with_sasl(mechanism, user, password)
        .with_request_timeout(Duration::from_secs(10))
        .with_reconnect_backoff(Duration::from_millis(10), Duration::from_secs(1))
}

async fn produce_and_fetch(config: ClientConfig, topic: &str) {
    let producer = Producer::connect(config.clone(), ProducerConfig::default())
        .await
        .expect("producer");
    for i in 0..10 {
        producer
            .send(ProducerRecord::new(topic).value(format!("v{i}")))
            .await
            .expect("delivered");
    }
    producer.close(Duration::from_secs(5)).await.expect("close");
    let mut consumer = Consumer::connect(
        config,
        ConsumerConfig::default().with_offset_reset(OffsetReset::Earliest),
    )
    .await
    .expect("consumer");
    consumer.assign_topic(topic).await.expect("assign");
    let mut got = Vec::new();
    while got.len() < 10 {
        let record = tokio::time::timeout(Duration::from_secs(10), consumer.recv())
            .await
            .expect("records arrive")
            .expect("open")
            .expect("record");
        got.push(String::from_utf8(record.value.expect("value").to_vec()).expect("utf8"));
    }
    let want: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
    assert_eq!(got, want);
    consumer.close().await.expect("close consumer");
}

#[tokio::test]
async fn scram_sha256_produces_and_fetches_through_scramp() {
    let mechanism = SaslMechanism::ScramSha256;
    let (mock, front) = cluster(mechanism, "alice", "alice-secret");
    mock.create_topic("scram-256");
    let addr = format!("127.0.0.1:{}", front.port);
    produce_and_fetch(sasl(&addr, mechanism, "alice", "alice-secret"), "scram-256").await;
}

#[tokio::test]
async fn scram_sha512_produces_and_fetches_through_scramp() {
    let mechanism = SaslMechanism::ScramSha512;
    let (mock, front) = cluster(mechanism, "bob", "bob-secret");
    mock.create_topic("scram-512");
    let addr = format!("127.0.0.1:{}", front.port);
    produce_and_fetch(sasl(&addr, mechanism, "bob", "bob-secret"), "scram-512").await;
}

/// Counts the TCP connections it forwards to `to`.
async fn counting_proxy(to: String) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let to = to.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (addr, count)
}

#[tokio::test]
async fn wrong_password_fails_clearly_without_a_retry_storm() {
    let mechanism = SaslMechanism::ScramSha512;
    let (_mock, front) = cluster(mechanism, "carol", "carol-secret");
    let (proxy, connections) = counting_proxy(format!("127.0.0.1:{}", front.port)).await;
    let config = sasl(&proxy, mechanism, "carol", "not-carols-password");
    let started = Instant::now();
    let err = Client::connect(config.clone())
        .await
        .expect_err("wrong password");
    assert!(started.elapsed() < Duration::from_secs(5));
    let shown = err.to_string();
    assert!(
        matches!(&err, Error::Authentication { mechanism, .. } if mechanism == "SCRAM-SHA-512"),
        "{shown}"
    );
    assert!(shown.contains("SASL_AUTHENTICATION_FAILED"), "{shown}");
    assert!(!shown.contains("not-carols-password"), "{shown}");
    assert!(!format!("{err:?}").contains("not-carols-password"));
    assert!(!err.is_retriable());
    // Callers that keep trying for 700 ms cause one more connection, not dozens.
    let pool = Pool::new(config);
    let until = Instant::now() + Duration::from_millis(700);
    while Instant::now() < until {
        assert!(matches!(
            pool.any().await,
            Err(Error::Authentication { .. })
        ));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    // An unknown user fails the same way, and the right password works.
    let stranger = sasl(&proxy, mechanism, "mallory", "carol-secret");
    assert!(matches!(
        Client::connect(stranger).await,
        Err(Error::Authentication { .. })
    ));
    let right = sasl(&proxy, mechanism, "carol", "carol-secret");
    Client::connect(right)
        .await
        .expect("right password")
        .close();
}

#[tokio::test]
async fn sasl_ssl_scram_sha512_through_stunnel_and_scramp() {
    let mechanism = SaslMechanism::ScramSha512;
    let mock = Mock::new();
    mock.create_topic("sasl-ssl");
    let front = Front::start(&mock.listener, mechanism, "dave", "dave-secret");
    let pki = stunnel::pki();
    let tls = stunnel::Stunnel::start(&pki, &format!("127.0.0.1:{}", front.port), false);
    mock.advertise("localhost", tls.port);
    let addr = format!("localhost:{}", tls.port);
    let config = |password: &str| {
        sasl(&addr, mechanism, "dave", password)
            .with_security_protocol(SecurityProtocol::SaslSsl)
            .with_ca_file(&pki.ca)
    };
    produce_and_fetch(config("dave-secret"), "sasl-ssl").await;
    let err = Client::connect(config("wrong"))
        .await
        .expect_err("wrong password");
    assert!(matches!(err, Error::Authentication { .. }), "{err}");
}
