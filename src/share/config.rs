//! Share consumer settings, named after the Java `KafkaShareConsumer`'s.

use std::time::Duration;

pub use kafkit_core::share::ShareAcquireMode;

/// How delivered records are acknowledged (`share.acknowledgement.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AcknowledgementMode {
    /// Every record a poll delivered is accepted by the next poll (or by
    /// [`commit_sync`](super::ShareConsumer::commit_sync) / close); the default.
    #[default]
    Implicit,
    /// The application acknowledges each record with
    /// [`acknowledge`](super::ShareConsumer::acknowledge); polling again
    /// while a delivered record is unacknowledged is an error.
    Explicit,
}

/// Share consumer configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ShareConsumerConfig {
    /// The share group.
    pub group_id: String,
    /// Implicit (default) or explicit acknowledgement.
    pub acknowledgement_mode: AcknowledgementMode,
    /// Records one ShareFetch acquires at most (`max.poll.records`, default 500).
    pub max_records: i32,
    /// Whether a fetch may acquire past `max_records` to end on a record
    /// batch boundary (`share.acquire.mode`, KIP-1206; default
    /// [`ShareAcquireMode::BatchOptimized`]). Sent from ShareFetch v2 (Kafka
    /// 4.2); older brokers always acquire whole batches.
    pub acquire_mode: ShareAcquireMode,
    /// How long a leader may hold a ShareFetch for `fetch_min_bytes`
    /// (`fetch.max.wait.ms`, default 500 ms).
    pub fetch_max_wait: Duration,
    /// Smallest response the leader waits for (`fetch.min.bytes`, default 1).
    pub fetch_min_bytes: i32,
    /// Largest response (`fetch.max.bytes`, default 50 MiB).
    pub fetch_max_bytes: i32,
    /// Largest decompressed batch accepted (default 64 MiB).
    pub max_decompressed_size: usize,
    /// Rack of this client, sent when joining.
    pub rack: Option<String>,
}

impl ShareConsumerConfig {
    /// The defaults, in share group `group_id`.
    pub fn new(group_id: impl Into<String>) -> Self {
        Self {
            group_id: group_id.into(),
            acknowledgement_mode: AcknowledgementMode::Implicit,
            max_records: 500,
            acquire_mode: ShareAcquireMode::BatchOptimized,
            fetch_max_wait: Duration::from_millis(500),
            fetch_min_bytes: 1,
            fetch_max_bytes: 50 << 20,
            max_decompressed_size: 64 << 20,
            rack: None,
        }
    }

    /// Sets the acknowledgement mode.
    pub fn with_acknowledgement_mode(mut self, mode: AcknowledgementMode) -> Self {
        self.acknowledgement_mode = mode;
        self
    }

    /// Sets the records one fetch acquires at most.
    pub fn with_max_records(mut self, n: i32) -> Self {
        self.max_records = n;
        self
    }

    /// Sets the acquire mode: [`ShareAcquireMode::RecordLimit`] makes
    /// `max_records` a hard limit per fetch.
    pub fn with_acquire_mode(mut self, mode: ShareAcquireMode) -> Self {
        self.acquire_mode = mode;
        self
    }
}
