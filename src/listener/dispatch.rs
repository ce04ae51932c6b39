//! Handing records to handlers and acting on the result: mark processed,
//! redeliver after a backoff, or give up (dead letter / skip).
//!
//! Redelivery never commits past the failing record: its partition is
//! seeked back to it (which also resets the processed offset there and
//! drops records fetched after it) and paused until the backoff is over.

use std::sync::{Arc, Mutex};

use tokio::time::Instant;
use tracing::{debug, warn};

use super::dead_letter::dead_letter_record;
use super::events::ListenerEvent;
use super::handler::{lock, Batch, BatchContext, Context, HandlerResult};
use super::retries::Retries;
use super::task::{Exit, Runner};
use super::transaction::TxnFailure;
use super::Route;
use crate::consumer::{Consumer, ConsumerControl, ConsumerGroupMetadata, ConsumerRecord};
use crate::producer::{Producer, TopicPartition};

/// Where a handler's failure leaves a partition.
struct Failure {
    tp: TopicPartition,
    /// The records not handled, from the failing one on (never empty).
    records: Vec<ConsumerRecord>,
    /// Deliveries of the first of them so far.
    attempt: u32,
    error: String,
    permanent: bool,
    /// Exactly-once mode: the group metadata to commit a give-up's offset with.
    group: Option<ConsumerGroupMetadata>,
}

/// What one delivery of a record (or a batch) to its handler came to.
struct Delivery {
    tp: TopicPartition,
    /// The offset past the records handed over.
    next: i64,
    /// Deliveries of the first record so far, this one included.
    attempt: u32,
    /// The offset of the record the delivery started with.
    first_offset: i64,
    /// The handler's failure, if it failed.
    failure: Option<Failure>,
}

impl Runner {
    /// Hands `record` (and, for a batch handler, the rest of its fetched
    /// batch) to its topic's handler. `Some` ends this consumer's run.
    ///
    /// In exactly-once mode the delivery runs in a transaction that commits
    /// the offset past it (or aborts, after a failure); otherwise the
    /// records are marked processed once handled or given up.
    pub(super) async fn dispatch(
        &mut self,
        consumer: &mut Consumer,
        control: &ConsumerControl,
        retries: &mut Retries,
        record: ConsumerRecord,
    ) -> Option<Exit> {
        // Processed marks are explicit here: a failed or cancelled record
        // must not be marked by the consumer's next poll or its close.
        consumer.forget_handed();
        let txn = self.txn.clone();
        let group = txn.as_ref().and_then(|_| consumer.group_metadata());
        let delivery = match self
            .deliver(consumer, control, retries, record, txn.as_ref(), &group)
            .await
        {
            Ok(delivery) => delivery,
            Err(exit) => return Some(exit),
        };
        if let (Some(p), Some(g)) = (&txn, &group) {
            match self.end_delivery_txn(p, g, control, &delivery).await {
                Ok(()) => {}
                Err(TxnFailure::Fatal(exit)) => return Some(exit),
                Err(TxnFailure::Aborted(error)) => {
                    self.redeliver_aborted(consumer, control, retries, &delivery, error);
                    return None;
                }
            }
        }
        self.settle(consumer, control, retries, delivery, txn.is_none())
            .await;
        None
    }

    /// Counts the delivery, begins its transaction (exactly-once mode) and
    /// runs the handler. `Err` ends this consumer's run: the transaction
    /// could not begin, or a shutdown cancelled the handler.
    async fn deliver(
        &mut self,
        consumer: &mut Consumer,
        control: &ConsumerControl,
        retries: &mut Retries,
        record: ConsumerRecord,
        txn: Option<&Producer>,
        group: &Option<ConsumerGroupMetadata>,
    ) -> Result<Delivery, Exit> {
        let tp = TopicPartition {
            topic: record.topic.to_string(),
            partition: record.partition,
        };
        let route = self.settings.routes.get(tp.topic.as_str()).cloned();
        let attempt = retries.attempt(&tp, record.offset);
        let first_offset = record.offset;
        if let Some(p) = txn {
            self.begin_txn(p).await?;
        }
        let ctx = Context {
            tp: tp.clone(),
            offset: record.offset,
            attempt,
            control: control.clone(),
            pauses: self.pauses.clone(),
            txn: txn.cloned(),
        };
        let (next, failure) = self
            .handle(consumer, route, record, ctx, attempt, group)
            .await
            .ok_or(Exit::Shutdown)?;
        Ok(Delivery {
            tp,
            next,
            attempt,
            first_offset,
            failure,
        })
    }

    /// Exactly-once: commits the offset past a handled delivery with its
    /// transaction, or aborts the transaction of a failed one.
    async fn end_delivery_txn(
        &self,
        p: &Producer,
        group: &ConsumerGroupMetadata,
        control: &ConsumerControl,
        d: &Delivery,
    ) -> Result<(), TxnFailure> {
        match &d.failure {
            None => {
                let offset = control.offset_to_commit(&d.tp, d.next);
                self.commit_txn(p, vec![(d.tp.clone(), offset)], group)
                    .await
            }
            Some(_) => self.abort_txn(p).await,
        }
    }

