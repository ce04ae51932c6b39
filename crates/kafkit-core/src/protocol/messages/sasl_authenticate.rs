//! SaslAuthenticate (key 36): carries SASL tokens after a v1 SaslHandshake.
//!
//! The tokens hold credentials (a PLAIN password, SCRAM proofs, OAuth
//! bearer tokens), so the `Debug` output of both bodies shows only their
//! length, never their content.
//!
//! Spec: KIP-152 (v0), KIP-368 (v1, session lifetime), KIP-482 (v2, flexible).

use std::fmt;

use bytes::Bytes;

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, VersionRange, Writer,
};

/// Stands in for a credential-bearing byte string in `Debug` output.
struct Redacted(usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes redacted>", self.0)
    }
}

/// One SASL token from the client.
#[derive(Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct SaslAuthenticateRequest {
    /// The mechanism's token (v0+). Not shown by `Debug`.
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::bytes()"))]
    pub auth_bytes: Bytes,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

impl fmt::Debug for SaslAuthenticateRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslAuthenticateRequest")
            .field("auth_bytes", &Redacted(self.auth_bytes.len()))
            .field("unknown_tagged_fields", &self.unknown_tagged_fields)
            .finish()
    }
}

/// The broker's SASL token, or why authentication failed.
#[derive(Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct SaslAuthenticateResponse {
    /// Error, e.g. `SASL_AUTHENTICATION_FAILED` (v0+).
    pub error_code: ErrorCode,
    /// Error message, null when there is none (v0+, nullable).
    pub error_message: Option<String>,
    /// The mechanism's token (v0+). Not shown by `Debug`.
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::bytes()"))]
    pub auth_bytes: Bytes,
    /// Milliseconds until the session must re-authenticate, 0 for none (v1+, ignorable).
    pub session_lifetime_ms: i64,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

impl fmt::Debug for SaslAuthenticateResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslAuthenticateResponse")
            .field("error_code", &self.error_code)
            .field("error_message", &self.error_message)
            .field("auth_bytes", &Redacted(self.auth_bytes.len()))
            .field("session_lifetime_ms", &self.session_lifetime_ms)
            .field("unknown_tagged_fields", &self.unknown_tagged_fields)
            .finish()
    }
}

impl Message for SaslAuthenticateRequest {
    const API_KEY: ApiKey = ApiKey::SASL_AUTHENTICATE;
    const VERSIONS: VersionRange = VersionRange::new(0, 2);
    const FLEXIBLE_FROM: Option<i16> = Some(2);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&self.auth_bytes)?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            auth_bytes: r.bytes()?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for SaslAuthenticateRequest {
    type Response = SaslAuthenticateResponse;
    const ROUTE: Route = Route::SameConnection;
}

