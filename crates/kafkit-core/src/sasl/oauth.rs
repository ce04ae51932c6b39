//! OAUTHBEARER: the extension point for bearer tokens and the client's
//! initial message.
//!
//! kafkit does not talk to identity providers itself; an application
//! implements [`OAuthBearerTokenProvider`] (or uses [`StaticToken`]) and the
//! connection layer asks it for a token on every (re-)authentication.
//!
//! Spec: RFC 7628 section 3.1, KIP-255, KIP-342 (extensions).

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use super::{SaslError, Secret};

/// The future a token provider returns.
pub type TokenFuture<'a> =
    Pin<Box<dyn Future<Output = Result<OAuthBearerToken, String>> + Send + 'a>>;

/// Supplies OAuth bearer tokens for `sasl.mechanism=OAUTHBEARER`.
///
/// Called before every authentication and re-authentication, so an
/// implementation can cache a token and refresh it before it expires. The
/// error string is reported as the authentication failure: it must not
/// contain the token or client secrets.
pub trait OAuthBearerTokenProvider: Send + Sync + fmt::Debug {
    /// A currently valid token.
    fn token(&self) -> TokenFuture<'_>;
}

/// A bearer token with optional SASL extensions (KIP-342).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthBearerToken {
    /// The token (e.g. a JWS compact serialization).
    pub value: Secret,
    /// Extensions sent with the token as `key=value` pairs.
    pub extensions: Vec<(String, String)>,
}

impl OAuthBearerToken {
    /// A token without extensions.
    pub fn new(value: impl Into<Secret>) -> Self {
        Self {
            value: value.into(),
            extensions: Vec::new(),
        }
    }

    /// Adds a SASL extension (KIP-342), e.g. `logicalCluster`.
    pub fn with_extension(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extensions.push((key.into(), value.into()));
        self
    }
}

/// A provider that always returns the same token (tests, short-lived tools).
#[derive(Clone, Debug)]
pub struct StaticToken(pub OAuthBearerToken);

impl OAuthBearerTokenProvider for StaticToken {
    fn token(&self) -> TokenFuture<'_> {
        let token = self.0.clone();
        Box::pin(async move { Ok(token) })
    }
}

/// The client's initial response: `n,,^Aauth=Bearer <token>[^Ak=v...]^A^A`
/// (`^A` is 0x01).
pub fn oauthbearer_client_first(token: &OAuthBearerToken) -> Result<Vec<u8>, SaslError> {
    let value = token.value.expose();
    if !is_b64token(value) {
        return Err(SaslError::InvalidCredential(
            "the OAuth token has characters RFC 6750 does not allow",
        ));
    }
    let mut out = format!("n,,\x01auth=Bearer {value}");
    for (key, val) in &token.extensions {
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphabetic()) || key == "auth" {
            return Err(SaslError::InvalidCredential(
                "an OAUTHBEARER extension key must be letters and not `auth`",
            ));
        }
        if !val
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) || matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        {
            return Err(SaslError::InvalidCredential(
                "an OAUTHBEARER extension value has a control character",
            ));
        }
        out.push('\x01');
        out.push_str(key);
        out.push('=');
        out.push_str(val);
    }
    out.push_str("\x01\x01");
    Ok(out.into_bytes())
}

/// RFC 6750 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_response_framing() {
        let t = OAuthBearerToken::new("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.");
        assert_eq!(
            oauthbearer_client_first(&t).unwrap(),
            b"n,,\x01auth=Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.\x01\x01"
        );
        let t = OAuthBearerToken::new("abc==").with_extension("traceId", "x 1");
        assert_eq!(
            oauthbearer_client_first(&t).unwrap(),
            b"n,,\x01auth=Bearer abc==\x01traceId=x 1\x01\x01"
        );
    }

    #[test]
    fn bad_tokens_and_extensions_are_refused_without_echoing_them() {
        for bad in ["", "===", "a b", "tok\x01en", "a=b"] {
            let err = oauthbearer_client_first(&OAuthBearerToken::new(bad));
            assert!(err.is_err(), "{bad:?}");
        }
        for (k, v) in [("auth", "x"), ("a1", "x"), ("", "x"), ("k", "v\x01")] {
            let t = OAuthBearerToken::new("tok").with_extension(k, v);
            assert!(oauthbearer_client_first(&t).is_err(), "{k:?}={v:?}");
        }
        let err = oauthbearer_client_first(&OAuthBearerToken::new("sec ret")).unwrap_err();
        assert!(!err.to_string().contains("sec"), "{err}");
    }

    #[test]
    fn static_provider_and_debug() {
        let p = StaticToken(OAuthBearerToken::new("hidden"));
        assert!(!format!("{p:?}").contains("hidden"));
        let got = futures_lite_block_on(p.token()).unwrap();
        assert_eq!(got.value.expose(), "hidden");
    }

    /// Polls a future that is ready at once (no runtime needed).
    fn futures_lite_block_on<T>(mut f: Pin<Box<dyn Future<Output = T> + Send + '_>>) -> T {
        use std::task::{Context, Poll, Waker};
        let mut cx = Context::from_waker(Waker::noop());
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("static token future is pending"),
        }
    }
}
