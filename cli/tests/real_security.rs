//! The `kafkit` binary against Apache Kafka's SASL_SSL and mutual-TLS
//! listeners, configured the way a kcat user would (`-X security.protocol=…
//! -X sasl.* -X ssl.*`): metadata, produce, consume, and the messages for a
//! wrong password and an untrusted CA. The node is the one
//! `tests/support/secure_kafka.rs` describes.

#[path = "../../tests/support/kafka.rs"]
mod kafka;
#[path = "../../tests/support/secure_kafka.rs"]
mod secure_kafka;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use secure_kafka::{SecureKafka, PASSWORD, USER};

fn kafkit(args: &[String], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kafkit");
    if let Some(mut pipe) = child.stdin.take() {
        let _ = pipe.write_all(stdin);
    }
    child.wait_with_output().expect("wait")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `SUBCOMMAND -b <SASL_SSL listener> -X …` with SCRAM-SHA-512 and `password`.
fn sasl_ssl(k: &SecureKafka, sub: &[&str], password: &str, ca: &std::path::Path) -> Vec<String> {
    let mut args: Vec<String> = sub.iter().map(|s| s.to_string()).collect();
    args.extend(["-b".into(), k.listener("SASLTLS").to_owned()]);
    for x in [
        "security.protocol=SASL_SSL".to_owned(),
        "sasl.mechanism=SCRAM-SHA-512".to_owned(),
        format!("sasl.username={USER}"),
        format!("sasl.password={password}"),
        format!("ssl.ca.location={}", ca.display()),
    ] {
        args.extend(["-X".into(), x]);
    }
    args
}

#[test]
fn metadata_produce_and_consume_over_sasl_ssl_and_mutual_tls() {
    let Some(k) = SecureKafka::start() else {
        return;
    };
    let ca = &k.pki.ca;
    let out = kafkit(&sasl_ssl(&k, &["metadata"], PASSWORD, ca), b"");
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{shown}{}", text(&out.stderr));
    assert!(
        shown.contains(&format!("at {} (controller)", k.listener("SASLTLS"))),
        "{shown}"
    );

    let topic = kafka::unique("cli-sasl-ssl");
    let out = kafkit(
        &sasl_ssl(&k, &["produce", "-t", &topic, "-K", ":"], PASSWORD, ca),
        b"k1:one\nk2:two\nk3:three\n",
    );
    assert!(out.status.success(), "produce: {}", text(&out.stderr));
    let consume = [
        "consume",
        "-t",
        &topic,
        "-e",
        "-q",
        "-o",
        "beginning",
        "-K",
        ":",
    ];
    let out = kafkit(&sasl_ssl(&k, &consume, PASSWORD, ca), b"");
    assert!(out.status.success(), "consume: {}", text(&out.stderr));
    let mut lines: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    lines.sort();
    assert_eq!(lines, ["k1:one", "k2:two", "k3:three"]);

    // The same records through the mutual-TLS listener, with a client certificate.
    let mut mtls: Vec<String> = consume.iter().map(|s| s.to_string()).collect();
    mtls.extend(["-b".into(), k.listener("MTLS").to_owned()]);
    for x in [
        "security.protocol=SSL".to_owned(),
        format!("ssl.ca.location={}", ca.display()),
        format!("ssl.certificate.location={}", k.pki.client_cert.display()),
        format!("ssl.key.location={}", k.pki.client_key.display()),
    ] {
        mtls.extend(["-X".into(), x]);
    }
    let out = kafkit(&mtls, b"");
    assert!(
        out.status.success(),
        "consume over mTLS: {}",
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stdout).lines().count(),
        3,
        "{}",
        text(&out.stdout)
    );

    // A wrong password: the mechanism and the broker's verdict, not the password.
    let out = kafkit(&sasl_ssl(&k, &["metadata"], "hunter2-wrong", ca), b"");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("SCRAM-SHA-512") && err.contains("SASL_AUTHENTICATION_FAILED"),
        "{err}"
    );
    assert!(!err.contains("hunter2-wrong") && !text(&out.stdout).contains("hunter2"));

    // A CA that did not sign the broker's certificate.
    let out = kafkit(&sasl_ssl(&k, &["metadata"], PASSWORD, &k.pki.other_ca), b"");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("TLS") && err.contains("UnknownIssuer"),
        "{err}"
    );
}
