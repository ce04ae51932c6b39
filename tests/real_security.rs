//! SASL and TLS against Apache Kafka's own listeners (the primary evidence
//! for kafkit's security paths): one owned KRaft node exposes SASL_PLAINTEXT
//! (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), SSL, SASL_SSL, mutual TLS and a
//! SASL listener with short sessions (KIP-368); see
//! `tests/support/secure_kafka.rs`. Records really go through each listener:
//! a kafkit producer writes them, a kafkit consumer reads them back.
//!
//! The scramp / stunnel fronts (`sasl_scramp.rs`, `tls_stunnel.rs`) stay as
//! second, independent implementations.

#[path = "support/kafka.rs"]
mod kafka;
#[path = "support/secure_kafka.rs"]
mod secure_kafka;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use kafkit::admin::TopicPartition;
use kafkit::connection::{BrokerConnection, Pool};
use kafkit::consumer::{Consumer, ConsumerConfig, OffsetReset};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::messages::api_versions::ApiVersionsRequest;
use kafkit::security::{SaslMechanism, SecurityProtocol};
use kafkit::{Client, ClientConfig, Error};

use secure_kafka::{SecureKafka, ODD_PASSWORD, ODD_USER, PASSWORD, REAUTH_MS, USER};

/// The node shared by this file's tests; stopped by its watcher when the
/// test process exits.
fn node() -> Option<&'static SecureKafka> {
    static NODE: OnceLock<Option<SecureKafka>> = OnceLock::new();
    NODE.get_or_init(SecureKafka::start).as_ref()
}

fn base(addr: &str, protocol: SecurityProtocol) -> ClientConfig {
    ClientConfig::new([addr])
        .with_security_protocol(protocol)
        .with_connect_timeout(Duration::from_secs(5))
        .with_request_timeout(Duration::from_secs(10))
        .with_reconnect_backoff(Duration::from_millis(10), Duration::from_secs(1))
}

fn sasl(addr: &str, protocol: SecurityProtocol, m: SaslMechanism, password: &str) -> ClientConfig {
    base(addr, protocol).with_sasl(m, USER, password)
}

fn sasl_ssl(k: &SecureKafka, m: SaslMechanism, password: &str) -> ClientConfig {
    sasl(
        k.listener("SASLTLS"),
        SecurityProtocol::SaslSsl,
        m,
        password,
    )
    .with_ca_file(&k.pki.ca)
}

/// A kafkit producer writes 10 records through `config`'s listener and a
/// kafkit consumer reads them back through it: by assignment, or `in_group`
/// as a group member that then commits (coordinator and group APIs included).
async fn round_trip(config: ClientConfig, name: &str, in_group: bool) {
    let topic = kafka::unique(name);
    let producer = Producer::connect(config.clone(), ProducerConfig::default())
        .await
        .unwrap_or_else(|e| panic!("{name}: producer: {e}"));
    for i in 0..10 {
        producer
            .send(
                ProducerRecord::new(topic.as_str())
                    .key(format!("k{i}"))
                    .value(format!("v{i}")),
            )
            .await
            .unwrap_or_else(|e| panic!("{name}: send: {e}"));
    }
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
    let consumer_config = if in_group {
        ConsumerConfig::group(kafka::unique(name)).from_beginning()
    } else {
        ConsumerConfig::default().with_offset_reset(OffsetReset::Earliest)
    };
    let mut consumer = Consumer::connect(config, consumer_config)
        .await
        .unwrap_or_else(|e| panic!("{name}: consumer: {e}"));
    if in_group {
        consumer.subscribe(&[&topic]).expect("subscribe");
    } else {
        consumer.assign_topic(&topic).await.expect("assign");
    }
    let mut got = Vec::new();
    while got.len() < 10 {
        let record = tokio::time::timeout(Duration::from_secs(20), consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("{name}: records arrive (got {got:?})"))
            .expect("stream open")
            .expect("record");
        got.push(String::from_utf8(record.value.expect("value").to_vec()).expect("utf8"));
    }
    got.sort();
    let mut want: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
    want.sort();
    assert_eq!(got, want, "{name}");
    if in_group {
        consumer.mark_processed();
        consumer.commit().await.expect("commit");
        let partitions = (0..3)
            .map(|partition| TopicPartition {
                topic: topic.clone(),
                partition,
            })
            .collect();
        let committed = consumer.committed(partitions).await.expect("committed");
        let total: i64 = committed.values().map(|o| o.unwrap_or(0)).sum();
        assert_eq!(total, 10, "{name}: committed {committed:?}");
    }
    consumer.close().await.expect("close consumer");
}

