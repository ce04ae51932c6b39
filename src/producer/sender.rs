//! The producer's background task: drains the accumulator the handles
//! append to, sends Produce requests through one ordered dispatcher per
//! broker, and resolves batches.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use super::accumulator::TopicPartition;
use super::config::{Acks, ProducerConfig};
use super::delivery::Delivered;
use super::dispatch::{run_dispatcher, Dispatch, Event, PBatch};
use super::metrics::Metrics;
use super::shared::Shared;
use super::transactional::{fail_unsent, TransactionProtocol};
use super::wire::{
    build_request, encode_batch, partition_result, split_requests, ProducerIdentity,
};
use crate::cluster::{Client, Destination};
use crate::error::{Error, Result};
use crate::protocol::messages::init_producer_id::InitProducerIdRequest;
use crate::protocol::messages::leader_discovery::NodeEndpoint;
use crate::protocol::messages::produce::ProduceResponse;
use crate::protocol::ApiKey;
use kafkit_core::producer::{BatchAnswer, ProduceOutcome};
use kafkit_core::LeaderHint;

/// Half of tokio's timer resolution. Tokio fires a timer at the first
/// millisecond tick at or after its deadline, so a 1 ms linger waited 1 to
/// 2 ms (1.5 on average, half again the setting, and that much added to
/// every record's end-to-end latency at low rates). The task arms its timer
/// this much early and drains as of this much later: deadlines round to the
/// nearest tick, so a linger is kept to within half a millisecond either
/// way and to the setting on average, as librdkafka's microsecond timer
/// keeps it.
const TIMER_ROUNDING: Duration = Duration::from_micros(500);

/// Requests from the `Producer` handle (records go through [`Shared`]).
#[derive(Debug)]
pub(crate) enum Command {
    /// Resolve once every batch below this flush point is done.
    Flush(u64, oneshot::Sender<()>),
    /// Fail everything still queued or in flight, then stop.
    Abort(oneshot::Sender<()>),
}

pub(crate) struct SenderTask {
    client: Client,
    cfg: ProducerConfig,
    shared: Arc<Shared>,
    producer: Option<ProducerIdentity>,
    init_in_progress: bool,
    refreshing: bool,
    last_refresh: Option<Instant>,
    dispatchers: HashMap<i32, mpsc::UnboundedSender<Dispatch>>,
    tasks: JoinSet<()>,
    events_tx: mpsc::UnboundedSender<Event>,
    events: mpsc::UnboundedReceiver<Event>,
    flush_waiters: Vec<(u64, oneshot::Sender<()>)>,
    metrics: Arc<Metrics>,
}

impl SenderTask {
    pub fn new(
        client: Client,
        cfg: ProducerConfig,
        shared: Arc<Shared>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (events_tx, events) = mpsc::unbounded_channel();
        Self {
            producer: (!cfg.is_idempotent()).then_some(ProducerIdentity::NONE),
            client,
            cfg,
            shared,
            init_in_progress: false,
            refreshing: false,
            last_refresh: None,
            dispatchers: HashMap::new(),
            tasks: JoinSet::new(),
            events_tx,
            events,
            flush_waiters: Vec::new(),
            metrics,
        }
    }

