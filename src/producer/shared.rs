//! The state the `Producer` handles and the sender task share: the
//! accumulator (handles append under its lock, the task drains) and what the
//! transactional calls tell the task.

use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

use super::accumulator::{Accumulator, AccumulatorConfig};
use super::config::ProducerConfig;
use super::delivery::Completion;
use super::transactional::TxnStamp;

/// What the handles and the task share: handles append records under the
/// lock (short critical sections: encoding one record), the task drains.
#[derive(Debug)]
pub(crate) struct Shared {
    acc: Mutex<Accumulator<Completion>>,
    /// Told when a batch opens (a linger deadline to watch) or fills up.
    pub wake: Notify,
    /// The transactional id, for a transactional producer.
    pub transactional_id: Option<String>,
    /// What the transactional calls tell the task (never held with `acc`).
    txn: Mutex<TxnStamp>,
}

impl Shared {
    pub fn new(cfg: &ProducerConfig) -> Self {
        let idempotent = cfg.is_idempotent();
        let batch_size = cfg.batch_size.max(1);
        Self {
            acc: Mutex::new(Accumulator::new(AccumulatorConfig {
                linger: cfg.linger,
                batch_size: cfg.batch_size,
                max_in_flight: cfg.in_flight_per_partition(),
                idempotent,
                pool_buffers: (cfg.buffer_memory / batch_size).clamp(1, 16),
            })),
            wake: Notify::new(),
            transactional_id: cfg.transactional_id.clone(),
            txn: Mutex::new(TxnStamp::default()),
        }
    }

    /// The transactional state (a poisoned lock is taken over).
    pub fn txn(&self) -> MutexGuard<'_, TxnStamp> {
        self.txn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The accumulator (a poisoned lock is taken over: the state is kept consistent per call).
    pub fn acc(&self) -> MutexGuard<'_, Accumulator<Completion>> {
        self.acc.lock().unwrap_or_else(|p| p.into_inner())
    }
}