#[tokio::test]
async fn sasl_plaintext_plain_round_trip() {
    let Some(k) = node() else { return };
    let config = sasl(
        k.listener("SASL"),
        SecurityProtocol::SaslPlaintext,
        SaslMechanism::Plain,
        PASSWORD,
    );
    round_trip(config, "sec-plain", false).await;
}

#[tokio::test]
async fn sasl_plaintext_scram_sha256_round_trip() {
    let Some(k) = node() else { return };
    let m = SaslMechanism::ScramSha256;
    let config = sasl(
        k.listener("SASL"),
        SecurityProtocol::SaslPlaintext,
        m,
        PASSWORD,
    );
    round_trip(config, "sec-scram256", true).await;
}

#[tokio::test]
async fn sasl_plaintext_scram_sha512_round_trip() {
    let Some(k) = node() else { return };
    let m = SaslMechanism::ScramSha512;
    let config = sasl(
        k.listener("SASL"),
        SecurityProtocol::SaslPlaintext,
        m,
        PASSWORD,
    );
    round_trip(config, "sec-scram512", false).await;
}

#[tokio::test]
async fn scram_name_escapes_and_non_ascii_passwords_match_the_broker() {
    let Some(k) = node() else { return };
    let m = SaslMechanism::ScramSha256;
    let config = base(k.listener("SASL"), SecurityProtocol::SaslPlaintext).with_sasl(
        m,
        ODD_USER,
        ODD_PASSWORD,
    );
    let client = Client::connect(config).await.expect("odd user");
    let metadata = client.refresh_metadata().await.expect("metadata");
    assert_eq!(metadata.brokers.len(), 1);
    client.close();
}

#[tokio::test]
async fn ssl_round_trip_with_host_names_checked() {
    let Some(k) = node() else { return };
    // The broker advertises 127.0.0.1 (an IP SAN of its certificate); the
    // bootstrap goes by `localhost` (a DNS SAN): both names are checked.
    let addr = k.listener("TLS");
    let by_name = addr.replace("127.0.0.1", "localhost");
    let config = base(&by_name, SecurityProtocol::Ssl).with_ca_file(&k.pki.ca);
    round_trip(config, "sec-ssl", false).await;
    // The port speaks TLS only.
    let plain =
        base(addr, SecurityProtocol::Plaintext).with_request_timeout(Duration::from_secs(3));
    assert!(Client::connect(plain).await.is_err());
}

#[tokio::test]
async fn sasl_ssl_scram_round_trip() {
    let Some(k) = node() else { return };
    round_trip(
        sasl_ssl(k, SaslMechanism::ScramSha512, PASSWORD),
        "sec-saslssl",
        true,
    )
    .await;
    for m in [SaslMechanism::ScramSha256, SaslMechanism::Plain] {
        Client::connect(sasl_ssl(k, m, PASSWORD))
            .await
            .unwrap_or_else(|e| panic!("SASL_SSL {m}: {e}"))
            .close();
    }
}

#[tokio::test]
async fn mutual_tls_round_trip_and_refusals() {
    let Some(k) = node() else { return };
    let addr = k.listener("MTLS");
    let tls = || base(addr, SecurityProtocol::Ssl).with_ca_file(&k.pki.ca);
    let with_cert = tls().with_client_certificate(&k.pki.client_cert, &k.pki.client_key);
    round_trip(with_cert, "sec-mtls", true).await;
    // No certificate, or one from a CA the broker does not trust: the
    // broker's alert ends the handshake.
    let stranger = tls().with_client_certificate(&k.pki.stranger_cert, &k.pki.stranger_key);
    for (what, config) in [("no certificate", tls()), ("a stranger's", stranger)] {
        let err = Client::connect(config).await.expect_err("mTLS must refuse");
        assert!(matches!(err, Error::Tls { .. }), "{what}: {err}");
        assert!(!err.is_retriable(), "{what}: {err}");
    }
}

