//! Opening a broker connection: TCP (or TLS), the socket task, ApiVersions
//! negotiation and, with SASL, authentication (`auth.rs`). Above both
//! `broker.rs` (the handle) and `auth.rs` (which sends on a handle), so
//! neither imports the other's caller.

use std::collections::HashMap;
use std::sync::Arc;

use tracing::{debug, Instrument};

use super::broker::BrokerConnection;
use super::transport::{tcp, Transport};
use crate::config::ClientConfig;
use crate::error::{Error, Result};
use crate::metrics::BrokerStats;
use crate::protocol::{ApiKey, VersionRange};

impl BrokerConnection {
    /// Opens a connection to `addr` (`host:port`) as `config.security` says
    /// (TCP or TLS), starts its socket task, negotiates API versions and,
    /// with SASL, authenticates.
    pub async fn connect(addr: &str, node_id: Option<i32>, config: &ClientConfig) -> Result<Self> {
        let transport = Transport::new(&config.security)?;
        let stats = Arc::new(BrokerStats::new(node_id, addr));
        Self::connect_via(addr, node_id, config, &transport, stats).await
    }

    /// [`BrokerConnection::connect`] with a transport built beforehand (the pool's).
    pub(crate) async fn connect_via(
        addr: &str,
        node_id: Option<i32>,
        config: &ClientConfig,
        transport: &Transport,
        stats: Arc<BrokerStats>,
    ) -> Result<Self> {
        let span = tracing::debug_span!("connect", broker = %addr, node_id);
        let counters = stats.clone();
        let result = async {
            let stream = tcp(addr, config.connect_timeout).await?;
            let conn = match transport {
                Transport::Plain => BrokerConnection::spawn(stream, addr, node_id, config, stats),
                #[cfg(feature = "tls")]
                Transport::Tls(connector) => {
                    let handshake = super::tls::handshake(connector, addr, stream);
                    let tls = tokio::time::timeout(config.connect_timeout, handshake)
                        .await
                        .map_err(|_| Error::Timeout {
                            broker: addr.to_owned(),
                            api: ApiKey(-1),
                            timeout: config.connect_timeout,
                        })??;
                    BrokerConnection::spawn(tls, addr, node_id, config, stats)
                }
            };
            let (versions, features) = conn.negotiate_versions().await?;
            debug!(apis = versions.len(), ?features, "connected");
            debug!(target: "kafkit::protocol", broker = %addr, negotiated = %negotiated(&versions), "API versions");
            conn.set_negotiated(versions, features);
            if config.security.protocol.uses_sasl() {
                let sasl = &config.security.sasl;
                match super::auth::authenticate(&conn, sasl).await {
                    Ok(Some(lifetime)) => {
                        super::auth::spawn_reauthentication(&conn, sasl.clone(), lifetime);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        conn.close();
                        return Err(e);
                    }
                }
            }
            Ok(conn)
        }
        .instrument(span)
        .await;
        match &result {
            Ok(_) => counters.connected(),
            Err(_) => counters.connect_failed(),
        }
        result
    }
}

/// The version each API kafkit knows will be sent at, given the broker's
/// ranges: `Produce v11, Fetch v17, ...` (`-` where there is none in common).
fn negotiated(theirs: &HashMap<i16, VersionRange>) -> String {
    use crate::protocol::messages::any::APIS;
    let mut out = Vec::with_capacity(APIS.len());
    for api in APIS {
        let Some(range) = theirs.get(&api.api_key.0) else {
            continue;
        };
        match api.request_versions.highest_common(range) {
            Some(v) => out.push(format!("{} v{v}", api.name)),
            None => out.push(format!("{} -", api.name)),
        }
    }
    out.join(", ")
}
