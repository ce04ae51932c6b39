//! TLS with rustls (the `ring` provider): trust roots, client certificates,
//! server name checks, and the two explicitly dangerous verification modes.
//!
//! Roots come from `ssl.ca.location` / `ssl.ca.pem` when given, else from the
//! operating system's store (`rustls-native-certs`: the same store OpenSSL,
//! and so librdkafka, uses; administrators' own CAs work without
//! configuration). The server name sent as SNI and checked against the
//! certificate is the host part of the address being connected to, which
//! for brokers found through metadata is the broker's advertised host.
//!
//! Spec: RFC 8446 (TLS 1.3), RFC 5246 (TLS 1.2), RFC 6066 section 3 (SNI).

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::error::{Error, Result};
use crate::security::{CertificateVerification, PemSource, TlsSettings};

/// Builds the rustls client configuration once per pool.
pub(crate) fn connector(settings: &TlsSettings) -> Result<TlsConnector> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS: {e}")))?;
    let builder = match settings.verification {
        CertificateVerification::Full => builder.with_root_certificates(roots(settings)?),
        CertificateVerification::DangerNoHostname => {
            tracing::warn!("TLS host name verification is DISABLED (ssl.endpoint.identification.algorithm=none)");
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Insecure {
                    roots: Some(Arc::new(roots(settings)?)),
                    provider,
                }))
        }
        CertificateVerification::DangerNone => {
            tracing::warn!("TLS certificate verification is DISABLED (enable.ssl.certificate.verification=false)");
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Insecure {
                    roots: None,
                    provider,
                }))
        }
    };
    let config = match (&settings.certificate, &settings.key) {
        (Some(cert), Some(key)) => {
            let chain = certificates(cert, "ssl.certificate")?;
            let key = private_key(key)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| Error::Config(format!("ssl.certificate / ssl.key: {e}")))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(Error::Config(
                "ssl.certificate.* and ssl.key.* must be given together".to_owned(),
            ))
        }
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Runs the TLS handshake on `tcp`, naming the host of `addr` (`host:port`).
pub(crate) async fn handshake(
    connector: &TlsConnector,
    addr: &str,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>> {
    let name = server_name(addr)?;
    connector
        .connect(name, tcp)
        .await
        .map_err(|e| Error::io(addr, &e))
}

/// The host part of `host:port` (`[v6]:port` too) as a TLS server name.
fn server_name(addr: &str) -> Result<ServerName<'static>> {
    let host = match addr.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => addr,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|_| Error::Tls {
        broker: addr.to_owned(),
        message: format!("{host:?} is not a valid TLS server name"),
    })
}

fn read_pem(source: &PemSource, key: &str) -> Result<Vec<u8>> {
    match source {
        PemSource::Pem(text) => Ok(text.as_bytes().to_vec()),
        PemSource::File(path) => std::fs::read(path)
            .map_err(|e| Error::Config(format!("{key}.location {}: {e}", path.display()))),
    }
}

fn certificates(source: &PemSource, key: &str) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read_pem(source, key)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Config(format!("{key}: not PEM certificates ({e})")))?;
    if certs.is_empty() {
        return Err(Error::Config(format!("{key}: no certificate in the PEM")));
    }
    Ok(certs)
}

fn private_key(source: &PemSource) -> Result<PrivateKeyDer<'static>> {
    let pem = read_pem(source, "ssl.key")?;
    // The error names the problem only: the PEM holds a secret.
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| {
        Error::Config(
            "ssl.key: no unencrypted private key (PKCS#8, PKCS#1 or SEC1 PEM) found".to_owned(),
        )
    })
}

fn roots(settings: &TlsSettings) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    match &settings.ca {
        Some(source) => {
            for cert in certificates(source, "ssl.ca")? {
                store
                    .add(cert)
                    .map_err(|e| Error::Config(format!("ssl.ca: {e}")))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::debug!(error = %e, "skipping part of the system certificate store");
            }
            let (added, ignored) = store.add_parsable_certificates(found.certs);
            tracing::debug!(added, ignored, "system CA certificates loaded");
            if store.is_empty() {
                return Err(Error::Config(
                    "no CA certificates in the system store; set ssl.ca.location".to_owned(),
                ));
            }
        }
    }
    Ok(store)
}

/// A verifier that skips checks on purpose, for local testing only:
/// `ssl.endpoint.identification.algorithm=none` (with `roots`: the chain is
/// verified, the host name is not) or
/// `enable.ssl.certificate.verification=false` (without: any certificate).
/// The handshake signatures are always checked (they prove the peer holds
/// the key of the certificate it sent, whatever that certificate is).
struct Insecure {
    roots: Option<Arc<RootCertStore>>,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for Insecure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.roots {
            Some(_) => "ChainOnly (DANGER: host name not verified)",
            None => "AcceptAny (DANGER: certificates not verified)",
        })
    }
}

impl ServerCertVerifier for Insecure {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.provider.signature_verification_algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_come_from_the_host_part() {
        let dns = server_name("broker-1.example.com:9093").unwrap();
        assert_eq!(dns.to_str(), "broker-1.example.com");
        let v4 = server_name("127.0.0.1:9093").unwrap();
        assert!(matches!(v4, ServerName::IpAddress(_)), "{v4:?}");
        let v6 = server_name("[::1]:9093").unwrap();
        assert!(matches!(v6, ServerName::IpAddress(_)), "{v6:?}");
        assert!(server_name("bad name:1").is_err());
    }

    fn error_of(settings: &TlsSettings) -> String {
        match connector(settings) {
            Ok(_) => panic!("{settings:?} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn unusable_pem_is_a_config_error_naming_the_key() {
        let missing = TlsSettings {
            ca: Some(PemSource::File("/nonexistent/ca.pem".into())),
            ..Default::default()
        };
        let err = error_of(&missing);
        assert!(err.contains("ssl.ca.location"), "{err}");
        let empty = TlsSettings {
            ca: Some(PemSource::Pem("not pem".into())),
            ..Default::default()
        };
        assert!(error_of(&empty).contains("ssl.ca"));
        let key = TlsSettings {
            ca: Some(PemSource::Pem(String::new())),
            certificate: Some(PemSource::Pem(String::new())),
            key: Some(PemSource::Pem(
                "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n".into(),
            )),
            ..Default::default()
        };
        let err = error_of(&key);
        assert!(!err.contains("c2VjcmV0"), "{err}");
    }
}
