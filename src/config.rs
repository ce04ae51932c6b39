//! Configuration shared by every client (connections, metadata).
//!
//! Spec: the Java client's configuration names
//! (<https://kafka.apache.org/documentation/#producerconfigs>,
//! `#consumerconfigs`), quoted in each field's doc where kafkit follows them.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::protocol::frame::DEFAULT_MAX_FRAME_SIZE;
use crate::security::{
    CertificateVerification, PemSource, SaslMechanism, Secret, SecurityConfig, SecurityProtocol,
    SECURITY_KEYS,
};

/// Settings for connections and cluster metadata.
///
/// Build with [`ClientConfig::new`] and the `with_*` setters; every field
/// has a default that matches the Java client's where one exists.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Bootstrap brokers as `host:port` (resolved again whenever every known broker fails).
    pub bootstrap: Vec<String>,
    /// Sent in every request header (`client.id`).
    pub client_id: String,
    /// How long a request may wait for its response (`request.timeout.ms`, default 30 s).
    pub request_timeout: Duration,
    /// How long a TCP connect may take (default 10 s).
    pub connect_timeout: Duration,
    /// Largest response frame accepted (default 100 MiB).
    pub max_frame_size: usize,
    /// First reconnect backoff (`reconnect.backoff.ms`, default 50 ms); doubles per failure with jitter.
    pub reconnect_backoff: Duration,
    /// Largest reconnect backoff (`reconnect.backoff.max.ms`, default 1 s).
    pub reconnect_backoff_max: Duration,
    /// Metadata is refreshed at least this often (`metadata.max.age.ms`, default 5 min).
    pub metadata_max_age: Duration,
    /// Requests queued per connection before senders wait (default 1024).
    pub max_queued_requests: usize,
    /// TLS and SASL (`security.protocol`, `ssl.*`, `sasl.*`; default PLAINTEXT).
    pub security: SecurityConfig,
    /// What to do when no known broker answers (`metadata.recovery.strategy`,
    /// KIP-1102; default [`MetadataRecoveryStrategy::Rebootstrap`]).
    pub metadata_recovery_strategy: MetadataRecoveryStrategy,
    /// After this long without a metadata answer, the known brokers are
    /// forgotten and the bootstrap list used alone
    /// (`metadata.recovery.rebootstrap.trigger.ms`, default 5 min).
    pub metadata_recovery_rebootstrap_trigger: Duration,
    /// Push the client's metrics when a broker subscribes it (KIP-714,
    /// `enable.metrics.push`, default on as in Java). A broker without a
    /// client telemetry plugin never subscribes anyone, so it has no effect
    /// there.
    pub enable_metrics_push: bool,
}

/// What a client does when none of the brokers it knows answers
/// (`metadata.recovery.strategy`, KIP-1102).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MetadataRecoveryStrategy {
    /// Go back to the bootstrap list: tried (resolved again) whenever every
    /// known broker fails; after `metadata_recovery_rebootstrap_trigger`
    /// without an answer, or when a broker answers REBOOTSTRAP_REQUIRED, the
    /// known brokers are forgotten. Java's default since 4.0.
    #[default]
    Rebootstrap,
    /// Once the cluster's brokers are known, only they are tried.
    None,
}

impl ClientConfig {
    /// Defaults with the given bootstrap list (comma-separated `host:port`s are split).
    pub fn new<I, S>(bootstrap: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let bootstrap = bootstrap
            .into_iter()
            .flat_map(|s| {
                s.as_ref()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        Self {
            bootstrap,
            ..Self::default()
        }
    }

    /// Sets the client id.
    pub fn with_client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// Sets the request timeout.
    pub fn with_request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = t;
        self
    }

    /// Sets the connect timeout.
    pub fn with_connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Sets the maximum response frame size.
    pub fn with_max_frame_size(mut self, n: usize) -> Self {
        self.max_frame_size = n;
        self
    }

    /// Sets the reconnect backoff range.
    pub fn with_reconnect_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.reconnect_backoff = first;
        self.reconnect_backoff_max = max;
        self
    }

    /// Sets the metadata refresh interval.
    pub fn with_metadata_max_age(mut self, t: Duration) -> Self {
        self.metadata_max_age = t;
        self
    }

    /// Sets the metadata recovery strategy (KIP-1102) and its trigger.
    pub fn with_metadata_recovery(
        mut self,
        strategy: MetadataRecoveryStrategy,
        rebootstrap_trigger: Duration,
    ) -> Self {
        self.metadata_recovery_strategy = strategy;
        self.metadata_recovery_rebootstrap_trigger = rebootstrap_trigger;
        self
    }

    /// Turns KIP-714 metrics push on or off (`enable.metrics.push`).
    pub fn with_metrics_push(mut self, enabled: bool) -> Self {
        self.enable_metrics_push = enabled;
        self
    }

    /// Replaces the security settings.
    pub fn with_security(mut self, security: SecurityConfig) -> Self {
        self.security = security;
        self
    }

    /// Sets `security.protocol`.
    pub fn with_security_protocol(mut self, protocol: SecurityProtocol) -> Self {
        self.security.protocol = protocol;
        self
    }

    /// SASL with a user name and password (PLAIN or SCRAM).
    pub fn with_sasl(
        mut self,
        mechanism: SaslMechanism,
        username: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Self {
        self.security.sasl.mechanism = Some(mechanism);
        self.security.sasl.username = username.into();
        self.security.sasl.password = password.into();
        self
    }

    /// SASL/OAUTHBEARER with tokens from `provider`.
    pub fn with_oauthbearer(
        mut self,
        provider: std::sync::Arc<dyn crate::security::OAuthBearerTokenProvider>,
    ) -> Self {
        self.security.sasl.mechanism = Some(SaslMechanism::OAuthBearer);
        self.security.sasl.oauth_token_provider = Some(provider);
        self
    }

    /// Trusts the CA certificates in this PEM file instead of the system store.
    pub fn with_ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.security.tls.ca = Some(PemSource::File(path.into()));
        self
    }

