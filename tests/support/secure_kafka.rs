//! One Apache Kafka node with every security listener kafkit supports, for
//! the security tests of the library and of the CLI (included with
//! `#[path]` next to `kafka.rs`; std and rcgen only).
//!
//! Listeners (besides the plain one `scripts/kafka.sh` always opens):
//!
//! | name      | protocol         | mechanisms / TLS                              |
//! |-----------|------------------|-----------------------------------------------|
//! | `SASL`    | SASL_PLAINTEXT   | PLAIN, SCRAM-SHA-256, SCRAM-SHA-512           |
//! | `TLS`     | SSL              | server certificate from the test CA           |
//! | `SASLTLS` | SASL_SSL         | the same mechanisms, over TLS                 |
//! | `MTLS`    | SSL              | `ssl.client.auth=required`                    |
//! | `REAUTH`  | SASL_PLAINTEXT   | PLAIN, SCRAM-SHA-256; sessions of [`REAUTH_MS`] |
//! | `REAUTHTLS` | SASL_SSL       | SCRAM-SHA-512; sessions of [`REAUTH_MS`]      |
//!
//! The CA, the broker's certificate (SAN `localhost` and `127.0.0.1`, so
//! host name checks pass on the advertised `127.0.0.1`), a client
//! certificate and an unrelated CA are generated with rcgen before the node
//! starts; the broker reads them as PEM (`ssl.keystore.type=PEM`). SCRAM
//! users are created at format time (`kafka-storage format --add-scram`),
//! PLAIN users in the listener's JAAS config.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

use super::kafka::{self, Cluster};

/// The user every mechanism knows.
pub const USER: &str = "alice";
/// Its password.
pub const PASSWORD: &str = "alice-secret";
/// A SCRAM-SHA-256 user whose name needs SCRAM's `=3D` escape, with a
/// non-ASCII password (neither side applies SASLprep: the UTF-8 bytes count).
pub const ODD_USER: &str = "we=ird";
/// Its password.
pub const ODD_PASSWORD: &str = "pässwörd ß";
/// The session lifetime on the `REAUTH` listener (`connections.max.reauth.ms`).
pub const REAUTH_MS: u64 = 2_000;

/// The test PKI, as PEM files.
pub struct Pki {
    pub dir: PathBuf,
    /// The CA that signed the broker's and the client's certificates.
    pub ca: PathBuf,
    /// A CA that signed nothing the broker shows.
    pub other_ca: PathBuf,
    /// The broker's key and certificate chain, in one PEM (the broker's keystore).
    pub server: PathBuf,
    /// A client certificate from [`Pki::ca`] and its key.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A client certificate from [`Pki::other_ca`] and its key.
    pub stranger_cert: PathBuf,
    pub stranger_key: PathBuf,
}

fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    (params.self_signed(&key).expect("CA cert"), key)
}

/// A certificate for `names` (an IP literal becomes an IP SAN) signed by `issuer`: `(cert, key)`.
fn leaf(
    names: &[&str],
    cn: &str,
    usage: ExtendedKeyUsagePurpose,
    issuer: &(rcgen::Certificate, KeyPair),
) -> (String, String) {
    let key = KeyPair::generate().expect("leaf key");
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).expect("leaf params");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![usage];
    let cert = params
        .signed_by(&key, &issuer.0, &issuer.1)
        .expect("sign leaf");
    (cert.pem(), key.serialize_pem())
}

impl Pki {
    /// Generates the PKI into a fresh folder under the temp dir.
    pub fn generate() -> Self {
        let dir = std::env::temp_dir()
            .join("kafkit-kafka")
            .join(kafka::unique("pki"));
        std::fs::create_dir_all(&dir).expect("pki dir");
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write pki file");
            path
        };
        let test_ca = ca("kafkit test CA");
        let other = ca("some other CA");
        let (server_cert, server_key) = leaf(
            &["localhost", "127.0.0.1"],
            "localhost",
            ExtendedKeyUsagePurpose::ServerAuth,
            &test_ca,
        );
        let (client_cert, client_key) = leaf(
            &[],
            "kafkit-client",
            ExtendedKeyUsagePurpose::ClientAuth,
            &test_ca,
        );
        let (stranger_cert, stranger_key) =
            leaf(&[], "stranger", ExtendedKeyUsagePurpose::ClientAuth, &other);
        Pki {
            ca: write("ca.pem", &test_ca.0.pem()),
            other_ca: write("other-ca.pem", &other.0.pem()),
            server: write("server.pem", &format!("{server_key}{server_cert}")),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client.key", &client_key),
            stranger_cert: write("stranger.pem", &stranger_cert),
            stranger_key: write("stranger.key", &stranger_key),
            dir,
        }
    }
}

