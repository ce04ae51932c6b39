//! Handlers and what they are given: the record (or batch) and a context.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::consumer::{ConsumerControl, ConsumerRecord};
use crate::error::{Error, Result};
use crate::producer::{DeliveryReport, Producer, ProducerRecord};
use crate::TopicPartition;

/// Why a handler failed. Any error converts into it with `?`, and so do
/// strings (`Err("bad payload".into())`).
///
/// A plain error means "redeliver" (within the [`RetryPolicy`](super::RetryPolicy));
/// [`HandlerError::permanent`] means retrying cannot help: the record goes
/// to the dead-letter destination at once.
#[derive(Debug)]
pub struct HandlerError {
    error: Box<dyn std::error::Error + Send + Sync>,
    permanent: bool,
}

impl HandlerError {
    /// A failure retrying cannot fix (e.g. a payload that does not parse).
    pub fn permanent(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self {
            error: error.into(),
            permanent: true,
        }
    }

    /// Whether the record should skip its remaining tries.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }

    /// The underlying error.
    pub fn error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.error
    }
}

impl<E: Into<Box<dyn std::error::Error + Send + Sync>>> From<E> for HandlerError {
    fn from(error: E) -> Self {
        Self {
            error: error.into(),
            permanent: false,
        }
    }
}

impl std::fmt::Display for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

/// What a handler returns.
pub type HandlerResult = std::result::Result<(), HandlerError>;

/// Handles the records of one topic, one at a time per partition.
///
/// Implemented by every `Fn(ConsumerRecord, Context) -> impl Future<Output
/// = HandlerResult>` closure, e.g. `|rec, ctx| async move { .. Ok(()) }`;
/// a struct implements it with
/// `async fn handle(&self, record: ConsumerRecord, ctx: Context) -> HandlerResult`.
/// The record and the context are owned (both are cheap to clone), so the
/// future may keep them across awaits and across tasks.
pub trait Handler: Send + Sync + 'static {
    /// Handles one record; `Err` asks for a redelivery.
    fn handle(
        &self,
        record: ConsumerRecord,
        ctx: Context,
    ) -> impl Future<Output = HandlerResult> + Send;
}

impl<F, Fut> Handler for F
where
    F: Fn(ConsumerRecord, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send,
{
    fn handle(
        &self,
        record: ConsumerRecord,
        ctx: Context,
    ) -> impl Future<Output = HandlerResult> + Send {
        self(record, ctx)
    }
}

/// Handles the records of one topic a fetched batch at a time (kafkajs's
/// `eachBatch`): all records of one partition, in offset order.
///
/// On `Err` the records resolved with [`BatchContext::resolve_offset`] stay
/// processed and the batch is redelivered from the first unresolved record.
/// When the tries run out, every unresolved record of the batch goes to the
/// dead-letter destination (the listener cannot tell which one failed).
pub trait BatchHandler: Send + Sync + 'static {
    /// Handles one batch; `Err` asks for a redelivery of its unresolved part.
    fn handle(&self, batch: Batch, ctx: BatchContext)
        -> impl Future<Output = HandlerResult> + Send;
}

impl<F, Fut> BatchHandler for F
where
    F: Fn(Batch, BatchContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send,
{
    fn handle(
        &self,
        batch: Batch,
        ctx: BatchContext,
    ) -> impl Future<Output = HandlerResult> + Send {
        self(batch, ctx)
    }
}

/// Records of one partition, in offset order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Batch {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The records (never empty).
    pub records: Vec<ConsumerRecord>,
}

