//! SCRAM user credentials: which users have which mechanisms
//! (DescribeUserScramCredentials) and creating, replacing or deleting them
//! (AlterUserScramCredentials). The password never leaves the client: it
//! sends a random salt and `Hi(password, salt, iterations)` (RFC 5802), as
//! Kafka's own admin client does.
//!
//! Spec: KIP-554.

use bytes::Bytes;

use super::{broker_error, in_order, item_error, Admin, PerItem};
use crate::cluster::route::Destination;
use crate::error::{BrokerRef, Error, Result};
use crate::protocol::messages::alter_user_scram_credentials::{
    AlterUserScramCredentialsRequest, ScramDeletion, ScramUpsertion,
};
use crate::protocol::messages::describe_user_scram_credentials::{
    DescribeUserScramCredentialsRequest, ScramUserName, SCRAM_SHA_256, SCRAM_SHA_512,
};
use crate::protocol::{ApiKey, ErrorCode};
use crate::sasl::scram::{random_salt, ScramHash};

/// A SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramMechanism {
    /// SCRAM-SHA-256 (at least 4096 iterations on Kafka).
    Sha256,
    /// SCRAM-SHA-512 (at least 4096 iterations on Kafka).
    Sha512,
}

impl ScramMechanism {
    fn wire(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => SCRAM_SHA_256,
            ScramMechanism::Sha512 => SCRAM_SHA_512,
        }
    }

    fn hash(self) -> ScramHash {
        match self {
            ScramMechanism::Sha256 => ScramHash::Sha256,
            ScramMechanism::Sha512 => ScramHash::Sha512,
        }
    }

    /// The mechanism's name (`SCRAM-SHA-256`).
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }
}

/// One credential a user has ([`Admin::describe_user_scram_credentials`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramCredential {
    /// The mechanism; `None` for one this client does not know.
    pub mechanism: Option<ScramMechanism>,
    /// Its iteration count.
    pub iterations: i32,
}

/// A change of [`Admin::alter_user_scram_credentials`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScramAlteration {
    /// Create or replace `user`'s credential for `mechanism`.
    Upsert {
        /// The user.
        user: String,
        /// The mechanism.
        mechanism: ScramMechanism,
        /// The iteration count (Kafka takes 4096 to 16384).
        iterations: u32,
        /// The password (only its salted hash is sent).
        password: String,
    },
    /// Delete `user`'s credential for `mechanism`.
    Delete {
        /// The user.
        user: String,
        /// The mechanism.
        mechanism: ScramMechanism,
    },
}

impl ScramAlteration {
    fn user(&self) -> &str {
        match self {
            ScramAlteration::Upsert { user, .. } | ScramAlteration::Delete { user, .. } => user,
        }
    }
}

impl Admin {
    /// The SCRAM credentials of `users` (every user with one when `None`);
    /// a user without credentials fails with `RESOURCE_NOT_FOUND`. One
    /// result per user.
    pub async fn describe_user_scram_credentials(
        &self,
        users: Option<&[String]>,
    ) -> Result<PerItem<String, Vec<ScramCredential>>> {
        let build = |_: i16, _: &BrokerRef| {
            Ok(DescribeUserScramCredentialsRequest {
                users: users.map(|u| {
                    u.iter()
                        .map(|name| ScramUserName {
                            name: name.clone(),
                            ..Default::default()
                        })
                        .collect()
                }),
                ..Default::default()
            })
        };
        let to = Destination::AnyBroker;
        let answer = self.client.call_to(&to, build, self.deadline()).await?;
        let (broker, version) = (answer.broker, answer.version);
        let api = ApiKey::DESCRIBE_USER_SCRAM_CREDENTIALS;
        let done: PerItem<String, Vec<ScramCredential>> = answer
            .body
            .results
            .into_iter()
            .map(|u| {
                let r = if u.error_code.is_ok() {
                    Ok(u.credential_infos
                        .iter()
                        .map(|c| ScramCredential {
                            mechanism: match c.mechanism {
                                SCRAM_SHA_256 => Some(ScramMechanism::Sha256),
                                SCRAM_SHA_512 => Some(ScramMechanism::Sha512),
                                _ => None,
                            },
                            iterations: c.iterations,
                        })
                        .collect())
                } else {
                    let what = format!("user {}", u.user);
                    let e = item_error(u.error_code, api, &what, u.error_message.as_deref());
                    Err(e.answered_by(&broker, version))
                };
                (u.user, r)
            })
            .collect();
        Ok(match users {
            None => done,
            Some(asked) => in_order(asked, done, |u| missing(api, u)),
        })
    }

