//! A one-node scripted broker that closes the connection whenever it
//! receives JoinGroup at or above a version it advertises, the way
//! librdkafka's mock cluster treats JoinGroup v6+ (it advertises v0-9 and
//! cannot parse the flexible versions). Below that version it runs a
//! one-member group: JoinGroup (MEMBER_ID_REQUIRED first at v4+), SyncGroup
//! hands the leader's assignment back, Heartbeat and LeaveGroup succeed.
//! Requests it has no script for (OffsetFetch, ListOffsets, Fetch) are
//! recorded and never answered.
//!
//! Built on std threads and sockets, so both tokio tests and the CLI's
//! process tests (`cli/tests`, through `#[path]`) can use it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::BytesMut;
use kafkit::protocol::messages::any::{AnyRequest, AnyResponse, APIS};
use kafkit::protocol::messages::api_versions::{ApiVersion, ApiVersionsResponse};
use kafkit::protocol::messages::find_coordinator::{Coordinator, FindCoordinatorResponse};
use kafkit::protocol::messages::heartbeat::HeartbeatResponse;
use kafkit::protocol::messages::join_group::{
    JoinGroupRequest, JoinGroupResponse, JoinGroupResponseMember,
};
use kafkit::protocol::messages::leave_group::LeaveGroupResponse;
use kafkit::protocol::messages::metadata::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafkit::protocol::messages::sync_group::{SyncGroupRequest, SyncGroupResponse};
use kafkit::protocol::{try_parse_frame, ApiKey, ErrorCode};

/// The member id the broker hands out.
pub const MEMBER_ID: &str = "member-1";

/// One request the broker received: when, which API, which version.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub api: ApiKey,
    pub version: i16,
}

/// A running dropping broker; its threads end with the test process.
pub struct DroppingBroker {
    /// `127.0.0.1:port`.
    pub addr: String,
    log: Arc<Mutex<Vec<Received>>>,
}

impl DroppingBroker {
    /// Starts the broker: JoinGroup v0-9 advertised, connections dropped on
    /// JoinGroup at `drop_from` or above.
    pub fn start(drop_from: i16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = log.clone();
        std::thread::spawn(move || {
            for socket in listener.incoming().flatten() {
                let log = shared.clone();
                std::thread::spawn(move || serve(socket, port, drop_from, &log));
            }
        });
        Self {
            addr: format!("127.0.0.1:{port}"),
            log,
        }
    }

    /// Every request received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    /// When each JoinGroup arrived, with its version.
    pub fn joins(&self) -> Vec<(Instant, i16)> {
        self.received()
            .into_iter()
            .filter(|r| r.api == ApiKey::JOIN_GROUP)
            .map(|r| (r.at, r.version))
            .collect()
    }
}

fn serve(mut socket: TcpStream, port: u16, drop_from: i16, log: &Mutex<Vec<Received>>) {
    let mut buf = BytesMut::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        while let Ok(Some(frame)) = try_parse_frame(&mut buf, 1 << 20) {
            let (header, request) = AnyRequest::decode_frame(frame).expect("request decodes");
            log.lock().unwrap().push(Received {
                at: Instant::now(),
                api: header.api_key,
                version: header.api_version,
            });
            if header.api_key == ApiKey::JOIN_GROUP && header.api_version >= drop_from {
                return; // dropping the socket closes the connection
            }
            let Some(response) = answer(&request, header.api_version, port) else {
                continue;
            };
            let mut out = BytesMut::new();
            response
                .encode_frame(header.api_version, header.correlation_id, &mut out)
                .expect("response encodes");
            if socket.write_all(&out).is_err() {
                return;
            }
        }
        match socket.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn answer(request: &AnyRequest, version: i16, port: u16) -> Option<AnyResponse> {
    Some(match request {
        AnyRequest::ApiVersions(_) => AnyResponse::ApiVersions(ApiVersionsResponse {
            api_keys: APIS
                .iter()
                .map(|a| ApiVersion {
                    api_key: a.api_key.0,
                    min_version: a.request_versions.min,
                    max_version: if a.api_key == ApiKey::JOIN_GROUP {
                        9
                    } else {
                        a.request_versions.max
                    },
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        AnyRequest::Metadata(r) => AnyResponse::Metadata(metadata(r, port)),
        AnyRequest::FindCoordinator(r) => {
            let coordinators = r.coordinator_keys.iter().map(|key| Coordinator {
                key: key.clone(),
                node_id: 1,
                host: "127.0.0.1".into(),
                port: i32::from(port),
                ..Default::default()
            });
            // v4+ answers per key, earlier versions at the top level.
            let top = r.coordinator_keys.is_empty();
            AnyResponse::FindCoordinator(FindCoordinatorResponse {
                coordinators: coordinators.collect(),
                node_id: if top { 1 } else { 0 },
                host: if top {
                    "127.0.0.1".into()
                } else {
                    String::new()
                },
                port: if top { i32::from(port) } else { 0 },
                ..Default::default()
            })
        }
        AnyRequest::JoinGroup(r) => AnyResponse::JoinGroup(join(r, version)),
        AnyRequest::SyncGroup(r) => AnyResponse::SyncGroup(sync(r)),
        AnyRequest::Heartbeat(_) => AnyResponse::Heartbeat(HeartbeatResponse::default()),
        AnyRequest::LeaveGroup(_) => AnyResponse::LeaveGroup(LeaveGroupResponse::default()),
        _ => return None,
    })
}

/// A one-member group: this member leads generation 1.
fn join(r: &JoinGroupRequest, version: i16) -> JoinGroupResponse {
    if r.member_id.is_empty() && version >= 4 {
        return JoinGroupResponse {
            error_code: ErrorCode::MEMBER_ID_REQUIRED,
            generation_id: -1,
            member_id: MEMBER_ID.into(),
            ..Default::default()
        };
    }
    let protocol = r.protocols.first().expect("a protocol");
    JoinGroupResponse {
        generation_id: 1,
        protocol_type: Some(r.protocol_type.clone()),
        protocol_name: Some(protocol.name.clone()),
        leader: MEMBER_ID.into(),
        member_id: MEMBER_ID.into(),
        members: vec![JoinGroupResponseMember {
            member_id: MEMBER_ID.into(),
            metadata: protocol.metadata.clone(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn sync(r: &SyncGroupRequest) -> SyncGroupResponse {
    let mine = r.assignments.iter().find(|a| a.member_id == r.member_id);
    SyncGroupResponse {
        protocol_type: r.protocol_type.clone(),
        protocol_name: r.protocol_name.clone(),
        assignment: mine.map(|a| a.assignment.clone()).unwrap_or_default(),
        ..Default::default()
    }
}

/// This node, and every topic asked about with one partition it leads.
fn metadata(
    r: &kafkit::protocol::messages::metadata::MetadataRequest,
    port: u16,
) -> MetadataResponse {
    let names = r.topics.iter().flatten().filter_map(|t| t.name.clone());
    MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: 1,
            host: "127.0.0.1".into(),
            port: i32::from(port),
            ..Default::default()
        }],
        cluster_id: Some("dropping".into()),
        controller_id: 1,
        topics: names
            .map(|name| MetadataResponseTopic {
                name: Some(name),
                partitions: vec![MetadataResponsePartition {
                    leader_id: 1,
                    replica_nodes: vec![1],
                    isr_nodes: vec![1],
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
