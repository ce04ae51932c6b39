//! The decode entry points the fuzz targets drive, shared with
//! `tests/fuzz_regressions.rs` so that every crash input and seed is replayed
//! by `cargo test` through exactly the same code.
//!
//! Each entry point decodes hostile bytes (which must never panic) and, when
//! decoding succeeds, checks the round trip: the decoded value re-encodes at
//! the same version and decodes back to an equal value. A panic — from the
//! codec or from these checks — is a finding.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use kafkit_core::protocol::messages::add_offsets_to_txn::AddOffsetsToTxnResponse;
use kafkit_core::protocol::messages::add_partitions_to_txn::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResponse, AddPartitionsToTxnResult,
    AddPartitionsToTxnTopicResult,
};
use kafkit_core::protocol::messages::any::{api_info, AnyRequest, AnyResponse, ApiInfo, APIS};
use kafkit_core::protocol::messages::consumer_protocol::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription,
};
use kafkit_core::protocol::messages::end_txn::EndTxnResponse;
use kafkit_core::protocol::messages::init_producer_id::InitProducerIdResponse;
use kafkit_core::protocol::messages::share_acknowledge::ShareAcknowledgeResponse;
use kafkit_core::protocol::messages::share_fetch::{
    AcquiredRecords, ShareFetchPartitionResponse, ShareFetchResponse, ShareFetchTopicResponse,
};
use kafkit_core::protocol::messages::share_group_describe::{
    DescribedShareGroup, ShareGroupDescribeResponse, ShareGroupMemberDescription,
};
use kafkit_core::protocol::messages::share_group_heartbeat::ShareGroupHeartbeatResponse;
use kafkit_core::protocol::messages::txn_offset_commit::{
    TxnOffsetCommitResponse, TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafkit_core::protocol::record::{
    Batch, ControlRecordKey, DecodeOptions, EndTxnMarker, RecordBatch, RecordSet, RecordSetReader,
};
use kafkit_core::protocol::{try_parse_frame, ApiKey, ErrorCode};
use kafkit_core::protocol::{Message, Uuid};
use kafkit_core::sasl::scram::{ScramClient, ScramHash, ServerFirst, MIN_ITERATIONS};
use kafkit_core::sasl::Secret;
use kafkit_core::share::{ShareFetchLimits, ShareSession, TopicIdPartition};

/// Frames larger than this are refused by `try_parse_frame` in the targets.
const MAX_FRAME: usize = 1 << 20;

/// The decompression limit of the `record_batch` target (small, so that
/// decompression bombs are cut short quickly).
pub const RECORD_LIMIT: usize = 256 << 10;

/// The API a selector byte names: the API with that key if it is
/// implemented, else one picked by position so that no input is wasted.
fn pick_api(selector: u8) -> &'static ApiInfo {
    api_info(ApiKey(i16::from(selector)))
        .unwrap_or_else(|| &APIS[usize::from(selector) % APIS.len()])
}

/// Splits every complete size-prefixed frame off `data`.
fn frames(data: &[u8]) -> Vec<Bytes> {
    let mut buf = BytesMut::from(data);
    let mut out = Vec::new();
    while let Ok(Some(frame)) = try_parse_frame(&mut buf, MAX_FRAME) {
        out.push(frame);
    }
    out
}

/// `frame_response`: `data[0]` is the API key, `data[1]` the version (as a
/// signed byte, so unsupported versions are exercised too), the low bit of
/// `data[2]` says whether the rest is size-prefixed frames (split with
/// `try_parse_frame`) or one frame body; each frame is decoded as a response.
pub fn frame_response(data: &[u8]) {
    let [api, version, mode, rest @ ..] = data else {
        return;
    };
    let api = pick_api(*api);
    let version = i16::from(i8::from_be_bytes([*version]));
    if mode & 1 == 1 {
        for frame in frames(rest) {
            check_response(api.api_key, version, frame);
        }
    } else {
        check_response(api.api_key, version, Bytes::copy_from_slice(rest));
    }
}