impl Message for SaslAuthenticateResponse {
    const API_KEY: ApiKey = ApiKey::SASL_AUTHENTICATE;
    const VERSIONS: VersionRange = VersionRange::new(0, 2);
    const FLEXIBLE_FROM: Option<i16> = Some(2);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i16(self.error_code.0);
        w.nullable_string(self.error_message.as_deref())?;
        w.bytes(&self.auth_bytes)?;
        if w.version() >= 1 {
            w.i64(self.session_lifetime_ms);
        } else {
            w.absent("session_lifetime_ms", self.session_lifetime_ms == 0, true)?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self {
            error_code: ErrorCode(r.i16()?),
            error_message: r.nullable_string()?,
            auth_bytes: r.bytes()?,
            ..Self::default()
        };
        if version >= 1 {
            msg.session_lifetime_ms = r.i64()?;
        }
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::check_roundtrip;
    use bytes::BytesMut;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<SaslAuthenticateRequest>(), v in 0i16..=2) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<SaslAuthenticateResponse>(), v in 0i16..=2) {
            check_roundtrip(&m, v)?;
        }
    }

    fn encode<M: Message>(m: &M, v: i16) -> Vec<u8> {
        let mut buf = BytesMut::new();
        m.encode(v, &mut buf).expect("encode");
        buf.to_vec()
    }

    /// `\0user\0secret`, a PLAIN token.
    const TOKEN: &[u8] = b"\0user\0secret";

    #[test]
    fn request_bytes_v0_and_v2() {
        let req = SaslAuthenticateRequest {
            auth_bytes: Bytes::from_static(TOKEN),
            ..Default::default()
        };
        // v0: int32 length 12, then the token.
        let mut v0 = vec![0, 0, 0, 12];
        v0.extend_from_slice(TOKEN);
        assert_eq!(encode(&req, 0), v0);
        assert_eq!(
            SaslAuthenticateRequest::decode(Bytes::from(v0), 0).expect("decode v0"),
            req
        );
        // v2: compact length 12+1 = 13, the token, then zero tagged fields.
        let mut v2 = vec![13];
        v2.extend_from_slice(TOKEN);
        v2.push(0);
        assert_eq!(encode(&req, 2), v2);
        assert_eq!(
            SaslAuthenticateRequest::decode(Bytes::from(v2), 2).expect("decode v2"),
            req
        );
    }

    #[test]
    fn response_bytes_v1() {
        // error 58 (SASL_AUTHENTICATION_FAILED), message "bad" (int16 length 3),
        // empty auth bytes (int32 0), session lifetime 0x0102 ms.
        let wire: &[u8] = &[
            0, 58, 0, 3, b'b', b'a', b'd', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2,
        ];
        let resp = SaslAuthenticateResponse {
            error_code: ErrorCode(58),
            error_message: Some("bad".into()),
            session_lifetime_ms: 0x0102,
            ..Default::default()
        };
        assert_eq!(encode(&resp, 1), wire);
        assert_eq!(
            SaslAuthenticateResponse::decode(Bytes::from_static(wire), 1).expect("decode"),
            resp
        );
    }

    #[test]
    fn response_bytes_v0_null_message() {
        // error 0, null message (int16 -1), auth bytes "ok" (int32 2); no lifetime at v0.
        let wire: &[u8] = &[0, 0, 0xff, 0xff, 0, 0, 0, 2, b'o', b'k'];
        let resp = SaslAuthenticateResponse {
            auth_bytes: Bytes::from_static(b"ok"),
            ..Default::default()
        };
        assert_eq!(encode(&resp, 0), wire);
        assert_eq!(
            SaslAuthenticateResponse::decode(Bytes::from_static(wire), 0).expect("decode"),
            resp
        );
    }

    #[test]
    fn response_bytes_v2_keeps_unknown_tag() {
        // error 0, null message (compact 0), auth bytes "ok" (compact 3),
        // lifetime 1000 ms, one tagged field: tag 7, size 1, byte 0x2a.
        let wire: &[u8] = &[
            0, 0, 0, 3, b'o', b'k', 0, 0, 0, 0, 0, 0, 0x03, 0xe8, 1, 7, 1, 0x2a,
        ];
        let mut unknown = TaggedFields::default();
        unknown.push(7, Bytes::from_static(&[0x2a]));
        let resp = SaslAuthenticateResponse {
            auth_bytes: Bytes::from_static(b"ok"),
            session_lifetime_ms: 1000,
            unknown_tagged_fields: unknown,
            ..Default::default()
        };
        assert_eq!(
            SaslAuthenticateResponse::decode(Bytes::from_static(wire), 2).expect("decode"),
            resp
        );
        assert_eq!(encode(&resp, 2), wire);
    }

    #[test]
    fn lifetime_is_dropped_at_v0() {
        // Ignorable: a v0 encode drops it instead of failing.
        let resp = SaslAuthenticateResponse {
            session_lifetime_ms: 5,
            ..Default::default()
        };
        assert_eq!(encode(&resp, 0), [0, 0, 0xff, 0xff, 0, 0, 0, 0]);
    }

    #[test]
    fn debug_hides_auth_bytes() {
        let req = SaslAuthenticateRequest {
            auth_bytes: Bytes::from_static(TOKEN),
            ..Default::default()
        };
        let shown = format!("{req:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(!shown.contains("115, 101, 99"), "{shown}"); // "sec" as a byte list
        assert!(shown.contains("12 bytes"), "{shown}");

        let resp = SaslAuthenticateResponse {
            auth_bytes: Bytes::from_static(b"v=c2VydmVyLXNpZ25hdHVyZQ=="),
            ..Default::default()
        };
        let shown = format!("{resp:#?}");
        assert!(!shown.contains("c2Vy"), "{shown}");
        assert!(shown.contains("26 bytes"), "{shown}");
    }
}
