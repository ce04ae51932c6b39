//! The transactional producer's shell: drives the sans-IO
//! [`TransactionManager`](crate::producer::transaction::TransactionManager)
//! of `kafkit-core` over the client's connections.
//!
//! The machine is kept under an async mutex; every transactional call
//! (`init_transactions`, the first `send` to a partition in a v1
//! transaction, `send_offsets_to_transaction`, `commit_transaction`,
//! `abort_transaction`) takes it and pumps the machine until the call's
//! goal is reached: it sends each request the machine asks for to the
//! broker it names, at the highest version in both the machine's range and
//! the broker's, and hands the answer back. Retriable answers
//! (`CONCURRENT_TRANSACTIONS`, a coordinator loading or moved) are retried
//! by the machine after its backoff; the call gives up with
//! [`TransactionErrorKind::TimedOut`] at the producer's transaction timeout.
//! No task runs in the background for transactions.
//!
//! Spec: KIP-98, KIP-360, KIP-447, KIP-890.

mod api;
mod error;

use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

pub use error::{TransactionError, TransactionErrorKind};

use crate::cluster::{route, Client, CoordinatorKind};
use crate::connection::BrokerConnection;
use crate::error::Error;
use crate::producer::transaction::{
    Destination, Outgoing, TransactionManager, TxnEvent, TxnRequest, TxnResponse,
};
use crate::protocol::messages::add_offsets_to_txn::AddOffsetsToTxnRequest;
use crate::protocol::messages::add_partitions_to_txn::AddPartitionsToTxnRequest;
use crate::protocol::messages::end_txn::EndTxnRequest;
use crate::protocol::messages::init_producer_id::InitProducerIdRequest;
use crate::protocol::messages::txn_offset_commit::TxnOffsetCommitRequest;
use crate::protocol::{ApiKey, Request, VersionRange};

/// Which transaction protocol a transaction used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransactionProtocol {
    /// KIP-98: AddPartitionsToTxn before the first write to a partition,
    /// AddOffsetsToTxn before TxnOffsetCommit; the epoch stays across
    /// transactions.
    V1,
    /// KIP-890 (`transaction.version` >= 2): Produce v12 adds the partition,
    /// TxnOffsetCommit and EndTxn v5; EndTxn bumps the epoch.
    V2,
}

/// The machine and what the shell remembers about its exchanges.
#[derive(Debug)]
pub(crate) struct Driver {
    pub tm: TransactionManager,
    /// Broker, API and version of the last request sent (for errors).
    exchange: Option<(String, ApiKey, i16)>,
    /// `OffsetsSent` events seen so far.
    pub offsets_sent: u64,
}

/// The transactional half of a producer.
#[derive(Debug)]
pub(crate) struct Transactions {
    pub id: String,
    /// Upper bound on each blocking transactional call.
    pub timeout: Duration,
    pub driver: tokio::sync::Mutex<Driver>,
}

impl Transactions {
    pub fn new(tm: TransactionManager, id: String, timeout: Duration) -> Self {
        Self {
            id,
            timeout,
            driver: tokio::sync::Mutex::new(Driver {
                tm,
                exchange: None,
                offsets_sent: 0,
            }),
        }
    }

    pub fn error(&self, kind: TransactionErrorKind, reason: impl Into<String>) -> Error {
        Error::Transaction(TransactionError::new(kind, &self.id, reason))
    }
}

impl Driver {
    /// The machine's error as the producer's error.
    pub fn machine_error(&self, id: &str, e: &crate::producer::transaction::TxnError) -> Error {
        Error::Transaction(TransactionError::from_machine(
            id,
            e,
            self.exchange.as_ref(),
        ))
    }

