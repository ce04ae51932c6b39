//! The one call path: where a request goes, at which version, how often it
//! is tried and what its failure says.
//!
//! Every request type states its route ([`Request::ROUTE`]) and the key
//! the route needs ([`Request::route_key`]); [`Client::call`] reads both,
//! finds the broker ([`Destination`]: the partition's leader, a group,
//! transaction or share coordinator found with FindCoordinator and cached,
//! the controller, any broker), negotiates the version ([`version_for`]),
//! sends, judges the response's request-level error
//! ([`Request::response_error`]) and decides ([`next_step`]) whether to
//! find the coordinator or controller again, retry after a backoff, or
//! fail, until the deadline. Failures are typed errors that name the
//! broker, the API and the version ([`crate::Error::Broker`]).
//!
//! | error | step |
//! | --- | --- |
//! | `NOT_COORDINATOR`, `COORDINATOR_NOT_AVAILABLE`, `COORDINATOR_LOAD_IN_PROGRESS` (coordinator routes) | forget the coordinator, find it again |
//! | `NOT_CONTROLLER` (controller route) | refresh the metadata, ask its controller |
//! | stale-metadata codes (leader route) | refresh the metadata, ask the new leader |
//! | broken connection to a coordinator | forget the coordinator, find it again |
//! | anything else [`crate::Error::is_retriable`] | retry at the same destination |
//! | the rest | fail |
//!
//! Spec: KIP-4 (controller routing), FindCoordinator (key 10) v0-v6 with
//! KIP-699's batched lookups (v4+), KIP-98 (transaction coordinators),
//! KIP-932 (share coordinators).

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, debug_span, Instrument};

use super::Client;
use crate::connection::BrokerConnection;
use crate::error::{BrokerRef, Error, Result};
use crate::protocol::messages::find_coordinator::{
    FindCoordinatorRequest, KeyCoordinator, KEY_TYPE_GROUP, KEY_TYPE_SHARE, KEY_TYPE_TRANSACTION,
};
use crate::protocol::{ApiKey, ErrorCode, Request, Route, RouteKey, VersionRange};

/// The kinds of coordinator FindCoordinator looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoordinatorKind {
    /// A consumer group's coordinator (key type 0).
    Group,
    /// A transactional id's coordinator (key type 1).
    Transaction,
    /// A share group's share-state coordinator (key type 2, KIP-932).
    Share,
}

impl CoordinatorKind {
    /// FindCoordinator's `key_type` for this kind.
    pub fn key_type(self) -> i8 {
        match self {
            CoordinatorKind::Group => KEY_TYPE_GROUP,
            CoordinatorKind::Transaction => KEY_TYPE_TRANSACTION,
            CoordinatorKind::Share => KEY_TYPE_SHARE,
        }
    }

    /// The kind FindCoordinator's `key_type` names (`None` for an unknown one).
    pub fn from_key_type(key_type: i8) -> Option<Self> {
        match key_type {
            KEY_TYPE_GROUP => Some(CoordinatorKind::Group),
            KEY_TYPE_TRANSACTION => Some(CoordinatorKind::Transaction),
            KEY_TYPE_SHARE => Some(CoordinatorKind::Share),
            _ => None,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            CoordinatorKind::Group => "group",
            CoordinatorKind::Transaction => "transactional id",
            CoordinatorKind::Share => "share group",
        }
    }
}

/// Where one call goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Any live broker.
    AnyBroker,
    /// One broker by node id (a caller that grouped items by broker).
    Broker(i32),
    /// The leader of a partition, per the metadata.
    Leader {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
    },
    /// The coordinator of `key`.
    Coordinator {
        /// What `key` is.
        kind: CoordinatorKind,
        /// Group id or transactional id.
        key: String,
    },
    /// The active controller, per the metadata.
    Controller,
}