fn check_response(api_key: ApiKey, version: i16, frame: Bytes) {
    let strict = AnyResponse::decode_frame_strict(api_key, version, frame.clone());
    let Ok((header, msg)) = AnyResponse::decode_frame(api_key, version, frame) else {
        assert!(
            strict.is_err(),
            "strict decoding accepted what lenient refused"
        );
        return;
    };
    if let Ok((_, strict_msg)) = strict {
        assert_eq!(strict_msg, msg, "strict and lenient decoding disagree");
    }
    let mut out = BytesMut::new();
    if let Err(e) = msg.encode_frame(version, header.correlation_id, &mut out) {
        panic!("decoded {api_key:?} v{version} response does not re-encode: {e}\n{msg:?}");
    }
    let body = out.split_off(4).freeze();
    match AnyResponse::decode_frame_strict(api_key, version, body) {
        Ok((h, back)) => {
            assert_eq!(h.correlation_id, header.correlation_id);
            assert_eq!(
                back, msg,
                "{api_key:?} v{version} response changed in a round trip"
            );
        }
        Err(e) => panic!("re-encoded {api_key:?} v{version} response does not decode: {e}"),
    }
}

/// `request`: the input is one request frame body (header and body), or with
/// a size prefix a sequence of frames; the header names API and version.
pub fn request(data: &[u8]) {
    for frame in frames(data) {
        check_request(frame);
    }
    check_request(Bytes::copy_from_slice(data));
}

fn check_request(frame: Bytes) {
    let Ok((header, msg)) = AnyRequest::decode_frame(frame) else {
        return;
    };
    let v = header.api_version;
    let mut out = BytesMut::new();
    if let Err(e) = msg.encode_frame(
        v,
        header.correlation_id,
        header.client_id.as_deref(),
        &mut out,
    ) {
        panic!(
            "decoded {:?} v{v} request does not re-encode: {e}\n{msg:?}",
            header.api_key
        );
    }
    let body = out.split_off(4).freeze();
    match AnyRequest::decode_frame(body) {
        Ok((h, back)) => {
            assert_eq!(
                (h.api_key, h.api_version, h.correlation_id, &h.client_id),
                (header.api_key, v, header.correlation_id, &header.client_id)
            );
            assert_eq!(
                back, msg,
                "{:?} v{v} request changed in a round trip",
                header.api_key
            );
        }
        Err(e) => panic!(
            "re-encoded {:?} v{v} request does not decode: {e}",
            header.api_key
        ),
    }
}

/// `consumer_protocol`: the low bit of `data[0]` picks subscription or
/// assignment; the rest is the version-prefixed payload.
pub fn consumer_protocol(data: &[u8]) {
    let [kind, payload @ ..] = data else {
        return;
    };
    let payload = Bytes::copy_from_slice(payload);
    // The newest version carries every field, so a value decoded at any
    // version must survive a trip through it unchanged.
    if kind & 1 == 0 {
        let Ok(msg) = ConsumerProtocolSubscription::decode(payload) else {
            return;
        };
        let max = ConsumerProtocolSubscription::VERSIONS.max;
        let bytes = msg.encode(max).expect("decoded subscription re-encodes");
        let back = ConsumerProtocolSubscription::decode(bytes).expect("re-encoded decodes");
        assert_eq!(back, msg, "subscription changed in a round trip");
    } else {
        let Ok(msg) = ConsumerProtocolAssignment::decode(payload) else {
            return;
        };
        let max = ConsumerProtocolAssignment::VERSIONS.max;
        let bytes = msg.encode(max).expect("decoded assignment re-encodes");
        let back = ConsumerProtocolAssignment::decode(bytes).expect("re-encoded decodes");
        assert_eq!(back, msg, "assignment changed in a round trip");
    }
}

/// `record_batch`: the low bit of `data[0]` turns CRC verification off (so
/// that mutations reach decompression and record parsing); the rest is the
/// `records` bytes of a fetch response: v2 batches and legacy messages.
///
/// Every batch is walked down to its headers and control records; the lazy
/// reader and `RecordSet::decode` must agree; a v2 batch that decodes fully
/// must survive `to_batch` → `encode` → `decode` unchanged.
pub fn record_batch(data: &[u8]) {
    let [flags, rest @ ..] = data else {
        return;
    };
    let options = DecodeOptions::default()
        .with_max_decompressed_size(RECORD_LIMIT)
        .with_crc_check(flags & 1 == 0);
    let records = Bytes::copy_from_slice(rest);
    let mut reader = RecordSetReader::new(records.clone(), options);
    let mut batches = Vec::new();
    let mut failed = false;
    for batch in reader.by_ref() {
        match batch {
            Ok(batch) => {
                walk_batch(&batch);
                batches.push(batch);
            }
            Err(_) => failed = true,
        }
    }
    match RecordSet::decode(records, &options) {
        Ok(set) => {
            assert!(!failed, "RecordSet accepted what the reader refused");
            assert_eq!(set.batches, batches);
            assert_eq!(set.truncated_bytes, reader.truncated_bytes());
        }
        Err(_) => assert!(failed, "RecordSet refused what the reader accepted"),
    }
}