    /// Presents this client certificate chain and key (PEM files) for mutual TLS.
    pub fn with_client_certificate(
        mut self,
        certificate: impl Into<std::path::PathBuf>,
        key: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.security.tls.certificate = Some(PemSource::File(certificate.into()));
        self.security.tls.key = Some(PemSource::File(key.into()));
        self
    }

    /// DANGER: checks the broker's certificate chain but not that it names
    /// the broker's host. Anyone with any certificate from a trusted CA can
    /// impersonate the broker. For local testing only.
    pub fn danger_disable_hostname_verification(mut self) -> Self {
        self.security.tls.verification = CertificateVerification::DangerNoHostname;
        self
    }

    /// DANGER: accepts any broker certificate at all; the connection is
    /// encrypted but not authenticated. For local testing only.
    pub fn danger_accept_invalid_certificates(mut self) -> Self {
        self.security.tls.verification = CertificateVerification::DangerNone;
        self
    }

    /// Sets one property by its librdkafka/kcat name (the Java name where
    /// they differ is accepted too): `bootstrap.servers`
    /// (`metadata.broker.list`), `client.id`, `request.timeout.ms`,
    /// `socket.connection.setup.timeout.ms`, `reconnect.backoff.ms`,
    /// `reconnect.backoff.max.ms`, `metadata.max.age.ms`, `enable.metrics.push`, and the security
    /// keys of [`SecurityConfig::set`]. Unknown keys are an error; error
    /// messages never contain credentials.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let key = key.trim();
        let trimmed = value.trim();
        let millis = || {
            trimmed
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| {
                    Error::Config(format!("{key}: expected milliseconds, got {trimmed:?}"))
                })
        };
        match key {
            "bootstrap.servers" | "metadata.broker.list" => {
                self.bootstrap = Self::new([trimmed]).bootstrap;
            }
            "client.id" => self.client_id = trimmed.to_owned(),
            "request.timeout.ms" => self.request_timeout = millis()?,
            "socket.connection.setup.timeout.ms" => self.connect_timeout = millis()?,
            "reconnect.backoff.ms" => self.reconnect_backoff = millis()?,
            "reconnect.backoff.max.ms" => self.reconnect_backoff_max = millis()?,
            "metadata.max.age.ms" => self.metadata_max_age = millis()?,
            "enable.metrics.push" => {
                self.enable_metrics_push = match trimmed {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(Error::Config(format!(
                            "{key}: expected true or false, got {trimmed:?}"
                        )))
                    }
                };
            }
            _ => {
                if !self.security.set(key, value)? {
                    return Err(Error::Config(format!(
                        "unknown property `{key}`; client properties: bootstrap.servers, \
                         client.id, request.timeout.ms, socket.connection.setup.timeout.ms, \
                         reconnect.backoff.ms, reconnect.backoff.max.ms, metadata.max.age.ms, \
                         enable.metrics.push, {}",
                        SECURITY_KEYS.join(", ")
                    )));
                }
            }
        }
        Ok(())
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            bootstrap: Vec::new(),
            client_id: "kafkit".to_owned(),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_secs(1),
            metadata_max_age: Duration::from_secs(300),
            max_queued_requests: 1024,
            security: SecurityConfig::default(),
            metadata_recovery_strategy: MetadataRecoveryStrategy::Rebootstrap,
            metadata_recovery_rebootstrap_trigger: Duration::from_secs(300),
            enable_metrics_push: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_takes_librdkafka_names() {
        let mut c = ClientConfig::default();
        c.set("metadata.broker.list", "a:1,b:2").unwrap();
        c.set("client.id", "me").unwrap();
        c.set("request.timeout.ms", "1500").unwrap();
        c.set("security.protocol", "SASL_SSL").unwrap();
        c.set("sasl.mechanism", "SCRAM-SHA-256").unwrap();
        c.set("sasl.username", "alice").unwrap();
        c.set("sasl.password", "s3cret").unwrap();
        assert_eq!(c.bootstrap, ["a:1", "b:2"]);
        assert_eq!(c.request_timeout, Duration::from_millis(1500));
        assert_eq!(c.security.protocol, SecurityProtocol::SaslSsl);
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(c.enable_metrics_push, "on by default, as in Java");
        c.set("enable.metrics.push", "false").unwrap();
        assert!(!c.enable_metrics_push);
        assert!(c.set("enable.metrics.push", "off").is_err());
        let err = c.set("request.timeout.ms", "soon").unwrap_err().to_string();
        assert!(err.contains("request.timeout.ms"), "{err}");
        let err = c.set("sasl.passwd", "s3cret").unwrap_err().to_string();
        assert!(
            err.contains("sasl.passwd") && !err.contains("s3cret"),
            "{err}"
        );
        let err = c.set("nope", "1").unwrap_err().to_string();
        assert!(err.contains("unknown property `nope`"), "{err}");
    }

    #[test]
    fn builders_fill_the_security_settings() {
        let c = ClientConfig::new(["h:1"])
            .with_security_protocol(SecurityProtocol::SaslSsl)
            .with_sasl(SaslMechanism::Plain, "u", "p")
            .with_ca_file("/ca.pem")
            .with_client_certificate("/c.pem", "/k.pem")
            .danger_disable_hostname_verification();
        c.security.validate().unwrap();
        assert_eq!(
            c.security.tls.verification,
            CertificateVerification::DangerNoHostname
        );
        assert_eq!(c.security.sasl.password.expose(), "p");
    }
}