    /// Creates, replaces or deletes SCRAM credentials; one result per user
    /// (in the order first named). The salt is random; the salted password
    /// is computed here.
    pub async fn alter_user_scram_credentials(
        &self,
        changes: &[ScramAlteration],
    ) -> Result<PerItem<String>> {
        let mut users: Vec<String> = Vec::new();
        let mut request = AlterUserScramCredentialsRequest::default();
        for change in changes {
            if !users.iter().any(|u| u == change.user()) {
                users.push(change.user().to_owned());
            }
            match change {
                ScramAlteration::Delete { user, mechanism } => {
                    request.deletions.push(ScramDeletion {
                        name: user.clone(),
                        mechanism: mechanism.wire(),
                        ..Default::default()
                    })
                }
                ScramAlteration::Upsert {
                    user,
                    mechanism,
                    iterations,
                    password,
                } => request
                    .upsertions
                    .push(upsertion(user, *mechanism, *iterations, password)?),
            }
        }
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let to = Destination::AnyBroker;
        let build = |_: i16, _: &BrokerRef| Ok(request.clone());
        let answer = self.client.call_to(&to, build, self.deadline()).await?;
        let (broker, version) = (answer.broker, answer.version);
        let api = ApiKey::ALTER_USER_SCRAM_CREDENTIALS;
        let done = answer
            .body
            .results
            .into_iter()
            .map(|r| {
                let result = if r.error_code.is_ok() {
                    Ok(())
                } else {
                    let what = format!("user {}", r.user);
                    let e = item_error(r.error_code, api, &what, r.error_message.as_deref());
                    Err(e.answered_by(&broker, version))
                };
                (r.user, result)
            })
            .collect();
        Ok(in_order(&users, done, |u| missing(api, u)))
    }
}

fn missing(api: ApiKey, user: &str) -> Error {
    broker_error(
        ErrorCode::UNKNOWN_SERVER_ERROR,
        api,
        format!(" for user {user}: missing from the response"),
    )
}

/// The credential Kafka stores for `password`: a random salt and
/// `Hi(password, salt, iterations)`.
fn upsertion(
    user: &str,
    mechanism: ScramMechanism,
    iterations: u32,
    password: &str,
) -> Result<ScramUpsertion> {
    let wire_iterations = i32::try_from(iterations)
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| Error::Config(format!("SCRAM iterations {iterations} out of range")))?;
    let salt = random_salt().map_err(|e| Error::Config(format!("no random salt: {e}")))?;
    let salted = mechanism
        .hash()
        .salted_password(password.as_bytes(), &salt, iterations);
    Ok(ScramUpsertion {
        name: user.to_owned(),
        mechanism: mechanism.wire(),
        iterations: wire_iterations,
        salt: Bytes::copy_from_slice(&salt),
        salted_password: Bytes::from(salted),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsertions_carry_a_fresh_salt_and_the_salted_password() {
        let a = upsertion("u", ScramMechanism::Sha256, 4096, "pw").expect("a");
        let b = upsertion("u", ScramMechanism::Sha256, 4096, "pw").expect("b");
        assert_eq!((a.mechanism, a.iterations), (SCRAM_SHA_256, 4096));
        assert_eq!((a.salt.len(), a.salted_password.len()), (32, 32));
        assert_ne!(a.salt, b.salt, "salts are random");
        let again = ScramHash::Sha256.salted_password(b"pw", &a.salt, 4096);
        assert_eq!(a.salted_password, again);
        let c = upsertion("u", ScramMechanism::Sha512, 4096, "pw").expect("c");
        assert_eq!((c.mechanism, c.salted_password.len()), (SCRAM_SHA_512, 64));
        assert!(upsertion("u", ScramMechanism::Sha256, 0, "pw").is_err());
        assert!(upsertion("u", ScramMechanism::Sha256, u32::MAX, "pw").is_err());
    }
}
