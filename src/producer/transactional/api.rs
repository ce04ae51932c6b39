//! The transactional calls of [`Producer`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::info;

use super::fail_unsent;
use super::{Driver, TransactionErrorKind, TransactionProtocol, Transactions};
use crate::consumer::ConsumerGroupMetadata;
use crate::error::{Error, Result};
use crate::producer::transaction::{TxnOffset, TxnState};
use crate::producer::{Producer, TopicPartition};
use crate::protocol::ErrorCode;

impl Producer {
    fn transactions(&self) -> Result<&Arc<Transactions>> {
        self.inner.txn.as_ref().map_err(Clone::clone)
    }

    /// Finds the transaction coordinator of the producer's transactional id
    /// (FindCoordinator, key type 1) and gets a producer id and epoch from
    /// it (InitProducerId with the transactional id and the transaction
    /// timeout). This fences any earlier producer with the same id: its
    /// open transaction is aborted and its next call fails with a fatal
    /// fenced error. Reads the cluster's finalized `transaction.version`
    /// (ApiVersions) to pick the transaction protocol. Call once, before
    /// the first [`begin_transaction`](Self::begin_transaction).
    pub async fn init_transactions(&self) -> Result<()> {
        let t = self.transactions()?;
        let mut d = t.driver.lock().await;
        let level = self
            .inner
            .client
            .pool()
            .any()
            .await?
            .finalized_feature("transaction.version")
            .unwrap_or(0);
        d.tm.set_transaction_version(level);
        d.tm.init_transactions()
            .map_err(|e| d.machine_error(&t.id, &e))?;
        let deadline = Instant::now() + t.timeout;
        d.run(&self.inner.client, &t.id, deadline, |d| {
            d.tm.state() == TxnState::Ready
        })
        .await?;
        let (producer_id, epoch) = d.tm.producer_id_and_epoch();
        info!(transactional_id = %t.id, producer_id, epoch, transaction_version = level, "transactions initialized");
        self.stamp_identity(&d);
        Ok(())
    }

    /// Opens a transaction (nothing is sent until the first record or
    /// offsets). One transaction at a time: fails while one is open.
    pub async fn begin_transaction(&self) -> Result<()> {
        let t = self.transactions()?;
        let mut guard = t.driver.lock().await;
        let d = &mut *guard;
        d.tm.begin_transaction()
            .map_err(|e| d.machine_error(&t.id, &e))?;
        let mut stamp = self.inner.shared.txn();
        stamp.protocol = Some(if d.tm.is_v2() {
            TransactionProtocol::V2
        } else {
            TransactionProtocol::V1
        });
        stamp.failure = None;
        stamp.doomed = false;
        Ok(())
    }

    /// The transaction protocol of the open (or last) transaction: `V2`
    /// when the cluster finalized `transaction.version` >= 2 (KIP-890),
    /// else `V1`; `None` before the first `begin_transaction` or for a
    /// producer without a transactional id.
    pub fn transaction_protocol(&self) -> Option<TransactionProtocol> {
        self.inner.shared.txn().protocol
    }

    /// Before the first record to `tp` in a transaction: v1 adds the
    /// partition (AddPartitionsToTxn) and waits for it; v2 lets Produce
    /// v12 add it. Fails outside a transaction.
    pub(crate) async fn add_to_transaction(&self, tp: TopicPartition) -> Result<()> {
        let Ok(t) = self.transactions() else {
            return Ok(());
        };
        let mut guard = t.driver.lock().await;
        let d = &mut *guard;
        if d.tm
            .add_partition(tp.clone())
            .map_err(|e| d.machine_error(&t.id, &e))?
        {
            return Ok(());
        }
        let deadline = Instant::now() + t.timeout;
        d.run(&self.inner.client, &t.id, deadline, |d| {
            d.tm.is_partition_ready(&tp)
        })
        .await
    }

    /// Adds consumed offsets to the open transaction (KIP-447): they are
    /// committed for the consumer's group if and only if the transaction
    /// commits. `offsets` are the next offsets to consume (one past the
    /// last processed record). `group` comes from
    /// [`Consumer::group_metadata`](crate::consumer::Consumer::group_metadata),
    /// so the group coordinator fences a producer whose consumer lost its
    /// partitions. v1 sends AddOffsetsToTxn then TxnOffsetCommit; v2 only
    /// TxnOffsetCommit.
    pub async fn send_offsets_to_transaction<I>(
        &self,
        offsets: I,
        group: &ConsumerGroupMetadata,
    ) -> Result<()>
    where
        I: IntoIterator<Item = (TopicPartition, i64)>,
    {
        let t = self.transactions()?;
        let mut guard = t.driver.lock().await;
        let d = &mut *guard;
        let offsets = offsets
            .into_iter()
            .map(|(partition, offset)| TxnOffset {
                partition,
                offset,
                leader_epoch: -1,
                metadata: None,
            })
            .collect();
        let before = d.offsets_sent;
        d.tm.send_offsets(offsets, group.clone())
            .map_err(|e| d.machine_error(&t.id, &e))?;
        let deadline = Instant::now() + t.timeout;
        d.run(&self.inner.client, &t.id, deadline, |d| {
            d.offsets_sent > before
        })
        .await
    }