fn walk_batch(batch: &Batch) {
    let _ = batch.next_offset();
    for record in batch.records() {
        let Ok(record) = record else {
            return;
        };
        for header in &record.headers {
            if header.is_err() {
                break;
            }
        }
        if batch.is_control() {
            if let Ok(key) = ControlRecordKey::of_record(record.key.as_ref()) {
                if key.kind.is_transaction_marker() {
                    let _ = EndTxnMarker::decode(record.value.as_deref().unwrap_or_default());
                }
            }
        }
    }
    let Batch::V2(view) = batch else {
        return;
    };
    let Ok(owned) = view.to_batch() else {
        return;
    };
    let mut buf = BytesMut::new();
    if let Err(e) = owned.encode(&mut buf) {
        panic!("decoded batch does not re-encode: {e}\n{owned:?}");
    }
    match RecordBatch::decode(buf.freeze(), &DecodeOptions::default()) {
        Ok(back) => assert_eq!(back, owned, "batch changed in a round trip"),
        Err(e) => panic!("re-encoded batch does not decode: {e}\n{owned:?}"),
    }
}

/// The client nonce of the `scram` target (the RFC 7677 example's, so that
/// the RFC's server messages are valid seeds).
pub const SCRAM_CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";

/// The RFC 7677 server-first message.
pub const SCRAM_SERVER_FIRST: &str =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

/// The server signatures that complete the exchange after
/// [`SCRAM_SERVER_FIRST`]: SHA-256 (RFC 7677) and SHA-512 (scripts/scram_vectors.py).
pub const SCRAM_SIGNATURES: [&str; 2] = [
    "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
    "ZQnYEgWQMFmmsM8aQMF0nDDCy/AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXnJq199RVG2rR7N7Zw==",
];

fn scram_client(hash: ScramHash) -> ScramClient {
    let mut client = ScramClient::new(
        hash,
        "user",
        Secret::new("pencil"),
        SCRAM_CLIENT_NONCE.to_owned(),
    )
    .expect("valid client");
    client.client_first().expect("client-first");
    client
}

/// Clients waiting for the server-final message (PBKDF2 runs once per process).
fn waiting_for_final(hash: ScramHash) -> ScramClient {
    static CLIENTS: std::sync::OnceLock<[ScramClient; 2]> = std::sync::OnceLock::new();
    let [sha256, sha512] = CLIENTS.get_or_init(|| {
        [ScramHash::Sha256, ScramHash::Sha512].map(|h| {
            let mut c = scram_client(h);
            c.handle_server_first(SCRAM_SERVER_FIRST.as_bytes())
                .expect("RFC server-first");
            c
        })
    });
    match hash {
        ScramHash::Sha256 => sha256.clone(),
        ScramHash::Sha512 => sha512.clone(),
    }
}

/// `scram`: bit 0 of `data[0]` picks SHA-256 or SHA-512, bit 1 what the
/// rest is: a server-first message (parsed and checked as the client checks
/// it, without the PBKDF2 step) or a server-final message (handed to a
/// client that has sent its proof for the RFC 7677 exchange). Hostile input
/// must not panic, a parsed server-first must hold what the parser
/// promises, and no server-final but the true signature may complete the
/// exchange.
pub fn scram(data: &[u8]) {
    let [flags, rest @ ..] = data else {
        return;
    };
    let (hash, index) = if flags & 1 == 0 {
        (ScramHash::Sha256, 0)
    } else {
        (ScramHash::Sha512, 1)
    };
    if flags & 2 == 0 {
        let parsed = ServerFirst::parse(rest);
        if let Ok(first) = &parsed {
            assert!(!first.nonce.is_empty() && !first.nonce.contains(','));
            assert!(!first.salt.is_empty());
            assert!(rest.starts_with(b"r="));
        }
        let client = scram_client(hash).with_max_iterations(MIN_ITERATIONS * 2);
        if let Ok(first) = client.check_server_first(rest) {
            assert!(parsed.is_ok());
            assert!(first.nonce.starts_with(SCRAM_CLIENT_NONCE));
            assert!((MIN_ITERATIONS..=MIN_ITERATIONS * 2).contains(&first.iterations));
        }
    } else {
        let mut client = waiting_for_final(hash);
        let done = client.handle_server_final(rest).is_ok();
        assert_eq!(done, client.is_done());
        if done {
            let first = rest.split(|b| *b == b',').next().unwrap_or_default();
            let want = format!("v={}", SCRAM_SIGNATURES[index]);
            assert_eq!(first, want.as_bytes(), "a forged signature was accepted");
        }
    }
}

