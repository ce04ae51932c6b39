//! Every version kafkit and a real broker share, of every API kafkit
//! implements: one request per (API, version) that the broker answers
//! without error (or with the error the request asks for), each answer
//! decoded strictly and re-encoded byte for byte. The negotiated version is
//! what the client sends; the others are what it sends to older brokers, and
//! a codec's version gates (fields present from vN, flexible from vM) only
//! meet a real peer here.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use kafkit::protocol::messages::any::{AnyResponse, APIS};
use kafkit::protocol::messages::api_versions::ApiVersionsRequest;
use kafkit::protocol::messages::create_topics::{CreatableTopic, CreateTopicsRequest};
use kafkit::protocol::messages::delete_topics::{DeleteTopicState, DeleteTopicsRequest};
use kafkit::protocol::messages::fetch::{FetchPartition, FetchRequest, FetchTopic};
use kafkit::protocol::messages::init_producer_id::InitProducerIdRequest;
use kafkit::protocol::messages::list_offsets::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use kafkit::protocol::messages::metadata::{MetadataRequest, MetadataRequestTopic};
use kafkit::protocol::messages::produce::ProduceRequest;
use kafkit::protocol::messages::sasl_authenticate::SaslAuthenticateRequest;
use kafkit::protocol::messages::sasl_handshake::SaslHandshakeRequest;
use kafkit::protocol::record::{DecodeOptions, RecordSet};
use kafkit::protocol::{ApiKey, ErrorCode, Request, VersionRange};

use super::kafka_golden::Recorder;
use super::kafka_scenario;

/// Runs the sweep against the broker at `addr`; `unique` makes topic and
/// group names. Returns the (API, version) pairs exercised.
pub async fn sweep(addr: &str, unique: &dyn Fn(&str) -> String) -> BTreeMap<i16, Vec<i16>> {
    let mut rec = Recorder::connect(addr).await;
    let topic = unique("sweep");
    // The scenario's topic steps at the negotiated versions give a topic
    // with records; the sweep then asks about it at every version.
    api_versions(&mut rec).await;
    admin(&mut rec, &topic, unique).await;
    reads(&mut rec, &topic).await;
    super::kafka_sweep_groups::groups(&mut rec, &topic, unique).await;
    super::kafka_txn::sweep(&mut rec, &topic, unique).await;
    super::kafka_sweep_kip848::consumer_groups(&mut rec, &topic, unique).await;
    super::kafka_share::sweep(&mut rec, &topic, unique).await;
    sasl(&mut rec).await;
    check_encodings(&rec);
    let mut seen: BTreeMap<i16, Vec<i16>> = BTreeMap::new();
    for x in &rec.exchanges {
        seen.entry(x.api_key).or_default().push(x.version);
    }
    for api in APIS {
        // Produce v0–2 carry magic 0/1 message sets, which kafkit does not write.
        let want: Vec<i16> = common(&rec, api.api_key)
            .filter(|v| api.api_key != ApiKey::PRODUCE || *v >= 3)
            .collect();
        let mut got = seen.get(&api.api_key.0).cloned().unwrap_or_default();
        got.sort_unstable();
        got.dedup();
        assert_eq!(got, want, "{}: versions exercised", api.name);
    }
    seen
}

/// The versions of `key` both sides support (none when the broker does not
/// list the API: 3.9.1 and the KIP-848 APIs).
fn common(rec: &Recorder, key: ApiKey) -> impl Iterator<Item = i16> {
    let ours = kafkit::protocol::messages::any::api_info(key)
        .map(|a| a.request_versions)
        .expect("implemented");
    let (lo, hi) = match rec.broker.get(&key.0) {
        Some(theirs) => (ours.min.max(theirs.min), ours.max.min(theirs.max)),
        None => (ours.min, ours.min - 1),
    };
    lo..=hi
}

/// The versions of `R` both sides support.
pub fn versions<R: Request>(rec: &Recorder) -> Vec<i16> {
    common(rec, R::API_KEY).collect()
}

/// Every recorded answer: decoded strictly through the dynamic codec and
/// re-encoded to the same bytes.
fn check_encodings(rec: &Recorder) {
    for x in &rec.exchanges {
        let what = format!(
            "{} {} v{}",
            x.step,
            super::kafka_golden::api_name(x.api_key),
            x.version
        );
        let body = x.response.slice(4..);
        let (header, msg) = AnyResponse::decode_frame_strict(ApiKey(x.api_key), x.version, body)
            .unwrap_or_else(|e| panic!("{what}: strict decode: {e}"));
        // Every tagged field the broker sends at these versions is one the
        // codec knows by name: none may end up among the unknown ones.
        let shown = format!("{msg:?}");
        assert!(
            !shown.contains("TaggedFields([("),
            "{what}: unknown tagged fields in the broker's answer: {shown}"
        );
        let mut again = BytesMut::new();
        msg.encode_frame(x.version, header.correlation_id, &mut again)
            .unwrap_or_else(|e| panic!("{what}: re-encode: {e}"));
        super::golden::assert_bytes_eq(&what, &x.response, &again);
    }
}