    /// The delivery's transaction was aborted, not by the handler's failure:
    /// again, without counting a delivery.
    fn redeliver_aborted(
        &mut self,
        consumer: &mut Consumer,
        control: &ConsumerControl,
        retries: &mut Retries,
        d: &Delivery,
        error: String,
    ) {
        let failures = d.attempt.saturating_sub(1);
        let delay = self.settings.retry.backoff;
        self.redeliver(
            consumer,
            control,
            retries,
            &d.tp,
            d.first_offset,
            failures,
            delay,
            error,
        );
    }

    /// Acts on the delivery's result: marks it processed (when `mark`, i.e.
    /// no transaction committed it) once handled or given up, or schedules
    /// its redelivery.
    async fn settle(
        &mut self,
        consumer: &mut Consumer,
        control: &ConsumerControl,
        retries: &mut Retries,
        d: Delivery,
        mark: bool,
    ) {
        match d.failure {
            None => {
                if mark {
                    control.mark_processed(&d.tp, d.next);
                }
                retries.done(&d.tp);
            }
            Some(f) => {
                if !self.failed(consumer, control, retries, f).await {
                    return; // redelivery scheduled: the partition is seeked back and paused
                }
                if mark {
                    control.mark_processed(&d.tp, d.next);
                }
            }
        }
        if lock(&self.pauses).by_app.contains(&d.tp) {
            // Paused by its handler: drop what was fetched after the record.
            let _ = consumer.seek(d.tp, d.next);
        }
    }

    /// Runs the handler of `record`'s topic: the next offset to mark and
    /// the failure, if any; `None` when a shutdown cancelled the handler.
    async fn handle(
        &mut self,
        consumer: &mut Consumer,
        route: Option<Route>,
        record: ConsumerRecord,
        ctx: Context,
        attempt: u32,
        group: &Option<ConsumerGroupMetadata>,
    ) -> Option<(i64, Option<Failure>)> {
        let tp = ctx.tp.clone();
        match route {
            None => {
                warn!(topic = %tp.topic, "record of a topic without a handler: skipped");
                Some((record.offset + 1, None))
            }
            Some(Route::One(handler)) => {
                let next = record.offset + 1;
                let span = self.process_span(&tp, record.offset, 1);
                let result = self.run_handler(handler(record.clone(), ctx), span).await?;
                let failure = result.err().map(|e| Failure {
                    tp,
                    records: vec![record],
                    attempt,
                    error: e.to_string(),
                    permanent: e.is_permanent(),
                    group: group.clone(),
                });
                Some((next, failure))
            }
            Some(Route::Batch(handler)) => {
                let mut records = vec![record];
                records.extend(consumer.take_buffered());
                let next = records.last().map_or(0, |r| r.offset + 1);
                let ctx = BatchContext {
                    inner: ctx,
                    resolved: Arc::new(Mutex::new(None)),
                };
                let batch = Batch {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    records: records.clone(),
                };
                let first = records.first().map_or(0, |r| r.offset);
                let span = self.process_span(&tp, first, records.len());
                let result = self.run_handler(handler(batch, ctx.clone()), span).await?;
                let failure = result
                    .err()
                    .and_then(|e| batch_failure(&tp, records, attempt, &ctx, &e, group));
                Some((next, failure))
            }
        }
    }

    /// Runs a handler in its own task (a panic is a failed delivery); `None`
    /// when a shutdown cancelled it.
    async fn run_handler(
        &mut self,
        fut: std::pin::Pin<Box<dyn std::future::Future<Output = HandlerResult> + Send>>,
        span: tracing::Span,
    ) -> Option<HandlerResult> {
        let mut task = tokio::spawn(tracing::Instrument::instrument(fut, span));
        tokio::select! {
            joined = &mut task => Some(joined.unwrap_or_else(|e| {
                Err(format!("handler panicked: {e}").into())
            })),
            _ = self.handler_cutoff() => {
                task.abort();
                warn!("shutdown deadline: handler cancelled, its record stays unprocessed");
                None
            }
        }
    }

    /// The `process` span of a handler call (see [`crate::messaging_spans`]).
    fn process_span(&self, tp: &TopicPartition, offset: i64, count: usize) -> tracing::Span {
        crate::messaging_spans::process(
            self.settings.consumer.group_id.as_deref(),
            &tp.topic,
            tp.partition,
            offset,
            count,
        )
    }

