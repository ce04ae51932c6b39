//! Golden frames (protocol-specs/golden/): the index, exact re-encoding of
//! whole frames, and the record contents every peer produced.

use std::fmt::Debug;
use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use kafkit::protocol::frame::{
    decode_request, decode_response_message, decode_response_strict, DEFAULT_MAX_FRAME_SIZE,
};
use kafkit::protocol::header::response_header_is_flexible;
use kafkit::protocol::{
    try_parse_frame, Message, ProtocolError, RequestHeader, ResponseHeader, Writer,
};

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
    golden_index_at("INDEX.txt")
}

/// Reads an index in `INDEX.txt`'s format at `rel` (relative to
/// `protocol-specs/golden/`); its file paths are relative to that folder too.
pub fn golden_index_at(rel: &str) -> Vec<GoldenFrame> {
    let text = std::fs::read_to_string(golden_dir().join(rel)).expect(rel);
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
/// and kafkit's default decoder ignore trailing bytes; the strict decoder
/// rejects them.
pub fn mock_appends_extra_tag_byte(api_key: i16, version: i16) -> bool {
    api_key == 3 && version >= 9
}

/// Decodes a golden response frame as `M` at its version with the strict
/// decoder (no byte left over) and checks that re-encoding gives back the
/// captured bytes. For the mock's known extra tag byte (see
/// [`mock_appends_extra_tag_byte`]) it checks that the strict decoder reports
/// exactly that byte, that the lenient one accepts the frame, and compares
/// the re-encoding with the frame less that byte.
pub fn golden_response<M: Message + Debug + PartialEq>(g: &GoldenFrame) -> (ResponseHeader, M) {
    let mut body = g.body();
    if g.peer.starts_with("librdkafka-mock") && mock_appends_extra_tag_byte(g.api_key, g.version) {
        match decode_response_strict::<M>(body.clone(), g.version) {
            Err(ProtocolError::TrailingBytes(1)) => {}
            other => panic!(
                "{}: expected the mock's one extra tag byte, got {other:?}",
                g.file
            ),
        }
        assert_eq!(
            body.last(),
            Some(&0),
            "{}: the extra byte is an empty tag buffer",
            g.file
        );
        let lenient = decode_response_message::<M>(body.clone(), g.version)
            .unwrap_or_else(|e| panic!("{}: lenient decode: {e}", g.file));
        body = body.slice(..body.len() - 1);
        let strict = decode_response_strict::<M>(body.clone(), g.version)
            .unwrap_or_else(|e| panic!("{}: decode without the extra byte: {e}", g.file));
        assert_eq!(lenient.1, strict.1, "{}", g.file);
    }
    let (header, msg) = decode_response_strict::<M>(body.clone(), g.version).unwrap_or_else(|e| {
        panic!(
            "{} ({} v{}): decode failed: {e}",
            g.file, g.api_name, g.version
        )
    });
    let again = encode_response_frame(&header, &msg, g.version);
    assert_bytes_eq(&g.file, &body, &again[4..]);
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

/// What a record set held, for coverage accounting.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoldenBatch {
    /// Producing peer as named in the values (`rdkafka`, `kcat`, `python`, `legacy`...).
    pub peer: String,
    /// Codec name as in the topic names.
    pub codec: String,
    /// 2 for v2 batches, 0/1 for legacy messages.
    pub magic: i8,
    /// Records in the batch.
    pub records: usize,
}

fn codec_name(c: kafkit::protocol::record::Compression) -> &'static str {
    use kafkit::protocol::record::Compression;
    match c {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Snappy => "snappy",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
    }
}

