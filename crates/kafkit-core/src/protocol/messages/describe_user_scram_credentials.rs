//! DescribeUserScramCredentials (key 50): which SCRAM mechanisms (and
//! iteration counts) users have credentials for; never the credentials.
//!
//! Any broker answers. Only v0 exists, flexible. A null user list asks for
//! every user.
//!
//! Spec: `DescribeUserScramCredentialsRequest.json` /
//! `DescribeUserScramCredentialsResponse.json`, KIP-554.

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 0);
const FLEXIBLE_FROM: Option<i16> = Some(0);

/// The wire id of SCRAM-SHA-256.
pub const SCRAM_SHA_256: i8 = 1;
/// The wire id of SCRAM-SHA-512.
pub const SCRAM_SHA_512: i8 = 2;

/// Asks which users have which SCRAM credentials.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeUserScramCredentialsRequest {
    /// The users; `None` for every user (v0+).
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::option::of(crate::protocol::testing::list())")
    )]
    pub users: Option<Vec<ScramUserName>>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One user name of a [`DescribeUserScramCredentialsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ScramUserName {
    /// The user name (v0+).
    pub name: String,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeUserScramCredentialsResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// Error for the whole request (v0+).
    pub error_code: ErrorCode,
    /// The broker's message for it (v0+).
    pub error_message: Option<String>,
    /// One result per user (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub results: Vec<ScramUserResult>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One user's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ScramUserResult {
    /// The user name (v0+).
    pub user: String,
    /// `RESOURCE_NOT_FOUND` for a user without credentials (v0+).
    pub error_code: ErrorCode,
    /// The broker's message for the error (v0+).
    pub error_message: Option<String>,
    /// One entry per mechanism the user has a credential for (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub credential_infos: Vec<ScramCredentialInfo>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// A mechanism and its iteration count.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ScramCredentialInfo {
    /// [`SCRAM_SHA_256`] or [`SCRAM_SHA_512`] (v0+).
    pub mechanism: i8,
    /// The iteration count (v0+).
    pub iterations: i32,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for DescribeUserScramCredentialsRequest {
    const API_KEY: ApiKey = ApiKey::DESCRIBE_USER_SCRAM_CREDENTIALS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.nullable_array(self.users.as_deref(), |w, u| {
            w.string(&u.name)?;
            w.unknown_tagged_fields(&u.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            users: r.nullable_array(|r| {
                Ok(ScramUserName {
                    name: r.string()?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for DescribeUserScramCredentialsRequest {
    type Response = DescribeUserScramCredentialsResponse;
    const ROUTE: Route = Route::AnyBroker;

    fn response_error(response: &Self::Response) -> ErrorCode {
        response.error_code
    }
}

impl Message for DescribeUserScramCredentialsResponse {
    const API_KEY: ApiKey = ApiKey::DESCRIBE_USER_SCRAM_CREDENTIALS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.i16(self.error_code.0);
        w.nullable_string(self.error_message.as_deref())?;
        w.array(&self.results, |w, u| {
            w.string(&u.user)?;
            w.i16(u.error_code.0);
            w.nullable_string(u.error_message.as_deref())?;
            w.array(&u.credential_infos, |w, c| {
                w.i8(c.mechanism);
                w.i32(c.iterations);
                w.unknown_tagged_fields(&c.unknown_tagged_fields)
            })?;
            w.unknown_tagged_fields(&u.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            error_code: ErrorCode(r.i16()?),
            error_message: r.nullable_string()?,
            results: r.array(|r| {
                Ok(ScramUserResult {
                    user: r.string()?,
                    error_code: ErrorCode(r.i16()?),
                    error_message: r.nullable_string()?,
                    credential_infos: r.array(|r| {
                        Ok(ScramCredentialInfo {
                            mechanism: r.i8()?,
                            iterations: r.i32()?,
                            unknown_tagged_fields: r.unknown_tagged_fields()?,
                        })
                    })?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::{check_roundtrip, encoded};
    use bytes::Bytes;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<DescribeUserScramCredentialsRequest>()) {
            check_roundtrip(&m, 0)?;
        }

        #[test]
        fn response_roundtrip(m in any::<DescribeUserScramCredentialsResponse>()) {
            check_roundtrip(&m, 0)?;
        }

        /// Arbitrary bytes never panic the decoders.
        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = DescribeUserScramCredentialsRequest::decode(Bytes::from(b.clone()), 0);
            let _ = DescribeUserScramCredentialsResponse::decode(Bytes::from(b), 0);
        }
    }

    #[test]
    fn request_bytes() {
        // Null (compact: 0) asks for every user.
        let all = DescribeUserScramCredentialsRequest::default();
        assert_eq!(encoded(&all, 0), [0, 0]);
        let one = DescribeUserScramCredentialsRequest {
            users: Some(vec![ScramUserName {
                name: "al".into(),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let wire: &[u8] = &[2, 3, b'a', b'l', 0, 0];
        assert_eq!(encoded(&one, 0), wire);
        assert_eq!(
            DescribeUserScramCredentialsRequest::decode(Bytes::from_static(wire), 0),
            Ok(one)
        );
    }

    #[test]
    fn hostile_input_is_an_error() {
        // A compact result count of 2^28 with nothing behind it.
        let wire = Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x01]);
        assert!(DescribeUserScramCredentialsResponse::decode(wire, 0).is_err());
        let full = encoded(
            &DescribeUserScramCredentialsResponse {
                results: vec![ScramUserResult {
                    credential_infos: vec![ScramCredentialInfo::default()],
                    ..Default::default()
                }],
                ..Default::default()
            },
            0,
        );
        for n in 0..full.len() {
            let cut = Bytes::copy_from_slice(&full[..n]);
            assert!(
                DescribeUserScramCredentialsResponse::decode(cut, 0).is_err(),
                "{n} bytes"
            );
        }
    }
}