    /// Pumps the machine until `done` holds, a `Failed` event arrives (its
    /// error is returned), or `deadline` passes.
    pub async fn run(
        &mut self,
        client: &Client,
        id: &str,
        deadline: Instant,
        done: impl Fn(&Driver) -> bool,
    ) -> Result<(), Error> {
        loop {
            while let Some(event) = self.tm.poll_event() {
                debug!(transactional_id = id, ?event, state = ?self.tm.state(), "transaction event");
                match event {
                    TxnEvent::Failed(e) => {
                        let err = self.machine_error(id, &e);
                        warn!(transactional_id = id, error = %err, "transaction failed");
                        return Err(err);
                    }
                    TxnEvent::OffsetsSent => self.offsets_sent += 1,
                    _ => {}
                }
            }
            if done(self) {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                let mut e = TransactionError::new(
                    TransactionErrorKind::TimedOut,
                    id,
                    format!(
                        "not done within the transaction timeout (state {:?})",
                        self.tm.state()
                    ),
                );
                if let Some((broker, api, version)) = &self.exchange {
                    e.broker = Some(broker.clone());
                    e.api = Some(*api);
                    e.version = Some(*version);
                }
                return Err(Error::Transaction(e));
            }
            match self.tm.poll_request(now) {
                Some(out) => self.exchange(client, id, out).await?,
                None => {
                    let wake = self
                        .tm
                        .next_deadline()
                        .unwrap_or(now + Duration::from_millis(20));
                    let until = wake.min(deadline).max(now + Duration::from_millis(1));
                    tokio::time::sleep_until(until.into()).await;
                }
            }
        }
    }

    /// Sends one request through the client's call path (the coordinator
    /// cache, found again when the machine says it moved) and hands the
    /// answer, a failed lookup or a lost exchange to the machine, which
    /// decides what happens next.
    async fn exchange(&mut self, client: &Client, id: &str, out: Outgoing) -> Result<(), Error> {
        let api = out.request.api_key();
        let to = match &out.destination {
            Destination::TransactionCoordinator(key) => (CoordinatorKind::Transaction, key),
            Destination::GroupCoordinator(key) => (CoordinatorKind::Group, key),
        };
        if out.rediscover {
            client.forget_coordinator(to.0, to.1);
        }
        let to = route::Destination::Coordinator {
            kind: to.0,
            key: to.1.clone(),
        };
        let deadline = tokio::time::Instant::now() + client.config().request_timeout;
        let conn = match client.connection_to(&to, deadline).await {
            Ok(c) => c,
            Err(e) => {
                debug!(transactional_id = id, %api, error = %e, "no coordinator; retrying");
                match e {
                    // The lookup answered: the machine classifies its code.
                    Error::Broker {
                        api: ApiKey::FIND_COORDINATOR,
                        code,
                        ..
                    } => self.tm.on_coordinator_error(code, Instant::now()),
                    _ => self.tm.on_request_failed(Instant::now()),
                }
                return Ok(());
            }
        };
        let Some(version) = pick_version(&conn, api, out.versions) else {
            return Err(self.unsupported(&conn, id, api, out.versions));
        };
        self.exchange = Some((conn.addr().to_owned(), api, version));
        debug!(transactional_id = id, broker = %conn.addr(), %api, version, "transaction request");
        match send(&conn, out.request, version, client.config().request_timeout).await {
            Ok(answer) => self
                .tm
                .on_response(answer, Instant::now())
                .map_err(|e| self.machine_error(id, &e)),
            Err(e) => {
                info!(transactional_id = id, broker = %conn.addr(), %api, version, error = %e, "transaction request failed; retrying");
                self.tm.on_request_failed(Instant::now());
                Ok(())
            }
        }
    }

    /// The broker has no version of `api` the machine allows.
    fn unsupported(
        &self,
        conn: &BrokerConnection,
        id: &str,
        api: ApiKey,
        versions: VersionRange,
    ) -> Error {
        let mut e = TransactionError::new(
            TransactionErrorKind::Fatal,
            id,
            format!("the broker supports no version of {api} in {versions:?}"),
        );
        e.broker = Some(conn.addr().to_owned());
        e.api = Some(api);
        e.code = Some(crate::protocol::ErrorCode::UNSUPPORTED_VERSION);
        Error::Transaction(e)
    }
}

