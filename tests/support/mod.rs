//! Helpers shared by the integration tests: the golden-frame index, exact
//! re-encoding of whole frames, and the record contents every peer produced.
#![allow(dead_code)] // each test binary uses a different subset

use std::fmt::Debug;
use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use kafkit::protocol::frame::{decode_request, decode_response_message, DEFAULT_MAX_FRAME_SIZE};
use kafkit::protocol::header::response_header_is_flexible;
use kafkit::protocol::{try_parse_frame, Message, RequestHeader, ResponseHeader, Writer};

/// Whether a golden frame is a request or a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to broker.
    Request,
    /// Broker to client.
    Response,
}

/// One line of `protocol-specs/golden/INDEX.txt`.
#[derive(Debug, Clone)]
pub struct GoldenFrame {
    /// Path relative to `protocol-specs/golden/`.
    pub file: String,
    /// The implementation that wrote the frame.
    pub peer: String,
    /// API key of the request (and of its response).
    pub api_key: i16,
    /// Human name of the API.
    pub api_name: String,
    /// Version the frame is encoded at.
    pub version: i16,
    /// Request or response.
    pub direction: Direction,
    /// The client id of the request (names the capture scenario).
    pub client_id: String,
}

impl GoldenFrame {
    /// The whole frame file, size prefix included.
    pub fn bytes(&self) -> Bytes {
        let path = golden_dir().join(&self.file);
        Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    }

    /// The frame body (after the size prefix), checked to fill the file exactly.
    pub fn body(&self) -> Bytes {
        let raw = self.bytes();
        let mut buf = BytesMut::from(&raw[..]);
        let body = try_parse_frame(&mut buf, DEFAULT_MAX_FRAME_SIZE)
            .unwrap_or_else(|e| panic!("{}: bad size prefix: {e}", self.file))
            .unwrap_or_else(|| panic!("{}: truncated frame", self.file));
        assert!(buf.is_empty(), "{}: bytes after the frame", self.file);
        body
    }
}

/// `protocol-specs/golden/` in the source tree.
pub fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("protocol-specs/golden")
}

/// Reads `INDEX.txt`.
pub fn golden_index() -> Vec<GoldenFrame> {
    let text = std::fs::read_to_string(golden_dir().join("INDEX.txt")).expect("INDEX.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(f.len(), 7, "bad index line {line:?}");
            GoldenFrame {
                file: f[0].to_owned(),
                peer: f[1].to_owned(),
                api_key: f[2].parse().expect("api key"),
                api_name: f[3].to_owned(),
                version: f[4].parse().expect("version"),
                direction: match f[5] {
                    "request" => Direction::Request,
                    "response" => Direction::Response,
                    other => panic!("bad direction {other}"),
                },
                client_id: f[6].to_owned(),
            }
        })
        .collect()
}

/// Encodes a whole request frame from a decoded header and body, keeping the
/// header exactly as read (client id, tagged fields).
pub fn encode_request_frame<M: Message>(header: &RequestHeader, body: &M) -> Bytes {
    let mut out = BytesMut::new();
    out.extend_from_slice(&[0; 4]);
    let flexible = M::is_flexible(header.api_version);
    let mut w = Writer::new(&mut out, false, header.api_version);
    header
        .encode(&mut w, flexible)
        .expect("encode request header");
    w.set_flexible(flexible);
    body.encode_body(&mut w).expect("encode request body");
    patch_size(out)
}

/// Encodes a whole response frame from a decoded header and body at `version`.
pub fn encode_response_frame<M: Message>(header: &ResponseHeader, body: &M, version: i16) -> Bytes {
    let mut out = BytesMut::new();
    out.extend_from_slice(&[0; 4]);
    let flexible = M::is_flexible(version);
    let mut w = Writer::new(&mut out, false, version);
    header
        .encode(&mut w, response_header_is_flexible(M::API_KEY, flexible))
        .expect("encode response header");
    w.set_flexible(flexible);
    body.encode_body(&mut w).expect("encode response body");
    patch_size(out)
}

fn patch_size(mut out: BytesMut) -> Bytes {
    let size = u32::try_from(out.len() - 4).expect("frame size");
    out[..4].copy_from_slice(&size.to_be_bytes());
    out.freeze()
}