/// Checks one decoded record against the golden content rule: its value is
/// `golden_value(peer, codec, i)`, its key `k{i}` (null for i = 2), and its
/// headers those the peer's scenario sets. Returns (peer, codec, i).
fn check_golden_record(
    what: &str,
    batch_codec: &str,
    magic: i8,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(String, Option<Bytes>)],
) -> (String, String, usize) {
    let value = std::str::from_utf8(value.unwrap_or_else(|| panic!("{what}: null value")))
        .unwrap_or_else(|_| panic!("{what}: value not UTF-8"));
    let (tag, _) = value
        .split_once(' ')
        .unwrap_or_else(|| panic!("{what}: value {value:?}"));
    let mut parts = tag.split('/');
    let (peer, codec, i) = match (parts.next(), parts.next(), parts.next()) {
        (Some(p), Some(c), Some(i)) => (p, c, i.parse::<usize>().expect("record index")),
        _ => panic!("{what}: value {value:?}"),
    };
    assert_eq!(value, golden_value(peer, codec, i), "{what}");
    assert_eq!(
        codec, batch_codec,
        "{what}: value names {codec}, batch is {batch_codec}"
    );
    let want_key = (i < 2).then(|| format!("k{i}"));
    assert_eq!(
        key,
        want_key.as_deref().map(str::as_bytes),
        "{what}: key of record {i}"
    );
    let want_headers: Vec<(String, Option<Bytes>)> = match (peer, magic, i) {
        (_, 0 | 1, _) => vec![],
        ("kcat", _, _) => vec![("h".into(), Some(Bytes::from_static(b"kcat")))],
        (_, _, 0) => vec![("h0".into(), Some(Bytes::from_static(b"v0")))],
        (_, _, 1) => vec![
            ("h1".into(), Some(Bytes::from_static(b"v1"))),
            ("h1b".into(), Some(Bytes::new())),
        ],
        _ => vec![],
    };
    assert_eq!(
        headers,
        want_headers.as_slice(),
        "{what}: headers of record {i}"
    );
    (peer.to_owned(), codec.to_owned(), i)
}

/// Decodes a `records` field with kafkit's record module, checks every record
/// against the golden content rule and, where `topic` is known, that it
/// matches the values. Uncompressed v2 batches must re-encode to the same
/// bytes; compressed ones must survive kafkit's own encode/decode.
pub fn check_golden_records(what: &str, records: Bytes, topic: Option<&str>) -> Vec<GoldenBatch> {
    use kafkit::protocol::record::{Batch, DecodeOptions, RecordBatch, RecordSet};
    let set = RecordSet::decode(records.clone(), &DecodeOptions::default())
        .unwrap_or_else(|e| panic!("{what}: record set: {e}"));
    assert!(!set.is_truncated(), "{what}: truncated record set");
    let mut out = Vec::new();
    let mut reencoded = BytesMut::new();
    let mut all_plain_v2 = true;
    for batch in &set.batches {
        let (codec, magic) = match batch {
            Batch::V2(v) => (codec_name(v.header.attributes.compression), 2),
            Batch::Legacy(e) => (
                codec_name(e.compression),
                e.messages.first().map_or(-1, |m| m.magic),
            ),
        };
        let mut peers = Vec::new();
        for rec in batch.records() {
            let rec = rec.unwrap_or_else(|e| panic!("{what}: record: {e}"));
            let headers: Vec<(String, Option<Bytes>)> = rec
                .headers
                .to_vec()
                .unwrap_or_else(|e| panic!("{what}: headers: {e}"))
                .into_iter()
                .map(|h| (h.key, h.value))
                .collect();
            let (peer, c, _) = check_golden_record(
                what,
                codec,
                magic,
                rec.key.as_deref(),
                rec.value.as_deref(),
                &headers,
            );
            match topic {
                // Legacy message sets all go to one topic.
                Some(topic) if magic < 2 => assert_eq!(topic, "golden-python-legacy", "{what}"),
                Some(topic) => {
                    let split = split_golden_topic(topic);
                    assert_eq!(
                        split,
                        Some((peer.as_str(), c.as_str())),
                        "{what}: topic {topic}"
                    );
                }
                None => {}
            }
            peers.push(peer);
        }
        let peer = peers
            .first()
            .cloned()
            .unwrap_or_else(|| panic!("{what}: empty batch"));
        assert!(
            peers.iter().all(|p| *p == peer),
            "{what}: mixed producers in one batch"
        );
        out.push(GoldenBatch {
            peer,
            codec: codec.to_owned(),
            magic,
            records: peers.len(),
        });
        match batch {
            Batch::V2(view) => {
                let owned = view
                    .to_batch()
                    .unwrap_or_else(|e| panic!("{what}: to_batch: {e}"));
                let mut buf = BytesMut::new();
                owned
                    .encode(&mut buf)
                    .unwrap_or_else(|e| panic!("{what}: encode: {e}"));
                let back = RecordBatch::decode(buf.clone().freeze(), &DecodeOptions::default())
                    .unwrap_or_else(|e| panic!("{what}: re-decode: {e}"));
                assert_eq!(
                    back, owned,
                    "{what}: kafkit encode/decode of the peer's batch"
                );
                all_plain_v2 &= codec == "none";
                reencoded.extend_from_slice(&buf);
            }
            Batch::Legacy(_) => all_plain_v2 = false,
        }
    }
    if all_plain_v2 {
        assert_bytes_eq(
            &format!("{what} (uncompressed batches)"),
            &records,
            &reencoded,
        );
    }
    out
}