    /// Runs until the handle asks to abort or every handle is gone and
    /// nothing is left to deliver.
    pub async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut handles_gone = false;
        let shared = Arc::clone(&self.shared);
        // One timer, moved when the next wake-up changes: creating a fresh
        // `Sleep` for every event costs a timer-wheel insert and removal.
        let timer = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(timer);
        // The accumulator's clock (std) is the file's one clock; tokio's
        // timer gets it converted.
        let mut armed: Option<Instant> = None;
        loop {
            let (idle, wake) = {
                let acc = shared.acc();
                (acc.is_idle(), acc.next_wakeup())
            };
            if handles_gone && idle {
                break;
            }
            if let Some(at) = wake.filter(|at| armed != Some(*at)) {
                let early = at.checked_sub(TIMER_ROUNDING).unwrap_or(at);
                timer.as_mut().reset(tokio::time::Instant::from_std(early));
            }
            armed = wake;
            tokio::select! {
                cmd = commands.recv(), if !handles_gone => match cmd {
                    Some(Command::Flush(point, done)) => self.flush(point, done),
                    Some(Command::Abort(done)) => {
                        self.abort(Error::Closed);
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        handles_gone = true;
                        shared.acc().seal_all();
                    }
                },
                () = shared.wake.notified() => {}
                Some(event) = self.events.recv() => self.handle(event),
                () = &mut timer, if armed.is_some() => armed = None,
            }
            self.tick();
        }
        self.abort(Error::Closed);
    }

    fn flush(&mut self, point: u64, done: oneshot::Sender<()>) {
        self.flush_waiters.push((point, done));
    }

    fn release_flush_waiters(&mut self) {
        if self.flush_waiters.is_empty() {
            return;
        }
        let acc = self.shared.acc();
        let waiters = std::mem::take(&mut self.flush_waiters);
        for (point, done) in waiters {
            if acc.is_flushed(point) {
                let _ = done.send(());
            } else {
                self.flush_waiters.push((point, done));
            }
        }
    }

    /// Expiry, producer-id work, draining and dispatch after every event.
    fn tick(&mut self) {
        let now = Instant::now();
        let shared = Arc::clone(&self.shared);
        let transactional = shared.transactional_id.is_some();
        if transactional {
            // The transaction coordinator's id and epoch; an epoch bump after
            // a failed batch is the transactional calls' business.
            self.producer = shared.txn().identity;
        }
        let doomed = transactional && shared.txn().doomed;
        let mut acc = shared.acc();
        let unsent = if doomed {
            acc.take_unsent()
        } else {
            Vec::new()
        };
        let expired = acc.expire(now);
        if acc.needs_epoch_bump() && !transactional {
            self.producer = None;
        }
        let drained = self.producer.map(|_| {
            let meta = self.client.metadata();
            // As of the end of the current timer tick (see TIMER_ROUNDING).
            acc.drain(now + TIMER_ROUNDING, |tp| {
                meta.leader(&tp.topic, tp.partition)
            })
        });
        drop(acc);
        if let Some(id) = shared.transactional_id.as_deref() {
            fail_unsent(
                unsent,
                id,
                "a record of the transaction failed, so it must be aborted",
            );
        }
        for b in expired {
            let err = Error::DeadlineExceeded(format!(
                "delivery timeout for records to {}/{}",
                b.tp.topic, b.tp.partition
            ));
            resolve(b, Err(err));
        }
        match drained {
            None if transactional => {}
            None => self.init_producer_id(),
            Some(drained) => {
                if drained.missing_leader {
                    self.refresh_metadata();
                }
                let producer = self.producer.unwrap_or(ProducerIdentity::NONE);
                for (node, batches) in drained.by_leader {
                    self.dispatch(node, batches, producer);
                }
            }
        }
        self.release_flush_waiters();
    }

    fn dispatch(&mut self, node: i32, batches: Vec<PBatch>, producer: ProducerIdentity) {
        let mut encoded = Vec::with_capacity(batches.len());
        let now = std::time::Instant::now();
        let transactional_id = self.shared.transactional_id.clone();
        let v12 = transactional_id.is_some()
            && self.shared.txn().protocol == Some(TransactionProtocol::V2);
        for mut b in batches {
            if b.attempts == 1 {
                self.metrics
                    .queued_for(now.saturating_duration_since(b.created()));
            }
            let buffer = || self.shared.acc().buffer();
            let transactional = transactional_id.is_some();
            let result = encode_batch(
                &mut b,
                producer,
                self.cfg.compression,
                transactional,
                buffer,
            );
            let raw = std::mem::take(&mut b.records);
            if raw.capacity() > 0 {
                self.shared.acc().recycle(raw);
            }
            match result {
                Ok(bytes) => encoded.push((b, bytes)),
                Err(e) => {
                    let err = Error::Protocol {
                        broker: format!("node {node}"),
                        api: ApiKey::PRODUCE,
                        source: e,
                    };
                    self.shared.acc().fail(&b);
                    resolve(b, Err(err));
                }
            }
        }
        let acks = self.cfg.acks.wire();
        let timeout_ms = i32::try_from(self.cfg.ack_timeout.as_millis()).unwrap_or(i32::MAX);
        for group in split_requests(encoded, self.cfg.max_request_size) {
            let bytes: usize = group.iter().map(|(_, b)| b.len()).sum();
            self.metrics.add_bytes(bytes, group.len());
            let (batches, parts): (Vec<PBatch>, Vec<(TopicPartition, Bytes)>) = group
                .into_iter()
                .map(|(b, bytes)| (b.tp.clone(), b, bytes))
                .map(|(tp, b, bytes)| (b, (tp, bytes)))
                .unzip();
            let request = build_request(parts, acks, timeout_ms, transactional_id.clone());
            let tx = self.dispatcher(node);
            if let Err(mpsc::error::SendError(d)) = tx.send(Dispatch {
                batches,
                request,
                v12,
            }) {
                let _ = self.events_tx.send(Event::Produced {
                    batches: d.batches,
                    result: Err(Error::Closed),
                });
            }
        }
    }

    fn dispatcher(&mut self, node: i32) -> mpsc::UnboundedSender<Dispatch> {
        if let Some(tx) = self.dispatchers.get(&node).filter(|tx| !tx.is_closed()) {
            return tx.clone();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        self.tasks.spawn(run_dispatcher(
            self.client.clone(),
            node,
            rx,
            self.events_tx.clone(),
            self.cfg.acks == Acks::None,
        ));
        self.dispatchers.insert(node, tx.clone());
        tx
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Refreshed => {
                self.refreshing = false;
            }
            Event::ProducerId(result) => {
                self.init_in_progress = false;
                match result {
                    Ok(id) => {
                        info!(
                            producer_id = id.id,
                            epoch = id.epoch,
                            "producer id acquired"
                        );
                        self.shared.acc().reset_sequences();
                        self.producer = Some(id);
                    }
                    Err(Error::UnsupportedApi { .. }) => {
                        warn!("broker has no InitProducerId; idempotence disabled");
                        let mut acc = self.shared.acc();
                        acc.disable_idempotence(self.cfg.in_flight_without_idempotence());
                        acc.reset_sequences();
                        drop(acc);
                        self.producer = Some(ProducerIdentity::NONE);
                    }
                    Err(e) => {
                        warn!(error = %e, "InitProducerId failed; retrying after backoff");
                        let tx = self.events_tx.clone();
                        let backoff = self.cfg.retry_backoff;
                        self.init_in_progress = true;
                        self.tasks.spawn(async move {
                            tokio::time::sleep(backoff).await;
                            let _ = tx.send(Event::RetryInit);
                        });
                    }
                }
            }
            Event::RetryInit => self.init_in_progress = false,
            Event::Produced { batches, result } => self.produced(batches, result),
        }
    }

    fn produced(&mut self, batches: Vec<PBatch>, result: Result<Option<ProduceResponse>>) {
        let resp = match result {
            Ok(r) => r,
            Err(e) => {
                // The leader may be gone or unknown to the pool (a broker that
                // is down drops out of the metadata): look again.
                self.refresh_metadata();
                for b in batches {
                    let answer = BatchAnswer::Failed {
                        code: e.code(),
                        retriable: e.is_retriable(),
                    };
                    self.decide(b, answer, &[], || e.clone());
                }
                return;
            }
        };
        for b in batches {
            let Some(resp) = &resp else {
                // acks=0: nothing comes back; the records count as sent.
                self.decide(b, BatchAnswer::Unacknowledged, &[], || Error::Closed);
                continue;
            };
            let tp = b.tp.clone();
            match partition_result(resp, &tp) {
                Ok(p) => {
                    let l = &p.current_leader;
                    let answer = BatchAnswer::Partition {
                        code: p.error_code,
                        base_offset: p.base_offset,
                        log_append_time_ms: p.log_append_time_ms,
                        leader: LeaderHint::named(l.leader_id, l.leader_epoch),
                    };
                    let message = p.error_message.as_deref().map(|m| format!(": {m}"));
                    let context = format!(
                        " for {}/{}{}",
                        tp.topic,
                        tp.partition,
                        message.unwrap_or_default()
                    );
                    self.decide(b, answer, &resp.node_endpoints, || {
                        Error::broker(p.error_code, ApiKey::PRODUCE, context)
                    });
                }
                Err(code) => {
                    let answer = BatchAnswer::Failed {
                        code: Some(code),
                        retriable: code.is_retriable(),
                    };
                    let context = format!(
                        " for {}/{}: missing from the response",
                        tp.topic, tp.partition
                    );
                    self.decide(b, answer, &[], || {
                        Error::broker(code, ApiKey::PRODUCE, context)
                    });
                }
            }
        }
    }

    /// Carries out the accumulator's decision for one batch (kafkit-core's
    /// `Accumulator::on_produced`); `error` renders the failure if it fails.
    /// `endpoints`: the brokers the response listed, for a new leader it
    /// named (KIP-951).
    fn decide(
        &mut self,
        batch: PBatch,
        answer: BatchAnswer,
        endpoints: &[NodeEndpoint],
        error: impl FnOnce() -> Error,
    ) {
        let (tp, attempts, records) = (batch.tp.clone(), batch.attempts, batch.record_count());
        let now = Instant::now();
        let outcome = self
            .shared
            .acc()
            .on_produced(batch, answer, now, self.cfg.retry_backoff);
        match outcome {
            ProduceOutcome::Written {
                batch,
                base_offset,
                append_time,
            } => self.complete(batch, base_offset, append_time),
            ProduceOutcome::Retried { refresh, leader } => {
                debug!(topic = %tp.topic, partition = tp.partition, attempts, ?answer, "retrying batch");
                self.metrics.add_retry(records);
                if self
                    .client
                    .needs_refresh_after(&tp, refresh, leader, endpoints)
                {
                    self.refresh_metadata();
                }
            }
            ProduceOutcome::Failed {
                batch,
                expired,
                refresh,
                leader,
            } => {
                let err = error();
                warn!(topic = %tp.topic, partition = tp.partition, error = %err, "batch failed");
                if self
                    .client
                    .needs_refresh_after(&tp, refresh, leader, endpoints)
                {
                    self.refresh_metadata();
                }
                let err = if expired {
                    Error::DeadlineExceeded(format!("delivery timeout; last error: {err}"))
                } else {
                    err
                };
                self.doom_transaction(&tp, &err);
                resolve(batch, Err(err));
            }
        }
    }

    /// After a failed batch the open transaction cannot commit (the
    /// transactional calls see `doomed` and the failure).
    fn doom_transaction(&mut self, tp: &TopicPartition, err: &Error) {
        if self.shared.transactional_id.is_none() {
            return;
        }
        let mut stamp = self.shared.txn();
        if stamp.failure.is_none() {
            stamp.failure = Some((tp.clone(), err.clone()));
        }
        stamp.doomed = true;
        drop(stamp);
        self.shared.wake.notify_one();
    }

    fn complete(&mut self, mut batch: PBatch, base_offset: i64, append_time: Option<i64>) {
        let mut acc = self.shared.acc();
        // The request is gone: the batch's buffer can take the next one.
        if let Some(Ok(buf)) = batch.wire.take().map(Bytes::try_into_mut) {
            acc.recycle(buf);
        }
        drop(acc);
        let delivered = Delivered {
            base_offset,
            append_time,
        };
        resolve(batch, Ok(delivered));
    }

    fn refresh_metadata(&mut self) {
        let now = Instant::now();
        let recent = self
            .last_refresh
            .is_some_and(|t| now.duration_since(t) < self.cfg.retry_backoff);
        if self.refreshing || recent {
            return;
        }
        self.refreshing = true;
        self.last_refresh = Some(now);
        let client = self.client.clone();
        let tx = self.events_tx.clone();
        self.tasks.spawn(async move {
            if let Err(e) = client.refresh_metadata().await {
                debug!(error = %e, "metadata refresh failed");
            }
            let _ = tx.send(Event::Refreshed);
        });
    }

    fn init_producer_id(&mut self) {
        if self.init_in_progress || self.shared.acc().in_flight() > 0 {
            return;
        }
        self.init_in_progress = true;
        let client = self.client.clone();
        let tx = self.events_tx.clone();
        self.tasks.spawn(async move {
            let req = InitProducerIdRequest {
                transactional_id: None,
                transaction_timeout_ms: -1,
                ..Default::default()
            };
            // Any broker (no transactional id), one attempt on the call
            // path (the sender retries after its backoff).
            let deadline = tokio::time::Instant::now() + client.config().request_timeout;
            let result = client
                .call_once(&Destination::AnyBroker, &|_, _| Ok(req.clone()), deadline)
                .await
                .map(|answer| ProducerIdentity {
                    id: answer.body.producer_id,
                    epoch: answer.body.producer_epoch,
                });
            let _ = tx.send(Event::ProducerId(result));
        });
    }

    /// Fails every record not yet resolved and stops background work.
    fn abort(&mut self, err: Error) {
        self.tasks.abort_all();
        self.dispatchers.clear();
        let queued = self.shared.acc().close();
        for b in queued {
            resolve(b, Err(err.clone()));
        }
        // Batches in flight were owned by the aborted tasks (dropping them
        // fails their records) or sit in the event queue.
        while let Ok(event) = self.events.try_recv() {
            if let Event::Produced { batches, .. } = event {
                for b in batches {
                    self.shared.acc().fail(&b);
                    resolve(b, Err(err.clone()));
                }
            }
        }
        for (_, done) in self.flush_waiters.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Resolves every record of `batch`.
fn resolve(mut batch: PBatch, outcome: Result<Delivered>) {
    batch.token.resolve(outcome);
}

/// How long `close` waits at most for the task to acknowledge an abort.
pub(crate) const ABORT_GRACE: Duration = Duration::from_millis(500);