impl Destination {
    /// Where `req` goes: its type's [`Request::ROUTE`] resolved with its
    /// [`Request::route_key`]. A coordinator or leader route without a key
    /// (a request naming several groups) cannot be resolved here: the
    /// caller names the destination ([`Client::call_to`]).
    pub fn of<R: Request>(req: &R) -> Result<Self> {
        let coordinator = |kind, key: &str| Destination::Coordinator {
            kind,
            key: key.to_owned(),
        };
        Ok(match (R::ROUTE, req.route_key()) {
            (Route::AnyBroker | Route::SameConnection, _) => Destination::AnyBroker,
            (Route::Controller, _) => Destination::Controller,
            (Route::GroupCoordinator, RouteKey::Coordinator(k)) => {
                coordinator(CoordinatorKind::Group, k)
            }
            (Route::TransactionCoordinator, RouteKey::Coordinator(k)) => {
                coordinator(CoordinatorKind::Transaction, k)
            }
            // InitProducerId without a transactional id: any broker.
            (Route::TransactionCoordinator, RouteKey::None) => Destination::AnyBroker,
            (Route::ShareCoordinator, RouteKey::Coordinator(k)) => {
                coordinator(CoordinatorKind::Share, k)
            }
            (Route::PartitionLeader, RouteKey::Partition(topic, partition)) => {
                Destination::Leader {
                    topic: topic.to_owned(),
                    partition,
                }
            }
            (route, _) => {
                return Err(Error::InvalidState {
                    operation: "Client::call",
                    reason: format!(
                        "{} is routed to {route:?} but names no single key; name the destination",
                        R::API_KEY
                    ),
                })
            }
        })
    }
}

/// A response and where it came from.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    /// The decoded response.
    pub body: T,
    /// The broker that answered.
    pub broker: BrokerRef,
    /// The version the exchange used.
    pub version: i16,
}

/// What to do after a failed attempt (see the module's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Find the destination again (coordinator lookup or metadata refresh), then retry.
    Rediscover,
    /// Retry at the same destination after the backoff.
    Retry,
    /// Give up: the error is final.
    Fail,
}

/// The one retry table of the call path: what a failure at `to` asks for.
pub fn next_step(to: &Destination, error: &Error) -> Step {
    let code = error.code();
    let moved = match (to, code) {
        (Destination::Coordinator { .. }, Some(c)) => {
            c.is_coordinator_moved() || c == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
        }
        (Destination::Coordinator { .. }, None) => {
            matches!(error, Error::Disconnected { .. } | Error::Io { .. })
        }
        (Destination::Controller, Some(c)) => c == ErrorCode::NOT_CONTROLLER,
        (Destination::Leader { .. } | Destination::Broker(_), Some(c)) => {
            c.needs_metadata_refresh()
        }
        _ => false,
    };
    if moved {
        Step::Rediscover
    } else if error.is_retriable() {
        Step::Retry
    } else {
        Step::Fail
    }
}

/// The version of `R` to send on `conn`: the highest both sides support,
/// at most `cap` when given (a member that saw a broker drop a higher one)
/// if the broker has one at or below it (else its lowest: the cap is a
/// hint, not a refusal). The one place versions are negotiated.
pub fn version_for<R: Request>(conn: &BrokerConnection, cap: Option<i16>) -> Result<i16> {
    let negotiated = conn.version_for::<R>()?;
    let Some(cap) = cap.filter(|cap| *cap < negotiated) else {
        return Ok(negotiated);
    };
    let theirs = conn.broker_versions(R::API_KEY).unwrap_or(R::VERSIONS);
    let allowed = VersionRange::new(theirs.min, theirs.max.min(cap));
    Ok(R::VERSIONS
        .highest_common(&allowed)
        .unwrap_or(R::VERSIONS.min.max(theirs.min)))
}

/// The highest version of `R` in `allowed` that kafkit and the broker on
/// `conn` both support, `None` when there is none: for a state machine
/// that needs an exact range (a v2 transaction's EndTxn v5), where
/// [`version_for`]'s cap is only a hint.
pub fn version_within<R: Request>(conn: &BrokerConnection, allowed: VersionRange) -> Option<i16> {
    let theirs = conn.broker_versions(R::API_KEY)?;
    let ours = R::VERSIONS.highest_common(&allowed)?;
    let both = VersionRange::new(allowed.min.max(R::VERSIONS.min), ours);
    both.highest_common(&theirs)
}