/// The highest version of `api` in `allowed` that kafkit's codec and the
/// broker both support.
fn pick_version(conn: &BrokerConnection, api: ApiKey, allowed: VersionRange) -> Option<i16> {
    match api {
        ApiKey::INIT_PRODUCER_ID => route::version_within::<InitProducerIdRequest>(conn, allowed),
        ApiKey::ADD_PARTITIONS_TO_TXN => {
            route::version_within::<AddPartitionsToTxnRequest>(conn, allowed)
        }
        ApiKey::ADD_OFFSETS_TO_TXN => {
            route::version_within::<AddOffsetsToTxnRequest>(conn, allowed)
        }
        ApiKey::TXN_OFFSET_COMMIT => route::version_within::<TxnOffsetCommitRequest>(conn, allowed),
        ApiKey::END_TXN => route::version_within::<EndTxnRequest>(conn, allowed),
        _ => None,
    }
}

/// Sends `request` at `version` on the call path's single exchange (the
/// machine judges the answer) and wraps the answer.
async fn send(
    conn: &BrokerConnection,
    request: TxnRequest,
    version: i16,
    timeout: Duration,
) -> Result<TxnResponse, Error> {
    async fn one<R: Request>(
        conn: &BrokerConnection,
        r: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response, Error> {
        Ok(route::exchange(conn, r, version, timeout).await?.body)
    }
    Ok(match request {
        TxnRequest::InitProducerId(r) => {
            TxnResponse::InitProducerId(one(conn, &r, version, timeout).await?)
        }
        TxnRequest::AddPartitionsToTxn(r) => {
            TxnResponse::AddPartitionsToTxn(one(conn, &r, version, timeout).await?)
        }
        TxnRequest::AddOffsetsToTxn(r) => {
            TxnResponse::AddOffsetsToTxn(one(conn, &r, version, timeout).await?)
        }
        TxnRequest::TxnOffsetCommit(r) => {
            TxnResponse::TxnOffsetCommit(one(conn, &r, version, timeout).await?)
        }
        TxnRequest::EndTxn(r) => TxnResponse::EndTxn(one(conn, &r, version, timeout).await?),
        other => {
            return Err(Error::InvalidState {
                operation: "transaction",
                reason: format!("a request the producer cannot send: {:?}", other.api_key()),
            })
        }
    })
}

/// The transactional state the sender needs: set by the transactional
/// calls, read when batches are drained.
#[derive(Debug, Default)]
pub(crate) struct TxnStamp {
    /// The producer id and epoch from the transaction coordinator; `None`
    /// until `init_transactions` (nothing is drained until then).
    pub identity: Option<crate::producer::wire::ProducerIdentity>,
    /// The protocol of the open (or last) transaction.
    pub protocol: Option<TransactionProtocol>,
    /// The first batch of the open transaction that failed for good.
    pub failure: Option<(crate::producer::TopicPartition, Error)>,
    /// A batch of the open transaction failed: it cannot commit, so batches
    /// not sent yet are failed instead of sent (as the Java client's
    /// sender aborts undrained batches).
    pub doomed: bool,
}

/// Fails the records of batches of a failed or aborted transaction that
/// were never sent.
pub(crate) fn fail_unsent(
    batches: Vec<crate::producer::dispatch::PBatch>,
    transactional_id: &str,
    why: &str,
) {
    for b in batches {
        let err = Error::Transaction(crate::producer::TransactionError::new(
            crate::producer::TransactionErrorKind::Abortable,
            transactional_id,
            format!(
                "records to {}/{} not sent: {why}",
                b.tp.topic, b.tp.partition
            ),
        ));
        let mut b = b;
        b.token.resolve(Err(err));
    }
}
