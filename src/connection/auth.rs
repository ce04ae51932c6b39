//! SASL authentication of a broker connection, and re-authentication.
//!
//! A connection authenticates right after ApiVersions and before anyone
//! else gets it (also after every reconnect): SaslHandshake v1 names the
//! mechanism, then SaslAuthenticate requests carry the mechanism's tokens
//! (built by the sans-IO [`crate::sasl`] module). SCRAM's PBKDF2 step runs
//! on a blocking thread.
//!
//! When the broker answers with a session lifetime (SaslAuthenticate v1+),
//! a small task re-authenticates on the same connection after 85–95 % of it,
//! as the Java client does. While it runs, new requests wait at the
//! connection's gate, so nothing else is sent between the SaslHandshake and
//! the last SaslAuthenticate; requests already in flight complete normally
//! (the broker answers them in order before the handshake). A failed
//! re-authentication closes the connection and the pool opens a new one.
//!
//! Spec: KIP-43, KIP-152 (SaslAuthenticate), KIP-368 (re-authentication).

use std::sync::Weak;
use std::time::Duration;

use bytes::Bytes;
use tracing::{debug, info, warn, Instrument};

use super::broker::{BrokerConnection, Inner};
use crate::error::{Error, Result};
use crate::protocol::messages::sasl_authenticate::{
    SaslAuthenticateRequest, SaslAuthenticateResponse,
};
use crate::protocol::messages::sasl_handshake::SaslHandshakeRequest;
use crate::protocol::ErrorCode;
use crate::sasl::scram::{random_nonce, ScramClient, ScramHash};
use crate::sasl::{oauthbearer_client_first, plain_token, Mechanism, SaslError};
use crate::security::SaslSettings;

/// One authentication exchange on one connection.
struct Exchange<'a> {
    conn: &'a BrokerConnection,
    mechanism: Mechanism,
}

impl Exchange<'_> {
    fn fail(&self, message: impl Into<String>) -> Error {
        Error::Authentication {
            broker: self.conn.addr().to_owned(),
            mechanism: self.mechanism.name().to_owned(),
            message: message.into(),
        }
    }

    fn sasl(&self, e: SaslError) -> Error {
        self.fail(e.to_string())
    }

    /// Sends one token; a broker error ends the exchange.
    async fn step(&self, token: Vec<u8>) -> Result<SaslAuthenticateResponse> {
        let resp = self
            .conn
            .send_ungated(&SaslAuthenticateRequest {
                auth_bytes: Bytes::from(token),
                ..Default::default()
            })
            .await?;
        if resp.error_code != ErrorCode::NONE {
            return Err(self.fail(match &resp.error_message {
                Some(m) if !m.is_empty() => format!("{}: {m}", resp.error_code),
                _ => resp.error_code.to_string(),
            }));
        }
        Ok(resp)
    }
}

/// Authenticates `conn` with `sasl`; returns the session lifetime the broker
/// set, if any.
pub(crate) async fn authenticate(
    conn: &BrokerConnection,
    sasl: &SaslSettings,
) -> Result<Option<Duration>> {
    let mechanism = sasl
        .mechanism
        .ok_or_else(|| Error::Config("SASL needs sasl.mechanism".to_owned()))?;
    let ex = Exchange { conn, mechanism };
    let handshake_version = conn.version_for::<SaslHandshakeRequest>()?;
    if handshake_version < 1 || conn.version_for::<SaslAuthenticateRequest>().is_err() {
        return Err(ex.fail("the broker does not support SaslAuthenticate (KIP-152, Kafka 1.0+)"));
    }
    let handshake = conn
        .send_ungated(&SaslHandshakeRequest {
            mechanism: mechanism.name().to_owned(),
        })
        .await?;
    if handshake.error_code != ErrorCode::NONE {
        return Err(ex.fail(format!(
            "{}; the broker enables {}",
            handshake.error_code,
            handshake.mechanisms.join(", ")
        )));
    }
    let last = match mechanism {
        Mechanism::Plain => {
            let token = plain_token(&sasl.username, &sasl.password).map_err(|e| ex.sasl(e))?;
            ex.step(token).await?
        }
        Mechanism::ScramSha256 => scram(&ex, sasl, ScramHash::Sha256).await?,
        Mechanism::ScramSha512 => scram(&ex, sasl, ScramHash::Sha512).await?,
        Mechanism::OAuthBearer => oauthbearer(&ex, sasl).await?,
        other => return Err(ex.fail(format!("mechanism {other} is not implemented"))),
    };
    debug!(mechanism = %mechanism, session_lifetime_ms = last.session_lifetime_ms, "authenticated");
    Ok(u64::try_from(last.session_lifetime_ms)
        .ok()
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis))
}