/// One exchange on `conn` at `version`, waiting up to `timeout`. No retry,
/// and the response is returned whatever its error codes say (a state
/// machine judges them); [`Client::call_to`] judges them with [`judge`].
pub async fn exchange<R: Request>(
    conn: &BrokerConnection,
    request: &R,
    version: i16,
    timeout: Duration,
) -> Result<Answer<R::Response>> {
    let body = conn.send_at_within(request, version, timeout).await?;
    Ok(Answer {
        body,
        broker: conn.broker_ref(),
        version,
    })
}

/// The response's request-level error ([`Request::response_error`]) as
/// [`Error::Broker`] naming the broker, API and version.
pub fn judge<R: Request>(answer: Answer<R::Response>) -> Result<Answer<R::Response>> {
    let code = R::response_error(&answer.body);
    if code.is_ok() {
        Ok(answer)
    } else {
        Err(Error::broker(code, R::API_KEY, "").answered_by(&answer.broker, answer.version))
    }
}

impl Client {
    /// Sends `req` where its type routes it (see the module doc), at the
    /// negotiated version, retrying by [`next_step`] until `deadline`.
    pub async fn call<R: Request + Clone>(
        &self,
        req: &R,
        deadline: Instant,
    ) -> Result<R::Response> {
        let to = Destination::of(req)?;
        Ok(self
            .call_to(&to, |_, _| Ok(req.clone()), deadline)
            .await?
            .body)
    }

    /// Like [`Client::call`] to an explicit destination, with the request
    /// built once the version is known (`build` gets the version and the
    /// broker, and refuses a version that cannot carry the call, which
    /// fails it at once).
    pub async fn call_to<R, B>(
        &self,
        to: &Destination,
        build: B,
        deadline: Instant,
    ) -> Result<Answer<R::Response>>
    where
        R: Request,
        B: Fn(i16, &BrokerRef) -> Result<R>,
    {
        let span = debug_span!("call", api = %R::API_KEY, destination = ?to);
        async {
            let mut backoff = Backoff::new(deadline);
            loop {
                let error = match self.call_once(to, &build, deadline).await {
                    Ok(answer) => return Ok(answer),
                    Err(e) => e,
                };
                let step = next_step(to, &error);
                if step == Step::Fail || !backoff.wait().await {
                    return Err(error);
                }
                debug!(%error, ?step, "retrying");
                if step == Step::Rediscover {
                    self.rediscover(to).await;
                }
            }
        }
        .instrument(span)
        .await
    }

    /// One attempt of [`Client::call_to`]: no retry, the request timeout
    /// bounded by `deadline`. For callers that regroup what failed before
    /// trying again (per-partition requests), with [`next_step`] as their
    /// retry table.
    pub async fn call_once<R, B>(
        &self,
        to: &Destination,
        build: &B,
        deadline: Instant,
    ) -> Result<Answer<R::Response>>
    where
        R: Request,
        B: Fn(i16, &BrokerRef) -> Result<R>,
    {
        let conn = self.connection_to(to, deadline).await?;
        let version = version_for::<R>(&conn, None)?;
        let request = build(version, &conn.broker_ref())?;
        judge::<R>(exchange(&conn, &request, version, self.timeout_until(deadline)).await?)
    }

    /// The request timeout, shortened to what is left before `deadline`.
    fn timeout_until(&self, deadline: Instant) -> Duration {
        let left = deadline.saturating_duration_since(Instant::now());
        self.config()
            .request_timeout
            .min(left.max(Duration::from_millis(1)))
    }

    /// A connection to `to` as the metadata and the coordinator cache know it.
    pub async fn connection_to(
        &self,
        to: &Destination,
        deadline: Instant,
    ) -> Result<BrokerConnection> {
        match to {
            Destination::AnyBroker => self.pool().any().await,
            Destination::Broker(id) => self.broker(*id).await,
            Destination::Leader { topic, partition } => self.leader(topic, *partition).await,
            Destination::Controller => {
                let metadata = self.metadata();
                // None before Metadata v1; the librdkafka mock names 0, not a broker.
                match metadata.controller_id {
                    Some(id) if metadata.brokers.contains_key(&id) => self.broker(id).await,
                    _ => self.pool().any().await,
                }
            }
            Destination::Coordinator { kind, key } => self.coordinator(*kind, key, deadline).await,
        }
    }

