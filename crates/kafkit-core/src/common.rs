//! Types every layer shares, so that no module imports another layer just
//! for a name: the topic-partition pair, and the new leader a Produce or
//! Fetch error names (KIP-951).

use crate::protocol::ErrorCode;

/// A topic and partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

/// The new leader a failed Produce or Fetch partition named in its
/// `current_leader` field (KIP-951). The producer's and the fetcher's state
/// machines decide when it stands in for a metadata refresh
/// ([`LeaderHint::replaces_refresh`]); the driver takes it into its
/// metadata and refreshes only if its metadata cannot take it (a leader
/// whose endpoint it does not know, an epoch older than its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderHint {
    /// The new leader's broker id.
    pub leader_id: i32,
    /// Its leader epoch (-1 when the broker gave none).
    pub leader_epoch: i32,
}

impl LeaderHint {
    /// The hint in a partition's `current_leader` field: `None` when it
    /// names no leader (the field's default, -1).
    pub fn named(leader_id: i32, leader_epoch: i32) -> Option<Self> {
        (leader_id >= 0).then_some(Self {
            leader_id,
            leader_epoch,
        })
    }

    /// Whether this hint replaces the metadata refresh an answer with
    /// `code` would otherwise call for: only a stale-leader code
    /// ([`ErrorCode::needs_metadata_refresh`]) asks for one, and the hint
    /// answers it.
    pub fn replaces_refresh(self, code: ErrorCode) -> bool {
        code.needs_metadata_refresh()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_names_a_leader_and_answers_stale_leader_codes() {
        assert_eq!(LeaderHint::named(-1, -1), None, "the field's default");
        let hint = LeaderHint::named(2, 7).expect("names broker 2");
        assert_eq!((hint.leader_id, hint.leader_epoch), (2, 7));
        assert!(hint.replaces_refresh(ErrorCode::NOT_LEADER_OR_FOLLOWER));
        assert!(hint.replaces_refresh(ErrorCode::FENCED_LEADER_EPOCH));
        assert!(!hint.replaces_refresh(ErrorCode::REQUEST_TIMED_OUT));
        assert!(!hint.replaces_refresh(ErrorCode::NONE));
    }
}
