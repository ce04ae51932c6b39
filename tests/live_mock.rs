//! kafkit's codecs against a live librdkafka mock cluster (started in-process
//! through the `rdkafka` crate) over a raw TCP socket: version negotiation with
//! ApiVersions, Metadata, Produce of a batch built by kafkit's record encoder,
//! and Fetch of the same records, once at the newest versions both sides know
//! and once with the mock capped to classic (non-flexible) versions.

mod support;

use bytes::{Bytes, BytesMut};
use kafkit::protocol::messages::api_versions::{ApiVersionsRequest, ApiVersionsResponse};
use kafkit::protocol::messages::fetch::{FetchPartition, FetchRequest, FetchTopic};
use kafkit::protocol::messages::metadata::{MetadataRequest, MetadataRequestTopic};
use kafkit::protocol::messages::produce::{PartitionProduceData, ProduceRequest, TopicProduceData};
use kafkit::protocol::record::{
    BatchAttributes, BatchHeader, Compression, DecodeOptions, Record, RecordBatch, RecordHeader,
    RecordSet,
};
use kafkit::protocol::{ApiKey, ErrorCode, Message, Uuid};
use rdkafka::mocking::MockCluster;
use rdkafka::types::RDKafkaApiKey;
use support::raw::RawConnection;

/// The versions both sides know, as negotiated from the mock's ApiVersions.
struct Negotiated {
    metadata: i16,
    produce: i16,
    fetch: i16,
}

/// ApiVersions v3 first: the mock rejects it with UNSUPPORTED_VERSION and the
/// versions it knows; then the highest common version, whose answer lists
/// every API. Returns the highest common versions of the APIs used here.
async fn negotiate(conn: &mut RawConnection) -> Negotiated {
    let hello = ApiVersionsRequest {
        client_software_name: "kafkit".into(),
        client_software_version: "0.1.0".into(),
        ..Default::default()
    };
    let rejected: ApiVersionsResponse = conn.call(&hello, 3).await;
    assert_eq!(rejected.error_code, ErrorCode::UNSUPPORTED_VERSION);
    let theirs = rejected
        .range_of(ApiKey::API_VERSIONS)
        .expect("the rejection lists ApiVersions");
    let version = theirs.max.min(ApiVersionsRequest::VERSIONS.max);
    assert!(
        version < 3,
        "the mock advertises ApiVersions up to v{}",
        theirs.max
    );
    let resp: ApiVersionsResponse = conn.call(&ApiVersionsRequest::default(), version).await;
    assert_eq!(resp.error_code, ErrorCode::NONE);
    let common = |key: ApiKey, ours: kafkit::protocol::VersionRange| {
        let theirs = resp
            .range_of(key)
            .unwrap_or_else(|| panic!("{key:?} not advertised"));
        assert!(
            theirs.min <= ours.max && ours.min <= theirs.max,
            "{key:?}: no common version"
        );
        theirs.max.min(ours.max)
    };
    Negotiated {
        metadata: common(ApiKey::METADATA, MetadataRequest::VERSIONS),
        produce: common(ApiKey::PRODUCE, ProduceRequest::VERSIONS),
        fetch: common(ApiKey::FETCH, FetchRequest::VERSIONS),
    }
}

fn batch(codec: Compression, tag: &str) -> RecordBatch {
    let now = 1_700_000_000_000;
    let records = (0..3)
        .map(|i| Record {
            timestamp_delta: i,
            offset_delta: i32::try_from(i).expect("small"),
            key: (i != 2).then(|| Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(format!("{tag} value {i} {}", "xyz".repeat(30)))),
            headers: vec![RecordHeader {
                key: format!("h{i}"),
                value: Some(Bytes::from(format!("hv{i}"))),
            }],
            ..Default::default()
        })
        .collect();
    RecordBatch {
        header: BatchHeader {
            attributes: BatchAttributes {
                compression: codec,
                ..Default::default()
            },
            last_offset_delta: 2,
            base_timestamp: now,
            max_timestamp: now + 2,
            ..Default::default()
        },
        records,
    }
}

