//! What becomes of a batch once the broker answered (or did not): the
//! accumulator decides, driven by (answer, now), so the sender task only
//! carries the decision out.
//!
//! | answer | decision |
//! | --- | --- |
//! | no error | written at the base offset |
//! | `DUPLICATE_SEQUENCE_NUMBER` | written before (a retry of a batch the broker has): done, offset unknown |
//! | `OUT_OF_ORDER_SEQUENCE_NUMBER`, idempotent, at most 10 attempts | retried: it was sent behind a batch that failed |
//! | a retriable code or transport failure, before the delivery timeout | retried after the backoff |
//! | a stale-leader code naming the new leader (KIP-951) | as above, with `leader` instead of `refresh` |
//! | a retriable failure after the delivery timeout | failed, `expired` |
//! | anything else | failed |
//!
//! Spec: KIP-98 (idempotent producer: sequence errors), KIP-91 (delivery
//! timeout), KIP-951 (the new leader in a Produce error).

use std::time::{Duration, Instant};

use super::{Accumulator, Batch};
use crate::common::LeaderHint;
use crate::protocol::ErrorCode;

/// How many times an out-of-order batch of an idempotent producer is tried
/// before it fails (it waits for the batches ahead of it to be retried).
const OUT_OF_ORDER_ATTEMPTS: u32 = 10;

/// What came back for one batch of a Produce request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchAnswer {
    /// The partition's answer: its error code, base offset and log append
    /// time (-1 when the topic uses create time).
    Partition {
        /// The partition's error code.
        code: ErrorCode,
        /// Offset of the batch's first record.
        base_offset: i64,
        /// Broker time of the append, or -1.
        log_append_time_ms: i64,
        /// The new leader the error named (KIP-951), if any.
        leader: Option<LeaderHint>,
    },
    /// acks=0: no response; the batch counts as sent.
    Unacknowledged,
    /// The request failed as a whole (connection, timeout) or the response
    /// lacked the partition (`code`); `retriable` as the shell's one table says.
    Failed {
        /// The code that stands for the failure, if the broker gave one.
        code: Option<ErrorCode>,
        /// Whether retrying may help.
        retriable: bool,
    },
}

/// The accumulator's decision for one batch.
#[derive(Debug)]
pub enum ProduceOutcome<T> {
    /// The batch is done: resolve its records.
    Written {
        /// The batch (its buffer may be recycled).
        batch: Batch<T>,
        /// Base offset (-1 when unknown: acks=0 or a duplicate).
        base_offset: i64,
        /// Log append time when the broker set it.
        append_time: Option<i64>,
    },
    /// The batch is queued again (in sequence order) after the backoff.
    Retried {
        /// Whether the metadata should be refreshed first (stale leader).
        refresh: bool,
        /// The new leader to take into the metadata instead of a refresh
        /// (KIP-951; `refresh` is false then).
        leader: Option<LeaderHint>,
    },
    /// The batch is given up: resolve its records with the error.
    Failed {
        /// The batch.
        batch: Batch<T>,
        /// The failure was retriable but the delivery timeout passed.
        expired: bool,
        /// Whether the metadata should be refreshed (stale leader).
        refresh: bool,
        /// The new leader to take into the metadata instead of a refresh
        /// (KIP-951; `refresh` is false then).
        leader: Option<LeaderHint>,
    },
}

