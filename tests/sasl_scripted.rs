//! SASL behaviour against a scripted broker (kafkit's codecs, a few lines
//! of rules): KIP-368 re-authentication on a live pipelined connection, a
//! wrong password failing once without a reconnect storm, and OAUTHBEARER
//! framing. The real-peer SCRAM/PLAIN tests are in `sasl_tansu.rs`.
//!
//! The scripted broker enforces what a Kafka broker enforces: nothing but
//! SaslHandshake/SaslAuthenticate between a handshake and the end of its
//! exchange, and a connection whose session expired is closed on its next
//! request.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use kafkit::connection::{BrokerConnection, Pool};
use kafkit::protocol::frame::encode_response;
use kafkit::protocol::messages::any::AnyRequest;
use kafkit::protocol::messages::api_versions::{
    ApiVersion, ApiVersionsRequest, ApiVersionsResponse,
};
use kafkit::protocol::messages::sasl_authenticate::SaslAuthenticateResponse;
use kafkit::protocol::messages::sasl_handshake::SaslHandshakeResponse;
use kafkit::protocol::{try_parse_frame, ApiKey, ErrorCode, Message};
use kafkit::sasl::{OAuthBearerToken, StaticToken};
use kafkit::security::{SaslMechanism, SecurityProtocol};
use kafkit::{Client, ClientConfig, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the scripted broker accepts.
#[derive(Clone)]
struct Script {
    mechanism: &'static str,
    /// The exact token that authenticates.
    token: Vec<u8>,
    session_lifetime: Duration,
}

#[derive(Default, Debug)]
struct Seen {
    connections: usize,
    authentications: usize,
    failed_authentications: usize,
    other_requests: usize,
    /// Rule breaks: requests inside an exchange, or after the session expired.
    violations: Vec<String>,
}

async fn broker(script: Script) -> (String, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let shared = seen.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            shared.lock().unwrap().connections += 1;
            tokio::spawn(serve(sock, script.clone(), shared.clone()));
        }
    });
    (addr, seen)
}

fn api_versions() -> ApiVersionsResponse {
    let range = |key: ApiKey, min, max| ApiVersion {
        api_key: key.0,
        min_version: min,
        max_version: max,
        ..Default::default()
    };
    ApiVersionsResponse {
        api_keys: vec![
            range(ApiKey::API_VERSIONS, 0, ApiVersionsRequest::VERSIONS.max),
            range(ApiKey::SASL_HANDSHAKE, 0, 1),
            range(ApiKey::SASL_AUTHENTICATE, 0, 2),
        ],
        ..Default::default()
    }
}

async fn serve(mut sock: TcpStream, script: Script, seen: Arc<Mutex<Seen>>) {
    let mut buf = BytesMut::new();
    let mut in_exchange = false;
    let mut expires: Option<Instant> = None;
    loop {
        let frame = match try_parse_frame(&mut buf, 1 << 20) {
            Ok(Some(f)) => f,
            Ok(None) => match sock.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            },
            Err(_) => return,
        };
        let (header, request) =
            AnyRequest::decode_frame(frame).expect("a request kafkit can decode");
        let (v, id) = (header.api_version, header.correlation_id);
        let mut out = BytesMut::new();
        let is_sasl = matches!(
            request,
            AnyRequest::SaslHandshake(_) | AnyRequest::SaslAuthenticate(_)
        );
        if in_exchange && !is_sasl {
            seen.lock()
                .unwrap()
                .violations
                .push(format!("{:?} inside an exchange", header.api_key));
            return;
        }
        if !is_sasl && expires.is_some_and(|at| Instant::now() > at) {
            // A Kafka broker closes a connection whose session expired.
            seen.lock()
                .unwrap()
                .violations
                .push("request after the session expired".into());
            return;
        }
        match request {
            AnyRequest::ApiVersions(_) => {
                seen.lock().unwrap().other_requests += 1;
                encode_response(&api_versions(), v, id, &mut out).expect("encode");
            }
            AnyRequest::SaslHandshake(req) => {
                in_exchange = true;
                let error_code = if req.mechanism == script.mechanism {
                    ErrorCode::NONE
                } else {
                    ErrorCode::UNSUPPORTED_SASL_MECHANISM
                };
                let resp = SaslHandshakeResponse {
                    error_code,
                    mechanisms: vec![script.mechanism.to_owned()],
                };
                encode_response(&resp, v, id, &mut out).expect("encode");
            }
            AnyRequest::SaslAuthenticate(req) => {
                in_exchange = false;
                let ok = req.auth_bytes == script.token;
                let resp = if ok {
                    seen.lock().unwrap().authentications += 1;
                    // Zero: sessions never expire (no re-authentication).
                    expires = (!script.session_lifetime.is_zero())
                        .then(|| Instant::now() + script.session_lifetime);
                    SaslAuthenticateResponse {
                        session_lifetime_ms: script
                            .session_lifetime
                            .as_millis()
                            .try_into()
                            .unwrap(),
                        ..Default::default()
                    }
                } else {
                    seen.lock().unwrap().failed_authentications += 1;
                    SaslAuthenticateResponse {
                        error_code: ErrorCode::SASL_AUTHENTICATION_FAILED,
                        error_message: Some("Invalid username or password".into()),
                        ..Default::default()
                    }
                };
                encode_response(&resp, v, id, &mut out).expect("encode");
                if !ok {
                    let _ = sock.write_all(&out).await;
                    return;
                }
            }
            other => panic!("unscripted request {:?}", other.api_key()),
        }
        if sock.write_all(&out).await.is_err() {
            return;
        }
    }
}

