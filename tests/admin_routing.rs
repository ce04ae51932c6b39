//! Where the admin client sends its requests, against a scripted two-broker
//! cluster built from kafkit's own codecs (`messages::any`), whose controller
//! and group coordinator move: CreateTopics/DeleteTopics must reach the
//! controller after a `NOT_CONTROLLER`, group requests the coordinator after
//! a `NOT_COORDINATOR`, ListGroups every broker; per-item errors stay per item.
//!
//! The librdkafka mock cannot play this: it lacks the admin and group APIs.
//!
//! The same cluster serves librdkafka's admin client for DeleteGroups and
//! DeleteConsumerGroupOffsets (OffsetDelete): kafkit must decode and
//! re-encode librdkafka's requests byte for byte, and librdkafka must read
//! kafkit's responses (the per-group and per-partition errors arrive).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use kafkit::admin::{Admin, NewTopic, TopicPartition};
use kafkit::protocol::messages::any::{AnyRequest, AnyResponse, APIS};
use kafkit::protocol::messages::api_versions::{ApiVersion, ApiVersionsResponse};
use kafkit::protocol::messages::create_topics::{CreatableTopicResult, CreateTopicsResponse};
use kafkit::protocol::messages::delete_groups::{DeletableGroupResult, DeleteGroupsResponse};
use kafkit::protocol::messages::delete_topics::{DeletableTopicResult, DeleteTopicsResponse};
use kafkit::protocol::messages::describe_groups::{DescribeGroupsResponse, DescribedGroup};
use kafkit::protocol::messages::find_coordinator::{Coordinator, FindCoordinatorResponse};
use kafkit::protocol::messages::list_groups::{ListGroupsResponse, ListedGroup};
use kafkit::protocol::messages::list_offsets::{
    ListOffsetsPartitionResponse, ListOffsetsResponse, ListOffsetsTopicResponse,
    EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, MAX_TIMESTAMP,
};
use kafkit::protocol::messages::metadata::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafkit::protocol::messages::offset_delete::{
    OffsetDeleteResponse, OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafkit::protocol::{try_parse_frame, ErrorCode};
use kafkit::ClientConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the scripted cluster knows and what it was asked.
#[derive(Debug, Default)]
struct State {
    ports: BTreeMap<i32, u16>,
    /// The controller Metadata names (stale until a NOT_CONTROLLER was sent).
    advertised_controller: i32,
    /// The broker that really is the controller.
    controller: i32,
    /// FindCoordinator answers: stale first, then the real coordinator.
    coordinator_answers: Vec<i32>,
    coordinator: i32,
    topics: BTreeSet<String>,
    /// (node, API name) of every request received, in order.
    log: Vec<(i32, &'static str)>,
    /// Every request frame received (after the size prefix), with its API key and version.
    frames: Vec<(i16, i16, bytes::Bytes)>,
}

type Shared = Arc<Mutex<State>>;

async fn cluster() -> (Shared, String) {
    let state = Shared::default();
    let mut addrs = Vec::new();
    for node in [1, 2] {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        state.lock().unwrap().ports.insert(node, port);
        addrs.push(format!("127.0.0.1:{port}"));
        let state = state.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(node, socket, state.clone()));
            }
        });
    }
    {
        let mut s = state.lock().unwrap();
        s.advertised_controller = 1;
        s.controller = 2;
        s.coordinator_answers = vec![1];
        s.coordinator = 2;
        s.topics.insert("existing".into());
    }
    (state, addrs.join(","))
}

