//! SASL against tansu 0.6, an independent Kafka-compatible broker (Rust;
//! SCRAM from the `rsasl` crate) started with `--authentication`.
//!
//! What tansu allows a test to prove is limited: its build has no PLAIN, and
//! it answers every API but ApiVersions and the SASL ones only after
//! authentication, including AlterUserScramCredentials, so with its
//! in-memory storage no SCRAM user can be created (a successful SCRAM
//! exchange is proven against `scramp` in `sasl_scramp.rs`); and its CLI
//! refuses `--cert` together with `--key` (one clap group), so its TLS
//! listener cannot be started. Here: a whole SCRAM-SHA-512 exchange with
//! rsasl for a user tansu does not know ends in a clear, non-retriable
//! authentication error, without a reconnect storm.
//!
//! Needs the `tansu` binary: `$TANSU`, `/opt/tansu/bin/tansu` or `PATH`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafkit::connection::Pool;
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
    /// Starts tansu on a free port of 127.0.0.1, advertised as `host`.
    fn start(host: &str) -> Self {
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
        // KAFKIT_TANSU_LOG=<file>: tansu's log (with RUST_LOG) for debugging.
        let log = std::env::var_os("KAFKIT_TANSU_LOG")
            .and_then(|p| std::fs::File::create(p).ok())
            .map_or_else(Stdio::null, Stdio::from);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
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

fn base(addr: &str) -> ClientConfig {
    ClientConfig::new([addr])
        .with_security_protocol(SecurityProtocol::SaslPlaintext)
        .with_request_timeout(Duration::from_secs(10))
        .with_reconnect_backoff(Duration::from_millis(10), Duration::from_secs(1))
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

/// Connects as a user tansu does not know, expecting a clean failure; then
/// checks that 700 ms of callers open one more connection, not dozens.
async fn unknown_user_fails_cleanly(target: &str) {
    let (proxy, connections) = counting_proxy(target.to_owned()).await;
    let config = base(&proxy).with_sasl(SaslMechanism::ScramSha512, "nobody", "nobodys-password");
    let started = Instant::now();
    let err = Client::connect(config.clone())
        .await
        .expect_err("unknown user");
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
    // rsasl hides whether the user exists: it answers client-first with a
    // made-up server-first and rejects the proof (`e=unknown-user`), so the
    // whole exchange, PBKDF2 included, ran.
    assert!(shown.contains("unknown-user"), "{shown}");
    assert!(
        !shown.contains("nobodys-password") && !format!("{err:?}").contains("nobodys-password")
    );
    assert!(!err.is_retriable());
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
}

#[tokio::test]
async fn scram_against_tansu_fails_cleanly_for_an_unknown_user() {
    let tansu = Tansu::start("127.0.0.1");
    unknown_user_fails_cleanly(&tansu.addr).await;
}
