//! The exactly-once mode of the listener: one transaction per handler call.
//!
//! ```text
//!   record(s) ──> begin ──> handler ──Ok──> send offsets ──> commit ──> next
//!                              │                 │ abortable     │ abortable
//!                              Err               └───────┬───────┘
//!                              │                         v
//!                              v                       abort, redeliver
//!                            abort ──> retry policy:    (same attempt)
//!                                      redeliver, or dead letter + offsets
//!                                      in their own transaction
//!                  (any fatal error: the consumer run crashes; a restart
//!                   makes a new producer, which fences the old one)
//! ```
//!
//! The consumer reads `read_committed` with auto-commit off and the listener
//! marks nothing processed: the only offsets the group stores are those
//! committed in transactions. The group metadata (generation, member id) is
//! taken before the handler runs, so a rebalance during the handler makes
//! the offset commit fail (KIP-447 fencing by the group coordinator) and
//! the transaction abort before another member can take the partition over.
//!
//! Spec: KIP-98 (transactions), KIP-447 (offsets with the consumer group
//! metadata).

use std::time::Duration;

use tracing::{debug, warn};

use super::task::{Exit, Runner};
use crate::config::ClientConfig;
use crate::consumer::ConsumerGroupMetadata;
use crate::error::{Error, Result};
use crate::producer::{Producer, ProducerConfig, ProducerRecord, TopicPartition};

/// Bound on closing the transactional producer of a consumer run.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);

/// What an exactly-once step ended in, beyond success.
pub(super) enum TxnFailure {
    /// The transaction was aborted (the producer is usable): redeliver.
    Aborted(String),
    /// The producer cannot go on: end this consumer run.
    Fatal(Exit),
}

/// The transactional producer of one consumer run, initialized (fencing an
/// earlier instance with the same transactional id).
pub(super) async fn start(client: &ClientConfig, config: &ProducerConfig) -> Result<Producer> {
    let producer = Producer::connect(client.clone(), config.clone()).await?;
    if let Err(e) = producer.init_transactions().await {
        let _ = producer.close(CLOSE_LIMIT).await;
        return Err(e);
    }
    Ok(producer)
}

/// Closes the producer of a consumer run (aborting an open transaction).
pub(super) async fn stop(producer: Producer) {
    if let Err(e) = producer.close(CLOSE_LIMIT).await {
        warn!(error = %e, "closing the listener's transactional producer");
    }
}

/// Whether `e` leaves the producer usable after an abort.
fn abortable(e: &Error) -> bool {
    match e {
        Error::Transaction(t) => !t.is_fatal(),
        _ => true,
    }
}

fn fatal(e: &Error) -> TxnFailure {
    TxnFailure::Fatal(Exit::crash(e))
}

impl Runner {
    /// Opens the transaction of one handler call.
    pub(super) async fn begin_txn(&self, producer: &Producer) -> std::result::Result<(), Exit> {
        producer
            .begin_transaction()
            .await
            .map_err(|e| Exit::crash(&e))
    }

    /// Commits the handler's records with `offsets` (the next records to
    /// read), or aborts them.
    pub(super) async fn commit_txn(
        &self,
        producer: &Producer,
        offsets: Vec<(TopicPartition, i64)>,
        group: &ConsumerGroupMetadata,
    ) -> std::result::Result<(), TxnFailure> {
        let committed = async {
            producer.send_offsets_to_transaction(offsets, group).await?;
            producer.commit_transaction().await
        }
        .await;
        match committed {
            Ok(()) => Ok(()),
            Err(e) if abortable(&e) => {
                debug!(error = %e, "exactly-once: the commit failed, aborting");
                self.abort_txn(producer).await?;
                Err(TxnFailure::Aborted(format!("the transaction failed: {e}")))
            }
            Err(e) => Err(fatal(&e)),
        }
    }

    /// Aborts the open transaction (after a handler's `Err`).
    pub(super) async fn abort_txn(
        &self,
        producer: &Producer,
    ) -> std::result::Result<(), TxnFailure> {
        match producer.abort_transaction().await {
            Ok(()) => Ok(()),
            Err(e) => Err(fatal(&e)),
        }
    }

    /// Gives records up in one transaction: their dead letters (if any)
    /// and the offset past them commit together.
    pub(super) async fn give_up_txn(
        &self,
        producer: &Producer,
        letters: Vec<ProducerRecord>,
        next: (TopicPartition, i64),
        group: &ConsumerGroupMetadata,
    ) -> Result<()> {
        producer.begin_transaction().await?;
        let sent = async {
            if !letters.is_empty() {
                producer.send_all(letters).await?;
            }
            producer.send_offsets_to_transaction([next], group).await?;
            producer.commit_transaction().await
        }
        .await;
        if let Err(e) = sent {
            if abortable(&e) {
                let _ = producer.abort_transaction().await;
            }
            return Err(e);
        }
        Ok(())
    }
}
