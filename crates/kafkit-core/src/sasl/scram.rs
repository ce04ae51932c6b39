//! The client side of SCRAM-SHA-256 and SCRAM-SHA-512, as a state machine
//! with no I/O.
//!
//! ```text
//!  ScramClient::new ──client_first()──► WaitServerFirst
//!                                            │ handle_server_first(msg) → client-final message
//!                                            ▼
//!                                      WaitServerFinal
//!                                            │ handle_server_final(msg)
//!                                            ▼
//!                                          Done
//!  any error, or a call out of order ──► Failed (every later call fails)
//! ```
//!
//! `handle_server_first` runs PBKDF2 with the iteration count the server
//! chose, so it is the one expensive step: the async shell runs it on a
//! blocking thread, and the count is capped ([`DEFAULT_MAX_ITERATIONS`]) so
//! that a hostile server cannot make a client spin for minutes. The server's
//! nonce must extend the client's, and the server's final signature is
//! checked in constant time before the exchange counts as done.
//!
//! Channel binding is not used (`n,,`), as in every Kafka client. Names are
//! escaped (`=` → `=3D`, `,` → `=2C`) but not SASLprep-normalised, as in the
//! Java client.
//!
//! Spec: RFC 5802 (SCRAM), RFC 7677 (SCRAM-SHA-256), KIP-84 (SCRAM in Kafka).

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use super::{SaslError, Secret};

/// The fewest PBKDF2 iterations accepted (Kafka's own minimum for SCRAM-SHA-256/512).
pub const MIN_ITERATIONS: u32 = 4096;

/// The most PBKDF2 iterations accepted unless [`ScramClient::with_max_iterations`]
/// says otherwise. Kafka itself refuses credentials above 16384.
pub const DEFAULT_MAX_ITERATIONS: u32 = 100_000;

/// The hash a SCRAM mechanism is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramHash {
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

/// Runs `$body` with `$mac`, an HMAC keyed with `$key`, of the right hash.
macro_rules! with_hmac {
    ($hash:expr, $key:expr, |$mac:ident| $body:expr) => {
        match $hash {
            ScramHash::Sha256 => {
                let $mac = keyed::<Hmac<Sha256>>($key)?;
                $body
            }
            ScramHash::Sha512 => {
                let $mac = keyed::<Hmac<Sha512>>($key)?;
                $body
            }
        }
    };
}

impl ScramHash {
    fn hmac(self, key: &[u8], data: &[u8]) -> Result<Vec<u8>, SaslError> {
        Ok(with_hmac!(self, key, |mac| mac
            .chain_update(data)
            .finalize()
            .into_bytes()
            .to_vec()))
    }

    /// Whether `HMAC(key, data)` equals `expected`, compared in constant time.
    fn hmac_matches(self, key: &[u8], data: &[u8], expected: &[u8]) -> Result<bool, SaslError> {
        Ok(with_hmac!(self, key, |mac| mac
            .chain_update(data)
            .verify_slice(expected)
            .is_ok()))
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// RFC 5802's `Hi()`: PBKDF2 with HMAC of this hash (also what
    /// AlterUserScramCredentials carries as the salted password).
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => {
                pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password, salt, iterations).to_vec()
            }
            ScramHash::Sha512 => {
                pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(password, salt, iterations).to_vec()
            }
        }
    }
}

fn keyed<M: Mac + hmac::digest::KeyInit>(key: &[u8]) -> Result<M, SaslError> {
    // HMAC takes keys of any length; the error case cannot happen.
    <M as Mac>::new_from_slice(key).map_err(|_| SaslError::Malformed("HMAC key"))
}

/// A fresh client nonce: 24 random bytes, base64 (never contains `,`).
pub fn random_nonce() -> Result<String, SaslError> {
    let mut bytes = [0u8; 24];
    getrandom::getrandom(&mut bytes).map_err(|_| SaslError::Random)?;
    Ok(BASE64.encode(bytes))
}

/// A fresh salt for a new credential: 32 random bytes.
pub fn random_salt() -> Result<[u8; 32], SaslError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|_| SaslError::Random)?;
    Ok(bytes)
}

#[derive(Clone)]
enum State {
    Initial {
        username: String,
        password: Secret,
    },
    WaitServerFirst {
        password: Secret,
        client_first_bare: String,
    },
    WaitServerFinal {
        server_key: Vec<u8>,
        auth_message: String,
    },
    Done,
    Failed,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Initial { .. } => "Initial",
            State::WaitServerFirst { .. } => "WaitServerFirst",
            State::WaitServerFinal { .. } => "WaitServerFinal",
            State::Done => "Done",
            State::Failed => "Failed",
        }
    }
}