/// Decodes a golden request frame as `M`, checks the header against the index
/// and that re-encoding gives back the captured bytes.
pub fn golden_request<M: Message + Debug>(g: &GoldenFrame) -> (RequestHeader, M) {
    let (header, body) = decode_request::<M>(g.body()).unwrap_or_else(|e| {
        panic!(
            "{} ({} v{}): decode failed: {e}",
            g.file, g.api_name, g.version
        )
    });
    assert_eq!(header.api_version, g.version, "{}", g.file);
    assert_eq!(
        header.client_id.as_deref(),
        Some(g.client_id.as_str()),
        "{}",
        g.file
    );
    let again = encode_request_frame(&header, &body);
    assert_bytes_eq(&g.file, &g.bytes(), &again);
    (header, body)
}

/// Whether the librdkafka mock (2.12) appends a second empty tag buffer to
/// this response: its flexible Metadata handler writes the body's tagged
/// fields itself and `rd_kafka_mock_connection_send_response` adds one more
/// (rdkafka_mock.c, `send_response0` with `tags_written = false`). librdkafka
/// ignores trailing bytes; kafkit rejects them, so callers strip the byte.
pub fn mock_appends_extra_tag_byte(api_key: i16, version: i16) -> bool {
    api_key == 3 && version >= 9
}

/// Strips the mock's extra empty tag buffer (see [`mock_appends_extra_tag_byte`]),
/// checking it is exactly one zero byte.
pub fn strip_mock_extra_tag_byte(what: &str, frame_body: Bytes) -> Bytes {
    assert_eq!(
        frame_body.last(),
        Some(&0),
        "{what}: expected the mock's extra tag byte"
    );
    frame_body.slice(..frame_body.len() - 1)
}

/// Decodes a golden response frame as `M` at its version and checks that
/// re-encoding gives back the captured bytes (less the mock's known extra tag
/// byte, see [`mock_appends_extra_tag_byte`]).
pub fn golden_response<M: Message + Debug>(g: &GoldenFrame) -> (ResponseHeader, M) {
    let mut body = g.body();
    if g.peer.starts_with("librdkafka-mock") && mock_appends_extra_tag_byte(g.api_key, g.version) {
        assert!(
            decode_response_message::<M>(body.clone(), g.version).is_err(),
            "{}: the mock's extra tag byte was accepted",
            g.file
        );
        body = strip_mock_extra_tag_byte(&g.file, body);
    }
    let (header, msg) = decode_response_message::<M>(body.clone(), g.version).unwrap_or_else(|e| {
        panic!(
            "{} ({} v{}): decode failed: {e}",
            g.file, g.api_name, g.version
        )
    });
    let again = encode_response_frame(&header, &msg, g.version);
    assert_bytes_eq(&g.file, &again[4..], &body);
    (header, msg)
}

/// Asserts byte equality, reporting the first differing offset.
pub fn assert_bytes_eq(what: &str, want: &[u8], got: &[u8]) {
    if want != got {
        let at = want
            .iter()
            .zip(got)
            .position(|(a, b)| a != b)
            .unwrap_or(want.len().min(got.len()));
        panic!(
            "{what}: re-encoded bytes differ at offset {at} (captured {} bytes, re-encoded {})\n captured: {:02x?}\n ours:     {:02x?}",
            want.len(),
            got.len(),
            &want[at.saturating_sub(8)..want.len().min(at + 24)],
            &got[at.saturating_sub(8)..got.len().min(at + 24)],
        );
    }
}

/// The value of record `i` that `peer` produced to `golden-{peer}-{codec}`
/// (the capture driver and the kafka-python script use the same rule).
pub fn golden_value(peer: &str, codec: &str, i: usize) -> String {
    format!("{peer}/{codec}/{i} {}", "abc".repeat(20))
}

/// Splits a golden topic name `golden-{peer}-{codec}` into peer and codec.
pub fn split_golden_topic(topic: &str) -> Option<(&str, &str)> {
    let rest = topic.strip_prefix("golden-")?;
    rest.rsplit_once('-')
}
