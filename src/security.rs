//! Security settings: which protocol the brokers speak (`security.protocol`),
//! TLS trust and client certificates (`ssl.*`) and SASL credentials (`sasl.*`).
//!
//! Keys follow librdkafka's spelling (what kcat passes with `-X`), with the
//! Java client's name accepted where it differs; see [`SecurityConfig::set`].
//! Credentials are held in [`Secret`]s, so neither `Debug` output nor error
//! messages ever show them.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

pub use crate::sasl::{Mechanism as SaslMechanism, OAuthBearerTokenProvider, Secret};

use crate::error::{Error, Result};
use crate::sasl::scram::DEFAULT_MAX_ITERATIONS;

/// `security.protocol`: how connections to brokers are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SecurityProtocol {
    /// Plain TCP (the default).
    #[default]
    Plaintext,
    /// TLS.
    Ssl,
    /// Plain TCP with SASL authentication.
    SaslPlaintext,
    /// TLS with SASL authentication.
    SaslSsl,
}

impl SecurityProtocol {
    /// Every protocol.
    pub const ALL: [SecurityProtocol; 4] = [
        SecurityProtocol::Plaintext,
        SecurityProtocol::Ssl,
        SecurityProtocol::SaslPlaintext,
        SecurityProtocol::SaslSsl,
    ];

    /// The configuration name (`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL`).
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// The protocol named `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Whether connections are wrapped in TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether connections authenticate with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

/// Where a PEM document comes from: a file, or the PEM text itself.
#[derive(Clone, PartialEq, Eq)]
pub enum PemSource {
    /// A PEM file (`ssl.*.location`).
    File(PathBuf),
    /// PEM text (`ssl.*.pem`). `Debug` shows only its length: it may hold a private key.
    Pem(String),
}

impl fmt::Debug for PemSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PemSource::File(p) => f.debug_tuple("File").field(p).finish(),
            PemSource::Pem(s) => write!(f, "Pem(<{} bytes>)", s.len()),
        }
    }
}

/// How the broker's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CertificateVerification {
    /// The chain must lead to a trusted root and name the broker's host (the default).
    #[default]
    Full,
    /// DANGER: the chain is checked, the host name is not
    /// (`ssl.endpoint.identification.algorithm=none`). For local testing only.
    DangerNoHostname,
    /// DANGER: any certificate is accepted (`enable.ssl.certificate.verification=false`).
    /// Anyone on the path can read and change the traffic. For local testing only.
    DangerNone,
}

/// TLS settings (used when [`SecurityProtocol::uses_tls`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsSettings {
    /// Trusted CA certificates (`ssl.ca.location` / `ssl.ca.pem`); `None` uses
    /// the operating system's store.
    pub ca: Option<PemSource>,
    /// Client certificate chain for mutual TLS (`ssl.certificate.location` / `.pem`).
    pub certificate: Option<PemSource>,
    /// The client certificate's private key, unencrypted PKCS#8, PKCS#1 or SEC1
    /// (`ssl.key.location` / `.pem`).
    pub key: Option<PemSource>,
    /// How the broker's certificate is checked.
    pub verification: CertificateVerification,
}

/// SASL settings (used when [`SecurityProtocol::uses_sasl`]).
#[derive(Clone)]
#[non_exhaustive]
pub struct SaslSettings {
    /// The mechanism (`sasl.mechanism`); required with SASL.
    pub mechanism: Option<SaslMechanism>,
    /// User name for PLAIN and SCRAM (`sasl.username`).
    pub username: String,
    /// Password for PLAIN and SCRAM (`sasl.password`).
    pub password: Secret,
    /// Token source for OAUTHBEARER.
    pub oauth_token_provider: Option<Arc<dyn OAuthBearerTokenProvider>>,
    /// The most SCRAM iterations accepted from a server (default 100 000).
    pub scram_max_iterations: u32,
}

impl Default for SaslSettings {
    fn default() -> Self {
        Self {
            mechanism: None,
            username: String::new(),
            password: Secret::default(),
            oauth_token_provider: None,
            scram_max_iterations: DEFAULT_MAX_ITERATIONS,
        }
    }
}