/// The client side of one SCRAM exchange (see the module docs for the states).
#[derive(Clone)]
pub struct ScramClient {
    hash: ScramHash,
    nonce: String,
    max_iterations: u32,
    state: State,
}

impl fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramClient")
            .field("hash", &self.hash)
            .field("state", &self.state.name())
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// An exchange for `username`/`password` with the client nonce `nonce`
    /// (use [`random_nonce`]; tests pass a fixed one). The nonce must be
    /// printable ASCII without `,`.
    pub fn new(
        hash: ScramHash,
        username: &str,
        password: Secret,
        nonce: String,
    ) -> Result<Self, SaslError> {
        if nonce.is_empty() || !nonce.bytes().all(is_nonce_char) {
            return Err(SaslError::Malformed("client nonce"));
        }
        if username.contains('\0') {
            return Err(SaslError::InvalidCredential("the user name contains NUL"));
        }
        Ok(Self {
            hash,
            nonce,
            max_iterations: DEFAULT_MAX_ITERATIONS,
            state: State::Initial {
                username: username.to_owned(),
                password,
            },
        })
    }

    /// Accepts at most `max` PBKDF2 iterations from the server (at least [`MIN_ITERATIONS`]).
    pub fn with_max_iterations(mut self, max: u32) -> Self {
        self.max_iterations = max.max(MIN_ITERATIONS);
        self
    }

    /// Whether the server's signature has been verified.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The client-first message: `n,,n=<user>,r=<nonce>`.
    pub fn client_first(&mut self) -> Result<Vec<u8>, SaslError> {
        let State::Initial { username, password } = self.take_state() else {
            return Err(SaslError::OutOfOrder("client_first"));
        };
        let client_first_bare = format!("n={},r={}", escape_name(&username), self.nonce);
        let message = format!("n,,{client_first_bare}").into_bytes();
        self.state = State::WaitServerFirst {
            password,
            client_first_bare,
        };
        Ok(message)
    }

    /// Checks the server-first message and returns the client-final one
    /// (with the proof). Runs PBKDF2: call it off the async runtime.
    pub fn handle_server_first(&mut self, message: &[u8]) -> Result<Vec<u8>, SaslError> {
        let State::WaitServerFirst {
            password,
            client_first_bare,
        } = self.take_state()
        else {
            return Err(SaslError::OutOfOrder("handle_server_first"));
        };
        let first = self.check_server_first(message)?;
        let hash = self.hash;
        let salted =
            hash.salted_password(password.expose().as_bytes(), &first.salt, first.iterations);
        let client_key = hash.hmac(&salted, b"Client Key")?;
        let stored_key = hash.hash(&client_key);
        let without_proof = format!("c=biws,r={}", first.nonce);
        let auth_message = format!("{client_first_bare},{},{without_proof}", first.raw);
        let client_signature = hash.hmac(&stored_key, auth_message.as_bytes())?;
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = hash.hmac(&salted, b"Server Key")?;
        self.state = State::WaitServerFinal {
            server_key,
            auth_message,
        };
        Ok(format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes())
    }

    /// Every check `handle_server_first` makes before the expensive part:
    /// the message parses, its nonce extends ours, its iteration count is
    /// in bounds. Changes no state.
    pub fn check_server_first<'a>(&self, message: &'a [u8]) -> Result<ServerFirst<'a>, SaslError> {
        let first = ServerFirst::parse(message)?;
        if first.nonce.len() <= self.nonce.len() || !first.nonce.starts_with(&self.nonce) {
            return Err(SaslError::NonceMismatch);
        }
        if !(MIN_ITERATIONS..=self.max_iterations).contains(&first.iterations) {
            return Err(SaslError::Iterations {
                got: first.iterations,
                min: MIN_ITERATIONS,
                max: self.max_iterations,
            });
        }
        Ok(first)
    }

    /// Checks the server-final message: `v=<signature>` must match, `e=<error>` fails.
    pub fn handle_server_final(&mut self, message: &[u8]) -> Result<(), SaslError> {
        let State::WaitServerFinal {
            server_key,
            auth_message,
        } = self.take_state()
        else {
            return Err(SaslError::OutOfOrder("handle_server_final"));
        };
        let text = std::str::from_utf8(message).map_err(|_| SaslError::Malformed("not UTF-8"))?;
        let first = text.split(',').next().unwrap_or_default();
        if let Some(error) = first.strip_prefix("e=") {
            return Err(SaslError::ServerRejected(printable(error)));
        }
        let signature = first
            .strip_prefix("v=")
            .ok_or(SaslError::Malformed("server-final has no v="))?;
        let signature = BASE64
            .decode(signature)
            .map_err(|_| SaslError::Malformed("server signature is not base64"))?;
        if !self
            .hash
            .hmac_matches(&server_key, auth_message.as_bytes(), &signature)?
        {
            return Err(SaslError::BadServerSignature);
        }
        self.state = State::Done;
        Ok(())
    }

    /// Moves the state out, leaving `Failed` behind (so an error anywhere
    /// leaves the exchange failed).
    fn take_state(&mut self) -> State {
        std::mem::replace(&mut self.state, State::Failed)
    }
}

