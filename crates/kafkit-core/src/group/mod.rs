//! Consumer-group membership without I/O: the classic group protocol's
//! member state machine ([`GroupMember`]) and the partition assignors.
//!
//! Nothing here opens a socket, spawns a task or reads a clock. The driver
//! (the consumer's background task) owns the connections and the timer and
//! pumps the machine:
//!
//! - inputs: [`GroupMember::handle_response`] / [`GroupMember::handle_error`]
//!   for every [`Outbound`] it sent (exactly one of the two per request),
//!   [`GroupMember::handle_timeout`] when [`GroupMember::poll_timeout`]
//!   passes, and the application's calls: [`GroupMember::poll`] (progress,
//!   for `max_poll_interval`), [`GroupMember::commit`],
//!   [`GroupMember::fetch_committed`], [`GroupMember::set_metadata`],
//!   [`GroupMember::subscribe`], [`GroupMember::close`];
//! - outputs: [`GroupMember::poll_request`] (what to send, to the
//!   coordinator or any broker, with a timeout), [`GroupMember::poll_timeout`]
//!   and [`GroupMember::poll_event`] ([`GroupEvent`]: assigned, revoked,
//!   lost, commit needed, ...).
//!
//! The driver picks each request's version: [`GroupCall::to_request`]
//! builds the wire struct for it (FindCoordinator, LeaveGroup and
//! OffsetFetch change shape across versions).
//!
//! # A driver loop
//!
//! ```text
//! use kafkit::group::{GroupCall, GroupEvent, GroupMember, GroupRequest, GroupResponse, Target};
//!
//! // `timeout` is the member's deadline for the request: a JoinGroup may be
//! // held by the coordinator up to the rebalance timeout.
//! async fn exchange<C: GroupCall>(conn: &BrokerConnection, call: &C, timeout: Duration) -> kafkit::Result<GroupResponse> {
//!     let version = conn.version_for::<C::Request>()?;
//!     let request = call.to_request(version)?;
//!     Ok(C::into_response(conn.send_at_within(&request, version, timeout).await?))
//! }
//!
//! loop {
//!     while let Some(out) = member.poll_request() {
//!         // Spawn each exchange; completions come back on `done_tx`.
//!         let conn = match &out.target {
//!             Target::AnyBroker => client.pool().any().await,
//!             Target::Coordinator(c) => client.broker(c.node_id).await,
//!         };
//!         let done = done_tx.clone();
//!         tokio::spawn(async move {
//!             let result = match conn {
//!                 Err(e) => Err(e),
//!                 Ok(conn) => tokio::time::timeout(out.timeout, async {
//!                     match &out.request {
//!                         GroupRequest::FindCoordinator(c) => exchange(&conn, c, out.timeout).await,
//!                         GroupRequest::JoinGroup(c) => exchange(&conn, c, out.timeout).await,
//!                         GroupRequest::SyncGroup(c) => exchange(&conn, c, out.timeout).await,
//!                         GroupRequest::Heartbeat(c) => exchange(&conn, c, out.timeout).await,
//!                         GroupRequest::LeaveGroup(c) => exchange(&conn, c, out.timeout).await,
//!                         GroupRequest::OffsetCommit(c) => exchange(&conn, c, out.timeout).await,
//!                         GroupRequest::OffsetFetch(c) => exchange(&conn, c, out.timeout).await,
//!                         _ => Err(kafkit::Error::Config("unknown group request".into())),
//!                     }
//!                 })
//!                 .await
//!                 .unwrap_or_else(|_| Err(timeout_error(&out))),
//!             };
//!             let _ = done.send((out.id, result));
//!         });
//!     }
//!     while let Some(event) = member.poll_event() {
//!         match event {
//!             GroupEvent::MetadataNeeded { topics } => { /* refresh, then member.set_metadata(..) */ }
//!             GroupEvent::CommitNeeded { partitions, .. } => {
//!                 // Stop fetching them, then commit what was processed.
//!                 member.commit(processed_offsets(&partitions), Instant::now())?;
//!             }
//!             GroupEvent::Assigned { partitions, .. } => { /* fetch_committed, start fetching */ }
//!             GroupEvent::Revoked { partitions } | GroupEvent::Lost { partitions, .. } => {
//!                 /* stop fetching, drop buffered records */
//!             }
//!             GroupEvent::Closed => return Ok(()),
//!             other => forward_to_application(other),
//!         }
//!     }
//!     let deadline = member.poll_timeout().map(tokio::time::Instant::from_std);
//!     tokio::select! {
//!         Some((id, result)) = done_rx.recv() => {
//!             let now = Instant::now();
//!             match result {
//!                 Ok(response) => member.handle_response(id, response, now)?,
//!                 Err(error) => member.handle_error(id, &error, now)?,
//!             }
//!         }
//!         Some(cmd) = app_rx.recv() => apply(cmd, &mut member), // poll / commit / close
//!         _ = sleep_until_opt(deadline) => member.handle_timeout(Instant::now()),
//!     }
//! }
//! ```
//!
//! Spec: the classic consumer group protocol (JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, FindCoordinator),
//! KIP-62 (rebalance timeout, `max.poll.interval.ms`), KIP-345 (static
//! membership), KIP-394 (`MEMBER_ID_REQUIRED`), KIP-429 (cooperative
//! rebalancing), KIP-800 (join/leave reasons).

pub mod assignor;
mod config;
pub mod consumer_member;
mod error;
mod event;
mod member;
mod request_id;
mod wire;

pub use crate::common::TopicPartition;
pub use assignor::{
    Assignor, CooperativeStickyAssignor, GroupAssignment, KafkajsRoundRobinAssignor,
    MemberSubscription, PartitionCounts, RangeAssignor, RoundRobinAssignor,
};
pub use config::GroupConfig;
pub use error::{DroppedRequest, GroupError, RequestFailure};
pub use event::{
    CommitId, GroupEvent, LostReason, OffsetAndMetadata, OffsetError, OffsetFetchId, Offsets,
    RejoinReason,
};
pub use member::{GroupMember, MemberState};
pub use wire::{
    Coordinator, FindCoordinatorCall, GroupCall, GroupRequest, GroupResponse, LeaveGroupCall,
    OffsetFetchCall, Outbound, RequestId, Target,
};
