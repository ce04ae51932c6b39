//! AlterUserScramCredentials (key 51): create, replace or delete users'
//! SCRAM credentials.
//!
//! Any broker takes it (a KRaft broker forwards it to the controller).
//! The client computes the credential: a random salt and
//! `SaltedPassword = Hi(password, salt, iterations)` (RFC 5802); the
//! password itself never travels. Only v0 exists, flexible.
//!
//! Spec: `AlterUserScramCredentialsRequest.json` /
//! `AlterUserScramCredentialsResponse.json`, KIP-554.

use bytes::Bytes;

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 0);
const FLEXIBLE_FROM: Option<i16> = Some(0);

/// Asks to delete and upsert SCRAM credentials.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AlterUserScramCredentialsRequest {
    /// Credentials to delete (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub deletions: Vec<ScramDeletion>,
    /// Credentials to create or replace (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub upsertions: Vec<ScramUpsertion>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One credential to delete.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ScramDeletion {
    /// The user name (v0+).
    pub name: String,
    /// The mechanism (1: SCRAM-SHA-256, 2: SCRAM-SHA-512) (v0+).
    pub mechanism: i8,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One credential to create or replace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ScramUpsertion {
    /// The user name (v0+).
    pub name: String,
    /// The mechanism (1: SCRAM-SHA-256, 2: SCRAM-SHA-512) (v0+).
    pub mechanism: i8,
    /// The iteration count `salted_password` was computed with (v0+).
    pub iterations: i32,
    /// The random salt (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::bytes()"))]
    pub salt: Bytes,
    /// `Hi(password, salt, iterations)` (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::bytes()"))]
    pub salted_password: Bytes,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One result per user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AlterUserScramCredentialsResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// The results (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub results: Vec<AlterScramResult>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One user's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AlterScramResult {
    /// The user name (v0+).
    pub user: String,
    /// Error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// The broker's message for the error (v0+).
    pub error_message: Option<String>,
    /// Unknown tagged fields (v0+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for AlterUserScramCredentialsRequest {
    const API_KEY: ApiKey = ApiKey::ALTER_USER_SCRAM_CREDENTIALS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.array(&self.deletions, |w, d| {
            w.string(&d.name)?;
            w.i8(d.mechanism);
            w.unknown_tagged_fields(&d.unknown_tagged_fields)
        })?;
        w.array(&self.upsertions, |w, u| {
            w.string(&u.name)?;
            w.i8(u.mechanism);
            w.i32(u.iterations);
            w.bytes(&u.salt)?;
            w.bytes(&u.salted_password)?;
            w.unknown_tagged_fields(&u.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            deletions: r.array(|r| {
                Ok(ScramDeletion {
                    name: r.string()?,
                    mechanism: r.i8()?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            upsertions: r.array(|r| {
                Ok(ScramUpsertion {
                    name: r.string()?,
                    mechanism: r.i8()?,
                    iterations: r.i32()?,
                    salt: r.bytes()?,
                    salted_password: r.bytes()?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for AlterUserScramCredentialsRequest {
    type Response = AlterUserScramCredentialsResponse;
    const ROUTE: Route = Route::AnyBroker;
}

impl Message for AlterUserScramCredentialsResponse {
    const API_KEY: ApiKey = ApiKey::ALTER_USER_SCRAM_CREDENTIALS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.array(&self.results, |w, r| {
            w.string(&r.user)?;
            w.i16(r.error_code.0);
            w.nullable_string(r.error_message.as_deref())?;
            w.unknown_tagged_fields(&r.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            results: r.array(|r| {
                Ok(AlterScramResult {
                    user: r.string()?,
                    error_code: ErrorCode(r.i16()?),
                    error_message: r.nullable_string()?,
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
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<AlterUserScramCredentialsRequest>()) {
            check_roundtrip(&m, 0)?;
        }

        #[test]
        fn response_roundtrip(m in any::<AlterUserScramCredentialsResponse>()) {
            check_roundtrip(&m, 0)?;
        }

        /// Arbitrary bytes never panic the decoders.
        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = AlterUserScramCredentialsRequest::decode(Bytes::from(b.clone()), 0);
            let _ = AlterUserScramCredentialsResponse::decode(Bytes::from(b), 0);
        }
    }

    #[test]
    fn request_bytes() {
        let req = AlterUserScramCredentialsRequest {
            deletions: vec![ScramDeletion {
                name: "b".into(),
                mechanism: 2,
                ..Default::default()
            }],
            upsertions: vec![ScramUpsertion {
                name: "a".into(),
                mechanism: 1,
                iterations: 4096,
                salt: Bytes::from_static(&[7]),
                salted_password: Bytes::from_static(&[8, 9]),
                ..Default::default()
            }],
            ..Default::default()
        };
        let wire: &[u8] = &[
            2, 2, b'b', 2, 0, // deletions
            2, 2, b'a', 1, 0, 0, 0x10, 0, 2, 7, 3, 8, 9, 0, // upsertions
            0,
        ];
        assert_eq!(encoded(&req, 0), wire);
        assert_eq!(
            AlterUserScramCredentialsRequest::decode(Bytes::from_static(wire), 0),
            Ok(req)
        );
    }

    #[test]
    fn hostile_input_is_an_error() {
        let wire = Bytes::from_static(&[0, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x01]);
        assert!(AlterUserScramCredentialsResponse::decode(wire, 0).is_err());
        let full = encoded(
            &AlterUserScramCredentialsResponse {
                results: vec![AlterScramResult::default()],
                ..Default::default()
            },
            0,
        );
        for n in 0..full.len() {
            let cut = Bytes::copy_from_slice(&full[..n]);
            assert!(
                AlterUserScramCredentialsResponse::decode(cut, 0).is_err(),
                "{n} bytes"
            );
        }
    }
}
