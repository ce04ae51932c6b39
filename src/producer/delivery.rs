//! Delivery outcomes: one shared result per batch, one light future per record.
//!
//! Like the Java client's `ProduceRequestResult`, a batch's outcome is set
//! once and read by the futures of all its records: a record's offset is the
//! batch's base offset plus its index. Sending a record therefore costs no
//! channel and no allocation of its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};

use tokio::sync::Semaphore;

use super::metrics::Metrics;
use super::DeliveryReport;
use crate::error::{Error, Result};

/// What the broker said about a written batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Delivered {
    /// Offset of the first record; -1 when unknown (acks=0, duplicate).
    pub base_offset: i64,
    /// The broker's append time when the topic uses it.
    pub append_time: Option<i64>,
}

/// The outcome of one batch, set once, awaited by its records' futures.
#[derive(Debug)]
pub(crate) struct BatchResult {
    partition: i32,
    outcome: OnceLock<Result<Delivered>>,
    /// Wakers of futures polled before the outcome was set; a future keeps
    /// its slot so polling it again does not add another.
    wakers: Mutex<Vec<Option<Waker>>>,
}

impl BatchResult {
    /// Sets the outcome (the first one wins) and wakes every waiting future.
    fn set(&self, outcome: Result<Delivered>) {
        if self.outcome.set(outcome).is_ok() {
            // Taken after the outcome is visible: a future that registers
            // later finds the outcome under the same lock.
            let wakers = std::mem::take(&mut *lock(&self.wakers));
            for waker in wakers.into_iter().flatten() {
                waker.wake();
            }
        }
    }

    fn poll_outcome(&self, slot: &mut Option<u32>, cx: &Context<'_>) -> Poll<&Result<Delivered>> {
        if let Some(outcome) = self.outcome.get() {
            return Poll::Ready(outcome);
        }
        let mut wakers = lock(&self.wakers);
        if let Some(outcome) = self.outcome.get() {
            return Poll::Ready(outcome);
        }
        let known = slot.and_then(|i| usize::try_from(i).ok());
        match known.and_then(|i| wakers.get_mut(i)) {
            Some(w) => {
                if !w.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *w = Some(cx.waker().clone());
                }
            }
            None => {
                // More than u32::MAX waiting futures per batch cannot happen
                // (a batch holds at most i32::MAX records); past it, a future
                // would just register again on every poll.
                *slot = u32::try_from(wakers.len()).ok();
                wakers.push(Some(cx.waker().clone()));
            }
        }
        Poll::Pending
    }
}

/// A batch's completion token (see [`super::accumulator`]): resolves the
/// batch's records and gives their buffer space back. Dropped unresolved
/// (its task was aborted), it fails them with [`Error::Closed`].
#[derive(Debug)]
pub(crate) struct Completion {
    result: Arc<BatchResult>,
    buffer: Arc<Semaphore>,
    metrics: Arc<Metrics>,
    /// Buffer bytes the batch's records hold.
    permits: usize,
    records: u64,
}

impl Completion {
    /// The token of a new batch of `partition`.
    pub fn new(buffer: Arc<Semaphore>, metrics: Arc<Metrics>, partition: i32) -> Self {
        Self {
            result: Arc::new(BatchResult {
                partition,
                outcome: OnceLock::new(),
                wakers: Mutex::default(),
            }),
            buffer,
            metrics,
            permits: 0,
            records: 0,
        }
    }

    /// The shared result the records' futures wait on.
    pub fn result(&self) -> &Arc<BatchResult> {
        &self.result
    }

    /// A record joined the batch holding `permits` bytes of buffer.
    pub fn add_record(&mut self, permits: usize) {
        self.permits += permits;
        self.records += 1;
    }

