//! Consumer settings, named after the Java client's where they overlap.

use std::time::Duration;

/// Where to start when a partition has no committed offset, or its offset
/// is out of range (`auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    /// The oldest record still in the log (kafkajs's `fromBeginning: true`).
    Earliest,
    /// Only records written from now on.
    Latest,
    /// Report an error instead of guessing.
    None,
}

/// Isolation level for transactional data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    /// Read everything, including records of open and aborted transactions.
    ReadUncommitted,
    /// Read only committed records, up to the last stable offset.
    ReadCommitted,
}

impl IsolationLevel {
    pub(crate) fn wire(self) -> i8 {
        match self {
            Self::ReadUncommitted => 0,
            Self::ReadCommitted => 1,
        }
    }
}

/// The group protocol a subscribing consumer speaks (`group.protocol`).
///
/// `Classic` is the default because brokers older than Apache Kafka 4.0 are
/// still common: 3.x brokers do not accept the consumer protocol at all
/// (3.7-3.9 only behind a preview flag), while every broker since 0.9
/// speaks the classic one. Kafka 4.0+ brokers speak both, and a group can
/// hold members of both kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GroupProtocol {
    /// JoinGroup/SyncGroup/Heartbeat with a client-side assignor: every
    /// broker version; rebalances stop the group (eager) or run in two
    /// rounds (cooperative).
    #[default]
    Classic,
    /// KIP-848's ConsumerGroupHeartbeat: the coordinator assigns
    /// (`uniform` or `range`, see [`ConsumerConfig::group_remote_assignor`]),
    /// members reconcile incrementally, no group-wide barrier; Kafka 4.0+.
    Consumer,
}

/// Consumer configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConsumerConfig {
    /// Consumer group; `None` for a consumer that only uses manual assignment.
    pub group_id: Option<String>,
    /// Static membership id (`group.instance.id`, KIP-345).
    pub group_instance_id: Option<String>,
    /// Start position without a committed offset (default `Latest`, as the Java client).
    pub offset_reset: OffsetReset,
    /// Commit processed offsets periodically (default on).
    pub auto_commit: bool,
    /// Auto-commit period (default 5 s).
    pub auto_commit_interval: Duration,
    /// Smallest response the broker waits for (`fetch.min.bytes`, default 1).
    pub fetch_min_bytes: i32,
    /// Largest response (`fetch.max.bytes`, default 50 MiB).
    pub fetch_max_bytes: i32,
    /// Largest data per partition per fetch (`max.partition.fetch.bytes`, default 1 MiB).
    pub max_partition_fetch_bytes: i32,
    /// How long the broker may wait for `fetch_min_bytes` (`fetch.max.wait.ms`, default 500 ms).
    pub fetch_max_wait: Duration,
    /// Transaction isolation (default read uncommitted).
    pub isolation_level: IsolationLevel,
    /// Fetched bytes buffered ahead of the application before fetching pauses
    /// (default 64 MiB); compressed batches count what they decompressed to.
    pub max_buffered_bytes: usize,
    /// Group session timeout (default 45 s).
    pub session_timeout: Duration,
    /// Group rebalance timeout (default 5 min, as `max.poll.interval.ms`).
    pub rebalance_timeout: Duration,
    /// Heartbeat period (default 3 s).
    pub heartbeat_interval: Duration,
    /// Longest time between two polls before the member leaves the group (default 5 min).
    pub max_poll_interval: Duration,
    /// Largest decompressed batch accepted (default 64 MiB).
    pub max_decompressed_size: usize,
    /// Rack of this client (`client.rack`), for fetch-from-follower and rack-aware assignors.
    pub rack: Option<String>,
    /// Assignors in preference order; `None` uses range then cooperative-sticky (Java's default).
    pub assignors: Option<Vec<std::sync::Arc<dyn crate::group::Assignor>>>,
    /// The group protocol `subscribe` speaks (default [`GroupProtocol::Classic`]).
    pub group_protocol: GroupProtocol,
    /// The coordinator's assignor for [`GroupProtocol::Consumer`]
    /// (`group.remote.assignor`: `uniform` or `range`); `None` lets the
    /// group use the broker's default. Ignored by the classic protocol,
    /// whose assignors are [`assignors`](Self::assignors).
    pub group_remote_assignor: Option<String>,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            group_id: None,
            group_instance_id: None,
            offset_reset: OffsetReset::Latest,
            auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            fetch_min_bytes: 1,
            fetch_max_bytes: 50 * 1024 * 1024,
            max_partition_fetch_bytes: 1024 * 1024,
            fetch_max_wait: Duration::from_millis(500),
            isolation_level: IsolationLevel::ReadUncommitted,
            max_buffered_bytes: 64 * 1024 * 1024,
            session_timeout: Duration::from_secs(45),
            rebalance_timeout: Duration::from_secs(300),
            heartbeat_interval: Duration::from_secs(3),
            max_poll_interval: Duration::from_secs(300),
            max_decompressed_size: 64 * 1024 * 1024,
            rack: None,
            assignors: None,
            group_protocol: GroupProtocol::Classic,
            group_remote_assignor: None,
        }
    }
}

