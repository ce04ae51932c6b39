//! The public `Consumer`: a stream of records over assigned partitions.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::config::ConsumerConfig;
use super::fetcher::{Command, Delivery, FetcherTask};
use super::record::ConsumerRecord;
use super::shared::Shared;
use crate::cluster::Client;
use crate::config::ClientConfig;
use crate::error::{Error, Result};
use crate::producer::TopicPartition;

/// Reads records from assigned partitions.
///
/// A background task fetches ahead (up to `max_buffered_bytes`); the
/// consumer is a [`futures_core::Stream`] of records, also usable through
/// [`Consumer::recv`]. A record counts as processed once the application
/// asks for the next one (or calls [`Consumer::mark_processed`]); offsets
/// committed by the group layer are those of processed records only.
#[derive(Debug)]
pub struct Consumer {
    client: Client,
    owns_client: bool,
    commands: mpsc::UnboundedSender<Command>,
    deliveries: mpsc::UnboundedReceiver<Delivery>,
    shared: Arc<Shared>,
    current: VecDeque<ConsumerRecord>,
    current_tp: Option<(TopicPartition, u64)>,
    last_handed: Option<(TopicPartition, i64)>,
    task: Option<JoinHandle<()>>,
    config: ConsumerConfig,
}

impl Consumer {
    /// Connects a new client and starts a consumer with no partitions.
    pub async fn connect(client: ClientConfig, config: ConsumerConfig) -> Result<Self> {
        let client = Client::connect(client).await?;
        let mut c = Self::with_client(client, config);
        c.owns_client = true;
        Ok(c)
    }

    /// Starts a consumer on an existing client.
    pub fn with_client(client: Client, config: ConsumerConfig) -> Self {
        let shared = Arc::new(Shared::default());
        let (commands, rx) = mpsc::unbounded_channel();
        let (out, deliveries) = mpsc::unbounded_channel();
        let task = FetcherTask::new(client.clone(), config.clone(), shared.clone(), out);
        let handle = tokio::spawn(task.run(rx));
        Self {
            client,
            owns_client: false,
            commands,
            deliveries,
            shared,
            current: VecDeque::new(),
            current_tp: None,
            last_handed: None,
            task: Some(handle),
            config,
        }
    }

    /// The client this consumer fetches through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The configuration.
    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    fn send(&self, cmd: Command) -> Result<()> {
        self.commands.send(cmd).map_err(|_| Error::Closed)
    }

    /// Adds partitions to read (manual assignment). A partition without a
    /// start offset begins where the reset policy says.
    pub fn assign(&self, partitions: Vec<(TopicPartition, Option<i64>)>) -> Result<()> {
        self.send(Command::Assign(partitions))
    }

    /// Assigns every partition of `topic` from the reset policy's position.
    pub async fn assign_topic(&self, topic: &str) -> Result<()> {
        let meta = self
            .client
            .topic(topic, self.client.config().request_timeout)
            .await?;
        self.assign(
            meta.partitions
                .iter()
                .map(|p| {
                    (
                        TopicPartition {
                            topic: topic.to_owned(),
                            partition: p.partition,
                        },
                        None,
                    )
                })
                .collect(),
        )
    }

    /// Stops reading partitions.
    pub fn unassign(&self, partitions: Vec<TopicPartition>) -> Result<()> {
        self.send(Command::Unassign(partitions))
    }

    /// Moves a partition's position; records fetched before are dropped.
    pub fn seek(&mut self, tp: TopicPartition, offset: i64) -> Result<()> {
        if self.current_tp.as_ref().is_some_and(|(t, _)| *t == tp) {
            self.current.clear();
            self.current_tp = None;
        }
        self.send(Command::Seek(tp, offset))
    }

    /// Stops fetching the partitions until [`Consumer::resume`].
    pub fn pause(&self, partitions: Vec<TopicPartition>) -> Result<()> {
        self.send(Command::Pause(partitions, true))
    }

    /// Resumes fetching paused partitions.
    pub fn resume(&self, partitions: Vec<TopicPartition>) -> Result<()> {
        self.send(Command::Pause(partitions, false))
    }

    /// Next fetch position and last known high watermark per assigned partition.
    pub async fn positions(&self) -> Result<HashMap<TopicPartition, (Option<i64>, i64)>> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Positions(tx))?;
        rx.await.map_err(|_| Error::Closed)
    }

    /// Lag per partition: high watermark minus the processed offset.
    pub async fn lag(&self) -> Result<HashMap<TopicPartition, i64>> {
        let positions = self.positions().await?;
        let processed = self.shared.processed();
        Ok(positions
            .into_iter()
            .filter(|(_, (_, hw))| *hw >= 0)
            .map(|(tp, (pos, hw))| {
                let done = processed.get(&tp).copied().or(pos).unwrap_or(hw);
                (tp, (hw - done).max(0))
            })
            .collect())
    }

    /// Offsets after the last processed record, per partition (what a commit would store).
    pub fn processed_offsets(&self) -> HashMap<TopicPartition, i64> {
        let mut p = self.shared.processed();
        if let Some((tp, offset)) = &self.last_handed {
            // The record in the application's hands is not processed yet.
            let _ = (tp, offset);
        }
        p.retain(|tp, _| self.shared.generation(tp).is_some());
        p
    }

    /// Marks the last record handed out as processed now (instead of at the next `recv`).
    pub fn mark_processed(&mut self) {
        if let Some((tp, offset)) = self.last_handed.take() {
            self.shared.mark_processed(&tp, offset + 1);
        }
    }

    /// The next record; `None` once the consumer is closed.
    pub async fn recv(&mut self) -> Option<Result<ConsumerRecord>> {
        std::future::poll_fn(|cx| self.poll_record(cx)).await
    }

    fn poll_record(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<ConsumerRecord>>> {
        self.mark_processed();
        loop {
            if let Some(record) = self.current.pop_front() {
                let tp = self.current_tp.as_ref().map(|(tp, _)| tp.clone());
                if let Some(tp) = tp {
                    self.last_handed = Some((tp, record.offset));
                }
                return Poll::Ready(Some(Ok(record)));
            }
            match self.deliveries.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Delivery::Error(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Delivery::Records {
                    tp,
                    generation,
                    bytes,
                    records,
                })) => {
                    self.shared.release_buffered(bytes);
                    if self.shared.generation(&tp) != Some(generation) {
                        continue; // seeked or revoked since it was fetched
                    }
                    self.current = records.into();
                    self.current_tp = Some((tp, generation));
                }
            }
        }
    }

    /// Stops the background task (and the client, if this consumer created it).
    pub async fn close(mut self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Close(tx)).is_ok() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), rx).await;
        }
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        if self.owns_client {
            self.client.close();
        }
        Ok(())
    }
}

impl futures_core::Stream for Consumer {
    type Item = Result<ConsumerRecord>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_record(cx)
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