async fn api_versions(rec: &mut Recorder) {
    for v in versions::<ApiVersionsRequest>(rec) {
        let req = ApiVersionsRequest {
            client_software_name: if v >= 3 {
                "kafkit".into()
            } else {
                String::new()
            },
            client_software_version: if v >= 3 {
                "sweep".into()
            } else {
                String::new()
            },
            ..Default::default()
        };
        let resp = rec.call_at("sweep-api-versions", &req, v).await;
        assert_eq!(resp.error_code, ErrorCode::NONE, "ApiVersions v{v}");
        let listed: BTreeMap<i16, VersionRange> = resp
            .api_keys
            .iter()
            .map(|a| (a.api_key, VersionRange::new(a.min_version, a.max_version)))
            .collect();
        assert_eq!(listed, rec.broker, "ApiVersions v{v} lists the same ranges");
    }
}

async fn admin(rec: &mut Recorder, topic: &str, unique: &dyn Fn(&str) -> String) {
    for v in versions::<CreateTopicsRequest>(rec) {
        let req = CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: unique("sweep-validate"),
                num_partitions: 1,
                replication_factor: 1,
                ..Default::default()
            }],
            timeout_ms: 10_000,
            validate_only: v >= 1,
            ..Default::default()
        };
        let resp = rec.call_at("sweep-create-topics", &req, v).await;
        assert_eq!(
            resp.topics[0].error_code,
            ErrorCode::NONE,
            "CreateTopics v{v}: {resp:?}"
        );
    }
    for v in versions::<DeleteTopicsRequest>(rec) {
        let missing = unique("sweep-missing");
        let req = DeleteTopicsRequest {
            topics: if v >= 6 {
                vec![DeleteTopicState {
                    name: Some(missing.clone()),
                    ..Default::default()
                }]
            } else {
                Vec::new()
            },
            topic_names: if v < 6 { vec![missing] } else { Vec::new() },
            timeout_ms: 10_000,
            ..Default::default()
        };
        let resp = rec.call_at("sweep-delete-topics", &req, v).await;
        assert_eq!(
            resp.responses[0].error_code,
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            "DeleteTopics v{v}: {resp:?}"
        );
    }
    for v in versions::<InitProducerIdRequest>(rec) {
        let req = InitProducerIdRequest {
            transaction_timeout_ms: -1,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        };
        // The transaction coordinator may still be loading on a fresh node.
        rec.call_until("sweep-init-producer-id", &req, |r| {
            !r.error_code.is_retriable()
        })
        .await;
        let resp = rec.call_at("sweep-init-producer-id", &req, v).await;
        assert_eq!(resp.error_code, ErrorCode::NONE, "InitProducerId v{v}");
        assert!(resp.producer_id >= 0, "InitProducerId v{v}: {resp:?}");
    }
    // A topic for the record APIs, made at the negotiated versions.
    kafka_scenario::create_topic(rec, topic).await;
}

async fn reads(rec: &mut Recorder, topic: &str) {
    for v in versions::<MetadataRequest>(rec) {
        let req = MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: Some(topic.to_string()),
                ..Default::default()
            }]),
            // v0–3 always auto-create (the field defaults to true there).
            allow_auto_topic_creation: v < 4,
            ..Default::default()
        };
        let resp = rec.call_at("sweep-metadata", &req, v).await;
        let t = &resp.topics[0];
        assert_eq!(
            (t.error_code, t.partitions.len()),
            (ErrorCode::NONE, 2),
            "Metadata v{v}"
        );
        assert!(!resp.brokers.is_empty(), "Metadata v{v}");
    }
    let produced = produce_every_version(rec, topic).await;
    list_offsets_every_version(rec, topic, produced).await;
    fetch_every_version(rec, topic, produced).await;
}