impl ConsumerConfig {
    /// A group consumer's defaults.
    pub fn group(group_id: impl Into<String>) -> Self {
        Self {
            group_id: Some(group_id.into()),
            ..Self::default()
        }
    }

    /// Starts from the earliest offset when nothing is committed (kafkajs `fromBeginning`).
    pub fn from_beginning(mut self) -> Self {
        self.offset_reset = OffsetReset::Earliest;
        self
    }

    /// Sets the reset policy.
    pub fn with_offset_reset(mut self, r: OffsetReset) -> Self {
        self.offset_reset = r;
        self
    }

    /// Turns auto-commit on or off.
    pub fn with_auto_commit(mut self, on: bool) -> Self {
        self.auto_commit = on;
        self
    }

    /// Sets the auto-commit interval.
    pub fn with_auto_commit_interval(mut self, t: Duration) -> Self {
        self.auto_commit_interval = t;
        self
    }

    /// Sets the prefetch memory budget.
    pub fn with_max_buffered_bytes(mut self, n: usize) -> Self {
        self.max_buffered_bytes = n;
        self
    }

    /// Sets the isolation level.
    pub fn with_isolation_level(mut self, l: IsolationLevel) -> Self {
        self.isolation_level = l;
        self
    }

    /// Sets the fetch wait time.
    pub fn with_fetch_max_wait(mut self, t: Duration) -> Self {
        self.fetch_max_wait = t;
        self
    }

    /// Sets the per-partition fetch size.
    pub fn with_max_partition_fetch_bytes(mut self, n: i32) -> Self {
        self.max_partition_fetch_bytes = n;
        self
    }

    /// Sets the group session timeout.
    pub fn with_session_timeout(mut self, t: Duration) -> Self {
        self.session_timeout = t;
        self
    }

    /// Sets the heartbeat interval.
    pub fn with_heartbeat_interval(mut self, t: Duration) -> Self {
        self.heartbeat_interval = t;
        self
    }

    /// Sets the maximum poll interval.
    pub fn with_max_poll_interval(mut self, t: Duration) -> Self {
        self.max_poll_interval = t;
        self
    }

    /// Sets the assignors, in preference order (e.g. only
    /// `CooperativeStickyAssignor` for incremental rebalancing).
    pub fn with_assignors(
        mut self,
        assignors: Vec<std::sync::Arc<dyn crate::group::Assignor>>,
    ) -> Self {
        self.assignors = Some(assignors);
        self
    }

    /// Sets the group protocol (`group.protocol`).
    pub fn with_group_protocol(mut self, p: GroupProtocol) -> Self {
        self.group_protocol = p;
        self
    }

    /// Sets the coordinator's assignor for the consumer protocol
    /// (`group.remote.assignor`: `uniform` or `range`).
    pub fn with_group_remote_assignor(mut self, name: impl Into<String>) -> Self {
        self.group_remote_assignor = Some(name.into());
        self
    }

    /// Sets the static membership id.
    pub fn with_group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.group_instance_id = Some(id.into());
        self
    }
}
