//! SASL against tansu, an independent Kafka-compatible broker (Rust, SCRAM
//! from the `rsasl` crate), started with `--authentication`.
//!
//! SCRAM users are created the way `tansu user create` does it, with an
//! AlterUserScramCredentials request (the salted password computed by
//! Python's hashlib, not by kafkit) sent over a connection authenticated
//! with PLAIN: tansu requires authentication for everything but the SASL
//! APIs, and its PLAIN accepts any password, so PLAIN is only checked for
//! framing here (the scripted broker in `sasl_scripted.rs` checks a wrong
//! PLAIN password).
//!
//! Needs the `tansu` binary: `$TANSU`, `/opt/tansu/bin/tansu` or `PATH`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafkit::connection::{BrokerConnection, Pool};
use kafkit::consumer::{Consumer, ConsumerConfig, OffsetReset};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::messages::create_topics::{CreatableTopic, CreateTopicsRequest};
use kafkit::protocol::{ApiKey, ErrorCode, Message, Reader, Request, Route, VersionRange, Writer};
use kafkit::security::{SaslMechanism, SecurityProtocol};
use kafkit::{Client, ClientConfig, Error};

fn tansu_bin() -> PathBuf {
    let candidates = std::env::var_os("TANSU")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/opt/tansu/bin/tansu")])
        .chain(
            std::env::var_os("PATH")
                .map(|p| {
                    std::env::split_paths(&p)
                        .map(|d| d.join("tansu"))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
        );
    for c in candidates {
        if c.is_file() {
            return c;
        }
    }
    panic!("tansu not found: set TANSU, install it to /opt/tansu/bin (cargo install tansu) or put it on PATH");
}

/// A tansu broker with authentication required; killed on drop.
struct Tansu {
    child: Child,
    addr: String,
}

impl Tansu {
    /// Starts tansu on a free port; `tls` is `(cert, key)` PEM files.
    fn start(host: &str, tls: Option<(&std::path::Path, &std::path::Path)>) -> Self {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let url = format!("tcp://{host}:{port}");
        let mut cmd = Command::new(tansu_bin());
        cmd.args(["broker", "--storage-engine", "memory://tansu/"])
            .args(["--listener-url", &format!("tcp://127.0.0.1:{port}")])
            .args(["--advertised-listener-url", &url])
            .args(["--authentication", "--silent"]);
        if let Some((cert, key)) = tls {
            cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            addr: format!("{host}:{port}"),
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// AlterUserScramCredentials v0 (key 51), only what the test needs.
#[derive(Debug, Clone)]
struct AlterScram {
    user: String,
    /// 1 = SCRAM-SHA-256, 2 = SCRAM-SHA-512.
    mechanism: i8,
    iterations: i32,
    salt: Bytes,
    salted_password: Bytes,
}

#[derive(Debug)]
struct AlterScramResponse {
    errors: Vec<(String, i16)>,
}

impl Message for AlterScram {
    const API_KEY: ApiKey = ApiKey(51);
    const VERSIONS: VersionRange = VersionRange::new(0, 0);
    const FLEXIBLE_FROM: Option<i16> = Some(0);

    fn encode_body(&self, w: &mut Writer<'_>) -> kafkit::protocol::Result<()> {
        w.array(&[] as &[()], |_, _| Ok(()))?;
        w.array(std::slice::from_ref(self), |w, u| {
            w.string(&u.user)?;
            w.i8(u.mechanism);
            w.i32(u.iterations);
            w.bytes(&u.salt)?;
            w.bytes(&u.salted_password)?;
            w.unknown_tagged_fields(&Default::default())
        })?;
        w.unknown_tagged_fields(&Default::default())
    }

    fn decode_body(_: &mut Reader, _: i16) -> kafkit::protocol::Result<Self> {
        unreachable!("requests are only sent")
    }
}

impl Request for AlterScram {
    type Response = AlterScramResponse;
    const ROUTE: Route = Route::Controller;
}

impl Message for AlterScramResponse {
    const API_KEY: ApiKey = ApiKey(51);
    const VERSIONS: VersionRange = VersionRange::new(0, 0);
    const FLEXIBLE_FROM: Option<i16> = Some(0);

    fn encode_body(&self, _: &mut Writer<'_>) -> kafkit::protocol::Result<()> {
        unreachable!("responses are only received")
    }

    fn decode_body(r: &mut Reader, _: i16) -> kafkit::protocol::Result<Self> {
        let _throttle = r.i32()?;
        let errors = r.array(|r| {
            let user = r.string()?;
            let code = r.i16()?;
            let _message = r.nullable_string()?;
            r.unknown_tagged_fields()?;
            Ok((user, code))
        })?;
        r.unknown_tagged_fields()?;
        Ok(Self { errors })
    }
}

/// RFC 5802 `Hi()` by Python's hashlib (independent of kafkit's PBKDF2).
fn python_salted_password(hash: &str, password: &str, salt: &[u8], iterations: i32) -> Bytes {
    let salt_hex: String = salt.iter().map(|b| format!("{b:02x}")).collect();
    let out = Command::new("python3")
        .args([
            "-c",
            "import hashlib,sys; print(hashlib.pbkdf2_hmac(sys.argv[1], sys.argv[2].encode(), \
             bytes.fromhex(sys.argv[3]), int(sys.argv[4])).hex())",
            hash,
            password,
            &salt_hex,
            &iterations.to_string(),
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hex = String::from_utf8(out.stdout).expect("hex");
    let hex = hex.trim();
    Bytes::from(
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit"))
            .collect::<Vec<u8>>(),
    )
}

fn base(addr: &str) -> ClientConfig {
    ClientConfig::new([addr])
        .with_security_protocol(SecurityProtocol::SaslPlaintext)
        .with_request_timeout(Duration::from_secs(10))
}

/// Creates SCRAM users and a topic over a PLAIN-authenticated connection.
async fn provision(
    tansu: &Tansu,
    config: ClientConfig,
    users: &[(SaslMechanism, &str, &str)],
    topic: &str,
) {
    let admin = config.with_sasl(SaslMechanism::Plain, "admin", "anything");
    let conn = BrokerConnection::connect(&tansu.addr, None, &admin)
        .await
        .expect("PLAIN connection to tansu");
    for (i, (mechanism, user, password)) in users.iter().enumerate() {
        let (code, hash) = match mechanism {
            SaslMechanism::ScramSha256 => (1, "sha256"),
            _ => (2, "sha512"),
        };
        let salt = Bytes::from(format!("kafkit-salt-{i}-{user}"));
        let iterations = 8192;
        let req = AlterScram {
            user: (*user).to_owned(),
            mechanism: code,
            iterations,
            salted_password: python_salted_password(hash, password, &salt, iterations),
            salt,
        };
        let resp = conn
            .send_at(&req, 0)
            .await
            .expect("AlterUserScramCredentials");
        assert_eq!(resp.errors, [((*user).to_owned(), 0)], "{resp:?}");
    }
    let create = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: topic.to_owned(),
            num_partitions: 1,
            replication_factor: 1,
            ..Default::default()
        }],
        ..Default::default()
    };
    let resp = conn.send(&create).await.expect("CreateTopics");
    let codes: Vec<ErrorCode> = resp.topics.iter().map(|t| t.error_code).collect();
    assert_eq!(codes, [ErrorCode::NONE], "{resp:?}");
    conn.close();
}

async fn produce_and_fetch(config: ClientConfig, topic: &str, tag: &str) {
    let producer = Producer::connect(config.clone(), ProducerConfig::default())
        .await
        .expect("producer");
    for i in 0..5 {
        producer
            .send(ProducerRecord::new(topic).value(format!("{tag}-{i}")))
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
    while got.len() < 5 {
        let record = tokio::time::timeout(Duration::from_secs(10), consumer.recv())
            .await
            .expect("records arrive")
            .expect("open")
            .expect("record");
        got.push(String::from_utf8(record.value.expect("value").to_vec()).expect("utf8"));
    }
    let want: Vec<String> = (0..5).map(|i| format!("{tag}-{i}")).collect();
    assert_eq!(got, want);
    consumer.close().await.expect("close consumer");
}

#[tokio::test]
async fn scram_sha256_and_sha512_produce_and_fetch() {
    let tansu = Tansu::start("127.0.0.1", None);
    let users = [
        (SaslMechanism::ScramSha256, "alice", "alice-secret"),
        (SaslMechanism::ScramSha512, "bob", "bob-secret"),
    ];
    provision(&tansu, base(&tansu.addr), &users, "scram-orders").await;
    for (mechanism, user, password) in users {
        let config = base(&tansu.addr).with_sasl(mechanism, user, password);
        produce_and_fetch(config, "scram-orders", mechanism.name()).await;
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

#[tokio::test]
async fn wrong_scram_password_is_an_authentication_error_without_retry_storm() {
    let tansu = Tansu::start("127.0.0.1", None);
    let users = [(SaslMechanism::ScramSha512, "carol", "carol-secret")];
    provision(&tansu, base(&tansu.addr), &users, "scram-wrong").await;
    let (proxy, connections) = counting_proxy(tansu.addr.clone()).await;
    let config = base(&proxy)
        .with_sasl(SaslMechanism::ScramSha512, "carol", "not-carols-password")
        .with_reconnect_backoff(Duration::from_millis(10), Duration::from_secs(1));
    let started = Instant::now();
    let err = Client::connect(config.clone())
        .await
        .expect_err("wrong password");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
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
    // The right password through the same proxy works.
    let right = base(&proxy).with_sasl(SaslMechanism::ScramSha512, "carol", "carol-secret");
    Client::connect(right)
        .await
        .expect("right password")
        .close();
}

/// A CA and a `localhost` server certificate, as PEM files in a fresh directory.
fn server_pki(dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    std::fs::create_dir_all(dir).expect("pki dir");
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "kafkit tansu CA");
    let ca = ca.self_signed(&ca_key).expect("CA");
    let key = KeyPair::generate().expect("key");
    let server = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .signed_by(&key, &ca, &ca_key)
        .expect("server cert");
    let write = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write pem");
        p
    };
    (
        write("ca.pem", ca.pem()),
        write("server.pem", server.pem()),
        write("server.key", key.serialize_pem()),
    )
}

#[tokio::test]
async fn sasl_ssl_scram_sha512_through_tansus_tls_listener() {
    let dir = std::env::temp_dir().join(format!("kafkit-tansu-tls-{}", std::process::id()));
    let (ca, cert, key) = server_pki(&dir);
    let tansu = Tansu::start("localhost", Some((&cert, &key)));
    let tls = |c: ClientConfig| {
        c.with_security_protocol(SecurityProtocol::SaslSsl)
            .with_ca_file(&ca)
    };
    let users = [(SaslMechanism::ScramSha512, "dave", "dave-secret")];
    provision(&tansu, tls(base(&tansu.addr)), &users, "sasl-ssl").await;
    let config =
        tls(base(&tansu.addr)).with_sasl(SaslMechanism::ScramSha512, "dave", "dave-secret");
    produce_and_fetch(config, "sasl-ssl", "tls").await;
    let _ = std::fs::remove_dir_all(&dir);
}