    /// Resolves every record of the batch.
    pub fn resolve(&mut self, outcome: Result<Delivered>) {
        match &outcome {
            Ok(_) => self.metrics.add_records(self.records),
            Err(_) => self.metrics.add_errors(self.records),
        }
        self.records = 0;
        self.result.set(outcome);
        let permits = std::mem::take(&mut self.permits);
        if permits > 0 {
            self.buffer.add_permits(permits);
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if self.result.outcome.get().is_none() {
            self.resolve(Err(Error::Closed));
        }
    }
}

/// Resolves to the delivery report of one record (see [`super::Producer::enqueue`]).
#[derive(Debug)]
pub struct DeliveryFuture {
    batch: Arc<BatchResult>,
    topic: String,
    timestamp: i64,
    index: i32,
    waker_slot: Option<u32>,
    /// The record's `send` span (see [`crate::messaging_spans`]), closed
    /// when the future is dropped; `None` when nothing records it (no
    /// subscriber wants it), so a pending record's future carries 8 bytes
    /// for it instead of a whole `Span` (40).
    span: Option<Box<tracing::Span>>,
}

impl DeliveryFuture {
    /// The future of the record at `index` in `batch`, with its `send`
    /// span (given its offset once delivered). Built in place: a builder
    /// taking `self` by value moved the whole future once more per record.
    pub(crate) fn new(
        batch: Arc<BatchResult>,
        index: i32,
        timestamp: i64,
        topic: String,
        span: tracing::Span,
    ) -> Self {
        Self {
            batch,
            topic,
            timestamp,
            index,
            waker_slot: None,
            span: (!span.is_none()).then(|| Box::new(span)),
        }
    }
}

impl Future for DeliveryFuture {
    type Output = Result<DeliveryReport>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let outcome = match this.batch.poll_outcome(&mut this.waker_slot, cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(outcome) => outcome,
        };
        Poll::Ready(match outcome {
            Ok(d) => {
                let offset = if d.base_offset >= 0 {
                    d.base_offset + i64::from(this.index)
                } else {
                    -1
                };
                if let Some(span) = this.span.as_ref().filter(|_| offset >= 0) {
                    span.record("messaging.kafka.offset", offset);
                }
                Ok(DeliveryReport::new(
                    std::mem::take(&mut this.topic),
                    this.batch.partition,
                    offset,
                    d.append_time.unwrap_or(this.timestamp),
                ))
            }
            Err(e) => {
                if let Some(span) = &this.span {
                    span.record("otel.status_code", "ERROR");
                }
                Err(e.clone())
            }
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn completion(permits: &Arc<Semaphore>) -> Completion {
        Completion::new(permits.clone(), Arc::new(Metrics::default()), 3)
    }

    fn future(c: &Completion, index: i32) -> DeliveryFuture {
        DeliveryFuture::new(
            c.result().clone(),
            index,
            77,
            "t".into(),
            tracing::Span::none(),
        )
    }

    #[test]
    fn a_pending_record_without_a_subscriber_costs_no_whole_span() {
        // The bench keeps 100,000 of these pending: each byte is 100 kB.
        assert!(std::mem::size_of::<DeliveryFuture>() <= 64);
        let c = completion(&Arc::new(Semaphore::new(0)));
        assert!(future(&c, 0).span.is_none(), "no subscriber: nothing kept");
    }

    #[test]
    fn every_record_reads_its_offset_from_the_batch() {
        let buffer = Arc::new(Semaphore::new(0));
        let mut c = completion(&buffer);
        c.add_record(10);
        c.add_record(20);
        let mut first = future(&c, 0);
        let mut second = future(&c, 1);
        let counter = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut first).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut first).poll(&mut cx).is_pending());
        c.resolve(Ok(Delivered {
            base_offset: 100,
            append_time: None,
        }));
        assert_eq!(
            counter.0.load(Ordering::SeqCst),
            1,
            "one wake per waiting future"
        );
        assert_eq!(buffer.available_permits(), 30, "buffer space given back");
        let mut report = |f: &mut DeliveryFuture| match Pin::new(f).poll(&mut cx) {
            Poll::Ready(Ok(r)) => (r.offset, r.partition, r.timestamp, r.topic),
            other => panic!("{other:?}"),
        };
        assert_eq!(report(&mut first), (100, 3, 77, "t".to_owned()));
        assert_eq!(report(&mut second), (101, 3, 77, "t".to_owned()));
    }

    #[test]
    fn a_dropped_completion_fails_its_records_with_closed() {
        let buffer = Arc::new(Semaphore::new(0));
        let mut c = completion(&buffer);
        c.add_record(5);
        let mut f = future(&c, 0);
        drop(c);
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(matches!(
            Pin::new(&mut f).poll(&mut cx),
            Poll::Ready(Err(Error::Closed))
        ));
        assert_eq!(buffer.available_permits(), 5);
    }
}