impl fmt::Debug for SaslSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslSettings")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &self.password)
            .field(
                "oauth_token_provider",
                &self.oauth_token_provider.as_ref().map(|_| "<provider>"),
            )
            .field("scram_max_iterations", &self.scram_max_iterations)
            .finish()
    }
}

/// Protocol, TLS and SASL settings of a client.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SecurityConfig {
    /// `security.protocol`.
    pub protocol: SecurityProtocol,
    /// TLS settings.
    pub tls: TlsSettings,
    /// SASL settings.
    pub sasl: SaslSettings,
}

/// The keys [`SecurityConfig::set`] accepts.
pub const SECURITY_KEYS: &[&str] = &[
    "security.protocol",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "ssl.ca.location",
    "ssl.ca.pem",
    "ssl.certificate.location",
    "ssl.certificate.pem",
    "ssl.key.location",
    "ssl.key.pem",
    "ssl.endpoint.identification.algorithm",
    "enable.ssl.certificate.verification",
];

impl SecurityConfig {
    /// Sets one property by its librdkafka name. Returns `Ok(false)` for a key
    /// that is not a security property (so callers can try others).
    ///
    /// | key | values |
    /// | --- | --- |
    /// | `security.protocol` | `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL` |
    /// | `sasl.mechanism` (`sasl.mechanisms`) | `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`, `OAUTHBEARER` |
    /// | `sasl.username`, `sasl.password` | credentials |
    /// | `ssl.ca.location`, `ssl.ca.pem` | trusted CAs (PEM file / text); default: the system store |
    /// | `ssl.certificate.location`, `ssl.certificate.pem` | client certificate (mTLS) |
    /// | `ssl.key.location`, `ssl.key.pem` | its unencrypted private key |
    /// | `ssl.endpoint.identification.algorithm` | `https` (default) or `none`: DANGER, host name not checked |
    /// | `enable.ssl.certificate.verification` | `true` (default) or `false`: DANGER, nothing checked |
    ///
    /// Error messages name the key, never a credential's value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool> {
        let value = value.trim();
        match key.trim() {
            "security.protocol" => {
                self.protocol = SecurityProtocol::from_name(value).ok_or_else(|| {
                    bad(
                        key,
                        &format!("{value:?} (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)"),
                    )
                })?;
            }
            "sasl.mechanism" | "sasl.mechanisms" => {
                let m = SaslMechanism::from_name(value).ok_or_else(|| {
                    bad(
                        key,
                        &format!("{value:?} (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)"),
                    )
                })?;
                self.sasl.mechanism = Some(m);
            }
            "sasl.username" => self.sasl.username = value.to_owned(),
            "sasl.password" => self.sasl.password = Secret::new(value),
            "ssl.ca.location" => self.tls.ca = Some(PemSource::File(value.into())),
            "ssl.ca.pem" => self.tls.ca = Some(PemSource::Pem(value.to_owned())),
            "ssl.certificate.location" => {
                self.tls.certificate = Some(PemSource::File(value.into()));
            }
            "ssl.certificate.pem" => self.tls.certificate = Some(PemSource::Pem(value.to_owned())),
            "ssl.key.location" => self.tls.key = Some(PemSource::File(value.into())),
            "ssl.key.pem" => self.tls.key = Some(PemSource::Pem(value.to_owned())),
            "ssl.endpoint.identification.algorithm" => {
                self.tls.verification = match value.to_ascii_lowercase().as_str() {
                    "https" => CertificateVerification::Full,
                    "none" | "" => CertificateVerification::DangerNoHostname,
                    _ => return Err(bad(key, &format!("{value:?} (https or none)"))),
                };
            }
            "enable.ssl.certificate.verification" => {
                self.tls.verification = match value {
                    "true" => CertificateVerification::Full,
                    "false" => CertificateVerification::DangerNone,
                    _ => return Err(bad(key, &format!("{value:?} (true or false)"))),
                };
            }
            k if k.starts_with("sasl.") || k.starts_with("ssl.") => {
                return Err(Error::Config(format!(
                    "{k} is not supported; security properties: {}",
                    SECURITY_KEYS.join(", ")
                )))
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Checks that the settings fit together (called before connecting).
    pub fn validate(&self) -> Result<()> {
        if self.protocol.uses_tls() && !cfg!(feature = "tls") {
            return Err(Error::Config(format!(
                "security.protocol={} needs kafkit's `tls` feature",
                self.protocol.name()
            )));
        }
        if self.tls.certificate.is_some() != self.tls.key.is_some() {
            return Err(Error::Config(
                "ssl.certificate.* and ssl.key.* must be given together".to_owned(),
            ));
        }
        if !self.protocol.uses_sasl() {
            return Ok(());
        }
        match self.sasl.mechanism {
            None => Err(Error::Config(format!(
                "security.protocol={} needs sasl.mechanism",
                self.protocol.name()
            ))),
            Some(SaslMechanism::OAuthBearer) if self.sasl.oauth_token_provider.is_none() => Err(
                Error::Config("sasl.mechanism=OAUTHBEARER needs a token provider".to_owned()),
            ),
            Some(SaslMechanism::OAuthBearer) => Ok(()),
            Some(m) if self.sasl.username.is_empty() => Err(Error::Config(format!(
                "sasl.mechanism={m} needs sasl.username"
            ))),
            Some(_) => Ok(()),
        }
    }
}

fn bad(key: &str, what: &str) -> Error {
    Error::Config(format!("{key}: expected {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kcat_spellings_set_the_fields() {
        let mut c = SecurityConfig::default();
        for (k, v) in [
            ("security.protocol", "sasl_ssl"),
            ("sasl.mechanisms", "SCRAM-SHA-512"),
            ("sasl.username", "alice"),
            ("sasl.password", "s3cret"),
            ("ssl.ca.location", "/tmp/ca.pem"),
            ("ssl.certificate.location", "/tmp/c.pem"),
            ("ssl.key.pem", "-----BEGIN PRIVATE KEY-----"),
        ] {
            assert!(c.set(k, v).unwrap(), "{k}");
        }
        assert_eq!(c.protocol, SecurityProtocol::SaslSsl);
        assert_eq!(c.sasl.mechanism, Some(SaslMechanism::ScramSha512));
        assert_eq!(c.sasl.password.expose(), "s3cret");
        assert_eq!(c.tls.ca, Some(PemSource::File("/tmp/ca.pem".into())));
        c.validate().unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("BEGIN"),
            "{shown}"
        );
        assert!(shown.contains("***"), "{shown}");
    }

    #[test]
    fn insecure_switches_are_explicit() {
        let mut c = SecurityConfig::default();
        assert_eq!(c.tls.verification, CertificateVerification::Full);
        c.set("ssl.endpoint.identification.algorithm", "none")
            .unwrap();
        assert_eq!(
            c.tls.verification,
            CertificateVerification::DangerNoHostname
        );
        c.set("enable.ssl.certificate.verification", "false")
            .unwrap();
        assert_eq!(c.tls.verification, CertificateVerification::DangerNone);
        c.set("ssl.endpoint.identification.algorithm", "https")
            .unwrap();
        assert_eq!(c.tls.verification, CertificateVerification::Full);
        assert!(c.set("enable.ssl.certificate.verification", "no").is_err());
    }

    #[test]
    fn bad_values_and_unknown_keys() {
        let mut c = SecurityConfig::default();
        assert!(!c.set("client.id", "x").unwrap());
        let err = c.set("security.protocol", "TLS").unwrap_err().to_string();
        assert!(err.contains("SASL_SSL"), "{err}");
        assert!(c.set("sasl.mechanism", "GSSAPI").is_err());
        let err = c
            .set("ssl.key.password", "hunter2")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ssl.key.password") && !err.contains("hunter2"),
            "{err}"
        );
    }

    #[test]
    fn validation_names_what_is_missing() {
        let mut c = SecurityConfig::default();
        c.set("security.protocol", "SASL_PLAINTEXT").unwrap();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("sasl.mechanism"));
        c.set("sasl.mechanism", "PLAIN").unwrap();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("sasl.username"));
        c.set("sasl.username", "u").unwrap();
        c.validate().unwrap();
        c.set("sasl.mechanism", "OAUTHBEARER").unwrap();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("token provider"));
        c.set("ssl.key.location", "/k").unwrap();
        assert!(c.validate().is_err());
    }
}