/// Runs the whole exchange against `mock`, expecting the given versions.
async fn exchange(
    mock: &MockCluster<'_, impl rdkafka::ClientContext>,
    codec: Compression,
    expect: [i16; 3],
) {
    let topic = format!("live-{}", expect[2]);
    mock.create_topic(&topic, 1, 1).expect("create topic");
    let bootstrap = mock.bootstrap_servers();
    let addr = bootstrap.split(',').next().expect("a broker");
    let mut conn = RawConnection::connect(addr).await.expect("connect");
    let v = negotiate(&mut conn).await;
    assert_eq!(
        [v.metadata, v.produce, v.fetch],
        expect,
        "negotiated versions"
    );

    // Metadata: the topic's leader and, at v10+, its id (Fetch v13+ names topics by id).
    let md_req = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(topic.clone()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let md = conn.call(&md_req, v.metadata).await;
    let t = md.topics.first().expect("topic in metadata");
    assert_eq!(t.error_code, ErrorCode::NONE);
    assert_eq!(t.name.as_deref(), Some(topic.as_str()));
    let leader = t.partitions.first().expect("partition 0").leader_id;
    let broker = md
        .brokers
        .iter()
        .find(|b| b.node_id == leader)
        .expect("leader listed");
    let topic_id = t.topic_id;
    if v.fetch >= 13 {
        assert_ne!(
            topic_id,
            Uuid::ZERO,
            "Metadata v{} gave no topic id",
            v.metadata
        );
    }
    let mut conn = RawConnection::connect(&format!("{}:{}", broker.host, broker.port))
        .await
        .expect("connect to leader");

    // Produce one batch encoded by kafkit.
    let sent = batch(codec, &topic);
    let mut records = BytesMut::new();
    sent.encode(&mut records).expect("encode batch");
    let produce = ProduceRequest {
        acks: -1,
        timeout_ms: 5_000,
        topic_data: vec![TopicProduceData {
            name: topic.clone(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(records.freeze()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let resp = conn.call(&produce, v.produce).await;
    let part = &resp.responses[0].partition_responses[0];
    assert_eq!(
        (part.error_code, part.base_offset),
        (ErrorCode::NONE, 0),
        "produce v{}",
        v.produce
    );

    // Fetch it back from offset 0.
    let fetch = FetchRequest {
        max_wait_ms: 100,
        min_bytes: 1,
        topics: vec![FetchTopic {
            topic: if v.fetch < 13 {
                topic.clone()
            } else {
                String::new()
            },
            topic_id: if v.fetch >= 13 { topic_id } else { Uuid::ZERO },
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: 0,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let resp = conn.call(&fetch, v.fetch).await;
    assert_eq!(resp.error_code, ErrorCode::NONE);
    let p = &resp.responses[0].partitions[0];
    assert_eq!(
        (p.error_code, p.high_watermark),
        (ErrorCode::NONE, 3),
        "fetch v{}",
        v.fetch
    );
    let set = RecordSet::decode(
        p.records.clone().expect("records"),
        &DecodeOptions::default(),
    )
    .expect("decode fetched records");
    assert_eq!(set.batches.len(), 1);
    let got: Vec<_> = set.batches[0]
        .records()
        .collect::<Result<_, _>>()
        .expect("records");
    assert_eq!(got.len(), 3);
    for (i, (rec, want)) in got.iter().zip(&sent.records).enumerate() {
        assert_eq!(rec.offset, i64::try_from(i).expect("small"));
        assert_eq!(
            rec.timestamp,
            sent.header.base_timestamp + want.timestamp_delta
        );
        assert_eq!(rec.key, want.key);
        assert_eq!(rec.value, want.value);
        let headers = rec.headers.to_vec().expect("headers");
        assert_eq!(headers, want.headers);
    }
    if let kafkit::protocol::record::Batch::V2(view) = &set.batches[0] {
        assert_eq!(view.header.attributes.compression, codec);
    } else {
        panic!("expected a v2 batch");
    }
}

#[tokio::test]
async fn newest_versions() {
    let mock = MockCluster::new(1).expect("mock cluster");
    // The mock (librdkafka 2.12) tops out at Metadata v12, Produce v10, Fetch v16.
    exchange(&mock, Compression::Zstd, [12, 10, 16]).await;
}

#[tokio::test]
async fn classic_versions() {
    let mock = MockCluster::new(1).expect("mock cluster");
    for (key, max) in [
        (RDKafkaApiKey::Metadata, 4),
        (RDKafkaApiKey::Produce, 3),
        (RDKafkaApiKey::Fetch, 4),
    ] {
        mock.apiversion(key, Some(0), Some(max))
            .expect("cap version");
    }
    exchange(&mock, Compression::Gzip, [4, 3, 4]).await;
}