#[tokio::test]
async fn untrusted_ca_is_a_clear_tls_error() {
    let Some(k) = node() else { return };
    let configs = [
        base(k.listener("TLS"), SecurityProtocol::Ssl),
        sasl(
            k.listener("SASLTLS"),
            SecurityProtocol::SaslSsl,
            SaslMechanism::ScramSha256,
            PASSWORD,
        ),
    ];
    for config in configs {
        let started = Instant::now();
        let err = Client::connect(config.with_ca_file(&k.pki.other_ca))
            .await
            .expect_err("an untrusted CA must be refused");
        assert!(started.elapsed() < Duration::from_secs(5), "{err}");
        match &err {
            Error::Tls { message, .. } => assert!(message.contains("UnknownIssuer"), "{err}"),
            other => panic!("not a TLS error: {other}"),
        }
        assert!(!err.is_retriable());
    }
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

/// A wrong password: `Error::Authentication` naming the mechanism and the
/// broker's verdict, at once, never showing the password; callers that keep
/// asking for 700 ms cause one more connection, not a storm.
async fn refused(config: impl Fn(&str, &str) -> ClientConfig, to: &str, m: SaslMechanism) {
    const WRONG: &str = "not-alices-password";
    let (proxy, connections) = counting_proxy(to.to_owned()).await;
    let started = Instant::now();
    let err = Client::connect(config(&proxy, WRONG))
        .await
        .expect_err("wrong password");
    assert!(started.elapsed() < Duration::from_secs(5), "{m}: {err}");
    let shown = err.to_string();
    assert!(
        matches!(&err, Error::Authentication { mechanism, .. } if mechanism == m.name()),
        "{m}: {shown}"
    );
    assert!(shown.contains(m.name()), "{shown}");
    assert!(shown.contains("SASL_AUTHENTICATION_FAILED"), "{shown}");
    assert!(!shown.contains(WRONG) && !format!("{err:?}").contains(WRONG));
    assert!(!err.is_retriable());
    let pool = Pool::new(config(&proxy, WRONG));
    let until = Instant::now() + Duration::from_millis(700);
    while Instant::now() < until {
        let again = pool.any().await.expect_err("still the wrong password");
        assert!(matches!(again, Error::Authentication { .. }), "{again}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(connections.load(Ordering::SeqCst), 2, "{m}");
}

#[tokio::test]
async fn wrong_password_fails_promptly_for_every_mechanism() {
    let Some(k) = node() else { return };
    let to = k.listener("SASL");
    for m in [
        SaslMechanism::Plain,
        SaslMechanism::ScramSha256,
        SaslMechanism::ScramSha512,
    ] {
        let config = |addr: &str, pw: &str| sasl(addr, SecurityProtocol::SaslPlaintext, m, pw);
        refused(config, to, m).await;
        // An unknown user is refused the same way.
        let mut stranger = config(to, PASSWORD);
        stranger.set("sasl.username", "mallory").expect("set");
        let err = Client::connect(stranger).await.expect_err("unknown user");
        assert!(matches!(err, Error::Authentication { .. }), "{m}: {err}");
    }
    // Over TLS too (the proxy relays the TLS bytes; the name stays 127.0.0.1).
    let m = SaslMechanism::ScramSha512;
    let ca = k.pki.ca.clone();
    let config =
        move |addr: &str, pw: &str| sasl(addr, SecurityProtocol::SaslSsl, m, pw).with_ca_file(&ca);
    refused(config, k.listener("SASLTLS"), m).await;
}

#[tokio::test]
async fn mechanism_the_listener_does_not_enable_is_named() {
    let Some(k) = node() else { return };
    // REAUTH enables PLAIN and SCRAM-SHA-256 only.
    let m = SaslMechanism::ScramSha512;
    let config = sasl(
        k.listener("REAUTH"),
        SecurityProtocol::SaslPlaintext,
        m,
        PASSWORD,
    );
    let err = Client::connect(config).await.expect_err("not enabled");
    let shown = err.to_string();
    assert!(matches!(err, Error::Authentication { .. }), "{shown}");
    assert!(
        shown.contains("UNSUPPORTED_SASL_MECHANISM") && shown.contains("PLAIN, SCRAM-SHA-256"),
        "{shown}"
    );
}

/// Collects what kafkit logs on this thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

/// One connection used for three session lifetimes: without KIP-368
/// re-authentication the broker would close it at the first request after
/// its session expired.
async fn outlive_session(config: ClientConfig) -> usize {
    let addr = config.bootstrap[0].clone();
    let conn = BrokerConnection::connect(&addr, None, &config)
        .await
        .expect("authenticated connection");
    let until = Instant::now() + Duration::from_millis(3 * REAUTH_MS);
    let mut requests = 0;
    // The last request goes out after `until`, whatever the machine's speed.
    loop {
        conn.send(&ApiVersionsRequest::default())
            .await
            .unwrap_or_else(|e| panic!("request {requests} after re-auth: {e}"));
        assert!(!conn.is_closed());
        requests += 1;
        if Instant::now() >= until {
            return requests;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A producer's connections live through re-authentications as well.
async fn keep_producing(config: ClientConfig) -> usize {
    let producer = Producer::connect(config, ProducerConfig::default())
        .await
        .expect("producer");
    let topic = kafka::unique("sec-reauth");
    let until = Instant::now() + Duration::from_millis(3 * REAUTH_MS);
    let mut sent = 0;
    loop {
        producer
            .send(ProducerRecord::new(topic.as_str()).value("still here"))
            .await
            .unwrap_or_else(|e| panic!("record {sent} across re-authentications: {e}"));
        sent += 1;
        if Instant::now() >= until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
    sent
}

#[tokio::test]
async fn connections_outlive_their_sasl_session_by_reauthenticating() {
    let Some(k) = node() else { return };
    let logs = Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("kafkit=debug"))
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    // current-thread runtime: every task of this test runs on this thread.
    let _guard = tracing::subscriber::set_default(subscriber);
    let addr = k.listener("REAUTH");
    let plain = sasl(
        addr,
        SecurityProtocol::SaslPlaintext,
        SaslMechanism::Plain,
        PASSWORD,
    );
    let scram = sasl(
        addr,
        SecurityProtocol::SaslPlaintext,
        SaslMechanism::ScramSha256,
        PASSWORD,
    );
    let over_tls = sasl(
        k.listener("REAUTHTLS"),
        SecurityProtocol::SaslSsl,
        SaslMechanism::ScramSha512,
        PASSWORD,
    )
    .with_ca_file(&k.pki.ca);
    let (a, b, c, sent) = tokio::join!(
        outlive_session(plain.clone()),
        outlive_session(scram),
        outlive_session(over_tls),
        keep_producing(plain),
    );
    // Each loop sent its last request after three lifetimes (a slow machine
    // sends fewer, not earlier).
    assert!(
        a >= 3 && b >= 3 && c >= 3 && sent >= 3,
        "{a}, {b}, {c} requests, {sent} records"
    );
    let text = logs.text();
    let reauths = text.matches("re-authenticated").count();
    assert!(reauths >= 6, "{reauths} re-authentications:\n{text}");
    // No connection was replaced: five first authentications (three
    // connections above, the producer's bootstrap and leader connections).
    let first = text
        .lines()
        .filter(|l| l.contains("auth: authenticated") && !l.contains("reauthenticate{"))
        .count();
    assert_eq!(first, 5, "{text}");
    assert!(!text.contains("re-authentication failed"), "{text}");
    assert!(
        text.contains(&format!("session_lifetime_ms={REAUTH_MS}")),
        "{text}"
    );
}

/// One request on a bare socket (kafkit's codecs, no client logic); `None`
/// when the broker closed the connection instead of answering.
async fn bare_call<R: kafkit::protocol::Request>(
    stream: &mut tokio::net::TcpStream,
    req: &R,
    version: i16,
    correlation_id: i32,
) -> Option<R::Response> {
    use kafkit::protocol::frame::{decode_response_strict, DEFAULT_MAX_FRAME_SIZE};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut out = bytes::BytesMut::new();
    kafkit::protocol::encode_request(req, version, correlation_id, Some("bare"), &mut out)
        .expect("encode");
    stream.write_all(&out).await.ok()?;
    let mut buf = bytes::BytesMut::new();
    loop {
        if let Some(frame) =
            kafkit::protocol::try_parse_frame(&mut buf, DEFAULT_MAX_FRAME_SIZE).expect("frame")
        {
            return Some(
                decode_response_strict::<R::Response>(frame, version)
                    .expect("decode")
                    .1,
            );
        }
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_buf(&mut buf))
            .await
            .expect("an answer or a close");
        if !matches!(read, Ok(n) if n > 0) {
            return None;
        }
    }
}

/// The control for the test above: a connection that does not
/// re-authenticate is closed by the broker at its first request after the
/// session lifetime, so surviving it means kafkit re-authenticated.
#[tokio::test]
async fn broker_closes_a_session_that_is_not_renewed() {
    use kafkit::protocol::messages::sasl_authenticate::SaslAuthenticateRequest;
    use kafkit::protocol::messages::sasl_handshake::SaslHandshakeRequest;
    let Some(k) = node() else { return };
    let mut stream = tokio::net::TcpStream::connect(k.listener("REAUTH"))
        .await
        .expect("connect");
    let handshake = SaslHandshakeRequest {
        mechanism: "PLAIN".to_owned(),
    };
    let shake = bare_call(&mut stream, &handshake, 1, 1)
        .await
        .expect("handshake");
    assert!(shake.error_code.is_ok(), "{shake:?}");
    let token = format!("\0{USER}\0{PASSWORD}");
    let auth = SaslAuthenticateRequest {
        auth_bytes: bytes::Bytes::from(token.into_bytes()),
        ..Default::default()
    };
    let done = bare_call(&mut stream, &auth, 2, 2)
        .await
        .expect("authenticate");
    assert!(done.error_code.is_ok(), "{done:?}");
    assert_eq!(done.session_lifetime_ms, i64::try_from(REAUTH_MS).unwrap());
    let versions = ApiVersionsRequest::default();
    assert!(bare_call(&mut stream, &versions, 0, 3).await.is_some());
    tokio::time::sleep(Duration::from_millis(REAUTH_MS + 500)).await;
    assert!(
        bare_call(&mut stream, &versions, 0, 4).await.is_none(),
        "the broker answered after the session expired"
    );
}
