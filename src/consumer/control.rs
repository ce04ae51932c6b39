//! A cloneable handle on a running consumer's controls (commit, pause,
//! heartbeat), for code that runs while the `Consumer` itself is busy, such
//! as a listener's handler or a task working on a record.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::fetcher::Command;
use super::group::GroupCommand;
use super::shared::Shared;
use crate::error::{Error, Result};
use crate::TopicPartition;

/// Controls of one [`Consumer`](super::Consumer), usable from other tasks.
///
/// Obtained from [`Consumer::control`](super::Consumer::control) (after
/// `subscribe` for the group calls). Once the consumer is closed every call
/// fails with [`Error::Closed`] (or does nothing, for `heartbeat`).
#[derive(Debug, Clone)]
pub struct ConsumerControl {
    pub(super) commands: mpsc::UnboundedSender<Command>,
    pub(super) group: Option<mpsc::UnboundedSender<GroupCommand>>,
    pub(super) shared: Arc<Shared>,
}

impl ConsumerControl {
    fn group(&self) -> Result<&mpsc::UnboundedSender<GroupCommand>> {
        self.group.as_ref().ok_or_else(|| Error::InvalidState {
            operation: "group call",
            reason: "not a group member: call subscribe first".to_owned(),
        })
    }

    /// Tells the group the application is alive while a slow handler runs
    /// (counts as a poll for `max_poll_interval`).
    pub fn heartbeat(&self) {
        self.shared.note_poll();
    }

    /// Commits the offsets of every processed record; resolves when the
    /// coordinator answered.
    pub async fn commit(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.group()?
            .send(GroupCommand::Commit(None, tx))
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// Commits explicit offsets (the offset of the *next* record to read).
    pub async fn commit_offsets<I>(&self, offsets: I) -> Result<()>
    where
        I: IntoIterator<Item = (TopicPartition, i64)>,
    {
        let offsets = offsets
            .into_iter()
            .map(|(tp, o)| (tp, crate::group::OffsetAndMetadata::new(o)))
            .collect();
        let (tx, rx) = oneshot::channel();
        self.group()?
            .send(GroupCommand::Commit(Some(offsets), tx))
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// The group's committed offsets for `partitions` (`None` where nothing is committed).
    pub async fn committed(
        &self,
        partitions: Vec<TopicPartition>,
    ) -> Result<BTreeMap<TopicPartition, Option<i64>>> {
        let (tx, rx) = oneshot::channel();
        self.group()?
            .send(GroupCommand::Committed(
                partitions.into_iter().collect(),
                tx,
            ))
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// Stops fetching the partitions (records already fetched may still be
    /// handed out; seek to drop them).
    pub fn pause(&self, partitions: Vec<TopicPartition>) -> Result<()> {
        self.commands
            .send(Command::Pause(partitions, true))
            .map_err(|_| Error::Closed)
    }

    /// Resumes fetching paused partitions.
    pub fn resume(&self, partitions: Vec<TopicPartition>) -> Result<()> {
        self.commands
            .send(Command::Pause(partitions, false))
            .map_err(|_| Error::Closed)
    }

    /// The offset to commit for `tp` once the records before `next_offset`
    /// are processed: past the control records and aborted data that
    /// follow them when the fetcher skipped those (as the consumer's own
    /// commits); `next_offset` otherwise. For offsets committed elsewhere
    /// (in a transaction).
    pub(crate) fn offset_to_commit(&self, tp: &TopicPartition, next_offset: i64) -> i64 {
        self.shared.past_skipped(tp, next_offset)
    }

    /// Marks records of `tp` before `next_offset` processed (what the next
    /// commit stores for it).
    /// Partitions not assigned (lost or revoked meanwhile) are left alone.
    pub(crate) fn mark_processed(&self, tp: &TopicPartition, next_offset: i64) {
        if self.shared.generation(tp).is_some() {
            self.shared.mark_processed(tp, next_offset);
        }
    }
}
