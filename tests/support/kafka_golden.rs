//! Golden frames from real Apache Kafka: a scenario that drives a broker
//! through every API kafkit implements, at the version negotiated with it,
//! and records each request kafkit wrote and the broker's answer as whole
//! frames. `tests/golden_kafka.rs` checks the committed recording
//! (`protocol-specs/golden/kafka-4.4.0/`) and runs the scenario live.
//!
//! Each step sends one request with client id `golden-kafka-{step}`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use kafkit::protocol::frame::{decode_response_strict, DEFAULT_MAX_FRAME_SIZE};
use kafkit::protocol::messages::any::APIS;
use kafkit::protocol::messages::api_versions::{ApiVersionsRequest, ApiVersionsResponse};
use kafkit::protocol::{encode_request, try_parse_frame, ApiKey, Message, Request, VersionRange};

/// Client ids are `golden-kafka-{step}`.
pub const CLIENT_ID_PREFIX: &str = "golden-kafka-";

/// The broker version the committed frames come from.
pub const RECORDED_BROKER: &str = "4.4.0";

/// Where the committed frames live, relative to `protocol-specs/golden/`.
pub const RECORDED_DIR: &str = "kafka-4.4.0";

/// One request and its answer, whole frames (size prefix included).
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The scenario step (`join-group`), also the request's client id suffix.
    pub step: String,
    /// API key of both frames.
    pub api_key: i16,
    /// Version of both frames.
    pub version: i16,
    /// The request kafkit wrote.
    pub request: Bytes,
    /// The broker's response.
    pub response: Bytes,
}

/// What the scenario knows beyond the frames: names it chose and the broker
/// it talked to. Stored next to the frames as `facts.txt`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// `key=value` pairs: `broker_version`, `host`, `port`, `topic`, `group`.
    pub values: BTreeMap<String, String>,
}

impl Facts {
    /// The value of `key`; panics naming it when absent.
    pub fn get(&self, key: &str) -> &str {
        self.values
            .get(key)
            .unwrap_or_else(|| panic!("facts.txt has no {key}"))
    }

    /// Parses `key=value` lines (`#` comments allowed).
    pub fn parse(text: &str) -> Self {
        let values = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let (k, v) = l
                    .split_once('=')
                    .unwrap_or_else(|| panic!("bad fact {l:?}"));
                (k.trim().to_string(), v.trim().to_string())
            })
            .collect();
        Self { values }
    }
}

/// A broker connection that records every exchange.
pub struct Recorder {
    stream: tokio::net::TcpStream,
    buf: BytesMut,
    next_correlation_id: i32,
    /// The broker's advertised ranges, once ApiVersions answered.
    pub broker: BTreeMap<i16, VersionRange>,
    /// Everything sent and received so far.
    pub exchanges: Vec<Exchange>,
}

impl Recorder {
    /// Connects to `addr` and negotiates versions (the first exchange,
    /// step `api-versions`, at kafkit's newest ApiVersions).
    pub async fn connect(addr: &str) -> Self {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        let mut rec = Self {
            stream,
            buf: BytesMut::new(),
            next_correlation_id: 1,
            broker: BTreeMap::new(),
            exchanges: Vec::new(),
        };
        let hello = ApiVersionsRequest {
            client_software_name: "kafkit".into(),
            client_software_version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        };
        let resp: ApiVersionsResponse = rec
            .call_at("api-versions", &hello, ApiVersionsRequest::VERSIONS.max)
            .await;
        rec.broker = resp
            .api_keys
            .iter()
            .map(|a| (a.api_key, VersionRange::new(a.min_version, a.max_version)))
            .collect();
        rec
    }

    /// The version kafkit negotiates for `R` with this broker.
    pub fn version<R: Request>(&self) -> i16 {
        let theirs = self
            .broker
            .get(&R::API_KEY.0)
            .unwrap_or_else(|| panic!("the broker does not list {:?}", R::API_KEY));
        R::VERSIONS
            .highest_common(theirs)
            .unwrap_or_else(|| panic!("no common version of {:?}", R::API_KEY))
    }

    /// Sends `req` at the negotiated version as step `step` and decodes the
    /// answer strictly.
    pub async fn call<R: Request>(&mut self, step: &str, req: &R) -> R::Response {
        let version = self.version::<R>();
        self.call_at(step, req, version).await
    }

    /// Like [`call`](Self::call), asking again (up to 5 s) while `ready` says
    /// the answer is a transient one (a coordinator still loading, a new
    /// partition without a leader yet); only the last exchange is kept.
    pub async fn call_until<R: Request>(
        &mut self,
        step: &str,
        req: &R,
        ready: impl Fn(&R::Response) -> bool,
    ) -> R::Response {
        let version = self.version::<R>();
        self.call_until_at(step, req, version, ready).await
    }

