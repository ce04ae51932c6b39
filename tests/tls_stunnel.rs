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

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kafkit::consumer::{Consumer, ConsumerConfig, OffsetReset};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::security::SecurityProtocol;
use kafkit::{Client, ClientConfig, Error};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

use advertised_mock::Mock;

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kafkit-tls-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }

    fn write(&self, file: &str, text: &str) -> PathBuf {
        let path = self.0.join(file);
        std::fs::write(&path, text).expect("write scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A test CA, a server certificate for `localhost` only, a client
/// certificate from the same CA, and an unrelated second CA.
struct Pki {
    dir: Scratch,
    ca: PathBuf,
    other_ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    (params.self_signed(&key).expect("CA cert"), key)
}

fn leaf(
    names: &[&str],
    cn: &str,
    usage: ExtendedKeyUsagePurpose,
    issuer: &(rcgen::Certificate, KeyPair),
) -> (String, String) {
    let key = KeyPair::generate().expect("leaf key");
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("leaf params");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![usage];
    let cert = params
        .signed_by(&key, &issuer.0, &issuer.1)
        .expect("sign leaf");
    (cert.pem(), key.serialize_pem())
}

fn pki() -> Pki {
    let dir = Scratch::new("pki");
    let ca_pair = ca("kafkit test CA");
    let other = ca("some other CA");
    // Only the DNS name: connecting to 127.0.0.1 is a wrong host name.
    let (server_cert, server_key) = leaf(
        &["localhost"],
        "localhost",
        ExtendedKeyUsagePurpose::ServerAuth,
        &ca_pair,
    );
    let (client_cert, client_key) = leaf(
        &[],
        "kafkit-client",
        ExtendedKeyUsagePurpose::ClientAuth,
        &ca_pair,
    );
    Pki {
        ca: dir.write("ca.pem", &ca_pair.0.pem()),
        other_ca: dir.write("other-ca.pem", &other.0.pem()),
        server_cert: dir.write("server.pem", &server_cert),
        server_key: dir.write("server.key", &server_key),
        client_cert: dir.write("client.pem", &client_cert),
        client_key: dir.write("client.key", &client_key),
        dir,
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A running stunnel server; killed on drop.
struct Stunnel {
    child: Child,
    port: u16,
}

impl Stunnel {
    fn start(pki: &Pki, backend: &str, require_client_cert: bool) -> Self {
        let port = free_port();
        let mut conf = format!(
            "foreground = yes\npid =\ndebug = 4\n[kafka]\naccept = 127.0.0.1:{port}\n\
             connect = {backend}\ncert = {}\nkey = {}\n",
            pki.server_cert.display(),
            pki.server_key.display()
        );
        if require_client_cert {
            conf.push_str(&format!(
                "CAfile = {}\nverifyChain = yes\nrequireCert = yes\n",
                pki.ca.display()
            ));
        }
        let conf_path = pki.dir.write(&format!("stunnel-{port}.conf"), &conf);
        let child = Command::new("stunnel")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("stunnel is not installed (apt-get install stunnel4; .ci/run installs it)");
        let stunnel = Self { child, port };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "stunnel did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        stunnel
    }
}

impl Drop for Stunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
