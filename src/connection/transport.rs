//! How bytes reach a broker: plain TCP, or TLS over TCP.

use std::fmt;

use tokio::net::TcpStream;

use crate::error::{Error, Result};
use crate::security::SecurityConfig;

/// The transport of a pool's connections, built once from the security
/// settings (PEM files and system roots are read here, not per connection).
#[derive(Clone)]
pub(crate) enum Transport {
    /// Plain TCP.
    Plain,
    /// TLS over TCP.
    #[cfg(feature = "tls")]
    Tls(tokio_rustls::TlsConnector),
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::Plain => f.write_str("Plain"),
            #[cfg(feature = "tls")]
            Transport::Tls(_) => f.write_str("Tls"),
        }
    }
}

impl Transport {
    /// The transport `security` asks for; fails on settings that cannot work.
    pub(crate) fn new(security: &SecurityConfig) -> Result<Self> {
        security.validate()?;
        if !security.protocol.uses_tls() {
            return Ok(Transport::Plain);
        }
        #[cfg(feature = "tls")]
        {
            Ok(Transport::Tls(super::tls::connector(&security.tls)?))
        }
        #[cfg(not(feature = "tls"))]
        {
            Err(Error::Config(format!(
                "security.protocol={} needs kafkit's `tls` feature",
                security.protocol.name()
            )))
        }
    }
}

/// A connected TCP socket, still to be wrapped by the transport.
pub(crate) async fn tcp(addr: &str, timeout: std::time::Duration) -> Result<TcpStream> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| Error::Timeout {
            broker: addr.to_owned(),
            api: crate::protocol::ApiKey(-1),
            timeout,
        })?
        .map_err(|e| Error::io(addr, &e))?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}