impl Batch {
    /// Offset of the first record.
    pub fn first_offset(&self) -> i64 {
        self.records.first().map_or(-1, |r| r.offset)
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> i64 {
        self.records.last().map_or(-1, |r| r.offset)
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = HandlerResult> + Send>>;

/// A handler with its type erased, as the listener stores it.
pub(crate) type DynHandler = Arc<dyn Fn(ConsumerRecord, Context) -> BoxFuture + Send + Sync>;
/// A batch handler with its type erased.
pub(crate) type DynBatchHandler = Arc<dyn Fn(Batch, BatchContext) -> BoxFuture + Send + Sync>;

pub(crate) fn erase<H: Handler>(h: H) -> DynHandler {
    let h = Arc::new(h);
    Arc::new(move |record, ctx| {
        let h = h.clone();
        Box::pin(async move { h.handle(record, ctx).await })
    })
}

pub(crate) fn erase_batch<H: BatchHandler>(h: H) -> DynBatchHandler {
    let h = Arc::new(h);
    Arc::new(move |batch, ctx| {
        let h = h.clone();
        Box::pin(async move { h.handle(batch, ctx).await })
    })
}

/// Who paused which partition: the application (through a context) or the
/// listener (a record waiting for its retry). A partition is fetched again
/// only when neither holds it.
#[derive(Debug, Default)]
pub(crate) struct Pauses {
    pub by_app: HashSet<TopicPartition>,
    pub by_retry: HashSet<TopicPartition>,
}

pub(crate) type SharedPauses = Arc<Mutex<Pauses>>;

pub(crate) fn lock(p: &SharedPauses) -> std::sync::MutexGuard<'_, Pauses> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a handler can do besides reading its record: keep the group
/// membership alive, commit, pause its partition.
#[derive(Debug, Clone)]
pub struct Context {
    pub(crate) tp: TopicPartition,
    pub(crate) offset: i64,
    pub(crate) attempt: u32,
    pub(crate) control: ConsumerControl,
    pub(crate) pauses: SharedPauses,
    /// The transactional producer in exactly-once mode (its transaction is
    /// open while the handler runs).
    pub(crate) txn: Option<Producer>,
}

impl Context {
    /// Topic of the record.
    pub fn topic(&self) -> &str {
        &self.tp.topic
    }

    /// Partition of the record.
    pub fn partition(&self) -> i32 {
        self.tp.partition
    }

    /// Offset of the record.
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// Topic and partition of the record.
    pub fn topic_partition(&self) -> &TopicPartition {
        &self.tp
    }

    /// Which delivery of this record this is (1 for the first).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Proof of life for the group while the handler works longer than
    /// `max_poll_interval`: call it now and then, or the member is evicted
    /// ([`ListenerEvent::PollTimeoutExpired`](super::ListenerEvent)).
    pub fn heartbeat(&self) {
        self.control.heartbeat();
    }

    /// Commits the processed offsets (records finished before this one;
    /// this record counts only once the handler returned `Ok`).
    pub async fn commit(&self) -> Result<()> {
        self.control.commit().await
    }

    /// Commits explicit offsets: each is the *next* record to read, so
    /// committing this record's own offset means "read it again after a
    /// restart".
    pub async fn commit_offsets<I>(&self, offsets: I) -> Result<()>
    where
        I: IntoIterator<Item = (TopicPartition, i64)>,
    {
        self.control.commit_offsets(offsets).await
    }

    /// The group's committed offset for this record's partition.
    pub async fn committed(&self) -> Result<Option<i64>> {
        let map = self.control.committed(vec![self.tp.clone()]).await?;
        Ok(map.get(&self.tp).copied().flatten())
    }

    /// Whether the listener runs in exactly-once mode
    /// ([`ListenerBuilder::exactly_once`](super::ListenerBuilder::exactly_once)).
    pub fn is_exactly_once(&self) -> bool {
        self.txn.is_some()
    }

    /// Exactly-once mode: adds `record` to this handler call's transaction.
    /// It becomes visible to `read_committed` readers together with the
    /// consumed offset when the handler returns `Ok` and the transaction
    /// commits; an `Err` (or a record that could not be written) aborts it.
    /// Returns once the record is queued; the commit waits for its delivery.
    /// Fails with [`Error::InvalidState`] outside exactly-once mode.
    pub async fn produce(&self, record: ProducerRecord) -> Result<()> {
        // The delivery is awaited by the commit, which fails if it failed.
        drop(
            self.txn_producer("Context::produce")?
                .enqueue(record)
                .await?,
        );
        Ok(())
    }

    /// Exactly-once mode: like [`produce`](Self::produce), but returns once
    /// the broker has written the record (still invisible to
    /// `read_committed` readers until the transaction commits).
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryReport> {
        self.txn_producer("Context::send")?.send(record).await
    }

    fn txn_producer(&self, operation: &'static str) -> Result<&Producer> {
        self.txn.as_ref().ok_or_else(|| Error::InvalidState {
            operation,
            reason: "the listener is not in exactly-once mode".to_owned(),
        })
    }

    /// Pauses this partition once the current record is handled (records
    /// already fetched are dropped and fetched again on resume). The
    /// returned handle resumes it; a pause does not outlive a consumer
    /// restart.
    pub fn pause(&self) -> Resume {
        pause(&self.control, &self.pauses, &self.tp)
    }
}

/// The context of a batch handler: a [`Context`]'s abilities plus
/// [`resolve_offset`](Self::resolve_offset).
#[derive(Debug, Clone)]
pub struct BatchContext {
    pub(crate) inner: Context,
    pub(crate) resolved: Arc<Mutex<Option<i64>>>,
}

impl BatchContext {
    /// Topic of the batch.
    pub fn topic(&self) -> &str {
        self.inner.topic()
    }

    /// Partition of the batch.
    pub fn partition(&self) -> i32 {
        self.inner.partition()
    }

    /// Which delivery of the batch's first record this is (1 for the first).
    pub fn attempt(&self) -> u32 {
        self.inner.attempt()
    }

    /// Marks the records up to `offset` (included) processed: a later
    /// commit stores them, and a redelivery after an `Err` starts after them.
    /// In exactly-once mode the batch commits or aborts as a whole, so this
    /// only records the offset ([`resolved`](Self::resolved)).
    pub fn resolve_offset(&self, offset: i64) {
        let mut r = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
        if r.is_none_or(|prev| offset > prev) {
            *r = Some(offset);
            if self.inner.txn.is_none() {
                self.inner
                    .control
                    .mark_processed(&self.inner.tp, offset + 1);
            }
        }
    }

    /// The last offset resolved so far.
    pub fn resolved(&self) -> Option<i64> {
        *self.resolved.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// See [`Context::heartbeat`].
    pub fn heartbeat(&self) {
        self.inner.heartbeat();
    }

    /// See [`Context::commit`] (resolved records are included).
    pub async fn commit(&self) -> Result<()> {
        self.inner.commit().await
    }

    /// See [`Context::commit_offsets`].
    pub async fn commit_offsets<I>(&self, offsets: I) -> Result<()>
    where
        I: IntoIterator<Item = (TopicPartition, i64)>,
    {
        self.inner.commit_offsets(offsets).await
    }

    /// See [`Context::produce`]: the batch's records and offsets commit in
    /// one transaction.
    pub async fn produce(&self, record: ProducerRecord) -> Result<()> {
        self.inner.produce(record).await
    }

    /// See [`Context::send`].
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryReport> {
        self.inner.send(record).await
    }

    /// See [`Context::pause`].
    pub fn pause(&self) -> Resume {
        self.inner.pause()
    }
}

fn pause(control: &ConsumerControl, pauses: &SharedPauses, tp: &TopicPartition) -> Resume {
    lock(pauses).by_app.insert(tp.clone());
    let _ = control.pause(vec![tp.clone()]);
    Resume {
        tp: tp.clone(),
        control: control.clone(),
        pauses: pauses.clone(),
    }
}

/// Resumes a partition paused by a handler.
#[derive(Debug, Clone)]
pub struct Resume {
    tp: TopicPartition,
    control: ConsumerControl,
    pauses: SharedPauses,
}

impl Resume {
    /// Fetches the partition again (unless a retry of it is still waiting).
    pub fn resume(&self) {
        let mut p = lock(&self.pauses);
        p.by_app.remove(&self.tp);
        if !p.by_retry.contains(&self.tp) {
            let _ = self.control.resume(vec![self.tp.clone()]);
        }
    }
}