/// The node and its PKI.
pub struct SecureKafka {
    pub cluster: Cluster,
    pub pki: Pki,
    listeners: HashMap<String, String>,
}

impl SecureKafka {
    /// `host:port` of listener `name` (`SASL`, `TLS`, `SASLTLS`, `MTLS`, `REAUTH`, `REAUTHTLS`).
    pub fn listener(&self, name: &str) -> &str {
        self.listeners
            .get(name)
            .unwrap_or_else(|| panic!("no listener {name}: {:?}", self.listeners))
    }

    /// The `scripts/kafka.sh start` options for these listeners.
    fn options(pki: &Pki) -> Vec<String> {
        const JAAS: &str = "org.apache.kafka.common.security";
        let mut o: Vec<String> = Vec::new();
        let mut set = |kv: String| o.extend(["--set".to_owned(), kv]);
        set("sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512".into());
        for l in ["sasl", "sasltls", "reauth"] {
            set(format!(
                "listener.name.{l}.plain.sasl.jaas.config={JAAS}.plain.PlainLoginModule \
                 required user_{USER}=\"{PASSWORD}\";"
            ));
            for m in ["scram-sha-256", "scram-sha-512"] {
                set(format!(
                    "listener.name.{l}.{m}.sasl.jaas.config={JAAS}.scram.ScramLoginModule required;"
                ));
            }
        }
        set("listener.name.reauth.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256".into());
        set("listener.name.reauthtls.sasl.enabled.mechanisms=SCRAM-SHA-512".into());
        set(format!(
            "listener.name.reauthtls.scram-sha-512.sasl.jaas.config={JAAS}.scram.ScramLoginModule required;"
        ));
        for (l, m) in [
            ("reauth", "plain"),
            ("reauth", "scram-sha-256"),
            ("reauthtls", "scram-sha-512"),
        ] {
            set(format!(
                "listener.name.{l}.{m}.connections.max.reauth.ms={REAUTH_MS}"
            ));
        }
        for l in ["tls", "sasltls", "mtls", "reauthtls"] {
            set(format!("listener.name.{l}.ssl.keystore.type=PEM"));
            set(format!(
                "listener.name.{l}.ssl.keystore.location={}",
                pki.server.display()
            ));
            set(format!("listener.name.{l}.ssl.truststore.type=PEM"));
            set(format!(
                "listener.name.{l}.ssl.truststore.location={}",
                pki.ca.display()
            ));
        }
        set("listener.name.mtls.ssl.client.auth=required".into());
        for l in [
            "SASL:SASL_PLAINTEXT",
            "TLS:SSL",
            "SASLTLS:SASL_SSL",
            "MTLS:SSL",
            "REAUTH:SASL_PLAINTEXT",
            "REAUTHTLS:SASL_SSL",
        ] {
            o.extend(["--listener".to_owned(), l.to_owned()]);
        }
        for m in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
            o.extend([
                "--add-scram".to_owned(),
                format!("{m}=[name={USER},password={PASSWORD}]"),
            ]);
        }
        o.extend([
            "--add-scram".to_owned(),
            format!("SCRAM-SHA-256=[name=\"{ODD_USER}\",password=\"{ODD_PASSWORD}\"]"),
        ]);
        o
    }

    /// Generates the PKI and starts the node; `None` when Kafka cannot be
    /// started here and is not required (see `kafka::can_start`).
    pub fn start() -> Option<Self> {
        if !kafka::can_start() {
            return None;
        }
        let pki = Pki::generate();
        let options = Self::options(&pki);
        let args: Vec<&str> = options.iter().map(String::as_str).collect();
        let cluster = Cluster::start(1, &args);
        let listeners = cluster.listeners();
        Some(SecureKafka {
            cluster,
            pki,
            listeners,
        })
    }
}