    /// Flushes the transaction's records, then commits it (EndTxn). Fails
    /// with an abortable error if any of its records failed (abort then),
    /// with a fatal one if the producer was fenced.
    pub async fn commit_transaction(&self) -> Result<()> {
        let t = self.transactions()?;
        let mut guard = t.driver.lock().await;
        let d = &mut *guard;
        if d.tm.state() != TxnState::InTransaction {
            // Refused with the machine's own reason (no transaction, failed, fatal).
            d.tm.commit().map_err(|e| d.machine_error(&t.id, &e))?;
        }
        let deadline = Instant::now() + t.timeout;
        if let Some((tp, err)) = self.flush_or_failure(t, deadline).await? {
            return Err(self.fail_transaction(t, d, &tp, &err));
        }
        d.tm.commit().map_err(|e| d.machine_error(&t.id, &e))?;
        d.run(&self.inner.client, &t.id, deadline, |d| {
            d.tm.state() == TxnState::Ready
        })
        .await?;
        self.stamp_identity(d);
        Ok(())
    }

    /// Aborts the open transaction (or the one that failed): its records
    /// and offsets never become visible to read_committed consumers.
    /// Records still buffered are sent first, then EndTxn(abort).
    pub async fn abort_transaction(&self) -> Result<()> {
        let t = self.transactions()?;
        let mut guard = t.driver.lock().await;
        let d = &mut *guard;
        if !matches!(
            d.tm.state(),
            TxnState::InTransaction | TxnState::AbortableError
        ) {
            d.tm.abort().map_err(|e| d.machine_error(&t.id, &e))?;
        }
        let deadline = Instant::now() + t.timeout;
        // What was not sent is dropped (it would only be aborted); what is
        // in flight must be answered before EndTxn.
        let unsent = self.inner.shared.acc().take_unsent();
        fail_unsent(unsent, &t.id, "the transaction was aborted");
        self.flush_within(t, deadline).await?;
        {
            let mut stamp = self.inner.shared.txn();
            stamp.failure = None;
            stamp.doomed = false;
        }
        d.tm.abort().map_err(|e| d.machine_error(&t.id, &e))?;
        let ready = |d: &Driver| d.tm.state() == TxnState::Ready;
        d.run(&self.inner.client, &t.id, deadline, ready).await?;
        self.stamp_identity(d);
        if self.inner.shared.acc().needs_epoch_bump() {
            // Records of the aborted transaction failed, and their sequence
            // numbers with them: a new epoch restarts the sequences (KIP-360).
            d.tm.bump_epoch().map_err(|e| d.machine_error(&t.id, &e))?;
            d.run(&self.inner.client, &t.id, deadline, ready).await?;
            self.stamp_identity(d);
        }
        Ok(())
    }

    /// Aborts the open transaction, if there is one (for `close`).
    pub(crate) async fn abort_open_transaction(&self) -> Result<()> {
        let Ok(t) = self.transactions() else {
            return Ok(());
        };
        let open = matches!(
            t.driver.lock().await.tm.state(),
            TxnState::InTransaction | TxnState::AbortableError
        );
        if open {
            info!(transactional_id = %t.id, "close: aborting the open transaction");
            self.abort_transaction().await?;
        }
        Ok(())
    }

    /// Flushes, but returns as soon as a record of the transaction failed
    /// for good (its successors may then never be sent: the commit fails
    /// anyway); `Some` names it.
    async fn flush_or_failure(
        &self,
        t: &Transactions,
        deadline: Instant,
    ) -> Result<Option<(TopicPartition, Error)>> {
        let flush = self.flush();
        let mut flush = std::pin::pin!(flush);
        loop {
            if let Some(failure) = self.inner.shared.txn().failure.take() {
                return Ok(Some(failure));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(t.error(
                    TransactionErrorKind::TimedOut,
                    "the transaction's records were not all delivered within the transaction timeout",
                ));
            }
            let step = deadline.min(now + Duration::from_millis(20));
            if let Ok(flushed) = tokio::time::timeout_at(step.into(), &mut flush).await {
                flushed?;
                return Ok(self.inner.shared.txn().failure.take());
            }
        }
    }

    async fn flush_within(&self, t: &Transactions, deadline: Instant) -> Result<()> {
        tokio::time::timeout_at(deadline.into(), self.flush())
            .await
            .map_err(|_| {
                t.error(
                    TransactionErrorKind::TimedOut,
                    "the transaction's records were not all delivered within the transaction timeout",
                )
            })?
    }

    /// A record of the transaction failed for good: the transaction must
    /// be aborted (or, for a fencing error, the producer is done).
    fn fail_transaction(
        &self,
        t: &Transactions,
        d: &mut Driver,
        tp: &TopicPartition,
        err: &Error,
    ) -> Error {
        let code = err.code().unwrap_or(ErrorCode::REQUEST_TIMED_OUT);
        d.tm.on_produce_error(tp, code);
        while d.tm.poll_event().is_some() {}
        let Some(e) = d.tm.last_error().cloned() else {
            return t.error(TransactionErrorKind::Abortable, err.to_string());
        };
        match d.machine_error(&t.id, &e) {
            Error::Transaction(mut te) => {
                te.reason = format!("a record of the transaction failed: {err}");
                te.partition = Some((tp.topic.clone(), tp.partition));
                Error::Transaction(te)
            }
            other => other,
        }
    }

    /// Hands the machine's producer id and epoch to the sender; a new
    /// epoch restarts every partition's sequence at 0.
    fn stamp_identity(&self, d: &Driver) {
        let (id, epoch) = d.tm.producer_id_and_epoch();
        let identity = crate::producer::wire::ProducerIdentity { id, epoch };
        let changed = self.inner.shared.txn().identity != Some(identity);
        if changed {
            self.inner.shared.acc().reset_sequences();
            self.inner.shared.txn().identity = Some(identity);
            self.inner.shared.wake.notify_one();
        }
    }
}
