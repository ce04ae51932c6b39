//! Configuration of a group member.

use std::sync::Arc;
use std::time::Duration;

use super::assignor::{default_assignors, Assignor};
use super::error::GroupError;

/// How a consumer-group member behaves. Build with [`GroupConfig::new`],
/// then adjust the public fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GroupConfig {
    /// The group id (`group.id`).
    pub group_id: String,
    /// Static membership id (`group.instance.id`, KIP-345); `None` for a
    /// dynamic member.
    pub group_instance_id: Option<String>,
    /// Topics to subscribe to.
    pub topics: Vec<String>,
    /// Assignors offered in JoinGroup, in order of preference. The member
    /// runs the cooperative protocol only if every one is cooperative.
    pub assignors: Vec<Arc<dyn Assignor>>,
    /// Without a successful heartbeat for this long the coordinator drops
    /// the member and the member considers its partitions lost (default 45 s).
    pub session_timeout: Duration,
    /// How long the coordinator waits for members to rejoin (default 300 s).
    pub rebalance_timeout: Duration,
    /// Time between heartbeats (default 3 s); must be below the session timeout.
    pub heartbeat_interval: Duration,
    /// If the application makes no progress ([`poll`](super::GroupMember::poll))
    /// for this long, the member leaves the group (default 300 s).
    pub max_poll_interval: Duration,
    /// The member's rack (`client.rack`), sent in its subscription.
    pub rack: Option<String>,
    /// Wait before retrying after a retriable error (default 100 ms).
    pub retry_backoff: Duration,
    /// Time the driver should allow a request (default 30 s); JoinGroup gets
    /// the rebalance timeout plus 5 s if that is longer.
    pub request_timeout: Duration,
    /// Bound on a commit, including the commit the member asks for before
    /// it gives partitions up (default 10 s).
    pub commit_timeout: Duration,
    /// How long an elected leader waits for partition counts it lacks
    /// before assigning with what it has (default 5 s).
    pub metadata_timeout: Duration,
    /// Ask the driver to commit before partitions are revoked or the member
    /// leaves (default true). Lost partitions are never committed.
    pub commit_before_revoke: bool,
    /// Whether a static member sends LeaveGroup on close or poll timeout
    /// (default false: like Java and librdkafka, it keeps its slot until the
    /// session times out, so a quick restart causes no rebalance).
    pub static_member_leaves: bool,
}

impl GroupConfig {
    /// A dynamic member of `group_id` subscribed to `topics`, with Java's
    /// defaults and Java's default assignors (range, cooperative-sticky).
    pub fn new<S: Into<String>>(
        group_id: impl Into<String>,
        topics: impl IntoIterator<Item = S>,
    ) -> Self {
        Self {
            group_id: group_id.into(),
            group_instance_id: None,
            topics: topics.into_iter().map(Into::into).collect(),
            assignors: default_assignors(),
            session_timeout: Duration::from_secs(45),
            rebalance_timeout: Duration::from_secs(300),
            heartbeat_interval: Duration::from_secs(3),
            max_poll_interval: Duration::from_secs(300),
            rack: None,
            retry_backoff: Duration::from_millis(100),
            request_timeout: Duration::from_secs(30),
            commit_timeout: Duration::from_secs(10),
            metadata_timeout: Duration::from_secs(5),
            commit_before_revoke: true,
            static_member_leaves: false,
        }
    }

    /// Checks the configuration; [`GroupMember::new`](super::GroupMember::new) calls it.
    pub fn validate(&self) -> Result<(), GroupError> {
        let bad = |m: &str| Err(GroupError::Config(m.to_owned()));
        if self.group_id.is_empty() {
            return bad("group id is empty");
        }
        if self.group_instance_id.as_deref() == Some("") {
            return bad("group instance id is empty");
        }
        if self.assignors.is_empty() {
            return bad("no assignor");
        }
        for (i, a) in self.assignors.iter().enumerate() {
            if self
                .assignors
                .iter()
                .skip(i + 1)
                .any(|b| b.name() == a.name())
            {
                return Err(GroupError::Config(format!(
                    "assignor {} listed twice",
                    a.name()
                )));
            }
        }
        if self.heartbeat_interval.is_zero() || self.heartbeat_interval >= self.session_timeout {
            return bad("heartbeat interval must be positive and below the session timeout");
        }
        for (name, d) in [
            ("session timeout", self.session_timeout),
            ("rebalance timeout", self.rebalance_timeout),
        ] {
            if ms(d) == i32::MAX || d.is_zero() {
                return Err(GroupError::Config(format!("{name} out of range")));
            }
        }
        if self.max_poll_interval.is_zero() {
            return bad("max poll interval is zero");
        }
        Ok(())
    }

    /// Whether every assignor supports the cooperative protocol.
    pub fn is_cooperative(&self) -> bool {
        self.assignors.iter().all(|a| a.is_cooperative())
    }
}

/// A duration in whole milliseconds, saturating at `i32::MAX`.
pub(crate) fn ms(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::assignor::{CooperativeStickyAssignor, RangeAssignor};

    #[test]
    fn defaults_are_valid_and_eager() {
        let c = GroupConfig::new("g", ["t"]);
        assert!(c.validate().is_ok());
        assert!(!c.is_cooperative());
        let mut coop = c.clone();
        coop.assignors = vec![Arc::new(CooperativeStickyAssignor)];
        assert!(coop.is_cooperative());
    }

    #[test]
    fn invalid_configurations_are_refused() {
        let base = GroupConfig::new("g", ["t"]);
        let mut c = base.clone();
        c.group_id.clear();
        assert!(c.validate().is_err());
        let mut c = base.clone();
        c.heartbeat_interval = c.session_timeout;
        assert!(c.validate().is_err());
        let mut c = base.clone();
        c.assignors = vec![Arc::new(RangeAssignor), Arc::new(RangeAssignor)];
        assert!(c.validate().is_err());
        let mut c = base.clone();
        c.assignors.clear();
        assert!(c.validate().is_err());
        let mut c = base.clone();
        c.group_instance_id = Some(String::new());
        assert!(c.validate().is_err());
        let mut c = base;
        c.session_timeout = Duration::from_secs(u64::MAX / 4);
        assert!(c.validate().is_err());
    }
}