async fn scram(
    ex: &Exchange<'_>,
    sasl: &SaslSettings,
    hash: ScramHash,
) -> Result<SaslAuthenticateResponse> {
    let nonce = random_nonce().map_err(|e| ex.sasl(e))?;
    let mut client = ScramClient::new(hash, &sasl.username, sasl.password.clone(), nonce)
        .map_err(|e| ex.sasl(e))?
        .with_max_iterations(sasl.scram_max_iterations);
    let first = client.client_first().map_err(|e| ex.sasl(e))?;
    let server_first = ex.step(first).await?.auth_bytes;
    // PBKDF2 with the server's iteration count: off the async threads.
    let (mut client, client_final) = tokio::task::spawn_blocking(move || {
        let message = client.handle_server_first(&server_first);
        (client, message)
    })
    .await
    .map_err(|_| ex.fail("the SCRAM proof computation did not finish"))?;
    let client_final = client_final.map_err(|e| ex.sasl(e))?;
    let last = ex.step(client_final).await?;
    client
        .handle_server_final(&last.auth_bytes)
        .map_err(|e| ex.sasl(e))?;
    Ok(last)
}

async fn oauthbearer(ex: &Exchange<'_>, sasl: &SaslSettings) -> Result<SaslAuthenticateResponse> {
    let provider = sasl
        .oauth_token_provider
        .as_ref()
        .ok_or_else(|| Error::Config("OAUTHBEARER needs a token provider".to_owned()))?;
    let token = provider
        .token()
        .await
        .map_err(|e| ex.fail(format!("no token: {e}")))?;
    let first = oauthbearer_client_first(&token).map_err(|e| ex.sasl(e))?;
    let resp = ex.step(first).await?;
    if resp.auth_bytes.is_empty() {
        return Ok(resp);
    }
    // RFC 7628 3.2.2: the server sent its error status; answer with a lone
    // 0x01 so it can finish the exchange, then report the status.
    let status = String::from_utf8_lossy(&resp.auth_bytes)
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect::<String>();
    let _ = ex.step(vec![0x01]).await;
    Err(ex.fail(format!("the broker refused the token: {status}")))
}

/// Starts the re-authentication task of `conn` (see the module docs). It
/// holds only a weak reference: it ends when the connection is closed or
/// every handle is dropped, or after a failed re-authentication.
pub(crate) fn spawn_reauthentication(
    conn: &BrokerConnection,
    sasl: SaslSettings,
    lifetime: Duration,
) {
    let span =
        tracing::debug_span!("reauthenticate", broker = %conn.addr(), node_id = conn.node_id());
    tokio::spawn(
        reauthenticate(conn.downgrade(), conn.closed_signal(), sasl, lifetime).instrument(span),
    );
}

async fn reauthenticate(
    weak: Weak<Inner>,
    mut closed: tokio::sync::watch::Receiver<bool>,
    sasl: SaslSettings,
    mut lifetime: Duration,
) {
    loop {
        tokio::select! {
            _ = closed.changed() => return,
            _ = tokio::time::sleep(reauth_delay(lifetime)) => {}
        }
        let Some(conn) = BrokerConnection::upgrade(&weak) else {
            return;
        };
        if conn.is_closed() {
            return;
        }
        let result = {
            let _exclusive = conn.gate().write().await;
            authenticate(&conn, &sasl).await
        };
        match result {
            Ok(Some(next)) => {
                debug!(lifetime = ?next, "re-authenticated");
                lifetime = next;
            }
            Ok(None) => {
                info!("re-authenticated; the broker set no further session lifetime");
                return;
            }
            Err(e) => {
                warn!(error = %e, "re-authentication failed; closing the connection");
                conn.close();
                return;
            }
        }
    }
}

/// Re-authentication never runs more often than this, whatever the broker says.
const MIN_REAUTH_DELAY: Duration = Duration::from_millis(50);

/// When to re-authenticate: at a random point between 85 % and 95 % of the
/// session lifetime (the lifetime comes from the broker: no overflow, and
/// not in a tight loop).
fn reauth_delay(lifetime: Duration) -> Duration {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(lifetime.as_nanos());
    let permille = 850 + u32::try_from(h.finish() % 101).unwrap_or(0);
    let delay = (lifetime / 1000).checked_mul(permille).unwrap_or(lifetime);
    delay.max(MIN_REAUTH_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reauthentication_happens_late_in_the_session() {
        for _ in 0..50 {
            let d = reauth_delay(Duration::from_secs(100));
            assert!(
                d >= Duration::from_secs(85) && d <= Duration::from_secs(95),
                "{d:?}"
            );
        }
        // Hostile lifetimes: neither a panic nor a busy loop.
        let huge = Duration::from_millis(u64::try_from(i64::MAX).unwrap());
        assert!(reauth_delay(huge) >= huge / 100 * 85);
        assert_eq!(reauth_delay(Duration::from_millis(1)), MIN_REAUTH_DELAY);
    }
}
