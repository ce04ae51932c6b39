//! The exchanges of the KIP-848 group driver (`group848.rs`): each runs in
//! its own task and reports back on the driver's channel. Group traffic goes
//! on a dedicated coordinator connection, so it never waits behind fetches.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::debug;

use super::events::ConsumerEvent;
use crate::cluster::{route, Client, CoordinatorKind};
use crate::connection::BrokerConnection;
use crate::error::{Error, Result};
use crate::group::consumer_member::{ConsumerMemberRequest, ConsumerMemberResponse};
use crate::group::{Coordinator, RequestId};
use crate::protocol::messages::metadata::{MetadataRequest, MetadataRequestTopic};
use crate::protocol::messages::offset_commit::{OffsetCommitRequest, OffsetCommitResponse};
use crate::protocol::messages::offset_fetch::{OffsetFetchRequest, OffsetFetchResponse};
use crate::protocol::Request;

use super::group848_offsets::MEMBER_EPOCH_VERSION;

/// Completions of the driver's background work.
pub(super) enum Done {
    /// The answer to one of the member's requests.
    Member(RequestId, Result<ConsumerMemberResponse>),
    /// A new coordinator connection, to reuse for later group requests.
    Coordinator(i32, BrokerConnection),
    /// An OffsetCommit's answer (and the broker it came from).
    Commit(u64, String, Result<OffsetCommitResponse>),
    /// An OffsetFetch's answer (and the broker it came from).
    Fetch(u64, String, Result<OffsetFetchResponse>),
}

/// How to reach the coordinator: the cached connection, or its address.
#[derive(Clone)]
pub(super) struct Route {
    pub client: Client,
    pub cached: Option<BrokerConnection>,
    pub done: mpsc::UnboundedSender<Done>,
    pub events: mpsc::UnboundedSender<ConsumerEvent>,
}

impl Route {
    /// The connection to `c`: the cached one, or a new one (reported back).
    async fn coordinator(&self, c: &Coordinator) -> Result<BrokerConnection> {
        if let Some(conn) = &self.cached {
            return Ok(conn.clone());
        }
        let addr = c.addr();
        let conn = BrokerConnection::connect(&addr, Some(c.node_id), self.client.config()).await?;
        let _ = self.done.send(Done::Coordinator(c.node_id, conn.clone()));
        let _ = self.events.send(ConsumerEvent::Connected { broker: addr });
        Ok(conn)
    }

    /// Runs one of the member's requests.
    pub async fn member(
        &self,
        target: Option<Coordinator>,
        request: ConsumerMemberRequest,
        timeout: Duration,
    ) -> Result<ConsumerMemberResponse> {
        match request {
            ConsumerMemberRequest::FindCoordinator { key } => self.find(key, timeout).await,
            ConsumerMemberRequest::Heartbeat(req) => {
                let Some(c) = target else {
                    return Err(no_coordinator());
                };
                let conn = self.coordinator(&c).await?;
                let r = send(&conn, &req, 0, timeout).await?;
                Ok(ConsumerMemberResponse::Heartbeat(r))
            }
            ConsumerMemberRequest::TopicNames { topic_ids } => {
                let req = MetadataRequest {
                    topics: Some(
                        topic_ids
                            .into_iter()
                            .map(|topic_id| MetadataRequestTopic {
                                topic_id,
                                name: None,
                                ..MetadataRequestTopic::default()
                            })
                            .collect(),
                    ),
                    allow_auto_topic_creation: false,
                    ..MetadataRequest::default()
                };
                let conn = self.client.pool().any().await?;
                let resp = send(&conn, &req, 12, timeout).await?;
                let names: BTreeMap<_, _> = resp
                    .topics
                    .iter()
                    .filter(|t| t.error_code.is_ok() && !t.topic_id.is_zero())
                    .filter_map(|t| t.name.clone().map(|n| (t.topic_id, n)))
                    .collect();
                // The fetcher finds the leaders of these topics.
                self.client.track_topics(names.values().cloned());
                if let Err(e) = self.client.refresh_metadata().await {
                    debug!(error = %e, "metadata refresh after an assignment failed");
                }
                Ok(ConsumerMemberResponse::TopicNames(names))
            }
            other => Err(Error::InvalidState {
                operation: "group request",
                reason: format!("{other:?} has no exchange in this driver"),
            }),
        }
    }

    /// FindCoordinator through the client's call path (its one
    /// normaliser); the member judges the answer.
    async fn find(&self, key: String, timeout: Duration) -> Result<ConsumerMemberResponse> {
        let deadline = tokio::time::Instant::now() + timeout;
        let found = self
            .client
            .find_coordinator(CoordinatorKind::Group, &key, deadline)
            .await?
            .body;
        let ok = found.error_code.is_ok();
        Ok(ConsumerMemberResponse::FindCoordinator {
            error_code: found.error_code,
            coordinator: ok.then_some(Coordinator {
                node_id: found.node_id,
                host: found.host,
                port: found.port,
            }),
        })
    }

    /// Sends an OffsetCommit (v9+) to `c`; returns the broker's address too.
    pub async fn commit(
        &self,
        c: Coordinator,
        req: OffsetCommitRequest,
        timeout: Duration,
    ) -> (String, Result<OffsetCommitResponse>) {
        match self.coordinator(&c).await {
            Ok(conn) => (
                conn.addr().to_owned(),
                send(&conn, &req, MEMBER_EPOCH_VERSION, timeout).await,
            ),
            Err(e) => (c.addr(), Err(e)),
        }
    }

    /// Sends an OffsetFetch (v9+) to `c`; returns the broker's address too.
    pub async fn fetch(
        &self,
        c: Coordinator,
        req: OffsetFetchRequest,
        timeout: Duration,
    ) -> (String, Result<OffsetFetchResponse>) {
        match self.coordinator(&c).await {
            Ok(conn) => (
                conn.addr().to_owned(),
                send(&conn, &req, MEMBER_EPOCH_VERSION, timeout).await,
            ),
            Err(e) => (c.addr(), Err(e)),
        }
    }
}

/// Sends `req` at the highest common version, refusing one below `min`
/// (the first version that carries what the member needs).
async fn send<R: Request>(
    conn: &BrokerConnection,
    req: &R,
    min: i16,
    timeout: Duration,
) -> Result<R::Response> {
    let version = route::version_for::<R>(conn, None)?;
    if version < min {
        return Err(Error::UnsupportedVersion {
            broker: conn.addr().to_owned(),
            api: R::API_KEY,
            version,
            what: format!("the consumer group protocol (KIP-848 needs v{min}+)"),
        });
    }
    match tokio::time::timeout(timeout, route::exchange(conn, req, version, timeout)).await {
        Ok(r) => r.map(|answer| answer.body),
        Err(_) => Err(Error::Timeout {
            broker: conn.addr().to_owned(),
            api: R::API_KEY,
            timeout,
        }),
    }
}

fn no_coordinator() -> Error {
    Error::InvalidState {
        operation: "consumer group heartbeat",
        reason: "no coordinator known".to_owned(),
    }
}
