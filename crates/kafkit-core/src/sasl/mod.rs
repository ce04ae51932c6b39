//! SASL mechanisms, with no I/O: the tokens a client sends for PLAIN and
//! OAUTHBEARER, and the SCRAM-SHA-256/512 state machine ([`scram`]).
//!
//! The connection layer carries these tokens in SaslHandshake (v1) and
//! SaslAuthenticate requests after ApiVersions, and again when the broker's
//! session lifetime runs out.
//!
//! Spec: RFC 4616 (PLAIN), RFC 5802 / RFC 7677 (SCRAM), RFC 7628
//! (OAUTHBEARER), KIP-43, KIP-84, KIP-152, KIP-255, KIP-342, KIP-368.

mod oauth;
pub mod scram;
mod secret;

pub use oauth::{
    oauthbearer_client_first, OAuthBearerToken, OAuthBearerTokenProvider, StaticToken, TokenFuture,
};
pub use secret::Secret;

/// A SASL mechanism kafkit implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// `PLAIN`: user name and password in the clear (use it with TLS only).
    Plain,
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
    /// `OAUTHBEARER`: a bearer token from an [`OAuthBearerTokenProvider`].
    OAuthBearer,
}

impl Mechanism {
    /// Every mechanism, in the order they are listed in messages.
    pub const ALL: [Mechanism; 4] = [
        Mechanism::Plain,
        Mechanism::ScramSha256,
        Mechanism::ScramSha512,
        Mechanism::OAuthBearer,
    ];

    /// The name sent in SaslHandshake.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The mechanism named `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name.trim()))
    }
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a SASL exchange failed on the client side. Messages never contain
/// credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    /// A server message did not parse; names the part that was wrong.
    #[error("malformed SASL message from the server: {0}")]
    Malformed(&'static str),
    /// The SCRAM server nonce does not start with the client's.
    #[error("the server's SCRAM nonce does not extend the client's")]
    NonceMismatch,
    /// The server asked for a PBKDF2 iteration count out of range.
    #[error("the server asks for {got} SCRAM iterations; kafkit accepts {min} to {max}")]
    Iterations {
        /// What the server asked for.
        got: u32,
        /// The fewest accepted.
        min: u32,
        /// The most accepted.
        max: u32,
    },
    /// The SCRAM server signature is wrong: the server does not know the password.
    #[error("the server's SCRAM signature does not verify")]
    BadServerSignature,
    /// The server ended the exchange with an error (SCRAM `e=`, OAUTHBEARER status).
    #[error("the server rejected the exchange: {0}")]
    ServerRejected(String),
    /// A credential cannot be sent with this mechanism (the reason, never the value).
    #[error("invalid credential: {0}")]
    InvalidCredential(&'static str),
    /// A state machine method was called in the wrong state.
    #[error("SASL step {0} called out of order")]
    OutOfOrder(&'static str),
    /// The operating system's random source failed.
    #[error("no random bytes for the SCRAM nonce")]
    Random,
}

/// The PLAIN token: `<authzid> NUL <user> NUL <password>` with an empty authzid.
pub fn plain_token(username: &str, password: &Secret) -> Result<Vec<u8>, SaslError> {
    if username.is_empty() {
        return Err(SaslError::InvalidCredential("PLAIN needs a user name"));
    }
    if username.contains('\0') || password.expose().contains('\0') {
        return Err(SaslError::InvalidCredential(
            "PLAIN credentials cannot contain NUL",
        ));
    }
    let mut token = Vec::with_capacity(username.len() + password.expose().len() + 2);
    token.push(0);
    token.extend_from_slice(username.as_bytes());
    token.push(0);
    token.extend_from_slice(password.expose().as_bytes());
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_token_layout() {
        assert_eq!(
            plain_token("alice", &Secret::new("s3cret")).unwrap(),
            b"\0alice\0s3cret"
        );
        assert!(plain_token("", &Secret::new("x")).is_err());
        let err = plain_token("a", &Secret::new("pa\0ss")).unwrap_err();
        assert!(!err.to_string().contains("pa"), "{err}");
    }

    #[test]
    fn mechanism_names_round_trip() {
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::from_name(m.name()), Some(m));
        }
        assert_eq!(
            Mechanism::from_name("scram-sha-512"),
            Some(Mechanism::ScramSha512)
        );
        assert_eq!(Mechanism::from_name("GSSAPI"), None);
    }
}