impl<T> Accumulator<T> {
    /// Decides what becomes of `batch` after `answer` (see the module's
    /// table) and updates the bookkeeping: a written batch confirms its
    /// sequence, a retried one goes back in order, a failed one with a
    /// sequence calls for a new epoch.
    pub fn on_produced(
        &mut self,
        batch: Batch<T>,
        answer: BatchAnswer,
        now: Instant,
        backoff: Duration,
    ) -> ProduceOutcome<T> {
        let (code, retriable, hint) = match answer {
            BatchAnswer::Partition {
                code,
                base_offset,
                log_append_time_ms,
                ..
            } if code.is_ok() => {
                let append_time = (log_append_time_ms >= 0).then_some(log_append_time_ms);
                return self.written(batch, base_offset, append_time);
            }
            BatchAnswer::Partition {
                code: ErrorCode::DUPLICATE_SEQUENCE_NUMBER,
                ..
            }
            | BatchAnswer::Unacknowledged => return self.written(batch, -1, None),
            BatchAnswer::Partition { code, leader, .. } => {
                (Some(code), code.is_retriable(), leader)
            }
            BatchAnswer::Failed { code, retriable } => (code, retriable, None),
        };
        let stale = code.is_some_and(ErrorCode::needs_metadata_refresh);
        let leader = hint.filter(|h| code.is_some_and(|c| h.replaces_refresh(c)));
        let refresh = stale && leader.is_none();
        let out_of_order = code == Some(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
            && self.is_idempotent()
            && batch.attempts <= OUT_OF_ORDER_ATTEMPTS;
        let expired = batch.is_expired(now);
        if (retriable || out_of_order) && !expired {
            self.retry(batch, now, backoff);
            return ProduceOutcome::Retried { refresh, leader };
        }
        self.fail(&batch);
        ProduceOutcome::Failed {
            batch,
            expired: expired && retriable,
            refresh,
            leader,
        }
    }

    fn written(
        &mut self,
        batch: Batch<T>,
        base_offset: i64,
        append_time: Option<i64>,
    ) -> ProduceOutcome<T> {
        self.complete(&batch);
        ProduceOutcome::Written {
            batch,
            base_offset,
            append_time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AccumulatorConfig, NewRecord, ProducerRecord};
    use super::*;

    fn acc(idempotent: bool) -> Accumulator<u32> {
        Accumulator::new(AccumulatorConfig {
            linger: Duration::ZERO,
            batch_size: 100,
            max_in_flight: 1,
            idempotent,
            pool_buffers: 1,
        })
    }

    /// One record appended to t/0 and drained to leader 1, as the sender would.
    fn sent(acc: &mut Accumulator<u32>, now: Instant, timeout: Duration) -> Batch<u32> {
        let record = ProducerRecord::new("t").value("v");
        let rec = NewRecord {
            record: &record,
            partition: 0,
            timestamp: 1_000,
            deadline: now + timeout,
            size: 10,
        };
        acc.append(&rec, now, || 7).expect("append");
        let mut d = acc.drain(now, |_| Some(1));
        let mut batches = d.by_leader.remove(&1).expect("drained");
        batches.pop().expect("one batch")
    }

    fn partition(code: ErrorCode) -> BatchAnswer {
        BatchAnswer::Partition {
            code,
            base_offset: 40,
            log_append_time_ms: -1,
            leader: None,
        }
    }

    const BACKOFF: Duration = Duration::from_millis(100);

    #[test]
    fn written_and_duplicate_batches_complete() {
        let t0 = Instant::now();
        let mut a = acc(true);
        let b = sent(&mut a, t0, Duration::from_secs(5));
        let out = a.on_produced(b, partition(ErrorCode::NONE), t0, BACKOFF);
        assert!(matches!(
            out,
            ProduceOutcome::Written {
                base_offset: 40,
                append_time: None,
                ..
            }
        ));
        assert_eq!(a.in_flight(), 0);
        let b = sent(&mut a, t0, Duration::from_secs(5));
        let dup = partition(ErrorCode::DUPLICATE_SEQUENCE_NUMBER);
        let out = a.on_produced(b, dup, t0, BACKOFF);
        assert!(matches!(
            out,
            ProduceOutcome::Written {
                base_offset: -1,
                ..
            }
        ));
        assert!(!a.needs_epoch_bump());
    }

    #[test]
    fn retriable_errors_requeue_until_the_delivery_timeout() {
        let t0 = Instant::now();
        let mut a = acc(false);
        let b = sent(&mut a, t0, Duration::from_secs(5));
        let stale = partition(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        let out = a.on_produced(b, stale, t0, BACKOFF);
        assert!(matches!(
            out,
            ProduceOutcome::Retried {
                refresh: true,
                leader: None
            }
        ));
        assert_eq!(a.queued().0, 1, "back in the queue");
        assert!(a.drain(t0, |_| Some(1)).by_leader.is_empty(), "backoff");
        let mut d = a.drain(t0 + BACKOFF, |_| Some(1));
        let b = d
            .by_leader
            .remove(&1)
            .and_then(|mut v| v.pop())
            .expect("again");
        let late = t0 + Duration::from_secs(6);
        let dropped = BatchAnswer::Failed {
            code: None,
            retriable: true,
        };
        let out = a.on_produced(b, dropped, late, BACKOFF);
        assert!(matches!(
            out,
            ProduceOutcome::Failed {
                expired: true,
                refresh: false,
                ..
            }
        ));
    }

    #[test]
    fn out_of_order_is_retried_only_for_an_idempotent_producer() {
        let t0 = Instant::now();
        let ooo = partition(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
        let mut a = acc(true);
        let b = sent(&mut a, t0, Duration::from_secs(5));
        assert!(matches!(
            a.on_produced(b, ooo, t0, BACKOFF),
            ProduceOutcome::Retried {
                refresh: false,
                leader: None
            }
        ));
        let mut plain = acc(false);
        let b = sent(&mut plain, t0, Duration::from_secs(5));
        let out = plain.on_produced(b, ooo, t0, BACKOFF);
        assert!(matches!(out, ProduceOutcome::Failed { expired: false, .. }));
    }

    #[test]
    fn a_failed_sequenced_batch_needs_a_new_epoch() {
        let t0 = Instant::now();
        let mut a = acc(true);
        let b = sent(&mut a, t0, Duration::from_secs(5));
        let fatal = partition(ErrorCode::MESSAGE_TOO_LARGE);
        let out = a.on_produced(b, fatal, t0, BACKOFF);
        assert!(matches!(out, ProduceOutcome::Failed { expired: false, .. }));
        assert!(a.needs_epoch_bump());
        assert_eq!(a.in_flight(), 0);
    }

    #[test]
    fn a_named_leader_replaces_the_metadata_refresh() {
        let t0 = Instant::now();
        let mut a = acc(true);
        let hint = LeaderHint::named(2, 5);
        let moved = BatchAnswer::Partition {
            code: ErrorCode::NOT_LEADER_OR_FOLLOWER,
            base_offset: -1,
            log_append_time_ms: -1,
            leader: hint,
        };
        let b = sent(&mut a, t0, Duration::from_secs(5));
        assert!(matches!(
            a.on_produced(b, moved, t0, BACKOFF),
            ProduceOutcome::Retried {
                refresh: false,
                leader: Some(LeaderHint {
                    leader_id: 2,
                    leader_epoch: 5
                })
            }
        ));
        // A hint with an error it does not answer is ignored.
        let timed_out = BatchAnswer::Partition {
            code: ErrorCode::REQUEST_TIMED_OUT,
            base_offset: -1,
            log_append_time_ms: -1,
            leader: hint,
        };
        let mut d = a.drain(t0 + BACKOFF, |_| Some(1));
        let b = d
            .by_leader
            .remove(&1)
            .and_then(|mut v| v.pop())
            .expect("again");
        assert!(matches!(
            a.on_produced(b, timed_out, t0 + BACKOFF, BACKOFF),
            ProduceOutcome::Retried {
                refresh: false,
                leader: None
            }
        ));
        // Past the delivery timeout the batch fails; the hint still reaches
        // the metadata for the batches behind it.
        let mut d = a.drain(t0 + BACKOFF * 3, |_| Some(1));
        let b = d
            .by_leader
            .remove(&1)
            .and_then(|mut v| v.pop())
            .expect("again");
        let late = t0 + Duration::from_secs(6);
        assert!(matches!(
            a.on_produced(b, moved, late, BACKOFF),
            ProduceOutcome::Failed {
                expired: true,
                refresh: false,
                leader: Some(_),
                ..
            }
        ));
    }
}
