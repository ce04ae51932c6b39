//! SCRAM credentials administered by kafkit on real Apache Kafka: a user
//! created with AlterUserScramCredentials (salted password computed by
//! kafkit) then authenticates with SCRAM-SHA-256 on a SASL_PLAINTEXT
//! listener; DescribeUserScramCredentials lists its mechanism and
//! iterations; after the deletion the same login fails.
//!
//! Peer: one node with SASL listeners (`tests/support/secure_kafka.rs`);
//! administration goes through its PLAINTEXT listener.

use std::time::Duration;

use kafkit::admin::{Admin, ScramAlteration, ScramCredential, ScramMechanism};
use kafkit::protocol::ErrorCode;
use kafkit::security::{SaslMechanism, SecurityProtocol};
use kafkit::{ClientConfig, Error};

#[path = "support/kafka.rs"]
mod kafka;
#[path = "support/secure_kafka.rs"]
mod secure_kafka;

use secure_kafka::SecureKafka;

/// Whether `user`/`password` can log in with SCRAM-SHA-256 at `addr` and
/// get an answer (a fresh connection each time).
async fn logs_in(addr: &str, user: &str, password: &str) -> Result<(), Error> {
    let config = ClientConfig::new([addr])
        .with_security_protocol(SecurityProtocol::SaslPlaintext)
        .with_sasl(SaslMechanism::ScramSha256, user, password)
        .with_connect_timeout(Duration::from_secs(5))
        .with_request_timeout(Duration::from_secs(5));
    let admin = Admin::connect(config)
        .await?
        .with_timeout(Duration::from_secs(3));
    let r = admin.describe_cluster().await.map(|_| ());
    admin.close();
    r
}

/// Polls `logs_in` until its outcome is `want` (credentials reach the
/// broker through the metadata log, a moment after the controller took
/// them); returns the last outcome.
async fn until_login(addr: &str, user: &str, password: &str, want: bool) -> Result<(), Error> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = logs_in(addr, user, password).await;
        if r.is_ok() == want || tokio::time::Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upserted_scram_user_logs_in_until_deleted() {
    let Some(k) = SecureKafka::start() else {
        return;
    };
    let sasl = k.listener("SASL").to_owned();
    let admin = Admin::connect(ClientConfig::new([k.cluster.bootstrap.as_str()]))
        .await
        .expect("admin")
        .with_timeout(Duration::from_secs(20));
    let user = kafka::unique("scram-user");
    let nobody = kafka::unique("scram-nobody");

    let upsert = ScramAlteration::Upsert {
        user: user.clone(),
        mechanism: ScramMechanism::Sha256,
        iterations: 4096,
        password: "first-secret".to_owned(),
    };
    let r = admin
        .alter_user_scram_credentials(&[upsert])
        .await
        .expect("upsert");
    assert_eq!(r, [(user.clone(), Ok(()))]);
    // Below Kafka's minimum iteration count: refused for that user only.
    let weak = ScramAlteration::Upsert {
        user: nobody.clone(),
        mechanism: ScramMechanism::Sha256,
        iterations: 10,
        password: "x".to_owned(),
    };
    let r = admin
        .alter_user_scram_credentials(&[weak])
        .await
        .expect("weak");
    assert!(matches!(&r[0].1, Err(Error::Broker { .. })), "{r:?}");

    let described = admin
        .describe_user_scram_credentials(Some(&[user.clone(), nobody.clone()]))
        .await
        .expect("describe");
    let expected = ScramCredential {
        mechanism: Some(ScramMechanism::Sha256),
        iterations: 4096,
    };
    assert_eq!(described[0], (user.clone(), Ok(vec![expected])));
    assert_eq!(described[1].0, nobody);
    assert!(
        matches!(&described[1].1, Err(Error::Broker { code, .. }) if *code == ErrorCode::RESOURCE_NOT_FOUND),
        "{described:?}"
    );

    until_login(&sasl, &user, "first-secret", true)
        .await
        .expect("the new user logs in with SCRAM-SHA-256");
    assert!(
        logs_in(&sasl, &user, "wrong").await.is_err(),
        "a wrong password"
    );

    let delete = ScramAlteration::Delete {
        user: user.clone(),
        mechanism: ScramMechanism::Sha256,
    };
    let r = admin
        .alter_user_scram_credentials(&[delete])
        .await
        .expect("delete");
    assert_eq!(r, [(user.clone(), Ok(()))]);
    let r = until_login(&sasl, &user, "first-secret", false).await;
    assert!(r.is_err(), "the deleted user still logs in");
    let described = admin
        .describe_user_scram_credentials(Some(std::slice::from_ref(&user)))
        .await
        .expect("describe after delete");
    assert!(described[0].1.is_err(), "{described:?}");
    admin.close();
}