    /// A connection to the coordinator of `key`: cached, else found with
    /// [`Client::find_coordinator`] (one request, not retried here).
    pub async fn coordinator(
        &self,
        kind: CoordinatorKind,
        key: &str,
        deadline: Instant,
    ) -> Result<BrokerConnection> {
        let cache_key = (kind.key_type(), key.to_owned());
        if let Some(conn) = self
            .coordinators()
            .get(&cache_key)
            .filter(|c| !c.is_closed())
        {
            return Ok(conn.clone());
        }
        let found = self.find_coordinator(kind, key, deadline).await?;
        let c = &found.body;
        if !c.error_code.is_ok() {
            let message = c.error_message.as_deref().filter(|m| !m.is_empty());
            let context = match message {
                Some(m) => format!(" for {} {key}: {m}", kind.noun()),
                None => format!(" for {} {key}", kind.noun()),
            };
            return Err(
                Error::broker(c.error_code, ApiKey::FIND_COORDINATOR, context)
                    .answered_by(&found.broker, found.version),
            );
        }
        let addr = format!("{}:{}", c.host, c.port);
        let conn = if self.pool().broker_addr(c.node_id).as_deref() == Some(addr.as_str()) {
            self.broker(c.node_id).await?
        } else {
            BrokerConnection::connect(&addr, Some(c.node_id), self.config()).await?
        };
        self.coordinators().insert(cache_key, conn.clone());
        Ok(conn)
    }

    /// FindCoordinator for `key` at any broker, at the negotiated version,
    /// read by the one normaliser of its two shapes
    /// ([`FindCoordinatorResponse::coordinator_for`](crate::protocol::messages::find_coordinator::FindCoordinatorResponse::coordinator_for)):
    /// the entry whatever its error code, for a state machine that judges
    /// it (the group members), or for [`Client::coordinator`]. One
    /// request, not retried, nothing cached.
    pub async fn find_coordinator(
        &self,
        kind: CoordinatorKind,
        key: &str,
        deadline: Instant,
    ) -> Result<Answer<KeyCoordinator>> {
        let any = self.pool().any().await?;
        let version = version_for::<FindCoordinatorRequest>(&any, None)?;
        let request = FindCoordinatorRequest::for_key(kind.key_type(), key, version);
        let found = exchange(&any, &request, version, self.timeout_until(deadline)).await?;
        Ok(Answer {
            body: found.body.coordinator_for(key),
            broker: found.broker,
            version: found.version,
        })
    }

    /// Forgets the cached coordinator of `key` (it moved or its connection broke).
    pub fn forget_coordinator(&self, kind: CoordinatorKind, key: &str) {
        self.coordinators()
            .remove(&(kind.key_type(), key.to_owned()));
    }

    /// Finds `to` again before the next attempt.
    async fn rediscover(&self, to: &Destination) {
        match to {
            Destination::Coordinator { kind, key } => self.forget_coordinator(*kind, key),
            Destination::Controller | Destination::Leader { .. } | Destination::Broker(_) => {
                if let Err(e) = self.refresh_metadata().await {
                    debug!(error = %e, "metadata refresh before a retry failed");
                }
            }
            Destination::AnyBroker => {}
        }
    }

    fn coordinators(&self) -> std::sync::MutexGuard<'_, HashMap<(i8, String), BrokerConnection>> {
        self.coordinator_cache()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

/// Retry pacing for one operation: doubling pauses from 50 ms up to 1 s,
/// bounded by its deadline.
#[derive(Debug)]
pub(crate) struct Backoff {
    deadline: Instant,
    pub(crate) delay: Duration,
}

impl Backoff {
    pub(crate) fn new(deadline: Instant) -> Self {
        Self {
            deadline,
            delay: Duration::from_millis(50),
        }
    }

