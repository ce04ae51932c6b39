//! A real TLS terminator for tests: Debian's `stunnel4` (OpenSSL), with a
//! test CA, a `localhost`-only server certificate and a client certificate
//! generated at test time (rcgen). Used with `#[path]`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

/// A scratch directory removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kafkit-tls-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }

    pub fn write(&self, file: &str, text: &str) -> PathBuf {
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
pub struct Pki {
    pub dir: Scratch,
    pub ca: PathBuf,
    pub other_ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
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

pub fn pki() -> Pki {
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

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A running stunnel server; killed on drop.
pub struct Stunnel {
    child: Child,
    /// Where it accepts TLS.
    pub port: u16,
}

impl Stunnel {
    /// Terminates TLS on a free port and forwards to `backend`; with
    /// `require_client_cert`, only clients with a certificate from the test CA.
    pub fn start(pki: &Pki, backend: &str, require_client_cert: bool) -> Self {
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