/// The server-first message's attributes.
#[derive(Debug, PartialEq, Eq)]
pub struct ServerFirst<'a> {
    /// The combined nonce (client nonce + server part).
    pub nonce: &'a str,
    /// The decoded salt.
    pub salt: Vec<u8>,
    /// PBKDF2 iteration count.
    pub iterations: u32,
    /// The message as received (part of the AuthMessage).
    pub raw: &'a str,
}

impl<'a> ServerFirst<'a> {
    /// Parses `[m=...,]r=<nonce>,s=<salt>,i=<count>[,ext...]`. A mandatory
    /// extension (`m=`) is refused; extensions after `i=` are ignored.
    pub fn parse(message: &'a [u8]) -> Result<Self, SaslError> {
        let raw = std::str::from_utf8(message).map_err(|_| SaslError::Malformed("not UTF-8"))?;
        let mut attrs = raw.split(',');
        let mut next = |key: &'static str| {
            attrs
                .next()
                .and_then(|a| a.strip_prefix(key))
                .ok_or(SaslError::Malformed(key))
        };
        if raw.starts_with("m=") {
            return Err(SaslError::Malformed(
                "mandatory extension (m=) not supported",
            ));
        }
        let nonce = next("r=")?;
        if nonce.is_empty() || !nonce.bytes().all(is_nonce_char) {
            return Err(SaslError::Malformed("nonce characters"));
        }
        let salt = BASE64
            .decode(next("s=")?)
            .map_err(|_| SaslError::Malformed("salt is not base64"))?;
        if salt.is_empty() {
            return Err(SaslError::Malformed("empty salt"));
        }
        let count = next("i=")?;
        if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SaslError::Malformed("iteration count"));
        }
        // More digits than fit in a u32 are simply too many iterations.
        let iterations = count.parse::<u32>().unwrap_or(u32::MAX);
        Ok(Self {
            nonce,
            salt,
            iterations,
            raw,
        })
    }
}

/// RFC 5802 `printable`: 0x21..=0x7E except `,`.
fn is_nonce_char(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b','
}

