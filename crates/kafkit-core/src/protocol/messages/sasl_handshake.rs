//! SaslHandshake (key 17): agree on a SASL mechanism before authenticating.
//!
//! Version 0 is followed by raw SASL tokens on the socket; version 1 (KIP-152)
//! is followed by SaslAuthenticate requests carrying the tokens. No version is
//! flexible, so neither body has tagged fields.
//!
//! Spec: KIP-43 (v0), KIP-152 (v1).

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, VersionRange, Writer,
};

/// Names the SASL mechanism the client wants to use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct SaslHandshakeRequest {
    /// SASL mechanism, e.g. `PLAIN` or `SCRAM-SHA-512` (v0+).
    pub mechanism: String,
}

/// The broker's answer: whether the mechanism is enabled, and which ones are.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct SaslHandshakeResponse {
    /// `UNSUPPORTED_SASL_MECHANISM` when the requested one is not enabled (v0+).
    pub error_code: ErrorCode,
    /// Mechanisms the broker has enabled (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub mechanisms: Vec<String>,
}

impl Message for SaslHandshakeRequest {
    const API_KEY: ApiKey = ApiKey::SASL_HANDSHAKE;
    const VERSIONS: VersionRange = VersionRange::new(0, 1);
    const FLEXIBLE_FROM: Option<i16> = None;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.string(&self.mechanism)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            mechanism: r.string()?,
        })
    }
}

impl Request for SaslHandshakeRequest {
    type Response = SaslHandshakeResponse;
    const ROUTE: Route = Route::SameConnection;
}

impl Message for SaslHandshakeResponse {
    const API_KEY: ApiKey = ApiKey::SASL_HANDSHAKE;
    const VERSIONS: VersionRange = VersionRange::new(0, 1);
    const FLEXIBLE_FROM: Option<i16> = None;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i16(self.error_code.0);
        w.array(&self.mechanisms, |w, m| w.string(m))
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            error_code: ErrorCode(r.i16()?),
            mechanisms: r.array(Reader::string)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::check_roundtrip;
    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<SaslHandshakeRequest>(), v in 0i16..=1) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<SaslHandshakeResponse>(), v in 0i16..=1) {
            check_roundtrip(&m, v)?;
        }
    }

    fn encode<M: Message>(m: &M, v: i16) -> Vec<u8> {
        let mut buf = BytesMut::new();
        m.encode(v, &mut buf).expect("encode");
        buf.to_vec()
    }

    #[test]
    fn request_bytes_v0_and_v1_are_classic() {
        // int16 length 5, "PLAIN"; both versions share the layout.
        let wire: &[u8] = &[0, 5, b'P', b'L', b'A', b'I', b'N'];
        let req = SaslHandshakeRequest {
            mechanism: "PLAIN".into(),
        };
        for v in 0..=1 {
            assert_eq!(encode(&req, v), wire);
            assert_eq!(
                SaslHandshakeRequest::decode(Bytes::from_static(wire), v).expect("decode"),
                req
            );
        }
    }

    #[test]
    fn response_bytes_v1() {
        // error 33 (UNSUPPORTED_SASL_MECHANISM), int32 count 2,
        // "PLAIN", "SCRAM-SHA-256" as int16-prefixed strings.
        let mut wire = vec![0, 33, 0, 0, 0, 2, 0, 5];
        wire.extend_from_slice(b"PLAIN");
        wire.extend_from_slice(&[0, 13]);
        wire.extend_from_slice(b"SCRAM-SHA-256");
        let resp = SaslHandshakeResponse {
            error_code: ErrorCode::UNSUPPORTED_SASL_MECHANISM,
            mechanisms: vec!["PLAIN".into(), "SCRAM-SHA-256".into()],
        };
        assert_eq!(encode(&resp, 1), wire);
        assert_eq!(
            SaslHandshakeResponse::decode(Bytes::from(wire), 1).expect("decode"),
            resp
        );
    }

    #[test]
    fn response_rejects_null_mechanism_list() {
        let wire = Bytes::from_static(&[0, 0, 0xff, 0xff, 0xff, 0xff]);
        assert!(SaslHandshakeResponse::decode(wire, 0).is_err());
    }

    #[test]
    fn version_2_is_unsupported() {
        let mut buf = BytesMut::new();
        assert!(SaslHandshakeRequest::default().encode(2, &mut buf).is_err());
    }
}
