//! A scripted two-broker cluster for tests, built from kafkit's own codecs
//! (`messages::any`): it answers the admin, group-administration and offset
//! APIs from a small state whose controller and group coordinator have moved
//! (Metadata names broker 1 as controller until broker 1 answered
//! `NOT_CONTROLLER`; FindCoordinator names broker 1 first, which answers
//! `NOT_COORDINATOR`), and records every request it receives.
//!
//! Used where the librdkafka mock lacks the APIs (it has no admin or group
//! administration APIs).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
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
use kafkit::protocol::messages::{
    self,
    any::{AnyRequest, AnyResponse, APIS},
};
use kafkit::protocol::{try_parse_frame, ErrorCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the scripted cluster knows and what it was asked.
#[derive(Debug, Default)]
pub struct State {
    pub ports: BTreeMap<i32, u16>,
    /// The controller Metadata names (stale until a NOT_CONTROLLER was sent).
    pub advertised_controller: i32,
    /// The broker that really is the controller.
    pub controller: i32,
    /// FindCoordinator answers: stale first, then the real coordinator.
    pub coordinator_answers: Vec<i32>,
    pub coordinator: i32,
    pub topics: BTreeSet<String>,
    /// (node, API name) of every request received, in order.
    pub log: Vec<(i32, &'static str)>,
    /// Every request frame received (after the size prefix), with its API key and version.
    pub frames: Vec<(i16, i16, Bytes)>,
}

/// The cluster's state, shared with its connections.
pub type Shared = Arc<Mutex<State>>;

/// Starts the two brokers; returns the state and the bootstrap list.
pub async fn cluster() -> (Shared, String) {
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
    let s = &mut *s;
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
        AnyRequest::Metadata(_) => AnyResponse::Metadata(metadata(s)),
        AnyRequest::CreateTopics(r) => create_topics(node, r, s),
        AnyRequest::DeleteTopics(r) => delete_topics(node, r, s),
        AnyRequest::FindCoordinator(r) => find_coordinator(r, s),
        AnyRequest::DescribeGroups(r) => describe_groups(node, r, s),
        AnyRequest::ListGroups(_) => AnyResponse::ListGroups(ListGroupsResponse {
            groups: vec![ListedGroup {
                group_id: format!("group-of-{node}"),
                protocol_type: "consumer".into(),
                group_state: "Stable".into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        AnyRequest::DeleteGroups(r) => delete_groups(node, r, s),
        AnyRequest::OffsetDelete(r) => offset_delete(node, r, s),
        AnyRequest::ListOffsets(r) => list_offsets(node, r),
        other => panic!("the scripted cluster does not serve {:?}", other.api_key()),
    }
}

fn create_topics(
    node: i32,
    r: &messages::create_topics::CreateTopicsRequest,
    s: &mut State,
) -> AnyResponse {
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

fn delete_topics(
    node: i32,
    r: &messages::delete_topics::DeleteTopicsRequest,
    s: &mut State,
) -> AnyResponse {
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

fn find_coordinator(
    r: &messages::find_coordinator::FindCoordinatorRequest,
    s: &mut State,
) -> AnyResponse {
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

fn describe_groups(
    node: i32,
    r: &messages::describe_groups::DescribeGroupsRequest,
    s: &mut State,
) -> AnyResponse {
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

fn delete_groups(
    node: i32,
    r: &messages::delete_groups::DeleteGroupsRequest,
    s: &mut State,
) -> AnyResponse {
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

fn offset_delete(
    node: i32,
    r: &messages::offset_delete::OffsetDeleteRequest,
    s: &mut State,
) -> AnyResponse {
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

fn list_offsets(node: i32, r: &messages::list_offsets::ListOffsetsRequest) -> AnyResponse {
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

/// The nodes that received `api` requests, in order.
pub fn sent(state: &Shared, api: &str) -> Vec<i32> {
    let s = state.lock().unwrap();
    s.log
        .iter()
        .filter(|(_, a)| *a == api)
        .map(|(n, _)| *n)
        .collect()
}