/// RFC 5802 `saslname`: `=` and `,` escaped.
fn escape_name(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// A server-supplied error string, cut short and stripped of control characters.
fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

    fn client(hash: ScramHash) -> ScramClient {
        ScramClient::new(hash, "user", Secret::new("pencil"), CLIENT_NONCE.into()).unwrap()
    }

    fn run(hash: ScramHash, client_final: &str, server_final: &str) {
        let mut c = client(hash);
        assert_eq!(
            c.client_first().unwrap(),
            b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        let fin = c.handle_server_first(SERVER_FIRST.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(fin).unwrap(), client_final);
        assert!(!c.is_done());
        c.handle_server_final(server_final.as_bytes()).unwrap();
        assert!(c.is_done());
    }

    /// RFC 7677 section 3, byte for byte.
    #[test]
    fn rfc7677_sha256_exchange() {
        run(
            ScramHash::Sha256,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        );
    }

    /// The same exchange with SHA-512, computed independently by
    /// `scripts/scram_vectors.py sha512 user pencil rOprNGfwEbeRWgbNEkqO
    /// '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0' W22ZaJ0SNY7soEsUEjb6gQ== 4096`
    /// (Python's hashlib.pbkdf2_hmac and hmac).
    #[test]
    fn sha512_exchange_matches_python() {
        run(
            ScramHash::Sha512,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=gMGXRcevScNtxZ6/8lQYpGtnsNAc3mGcmNomv+xnoOMw+3R2xNJdMNnzMlTN8PPC6wdp6dybEmDYXYTxwnYPJQ==",
            "v=ZQnYEgWQMFmmsM8aQMF0nDDCy/AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXnJq199RVG2rR7N7Zw==",
        );
    }

    #[test]
    fn wrong_server_signature_fails() {
        let mut c = client(ScramHash::Sha256);
        c.client_first().unwrap();
        c.handle_server_first(SERVER_FIRST.as_bytes()).unwrap();
        let err = c
            .handle_server_final(b"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap_err();
        assert_eq!(err, SaslError::BadServerSignature);
        assert!(!c.is_done());
        // A failed exchange stays failed.
        assert_eq!(
            c.handle_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
            Err(SaslError::OutOfOrder("handle_server_final"))
        );
    }

    #[test]
    fn server_error_is_reported_without_credentials() {
        let mut c = client(ScramHash::Sha512);
        c.client_first().unwrap();
        c.handle_server_first(SERVER_FIRST.as_bytes()).unwrap();
        let err = c.handle_server_final(b"e=invalid-proof").unwrap_err();
        assert_eq!(err, SaslError::ServerRejected("invalid-proof".into()));
        assert!(!err.to_string().contains("pencil"));
    }

    #[test]
    fn nonce_must_extend_ours() {
        for server_first in [
            "r=XXXrNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            // Equal to ours: the server added nothing.
            "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        ] {
            let mut c = client(ScramHash::Sha256);
            c.client_first().unwrap();
            assert_eq!(
                c.handle_server_first(server_first.as_bytes()),
                Err(SaslError::NonceMismatch),
                "{server_first}"
            );
        }
    }

    #[test]
    fn iteration_count_is_bounded() {
        for (i, ok) in [
            ("4095", false),
            ("4096", true),
            ("100000", true),
            ("100001", false),
            ("4294967296", false),
            ("99999999999999999999999", false),
        ] {
            let msg = format!("r={CLIENT_NONCE}x,s=c2FsdA==,i={i}");
            let mut c = client(ScramHash::Sha256);
            c.client_first().unwrap();
            let got = c.handle_server_first(msg.as_bytes());
            assert_eq!(got.is_ok(), ok, "{i}: {got:?}");
            if !ok {
                assert!(matches!(got, Err(SaslError::Iterations { .. })), "{got:?}");
            }
        }
        let mut c = client(ScramHash::Sha256).with_max_iterations(5000);
        c.client_first().unwrap();
        let msg = format!("r={CLIENT_NONCE}x,s=c2FsdA==,i=5001");
        assert!(c.handle_server_first(msg.as_bytes()).is_err());
    }

    #[test]
    fn malformed_server_first_messages_are_refused() {
        for bad in [
            "",
            "r=",
            "s=c2FsdA==,r=rOprNGfwEbeRWgbNEkqOx,i=4096",
            "m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=c2FsdA==,i=4096",
            "r=rOprNGfwEbeRWgbNEkqOx,s=***,i=4096",
            "r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096",
            "r=rOprNGfwEbeRWgbNEkqOx,s=c2FsdA==",
            "r=rOprNGfwEbeRWgbNEkqOx,s=c2FsdA==,i=",
            "r=rOprNGfwEbeRWgbNEkqOx,s=c2FsdA==,i=+4096",
            "r=rOprNGfwEbeRWgbNEkqOx,s=c2FsdA==,i=-1",
            "r=rOprNGfwEbeRWgbNEkqO x,s=c2FsdA==,i=4096",
        ] {
            assert!(ServerFirst::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(ServerFirst::parse(&[0xff, b'r', b'=']).is_err());
        let ok = ServerFirst::parse(b"r=abc,s=c2FsdA==,i=4096,x=future").unwrap();
        assert_eq!(
            (ok.nonce, ok.salt.as_slice(), ok.iterations),
            ("abc", &b"salt"[..], 4096)
        );
    }

    #[test]
    fn names_are_escaped_and_calls_must_be_in_order() {
        let mut c =
            ScramClient::new(ScramHash::Sha256, "a=b,c", Secret::new("p"), "n".into()).unwrap();
        assert_eq!(
            c.handle_server_first(b"r=nx,s=c2FsdA==,i=4096"),
            Err(SaslError::OutOfOrder("handle_server_first"))
        );
        let mut c =
            ScramClient::new(ScramHash::Sha256, "a=b,c", Secret::new("p"), "n".into()).unwrap();
        assert_eq!(c.client_first().unwrap(), b"n,,n=a=3Db=2Cc,r=n");
        assert!(c.client_first().is_err());
        assert!(ScramClient::new(ScramHash::Sha256, "a\0", Secret::new("p"), "n".into()).is_err());
        assert!(ScramClient::new(ScramHash::Sha256, "a", Secret::new("p"), "n,x".into()).is_err());
    }

    #[test]
    fn random_nonces_differ_and_are_printable() {
        let a = random_nonce().unwrap();
        let b = random_nonce().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(is_nonce_char));
    }

    #[test]
    fn debug_shows_no_secrets() {
        let c = client(ScramHash::Sha256);
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("pencil") && shown.contains("Initial"),
            "{shown}"
        );
    }
}