    /// Waits before the next attempt; `false` when the deadline leaves no room for one.
    pub(crate) async fn wait(&mut self) -> bool {
        if Instant::now() + self.delay >= self.deadline {
            return false;
        }
        tokio::time::sleep(self.delay).await;
        self.delay = (self.delay * 2).min(Duration::from_secs(1));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::messages::describe_groups::DescribeGroupsRequest;
    use crate::protocol::messages::init_producer_id::InitProducerIdRequest;
    use crate::protocol::messages::list_offsets::{
        ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
    };
    use crate::protocol::messages::metadata::MetadataRequest;
    use crate::protocol::messages::offset_commit::OffsetCommitRequest;

    fn broker_error(code: ErrorCode) -> Error {
        Error::broker(code, ApiKey::DESCRIBE_GROUPS, "")
    }

    #[test]
    fn requests_state_their_destination() {
        let commit = OffsetCommitRequest {
            group_id: "g".into(),
            ..Default::default()
        };
        assert_eq!(
            Destination::of(&commit).unwrap(),
            Destination::Coordinator {
                kind: CoordinatorKind::Group,
                key: "g".into()
            }
        );
        assert_eq!(
            Destination::of(&MetadataRequest::default()).unwrap(),
            Destination::AnyBroker
        );
        let plain = InitProducerIdRequest::default();
        assert_eq!(Destination::of(&plain).unwrap(), Destination::AnyBroker);
        let txn = InitProducerIdRequest {
            transactional_id: Some("t".into()),
            ..Default::default()
        };
        assert!(matches!(
            Destination::of(&txn).unwrap(),
            Destination::Coordinator {
                kind: CoordinatorKind::Transaction,
                ..
            }
        ));
        let list = ListOffsetsRequest {
            topics: vec![ListOffsetsTopic {
                name: "t".into(),
                partitions: vec![ListOffsetsPartition {
                    partition_index: 3,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            Destination::of(&list).unwrap(),
            Destination::Leader {
                topic: "t".into(),
                partition: 3
            }
        );
        let two = DescribeGroupsRequest {
            groups: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        assert!(matches!(
            Destination::of(&two),
            Err(Error::InvalidState { .. })
        ));
    }

    #[test]
    fn one_table_decides_the_next_step() {
        let group = Destination::Coordinator {
            kind: CoordinatorKind::Group,
            key: "g".into(),
        };
        for code in [
            ErrorCode::NOT_COORDINATOR,
            ErrorCode::COORDINATOR_NOT_AVAILABLE,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        ] {
            assert_eq!(
                next_step(&group, &broker_error(code)),
                Step::Rediscover,
                "{code}"
            );
        }
        let dropped = Error::Disconnected {
            broker: "b:9092".into(),
        };
        assert_eq!(next_step(&group, &dropped), Step::Rediscover);
        assert_eq!(next_step(&Destination::AnyBroker, &dropped), Step::Retry);
        let not_controller = broker_error(ErrorCode::NOT_CONTROLLER);
        assert_eq!(
            next_step(&Destination::Controller, &not_controller),
            Step::Rediscover
        );
        assert_eq!(next_step(&group, &not_controller), Step::Retry);
        let leader = Destination::Leader {
            topic: "t".into(),
            partition: 0,
        };
        let stale = broker_error(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        assert_eq!(next_step(&leader, &stale), Step::Rediscover);
        let refused = broker_error(ErrorCode::GROUP_AUTHORIZATION_FAILED);
        assert_eq!(next_step(&group, &refused), Step::Fail);
        assert_eq!(next_step(&leader, &Error::Closed), Step::Fail);
    }

    #[tokio::test]
    async fn backoff_doubles_and_stops_at_the_deadline() {
        let start = Instant::now();
        let mut b = Backoff::new(start + Duration::from_millis(400));
        let mut waits = 0u32;
        while b.wait().await {
            waits += 1;
        }
        // 50 + 100 + 200 ms fit before the deadline, 400 more would not
        // (fewer waits fit when the machine oversleeps).
        assert!((1..=3).contains(&waits), "{waits}");
        assert_eq!(b.delay, Duration::from_millis(50 << waits));
        let slept: u64 = (0..waits).map(|i| 50 << i).sum();
        assert!(Instant::now() - start >= Duration::from_millis(slept));
    }
}