fn plain_config(addr: &str, password: &str) -> ClientConfig {
    ClientConfig::new([addr])
        .with_security_protocol(SecurityProtocol::SaslPlaintext)
        .with_sasl(SaslMechanism::Plain, "alice", password)
        .with_request_timeout(Duration::from_secs(5))
}

fn plain_script(lifetime: Duration) -> Script {
    Script {
        mechanism: "PLAIN",
        token: b"\0alice\0secret".to_vec(),
        session_lifetime: lifetime,
    }
}

#[tokio::test]
async fn reauthenticates_a_busy_connection_before_the_session_expires() {
    let (addr, seen) = broker(plain_script(Duration::from_millis(400))).await;
    let conn = BrokerConnection::connect(&addr, None, &plain_config(&addr, "secret"))
        .await
        .expect("authenticated connection");
    // Four pipelined senders for 1.5 s: several session lifetimes.
    let deadline = Instant::now() + Duration::from_millis(1500);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let conn = conn.clone();
        tasks.push(tokio::spawn(async move {
            let mut sent = 0;
            while Instant::now() < deadline {
                conn.send(&ApiVersionsRequest::default())
                    .await
                    .expect("request on a re-authenticated connection");
                sent += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            sent
        }));
    }
    let mut sent = 0;
    for t in tasks {
        sent += t.await.expect("sender");
    }
    let seen = seen.lock().unwrap();
    assert!(seen.violations.is_empty(), "{:?}", seen.violations);
    assert_eq!(seen.connections, 1, "{seen:?}");
    assert!(seen.authentications >= 4, "{seen:?}");
    assert!(sent > 100, "only {sent} requests");
    assert!(!conn.is_closed());
}

#[tokio::test]
async fn wrong_password_fails_clearly_and_does_not_storm() {
    let (addr, seen) = broker(plain_script(Duration::ZERO)).await;
    let config = plain_config(&addr, "wrong-pass")
        .with_reconnect_backoff(Duration::from_millis(10), Duration::from_secs(1));
    let err = Client::connect(config.clone())
        .await
        .expect_err("wrong password");
    let shown = err.to_string();
    assert!(
        matches!(&err, Error::Authentication { mechanism, .. } if mechanism == "PLAIN"),
        "{shown}"
    );
    assert!(shown.contains("Invalid username or password"), "{shown}");
    assert!(!shown.contains("wrong-pass") && !format!("{err:?}").contains("wrong-pass"));
    assert!(!err.is_retriable());

    // A caller that keeps asking for 700 ms gets the same error at once,
    // without new connections: an authentication failure waits the longest
    // backoff (1 s here), not the first (10 ms).
    let pool = Pool::new(config);
    let until = Instant::now() + Duration::from_millis(700);
    let mut answers = 0;
    while Instant::now() < until {
        let e = pool.any().await.expect_err("still the wrong password");
        assert!(matches!(e, Error::Authentication { .. }), "{e}");
        answers += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seen = seen.lock().unwrap();
    // One connection for Client::connect, one for the pool's first try.
    assert_eq!(seen.connections, 2, "{seen:?} after {answers} calls");
    assert_eq!(seen.failed_authentications, 2, "{seen:?}");
}

#[tokio::test]
async fn oauthbearer_sends_the_providers_token() {
    let token = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.";
    let (addr, seen) = broker(Script {
        mechanism: "OAUTHBEARER",
        token: format!("n,,\x01auth=Bearer {token}\x01\x01").into_bytes(),
        session_lifetime: Duration::ZERO,
    })
    .await;
    let config = ClientConfig::new([&addr])
        .with_security_protocol(SecurityProtocol::SaslPlaintext)
        .with_oauthbearer(Arc::new(StaticToken(OAuthBearerToken::new(token))));
    let conn = BrokerConnection::connect(&addr, None, &config)
        .await
        .expect("token accepted");
    conn.send(&ApiVersionsRequest::default())
        .await
        .expect("request");
    assert_eq!(seen.lock().unwrap().authentications, 1);
    // A mechanism the broker does not enable is named in the error.
    let plain = plain_config(&addr, "secret");
    let err = BrokerConnection::connect(&addr, None, &plain)
        .await
        .expect_err("PLAIN not enabled");
    let shown = err.to_string();
    assert!(
        shown.contains("UNSUPPORTED_SASL_MECHANISM") && shown.contains("OAUTHBEARER"),
        "{shown}"
    );
}