    /// [`call_until`](Self::call_until) at an explicit `version`.
    pub async fn call_until_at<R: Request>(
        &mut self,
        step: &str,
        req: &R,
        version: i16,
        ready: impl Fn(&R::Response) -> bool,
    ) -> R::Response {
        for _ in 0..50 {
            let resp = self.call_at(step, req, version).await;
            if ready(&resp) {
                return resp;
            }
            self.exchanges.pop();
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        self.call_at(step, req, version).await
    }

    /// Like [`call`](Self::call) at an explicit `version`.
    pub async fn call_at<R: Request>(&mut self, step: &str, req: &R, version: i16) -> R::Response {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id += 1;
        let client_id = format!("{CLIENT_ID_PREFIX}{step}");
        let mut out = BytesMut::new();
        encode_request(req, version, correlation_id, Some(&client_id), &mut out)
            .unwrap_or_else(|e| panic!("{step}: encode {:?} v{version}: {e}", R::API_KEY));
        let request = out.freeze();
        self.stream.write_all(&request).await.expect("send request");
        let body = loop {
            if let Some(frame) =
                try_parse_frame(&mut self.buf, DEFAULT_MAX_FRAME_SIZE).expect("frame")
            {
                break frame;
            }
            let n = tokio::time::timeout(
                std::time::Duration::from_secs(30),
                self.stream.read_buf(&mut self.buf),
            )
            .await
            .unwrap_or_else(|_| panic!("{step}: no answer to {:?} v{version}", R::API_KEY))
            .expect("read");
            assert!(n > 0, "{step}: broker closed the connection");
        };
        let mut response = BytesMut::with_capacity(body.len() + 4);
        response.extend_from_slice(&u32::try_from(body.len()).expect("size").to_be_bytes());
        response.extend_from_slice(&body);
        self.exchanges.push(Exchange {
            step: step.to_string(),
            api_key: R::API_KEY.0,
            version,
            request,
            response: response.freeze(),
        });
        let (header, resp) = decode_response_strict::<R::Response>(body, version)
            .unwrap_or_else(|e| panic!("{step}: decode {:?} v{version} response: {e}", R::API_KEY));
        assert_eq!(header.correlation_id, correlation_id, "{step}");
        resp
    }
}

/// `protocol-specs/golden/` in the source tree.
fn golden_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("protocol-specs/golden")
}

/// The API's name for file names and the index.
pub fn api_name(key: i16) -> &'static str {
    ApiKey(key).name().unwrap_or("Unknown")
}

/// Writes `exchanges` and `facts` under `protocol-specs/golden/{RECORDED_DIR}/`
/// (replacing what was there) with an `INDEX.txt` in the format of
/// `protocol-specs/golden/INDEX.txt`.
pub fn write_recording(exchanges: &[Exchange], facts: &Facts) {
    let dir = golden_root().join(RECORDED_DIR);
    let frames = dir.join("frames");
    let _ = std::fs::remove_dir_all(&frames);
    std::fs::create_dir_all(&frames).expect("create frames dir");
    let broker = format!("apache-kafka-{}", facts.get("broker_version"));
    let client = format!("kafkit-{}", env!("CARGO_PKG_VERSION"));
    let mut index = String::from("# file peer api_key api_name version direction client_id\n");
    for (i, x) in exchanges.iter().enumerate() {
        let name = api_name(x.api_key);
        let stem = format!("{:02}-{}-{name}-v{}", i + 1, x.step, x.version);
        for (suffix, bytes, peer, dir_name) in [
            ("req", &x.request, &client, "request"),
            ("resp", &x.response, &broker, "response"),
        ] {
            let file = format!("frames/{stem}-{suffix}.bin");
            write(&dir.join(&file), bytes);
            index.push_str(&format!(
                "{RECORDED_DIR}/{file} {peer} {} {name} {} {dir_name} {CLIENT_ID_PREFIX}{}\n",
                x.api_key, x.version, x.step
            ));
        }
    }
    write(&dir.join("INDEX.txt"), index.as_bytes());
    let facts_text: String = facts
        .values
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    write(
        &dir.join("facts.txt"),
        format!("# what the recording scenario chose and talked to\n{facts_text}").as_bytes(),
    );
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Reads the committed recording back as exchanges (paired by step) and facts.
pub fn read_recording() -> (Vec<Exchange>, Facts) {
    let dir = golden_root().join(RECORDED_DIR);
    let facts = Facts::parse(&std::fs::read_to_string(dir.join("facts.txt")).expect("facts.txt"));
    let mut exchanges: Vec<Exchange> = Vec::new();
    for g in super::golden::golden_index_at(&format!("{RECORDED_DIR}/INDEX.txt")) {
        let step = g
            .client_id
            .strip_prefix(CLIENT_ID_PREFIX)
            .unwrap_or_else(|| panic!("{}: client id {}", g.file, g.client_id))
            .to_string();
        match g.direction {
            super::golden::Direction::Request => exchanges.push(Exchange {
                step,
                api_key: g.api_key,
                version: g.version,
                request: g.bytes(),
                response: Bytes::new(),
            }),
            super::golden::Direction::Response => {
                let x = exchanges
                    .last_mut()
                    .filter(|x| x.step == step && x.api_key == g.api_key && x.version == g.version)
                    .unwrap_or_else(|| panic!("{}: no request before this response", g.file));
                x.response = g.bytes();
            }
        }
    }
    assert!(
        exchanges.iter().all(|x| !x.response.is_empty()),
        "every recorded request has its response"
    );
    (exchanges, facts)
}

/// Every implemented API key, for coverage checks.
pub fn implemented_keys() -> Vec<i16> {
    APIS.iter().map(|a| a.api_key.0).collect()
}