/// Produce at every version, 3 records each to partition 0; returns the
/// number of records produced.
async fn produce_every_version(rec: &mut Recorder, topic: &str) -> i64 {
    let mut produced = 0;
    for v in versions::<ProduceRequest>(rec) {
        if v < 3 {
            // v0–2 carry magic 0/1 message sets, which kafkit does not write.
            continue;
        }
        let req = kafka_scenario::produce_request(topic, kafka_scenario::record_batch(-1, -1));
        let resp = rec
            .call_until_at("sweep-produce", &req, v, kafka_scenario::produce_settled)
            .await;
        let p = &resp.responses[0].partition_responses[0];
        assert_eq!(
            (p.error_code, p.base_offset),
            (ErrorCode::NONE, produced),
            "Produce v{v}: {resp:?}"
        );
        produced += kafka_scenario::RECORDS;
    }
    produced
}

/// ListOffsets (latest) at every version: the end of partition 0.
async fn list_offsets_every_version(rec: &mut Recorder, topic: &str, produced: i64) {
    for v in versions::<ListOffsetsRequest>(rec) {
        let req = ListOffsetsRequest {
            replica_id: -1,
            topics: vec![ListOffsetsTopic {
                name: topic.to_string(),
                partitions: vec![ListOffsetsPartition {
                    partition_index: 0,
                    current_leader_epoch: -1,
                    timestamp: -1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let resp = rec.call_at("sweep-list-offsets", &req, v).await;
        let p = &resp.topics[0].partitions[0];
        let offset = if v == 0 {
            p.old_style_offsets.first().copied().unwrap_or(-1)
        } else {
            p.offset
        };
        assert_eq!(
            (p.error_code, offset),
            (ErrorCode::NONE, produced),
            "ListOffsets v{v}: {resp:?}"
        );
    }
}

/// Fetch from offset 0 at every version (by name before v13, by id after).
async fn fetch_every_version(rec: &mut Recorder, topic: &str, produced: i64) {
    let mut topic_id = kafkit::protocol::Uuid::ZERO;
    let md = rec
        .call(
            "sweep-topic-id",
            &MetadataRequest {
                topics: Some(vec![MetadataRequestTopic {
                    name: Some(topic.to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        )
        .await;
    if let Some(t) = md.topics.first() {
        topic_id = t.topic_id;
    }
    for v in versions::<FetchRequest>(rec) {
        let req = FetchRequest {
            replica_id: -1,
            max_wait_ms: 10,
            min_bytes: 1,
            max_bytes: 1 << 20,
            session_epoch: -1,
            topics: vec![FetchTopic {
                topic: if v < 13 {
                    topic.to_string()
                } else {
                    String::new()
                },
                topic_id: if v >= 13 {
                    topic_id
                } else {
                    kafkit::protocol::Uuid::ZERO
                },
                partitions: vec![FetchPartition {
                    partition: 0,
                    current_leader_epoch: -1,
                    last_fetched_epoch: -1,
                    log_start_offset: -1,
                    partition_max_bytes: 1 << 20,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let resp = rec.call_at("sweep-fetch", &req, v).await;
        let p = &resp.responses[0].partitions[0];
        assert_eq!(
            (p.error_code, p.high_watermark),
            (ErrorCode::NONE, produced),
            "Fetch v{v}"
        );
        let set = RecordSet::decode(
            p.records.clone().unwrap_or_default(),
            &DecodeOptions::default(),
        )
        .unwrap_or_else(|e| panic!("Fetch v{v}: records: {e}"));
        let first = set
            .batches
            .first()
            .unwrap_or_else(|| panic!("Fetch v{v}: no batch"));
        let records: Vec<_> = first.records().collect::<Result<_, _>>().expect("records");
        assert_eq!(
            records[0].value.as_deref(),
            Some(kafka_scenario::record_value(0).as_bytes()),
            "Fetch v{v}"
        );
    }
}

async fn sasl(rec: &mut Recorder) {
    for v in versions::<SaslHandshakeRequest>(rec) {
        let req = SaslHandshakeRequest {
            mechanism: "PLAIN".into(),
        };
        let resp = rec.call_at("sweep-sasl-handshake", &req, v).await;
        assert_eq!(
            resp.error_code,
            ErrorCode::ILLEGAL_SASL_STATE,
            "SaslHandshake v{v}"
        );
    }
    for v in versions::<SaslAuthenticateRequest>(rec) {
        let req = SaslAuthenticateRequest {
            auth_bytes: Bytes::from_static(b"\0user\0secret"),
            ..Default::default()
        };
        let resp = rec.call_at("sweep-sasl-authenticate", &req, v).await;
        assert_eq!(
            resp.error_code,
            ErrorCode::ILLEGAL_SASL_STATE,
            "SaslAuthenticate v{v}"
        );
    }
}