async fn serve(node: i32, mut socket: TcpStream, state: Shared) {
    let mut buf = BytesMut::new();
    loop {
        while let Ok(Some(frame)) = try_parse_frame(&mut buf, 1 << 20) {
            let (header, request) =
                AnyRequest::decode_frame(frame.clone()).expect("request decodes");
            state
                .lock()
                .unwrap()
                .frames
                .push((header.api_key.0, header.api_version, frame));
            let response = answer(node, &request, &state);
            let mut out = BytesMut::new();
            response
                .encode_frame(header.api_version, header.correlation_id, &mut out)
                .expect("response encodes");
            if socket.write_all(&out).await.is_err() {
                return;
            }
        }
        match socket.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

fn answer(node: i32, request: &AnyRequest, state: &Shared) -> AnyResponse {
    let mut s = state.lock().unwrap();
    let name = request.api_key().name().unwrap_or("?");
    s.log.push((node, name));
    match request {
        AnyRequest::ApiVersions(_) => AnyResponse::ApiVersions(ApiVersionsResponse {
            api_keys: APIS
                .iter()
                .map(|a| ApiVersion {
                    api_key: a.api_key.0,
                    min_version: a.request_versions.min,
                    max_version: a.request_versions.max,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        AnyRequest::Metadata(_) => AnyResponse::Metadata(metadata(&s)),
        AnyRequest::CreateTopics(r) => {
            let topics = r.topics.iter().map(|t| {
                let (code, message) = if node != s.controller {
                    s.advertised_controller = s.controller;
                    (ErrorCode::NOT_CONTROLLER, None)
                } else if s.topics.contains(&t.name) {
                    (
                        ErrorCode::TOPIC_ALREADY_EXISTS,
                        Some("it exists".to_owned()),
                    )
                } else {
                    if !r.validate_only {
                        s.topics.insert(t.name.clone());
                    }
                    (ErrorCode::NONE, None)
                };
                CreatableTopicResult {
                    name: t.name.clone(),
                    error_code: code,
                    error_message: message,
                    ..Default::default()
                }
            });
            let topics = topics.collect();
            AnyResponse::CreateTopics(CreateTopicsResponse {
                topics,
                ..Default::default()
            })
        }
        AnyRequest::DeleteTopics(r) => {
            let names = r.topics.iter().filter_map(|t| t.name.clone());
            let responses = names.map(|name| {
                let code = if node != s.controller {
                    ErrorCode::NOT_CONTROLLER
                } else if s.topics.remove(&name) {
                    ErrorCode::NONE
                } else {
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                };
                DeletableTopicResult {
                    name: Some(name),
                    error_code: code,
                    ..Default::default()
                }
            });
            let responses = responses.collect();
            AnyResponse::DeleteTopics(DeleteTopicsResponse {
                responses,
                ..Default::default()
            })
        }
        AnyRequest::FindCoordinator(r) => {
            let id = if s.coordinator_answers.is_empty() {
                s.coordinator
            } else {
                s.coordinator_answers.remove(0)
            };
            let coordinators = r.coordinator_keys.iter().map(|key| Coordinator {
                key: key.clone(),
                node_id: id,
                host: "127.0.0.1".into(),
                port: i32::from(s.ports[&id]),
                ..Default::default()
            });
            let port = i32::from(s.ports[&id]);
            // v4+ answers per key; earlier versions (librdkafka) at the top level.
            AnyResponse::FindCoordinator(FindCoordinatorResponse {
                coordinators: coordinators.collect(),
                node_id: if r.coordinator_keys.is_empty() { id } else { 0 },
                host: if r.coordinator_keys.is_empty() {
                    "127.0.0.1".into()
                } else {
                    String::new()
                },
                port: if r.coordinator_keys.is_empty() {
                    port
                } else {
                    0
                },
                ..Default::default()
            })
        }
        AnyRequest::DescribeGroups(r) => {
            let groups = r.groups.iter().map(|g| DescribedGroup {
                error_code: if node == s.coordinator {
                    ErrorCode::NONE
                } else {
                    ErrorCode::NOT_COORDINATOR
                },
                group_id: g.clone(),
                group_state: "Empty".into(),
                protocol_type: "consumer".into(),
                ..Default::default()
            });
            AnyResponse::DescribeGroups(DescribeGroupsResponse {
                groups: groups.collect(),
                ..Default::default()
            })
        }
        AnyRequest::ListGroups(_) => AnyResponse::ListGroups(ListGroupsResponse {
            groups: vec![ListedGroup {
                group_id: format!("group-of-{node}"),
                protocol_type: "consumer".into(),
                group_state: "Stable".into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        AnyRequest::DeleteGroups(r) => {
            let results = r.groups_names.iter().map(|g| DeletableGroupResult {
                group_id: g.clone(),
                error_code: match g.as_str() {
                    _ if node != s.coordinator => ErrorCode::NOT_COORDINATOR,
                    "busy" => ErrorCode::NON_EMPTY_GROUP,
                    _ => ErrorCode::NONE,
                },
                ..Default::default()
            });
            AnyResponse::DeleteGroups(DeleteGroupsResponse {
                results: results.collect(),
                ..Default::default()
            })
        }
        AnyRequest::OffsetDelete(r) => {
            let topics = r.topics.iter().map(|t| OffsetDeleteResponseTopic {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|&p| OffsetDeleteResponsePartition {
                        partition_index: p,
                        error_code: if p == 1 {
                            ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC
                        } else {
                            ErrorCode::NONE
                        },
                    })
                    .collect(),
            });
            AnyResponse::OffsetDelete(OffsetDeleteResponse {
                error_code: if node == s.coordinator {
                    ErrorCode::NONE
                } else {
                    ErrorCode::NOT_COORDINATOR
                },
                topics: topics.collect(),
                ..Default::default()
            })
        }
        AnyRequest::ListOffsets(r) => {
            // Partition 0 of every topic holds records 0..10 stamped 1000 * (offset + 1).
            let topics = r.topics.iter().map(|t| ListOffsetsTopicResponse {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| {
                        let (offset, timestamp) = match p.timestamp {
                            EARLIEST_TIMESTAMP => (0, -1),
                            LATEST_TIMESTAMP => (10, -1),
                            MAX_TIMESTAMP => (9, 10_000),
                            t if t > 10_000 => (-1, -1),
                            t => {
                                let offset = (t + 999) / 1000 - 1;
                                (offset.max(0), (offset.max(0) + 1) * 1000)
                            }
                        };
                        ListOffsetsPartitionResponse {
                            partition_index: p.partition_index,
                            error_code: if node == 1 {
                                ErrorCode::NONE
                            } else {
                                ErrorCode::NOT_LEADER_OR_FOLLOWER
                            },
                            offset,
                            timestamp,
                            ..Default::default()
                        }
                    })
                    .collect(),
                ..Default::default()
            });
            AnyResponse::ListOffsets(ListOffsetsResponse {
                topics: topics.collect(),
                ..Default::default()
            })
        }
        other => panic!("the scripted cluster does not serve {:?}", other.api_key()),
    }
}

fn metadata(s: &State) -> MetadataResponse {
    MetadataResponse {
        brokers: s
            .ports
            .iter()
            .map(|(&node_id, &port)| MetadataResponseBroker {
                node_id,
                host: "127.0.0.1".into(),
                port: i32::from(port),
                ..Default::default()
            })
            .collect(),
        cluster_id: Some("scripted".into()),
        controller_id: s.advertised_controller,
        topics: s
            .topics
            .iter()
            .map(|t| MetadataResponseTopic {
                name: Some(t.clone()),
                partitions: vec![MetadataResponsePartition {
                    leader_id: 1,
                    replica_nodes: vec![1, 2],
                    isr_nodes: vec![1, 2],
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

async fn admin(bootstrap: &str) -> Admin {
    Admin::connect(ClientConfig::new([bootstrap]))
        .await
        .expect("connect")
        .with_timeout(Duration::from_secs(5))
}

fn sent(state: &Shared, api: &str) -> Vec<i32> {
    let s = state.lock().unwrap();
    s.log
        .iter()
        .filter(|(_, a)| *a == api)
        .map(|(n, _)| *n)
        .collect()
}

#[tokio::test]
async fn topic_admin_follows_the_controller_and_reports_per_topic() {
    let (state, bootstrap) = cluster().await;
    let admin = admin(&bootstrap).await;
    let results = admin
        .create_topics(
            &[
                NewTopic::new("fresh", 3, 2).with_config("cleanup.policy", "compact"),
                NewTopic::new("existing", 1, 1),
            ],
            false,
        )
        .await
        .expect("create");
    // Broker 1 (the advertised controller) refused; after a refresh broker 2 answered.
    assert_eq!(sent(&state, "CreateTopics"), [1, 2]);
    assert_eq!(results[0].0, "fresh");
    assert!(results[0].1.is_ok(), "{results:?}");
    assert_eq!(results[1].0, "existing");
    let err = results[1].1.as_ref().expect_err("exists");
    assert_eq!(err.code(), Some(ErrorCode::TOPIC_ALREADY_EXISTS));
    assert!(err.to_string().contains("it exists"), "{err}");

    let validated = admin
        .create_topics(&[NewTopic::new("dry", 1, 1)], true)
        .await
        .expect("validate");
    assert!(validated[0].1.is_ok());
    assert!(
        !state.lock().unwrap().topics.contains("dry"),
        "validate_only created it"
    );

    let listed: Vec<String> = admin
        .list_topics(false)
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(listed, ["existing", "fresh"]);

    let deleted = admin
        .delete_topics(&["fresh".to_owned(), "never".to_owned()])
        .await
        .expect("delete");
    assert!(deleted[0].1.is_ok());
    let err = deleted[1].1.as_ref().expect_err("unknown");
    assert_eq!(err.code(), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
    assert_eq!(
        sent(&state, "DeleteTopics"),
        [2],
        "straight to the new controller"
    );
    admin.close();
}

#[tokio::test]
async fn group_admin_follows_the_coordinator_and_lists_every_broker() {
    let (state, bootstrap) = cluster().await;
    let admin = admin(&bootstrap).await;
    let described = admin
        .describe_groups(&["g".to_owned()])
        .await
        .expect("describe");
    let g = described[0].1.as_ref().expect("described");
    assert_eq!((g.state.as_str(), g.coordinator), ("Empty", 2));
    // FindCoordinator named broker 1 first, which refused; the second lookup found 2.
    assert_eq!(sent(&state, "DescribeGroups"), [1, 2]);
    assert_eq!(sent(&state, "FindCoordinator").len(), 2);

    let listed = admin.list_groups().await.expect("list");
    let ids: Vec<(&str, i32)> = listed
        .groups
        .iter()
        .map(|g| (g.group_id.as_str(), g.coordinator))
        .collect();
    assert_eq!(ids, [("group-of-1", 1), ("group-of-2", 2)]);
    assert!(listed
        .groups
        .iter()
        .all(|g| g.state.as_deref() == Some("Stable")));
    assert!(listed.errors.is_empty());

    let deleted = admin
        .delete_groups(&["idle".to_owned(), "busy".to_owned()])
        .await
        .expect("delete groups");
    assert!(deleted[0].1.is_ok());
    let err = deleted[1].1.as_ref().expect_err("busy");
    assert_eq!(err.code(), Some(ErrorCode::NON_EMPTY_GROUP));

    let tp = |partition| TopicPartition {
        topic: "t".into(),
        partition,
    };
    let offsets = admin
        .delete_committed_offsets("g", &[tp(1), tp(0)])
        .await
        .expect("offset delete");
    assert_eq!(offsets[0].0, tp(1));
    let err = offsets[0].1.as_ref().expect_err("subscribed");
    assert_eq!(err.code(), Some(ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC));
    assert!(offsets[1].1.is_ok());
    assert!(sent(&state, "OffsetDelete").iter().all(|&n| n == 2));
    admin.close();
}

/// Lookups by timestamp, which neither the librdkafka mock (always -1) nor
/// tansu 0.6.0 (always 0) answer: kafkit sends the timestamp to the leader at
/// the newest version and reads the offset and record timestamp back.
#[tokio::test]
async fn offsets_by_timestamp_reach_the_leader() {
    use kafkit::admin::OffsetSpec;
    use kafkit::protocol::messages::list_offsets::ListOffsetsRequest;
    use kafkit::protocol::Message;
    let (state, bootstrap) = cluster().await;
    let admin = admin(&bootstrap).await;
    let tps = [TopicPartition {
        topic: "existing".into(),
        partition: 0,
    }];
    let at = |spec| {
        let admin = admin.clone();
        let tps = tps.clone();
        async move {
            let r = admin.list_offsets(&tps, spec).await.expect("lookup");
            let o = r[0].1.as_ref().expect("offset");
            (o.offset, o.timestamp)
        }
    };
    assert_eq!(at(OffsetSpec::Timestamp(2500)).await, (2, 3000));
    assert_eq!(at(OffsetSpec::Timestamp(3000)).await, (2, 3000));
    assert_eq!(at(OffsetSpec::Timestamp(20_000)).await, (-1, -1));
    assert_eq!(at(OffsetSpec::MaxTimestamp).await, (9, 10_000));
    assert_eq!(at(OffsetSpec::Latest).await.0, 10);
    assert_eq!(
        sent(&state, "ListOffsets"),
        [1, 1, 1, 1, 1],
        "only the leader"
    );
    let frames = state.lock().unwrap().frames.clone();
    let versions: Vec<i16> = frames
        .iter()
        .filter(|(k, _, _)| *k == 2)
        .map(|(_, v, _)| *v)
        .collect();
    assert!(
        versions
            .iter()
            .all(|&v| v == ListOffsetsRequest::VERSIONS.max),
        "{versions:?}"
    );
    admin.close();
}

/// Decodes a request frame (header + body) with kafkit's typed codec and
/// re-encodes it: the bytes must not change.
fn reencodes<R: kafkit::protocol::Message + std::fmt::Debug>(
    frame: &bytes::Bytes,
    version: i16,
) -> R {
    let (header, body) = kafkit::protocol::frame::decode_request::<R>(frame.clone())
        .expect("librdkafka's request decodes");
    let mut again = BytesMut::new();
    kafkit::protocol::header::RequestHeader::encode(
        &header,
        &mut kafkit::protocol::Writer::new(&mut again, false, version),
        R::is_flexible(version),
    )
    .expect("header encodes");
    body.encode(version, &mut again).expect("body encodes");
    assert_eq!(
        &again[..],
        &frame[..],
        "{:?} v{version} re-encoded differently",
        R::API_KEY
    );
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_admin_reads_and_writes_delete_groups_and_offset_delete() {
    use kafkit::protocol::messages::delete_groups::DeleteGroupsRequest;
    use kafkit::protocol::messages::offset_delete::OffsetDeleteRequest;
    use rdkafka::admin::{AdminClient, AdminOptions};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::types::RDKafkaErrorCode;

    let (state, bootstrap) = cluster().await;
    state.lock().unwrap().coordinator_answers.clear();
    let client: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("client.id", "golden-rdkafka-admin")
        .create()
        .expect("librdkafka admin client");
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    let results = client
        .delete_groups(&["idle", "busy"], &options)
        .await
        .expect("DeleteGroups");
    assert_eq!(results[0], Ok("idle".to_owned()));
    assert_eq!(
        results[1],
        Err(("busy".to_owned(), RDKafkaErrorCode::NonEmptyGroup))
    );
    let partitions = tokio::task::spawn_blocking(move || delete_offsets_with_librdkafka(&client))
        .await
        .expect("librdkafka thread");
    assert_eq!(
        partitions,
        [
            ("t".to_owned(), 0, RDKafkaErrorCode::NoError),
            ("t".to_owned(), 1, RDKafkaErrorCode::GroupSubscribedToTopic),
        ]
    );

    let frames = state.lock().unwrap().frames.clone();
    let of = |key: i16| frames.iter().filter(move |(k, _, _)| *k == key);
    let mut checked = 0;
    for (_, version, frame) in of(42) {
        let req: DeleteGroupsRequest = reencodes(frame, *version);
        assert_eq!(
            req.groups_names.len(),
            1,
            "one request per group's coordinator"
        );
        checked += 1;
    }
    for (_, version, frame) in of(47) {
        let req: OffsetDeleteRequest = reencodes(frame, *version);
        assert_eq!(req.group_id, "g");
        assert_eq!(req.topics.len(), 1);
        assert_eq!(
            (req.topics[0].name.as_str(), &req.topics[0].partitions[..]),
            ("t", &[0, 1][..])
        );
        checked += 1;
    }
    if std::env::var_os("KAFKIT_WRITE_GOLDEN").is_some_and(|v| v == "1") {
        write_golden(&frames);
    }
    let versions: Vec<(i16, i16)> = frames.iter().map(|(k, v, _)| (*k, *v)).collect();
    eprintln!("librdkafka sent (api key, version): {versions:?}");
    assert!(
        checked >= 2,
        "DeleteGroups/OffsetDelete missing: {versions:?}"
    );
}

/// Writes librdkafka's first DeleteGroups and OffsetDelete request frames as
/// golden frames (protocol-specs/golden/README.md) and prints their INDEX lines.
fn write_golden(frames: &[(i16, i16, bytes::Bytes)]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol-specs/golden");
    for (number, key, name) in [(142, 42, "DeleteGroups"), (143, 47, "OffsetDelete")] {
        let (_, version, frame) = frames
            .iter()
            .find(|(k, _, _)| *k == key)
            .expect("frame to record");
        let file = format!("frames/{number:04}-librdkafka-{name}-v{version}-req.bin");
        let len = u32::try_from(frame.len()).expect("frame size");
        let bytes = [&len.to_be_bytes()[..], &frame[..]].concat();
        std::fs::write(dir.join(&file), bytes).expect("write golden frame");
        println!("{file} librdkafka-2.12.1 {key} {name} {version} request golden-rdkafka-admin");
    }
}

/// librdkafka's DeleteConsumerGroupOffsets (not wrapped by the rdkafka
/// crate) for group `g`, partitions t/0 and t/1: the per-partition errors.
fn delete_offsets_with_librdkafka(
    client: &rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext>,
) -> Vec<(String, i32, rdkafka::types::RDKafkaErrorCode)> {
    use rdkafka::bindings as rd;
    use rdkafka::TopicPartitionList;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition("t", 0);
    tpl.add_partition("t", 1);
    let rk = client.inner().native_ptr();
    let mut out = Vec::new();
    // SAFETY: every pointer comes from librdkafka and is destroyed once;
    // the result's lists are read before the event that owns them is freed.
    unsafe {
        let group = std::ffi::CString::new("g").expect("group name");
        let mut request = rd::rd_kafka_DeleteConsumerGroupOffsets_new(group.as_ptr(), tpl.ptr());
        let queue = rd::rd_kafka_queue_new(rk);
        rd::rd_kafka_DeleteConsumerGroupOffsets(rk, &mut request, 1, std::ptr::null(), queue);
        let event = rd::rd_kafka_queue_poll(queue, 15_000);
        assert!(!event.is_null(), "no DeleteConsumerGroupOffsets result");
        let result = rd::rd_kafka_event_DeleteConsumerGroupOffsets_result(event);
        assert!(!result.is_null(), "not a DeleteConsumerGroupOffsets result");
        let mut count = 0;
        let groups = rd::rd_kafka_DeleteConsumerGroupOffsets_result_groups(result, &mut count);
        assert_eq!(count, 1);
        let group_result = *groups;
        assert!(
            rd::rd_kafka_group_result_error(group_result).is_null(),
            "group-level error"
        );
        let list = &*rd::rd_kafka_group_result_partitions(group_result);
        let count = usize::try_from(list.cnt).expect("count");
        for p in std::slice::from_raw_parts(list.elems, count) {
            let topic = std::ffi::CStr::from_ptr(p.topic)
                .to_string_lossy()
                .into_owned();
            out.push((topic, p.partition, p.err.into()));
        }
        rd::rd_kafka_event_destroy(event);
        rd::rd_kafka_queue_destroy(queue);
        rd::rd_kafka_DeleteConsumerGroupOffsets_destroy(request);
    }
    out
}
