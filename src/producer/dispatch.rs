//! One task per broker that sends Produce requests in the order the sender
//! drained them, so batches of a partition reach the broker in sequence order.

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::accumulator::Batch;
use super::delivery::Completion;
use super::wire::ProducerIdentity;
use crate::cluster::Client;
use crate::connection::{BrokerConnection, PendingResponse};
use crate::error::Result;
use crate::protocol::messages::produce::{ProduceRequest, ProduceResponse, ProduceV12Request};

/// A batch with its records' completions.
pub(crate) type PBatch = Batch<Completion>;

/// What the dispatchers and helper tasks tell the sender task.
pub(crate) enum Event {
    /// A Produce request's answer (`None` with acks=0).
    Produced {
        batches: Vec<PBatch>,
        result: Result<Option<ProduceResponse>>,
    },
    /// A metadata refresh finished.
    Refreshed,
    /// InitProducerId (idempotent producer) answered.
    ProducerId(Result<ProducerIdentity>),
    /// The backoff after a failed InitProducerId is over.
    RetryInit,
}

/// One Produce request for a dispatcher, with the batches it carries.
pub(crate) struct Dispatch {
    pub(crate) batches: Vec<PBatch>,
    pub(crate) request: ProduceRequest,
    /// Send at Produce v12 (a transaction of protocol v2 adds the partition).
    pub(crate) v12: bool,
}

/// Sends one broker's requests in the order they were drained, so batches
/// of one partition reach the broker in sequence order.
pub(crate) async fn run_dispatcher(
    client: Client,
    node: i32,
    mut rx: mpsc::UnboundedReceiver<Dispatch>,
    events: mpsc::UnboundedSender<Event>,
    fire_and_forget: bool,
) {
    let mut waiters = JoinSet::new();
    loop {
        tokio::select! {
            d = rx.recv() => {
                let Some(Dispatch { batches, request, v12 }) = d else { break };
                // Nothing waits past the delivery timeout of the batches'
                // oldest record: not the connect (with its backoff), not the
                // response.
                let deadline = delivery_deadline(&batches);
                let conn = match tokio::time::timeout_at(deadline, client.broker(node)).await {
                    Ok(Ok(c)) => c,
                    Ok(Err(e)) => {
                        fail_queued(&mut rx, &events, batches, &e);
                        continue;
                    }
                    Err(_) => {
                        // Only these batches are due; those queued behind
                        // them were not sent and are retried.
                        let _ = events.send(Event::Produced { batches, result: Err(expired(node)) });
                        let not_sent = crate::error::Error::Disconnected { broker: format!("node {node}") };
                        fail_queued(&mut rx, &events, Vec::new(), &not_sent);
                        continue;
                    }
                };
                if fire_and_forget {
                    let result = conn.send_oneway(&request).await.map(|()| None);
                    let _ = events.send(Event::Produced { batches, result });
                    continue;
                }
                match Pending::start(&conn, request, v12).await {
                    Ok(pending) => {
                        let events = events.clone();
                        waiters.spawn(async move {
                            let result = match tokio::time::timeout_at(deadline, pending.response()).await {
                                Ok(r) => r.map(Some),
                                Err(_) => Err(expired(node)),
                            };
                            let _ = events.send(Event::Produced { batches, result });
                        });
                    }
                    Err(e) => fail_queued(&mut rx, &events, batches, &e),
                }
            }
            Some(_) = waiters.join_next(), if !waiters.is_empty() => {}
        }
    }
    while waiters.join_next().await.is_some() {}
}

/// A Produce in flight: at the negotiated version, or at v12 for a
/// transaction of protocol v2 (KIP-890: the leader adds the partition).
enum Pending {
    Negotiated(PendingResponse<ProduceRequest>),
    V12(PendingResponse<ProduceV12Request>),
}

impl Pending {
    async fn start(conn: &BrokerConnection, request: ProduceRequest, v12: bool) -> Result<Self> {
        if v12 {
            Ok(Self::V12(conn.start(&ProduceV12Request(request)).await?))
        } else {
            Ok(Self::Negotiated(conn.start(&request).await?))
        }
    }

    async fn response(self) -> Result<ProduceResponse> {
        match self {
            Self::Negotiated(p) => p.response().await,
            Self::V12(p) => p.response().await.map(|r| r.0),
        }
    }
}

/// The earliest delivery deadline of the records in `batches`.
fn delivery_deadline(batches: &[PBatch]) -> tokio::time::Instant {
    batches
        .iter()
        .map(|b| b.earliest_deadline)
        .min()
        .map_or_else(
            || tokio::time::Instant::now() + std::time::Duration::from_secs(3600),
            tokio::time::Instant::from_std,
        )
}

fn expired(node: i32) -> crate::error::Error {
    crate::error::Error::DeadlineExceeded(format!(
        "delivery timeout while sending to broker {node}"
    ))
}

/// Fails `batches` and every dispatch already queued behind them: a later
/// batch of the same partition must not reach the broker (on a connection
/// that works again) before the failed one is retried. Apache Kafka would
/// reject it as out of sequence; a broker that does not check sequences
/// would write it out of order.
fn fail_queued(
    rx: &mut mpsc::UnboundedReceiver<Dispatch>,
    events: &mpsc::UnboundedSender<Event>,
    batches: Vec<PBatch>,
    error: &crate::error::Error,
) {
    if !batches.is_empty() {
        let _ = events.send(Event::Produced {
            batches,
            result: Err(error.clone()),
        });
    }
    while let Ok(Dispatch { batches, .. }) = rx.try_recv() {
        let _ = events.send(Event::Produced {
            batches,
            result: Err(error.clone()),
        });
    }
}