/// `share_response`: the share-group responses (KIP-932), not in the `any`
/// registry. `data[0] % 4` picks ShareGroupHeartbeat, ShareGroupDescribe,
/// ShareFetch or ShareAcknowledge, `data[1]` the version (signed), the rest
/// is the body. A body that decodes must round-trip; a ShareFetch response
/// that decodes is also fed to a share session (hostile acquired ranges).
pub fn share_response(data: &[u8]) {
    let [api, version, rest @ ..] = data else {
        return;
    };
    let version = i16::from(i8::from_be_bytes([*version]));
    let body = Bytes::copy_from_slice(rest);
    match api % 4 {
        0 => {
            round_trip::<ShareGroupHeartbeatResponse>(body, version);
        }
        1 => {
            round_trip::<ShareGroupDescribeResponse>(body, version);
        }
        2 => {
            if let Some(resp) = round_trip::<ShareFetchResponse>(body, version) {
                drive_share_session(resp);
            }
        }
        _ => {
            round_trip::<ShareAcknowledgeResponse>(body, version);
        }
    }
}

fn round_trip<M: Message + PartialEq + std::fmt::Debug>(body: Bytes, version: i16) -> Option<M> {
    let msg = M::decode(body, version).ok()?;
    let mut out = BytesMut::new();
    if let Err(e) = msg.encode(version, &mut out) {
        panic!("decoded v{version} share response does not re-encode: {e}\n{msg:?}");
    }
    let back = M::decode(out.freeze(), version).expect("re-encoded share response decodes");
    assert_eq!(back, msg, "share response changed in a round trip");
    Some(msg)
}

fn drive_share_session(resp: ShareFetchResponse) {
    let mut session = ShareSession::new("g", "m");
    let partitions = resp.responses.iter().flat_map(|t| {
        t.partitions.iter().map(|p| TopicIdPartition {
            topic_id: t.topic_id,
            partition: p.partition_index,
        })
    });
    session.set_partitions(partitions.collect::<Vec<_>>());
    let limits = ShareFetchLimits {
        max_wait_ms: 0,
        min_bytes: 1,
        max_bytes: 1 << 20,
        max_records: 500,
        acquire_mode: kafkit_core::share::ShareAcquireMode::BatchOptimized,
    };
    if session.fetch_request(&limits).is_err() {
        return;
    }
    let now = std::time::Instant::now();
    let _ = session.on_fetch_response(now, resp);
    session.acknowledge_held(kafkit_core::share::AcknowledgeType::Release);
    let _ = session.fetch_request(&limits);
}