    /// Schedules a redelivery (`false`) or gives the records up (`true`:
    /// dead-lettered or skipped, the caller marks them processed).
    async fn failed(
        &mut self,
        consumer: &mut Consumer,
        control: &ConsumerControl,
        retries: &mut Retries,
        f: Failure,
    ) -> bool {
        let Some(first) = f.records.first() else {
            return true;
        };
        let offset = first.offset;
        let mut error = f.error.clone();
        if f.permanent || f.attempt >= self.settings.retry.max_attempts {
            match self.give_up(&f).await {
                Ok(destination) => {
                    retries.done(&f.tp);
                    for r in &f.records {
                        self.emit(ListenerEvent::DeadLettered {
                            partition: f.tp.clone(),
                            offset: r.offset,
                            attempts: f.attempt,
                            error: f.error.clone(),
                            destination: destination.clone(),
                        });
                    }
                    return true;
                }
                Err(e) => {
                    // Not written: keep the record and try again later.
                    error = format!("{}; writing the dead letter failed: {e}", f.error);
                }
            }
        }
        let delay = self.settings.retry.delay(f.attempt);
        self.redeliver(
            consumer, control, retries, &f.tp, offset, f.attempt, delay, error,
        );
        false
    }

    /// Seeks `tp` back to `offset` and pauses it for `delay`; `failures`
    /// deliveries of the record failed so far.
    #[allow(clippy::too_many_arguments)]
    fn redeliver(
        &mut self,
        consumer: &mut Consumer,
        control: &ConsumerControl,
        retries: &mut Retries,
        tp: &TopicPartition,
        offset: i64,
        failures: u32,
        delay: std::time::Duration,
        error: String,
    ) {
        debug!(topic = %tp.topic, partition = tp.partition, offset, failures, ?delay, "redelivering");
        let _ = consumer.seek(tp.clone(), offset);
        lock(&self.pauses).by_retry.insert(tp.clone());
        let _ = control.pause(vec![tp.clone()]);
        retries.wait(tp.clone(), offset, failures, Instant::now() + delay);
        self.emit(ListenerEvent::Retrying {
            partition: tp.clone(),
            offset,
            attempt: failures,
            error,
            delay,
        });
    }

    /// Writes the records to the dead-letter topic; the topic, or `None`
    /// when they are skipped.
    async fn give_up(&mut self, f: &Failure) -> crate::Result<Option<String>> {
        if let (Some(p), Some(group)) = (self.txn.clone(), &f.group) {
            return self.give_up_exactly_once(&p, f, group).await;
        }
        let Some(topic) = self.settings.dead_letter.destination(&f.tp.topic) else {
            warn!(topic = %f.tp.topic, partition = f.tp.partition, records = f.records.len(), error = %f.error, "giving up: skipped");
            return Ok(None);
        };
        let producer = match &self.producer {
            Some(p) => p.clone(),
            None => {
                let p =
                    Producer::connect(self.settings.client.clone(), self.settings.producer.clone())
                        .await?;
                self.producer = Some(p.clone());
                p
            }
        };
        let letters: Vec<_> = f
            .records
            .iter()
            .map(|r| dead_letter_record(r, &topic, &f.error, f.attempt))
            .collect();
        producer.send_all(letters).await?;
        warn!(topic = %f.tp.topic, partition = f.tp.partition, records = f.records.len(), error = %f.error, dead_letter_topic = %topic, "giving up: dead-lettered");
        Ok(Some(topic))
    }
}

impl Runner {
    /// Exactly-once: the dead letters (if any) and the offset past the
    /// records commit in one transaction.
    async fn give_up_exactly_once(
        &mut self,
        p: &Producer,
        f: &Failure,
        group: &ConsumerGroupMetadata,
    ) -> crate::Result<Option<String>> {
        let topic = self.settings.dead_letter.destination(&f.tp.topic);
        let letters = match &topic {
            Some(t) => f
                .records
                .iter()
                .map(|r| dead_letter_record(r, t, &f.error, f.attempt))
                .collect(),
            None => Vec::new(),
        };
        let next = f.records.last().map_or(0, |r| r.offset + 1);
        self.give_up_txn(p, letters, (f.tp.clone(), next), group)
            .await?;
        warn!(topic = %f.tp.topic, partition = f.tp.partition, records = f.records.len(), error = %f.error, dead_letter_topic = ?topic, "giving up (exactly once): committed past the records");
        Ok(topic)
    }
}

/// The unresolved part of a failed batch, or `None` if the handler resolved
/// every record before failing. In exactly-once mode (`group` set) the
/// whole batch: its transaction was aborted.
fn batch_failure(
    tp: &TopicPartition,
    records: Vec<ConsumerRecord>,
    attempt: u32,
    ctx: &BatchContext,
    error: &super::HandlerError,
    group: &Option<ConsumerGroupMetadata>,
) -> Option<Failure> {
    let first_offset = records.first().map(|r| r.offset);
    let resolved = if group.is_some() {
        None
    } else {
        ctx.resolved()
    };
    let rest: Vec<ConsumerRecord> = records
        .into_iter()
        .filter(|r| resolved.is_none_or(|done| r.offset > done))
        .collect();
    let first_rest = rest.first()?.offset;
    Some(Failure {
        tp: tp.clone(),
        records: rest,
        // Progress past the batch's first record starts the count over.
        attempt: if Some(first_rest) == first_offset {
            attempt
        } else {
            1
        },
        error: error.to_string(),
        permanent: error.is_permanent(),
        group: group.clone(),
    })
}