/// Valid share responses to seed the `share_response` target: `(name, input)`.
pub fn share_seeds() -> Vec<(String, Vec<u8>)> {
    fn seed<M: Message>(name: &str, api: u8, version: i16, msg: &M) -> (String, Vec<u8>) {
        let mut out = BytesMut::new();
        msg.encode(version, &mut out).expect("seed encodes");
        let mut input = vec![api, version.to_be_bytes()[1]];
        input.extend_from_slice(&out);
        (format!("{name}-v{version}"), input)
    }
    let fetch = ShareFetchResponse {
        acquisition_lock_timeout_ms: 30_000,
        responses: vec![ShareFetchTopicResponse {
            topic_id: Uuid([7; 16]),
            partitions: vec![ShareFetchPartitionResponse {
                partition_index: 0,
                records: Bytes::from_static(&[0; 61]),
                acquired_records: vec![AcquiredRecords {
                    first_offset: 0,
                    last_offset: 9,
                    delivery_count: 1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let describe = ShareGroupDescribeResponse {
        groups: vec![DescribedShareGroup {
            group_id: "g".into(),
            group_state: "Stable".into(),
            members: vec![ShareGroupMemberDescription {
                member_id: "m".into(),
                subscribed_topic_names: vec!["t".into()],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let heartbeat = ShareGroupHeartbeatResponse {
        member_id: Some("m".into()),
        member_epoch: 3,
        heartbeat_interval_ms: 5000,
        ..Default::default()
    };
    vec![
        seed("ShareGroupHeartbeatResponse", 0, 1, &heartbeat),
        seed("ShareGroupDescribeResponse", 1, 1, &describe),
        seed("ShareFetchResponse", 2, 1, &fetch),
        seed("ShareFetchResponse", 2, 2, &fetch),
        seed(
            "ShareAcknowledgeResponse",
            3,
            1,
            &ShareAcknowledgeResponse::default(),
        ),
        seed(
            "ShareAcknowledgeResponse",
            3,
            2,
            &ShareAcknowledgeResponse::default(),
        ),
    ]
}

/// `txn_response`: the transactional producer's responses. `data[0] % 5`
/// picks InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn,
/// TxnOffsetCommit or EndTxn, `data[1]` the version (signed: every version
/// the codec has, and the ones it must refuse), the rest is the body. A
/// body that decodes must round-trip.
pub fn txn_response(data: &[u8]) {
    let [api, version, rest @ ..] = data else {
        return;
    };
    let version = i16::from(i8::from_be_bytes([*version]));
    let body = Bytes::copy_from_slice(rest);
    match api % 5 {
        0 => drop(round_trip::<InitProducerIdResponse>(body, version)),
        1 => drop(round_trip::<AddPartitionsToTxnResponse>(body, version)),
        2 => drop(round_trip::<AddOffsetsToTxnResponse>(body, version)),
        3 => drop(round_trip::<TxnOffsetCommitResponse>(body, version)),
        _ => drop(round_trip::<EndTxnResponse>(body, version)),
    }
}

/// Valid transactional responses at every version of their codecs, to seed
/// the `txn_response` target: `(name, input)`.
pub fn txn_seeds() -> Vec<(String, Vec<u8>)> {
    fn seeds<M: Message>(name: &str, api: u8, make: impl Fn(i16) -> M) -> Vec<(String, Vec<u8>)> {
        (M::VERSIONS.min..=M::VERSIONS.max)
            .map(|version| {
                let mut out = BytesMut::new();
                make(version)
                    .encode(version, &mut out)
                    .expect("seed encodes");
                let mut input = vec![api, version.to_be_bytes()[1]];
                input.extend_from_slice(&out);
                (format!("{name}-v{version}"), input)
            })
            .collect()
    }
    let topic = || AddPartitionsToTxnTopicResult {
        name: "t".into(),
        results_by_partition: vec![AddPartitionsToTxnPartitionResult {
            partition_index: 1,
            partition_error_code: ErrorCode::CONCURRENT_TRANSACTIONS,
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut all = seeds("InitProducerIdResponse", 0, |_| InitProducerIdResponse {
        producer_id: 4000,
        producer_epoch: 2,
        ..Default::default()
    });
    all.extend(seeds("AddPartitionsToTxnResponse", 1, |v| {
        if v >= 4 {
            AddPartitionsToTxnResponse {
                results_by_transaction: vec![AddPartitionsToTxnResult {
                    transactional_id: "tx".into(),
                    topic_results: vec![topic()],
                    ..Default::default()
                }],
                ..Default::default()
            }
        } else {
            AddPartitionsToTxnResponse {
                results_by_topic_v3_and_below: vec![topic()],
                ..Default::default()
            }
        }
    }));
    all.extend(seeds("AddOffsetsToTxnResponse", 2, |_| {
        AddOffsetsToTxnResponse {
            throttle_time_ms: 3,
            ..Default::default()
        }
    }));
    all.extend(seeds("TxnOffsetCommitResponse", 3, |_| {
        TxnOffsetCommitResponse {
            topics: vec![TxnOffsetCommitResponseTopic {
                name: "t".into(),
                partitions: vec![TxnOffsetCommitResponsePartition {
                    partition_index: 0,
                    error_code: ErrorCode::ILLEGAL_GENERATION,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }));
    all.extend(seeds("EndTxnResponse", 4, |v| EndTxnResponse {
        producer_id: if v >= 5 { 4000 } else { -1 },
        producer_epoch: if v >= 5 { 3 } else { -1 },
        ..Default::default()
    }));
    all
}
