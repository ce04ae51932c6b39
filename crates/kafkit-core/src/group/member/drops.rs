//! Requests a broker keeps dropping the connection on.
//!
//! Some brokers accept a connection, advertise an API version in
//! ApiVersions, and then close the connection whenever a request arrives at
//! that version (librdkafka's mock cluster does it with JoinGroup v6+, whose
//! flexible encoding its handlers cannot parse). Retrying at the same pace
//! and the same version never ends: the member would reconnect, resend and
//! lose the connection every `retry_backoff`, forever, with nothing to show.
//!
//! [`DropTracker`] is the member's bookkeeping for it, per broker and API:
//!
//! - every connection drop while a request of that API was in flight at
//!   that broker counts one consecutive failure; an answer (any answer,
//!   error codes included) resets the count;
//! - the retry waits `retry_backoff × 2^(failures − 1)`, capped at
//!   [`MAX_BACKOFF`] (KIP-580's exponential backoff; no jitter: the member
//!   is deterministic, and one member retrying one request needs none);
//! - after [`DOWNGRADE_AFTER`] consecutive drops at the same version, the
//!   API is capped one version lower at that broker for the member's life
//!   (Java's clients and librdkafka likewise fall back to older versions
//!   when a broker mishandles newer ones), and a [`DroppedRequest`] is
//!   reported naming the broker, API and version. At version 0 there is
//!   nothing lower to try: the report repeats every `DOWNGRADE_AFTER` drops
//!   and the retries stay at the capped backoff.
//!
//! A real broker restarting while a JoinGroup is in flight costs one drop,
//! not two in a row at the same version; if it ever did cost a downgrade,
//! the lower version still works (JoinGroup v5 lacks only the rejoin reason).

use std::collections::BTreeMap;
use std::time::Duration;

use super::{GroupMember, InFlight, RequestId};
use crate::group::error::{DroppedRequest, GroupError, RequestFailure};
use crate::group::event::GroupEvent;
use crate::protocol::ApiKey;

/// Consecutive drops at one version before the member tries the next lower one.
pub(crate) const DOWNGRADE_AFTER: u32 = 2;
/// The longest wait between attempts (Java's `retry.backoff.max.ms` default).
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Drops per (broker, API): the streak and the version cap it earned.
#[derive(Debug, Default)]
pub(super) struct DropTracker {
    streaks: BTreeMap<(String, ApiKey), Streak>,
    caps: BTreeMap<(String, ApiKey), i16>,
}

#[derive(Debug, Clone, Copy)]
struct Streak {
    /// Consecutive drops of the API at the broker, any version.
    failures: u32,
    /// The version of the latest drop and how many in a row were at it.
    version: i16,
    at_version: u32,
}

/// What to do after a drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Verdict {
    /// Wait this long before the next attempt.
    pub backoff: Duration,
    /// Tell the application (every `DOWNGRADE_AFTER` drops at a version).
    pub report: Option<DroppedRequest>,
}

impl DropTracker {
    /// The highest version to send `api` at to `broker`, if capped.
    pub fn cap(&self, broker: &str, api: ApiKey) -> Option<i16> {
        self.caps.get(&(broker.to_owned(), api)).copied()
    }

    /// `broker` closed the connection while `api` was in flight at `version`.
    pub fn dropped(
        &mut self,
        broker: &str,
        api: ApiKey,
        version: i16,
        retry_backoff: Duration,
    ) -> Verdict {
        let key = (broker.to_owned(), api);
        let streak = self.streaks.entry(key.clone()).or_insert(Streak {
            failures: 0,
            version,
            at_version: 0,
        });
        streak.failures = streak.failures.saturating_add(1);
        if streak.version == version {
            streak.at_version = streak.at_version.saturating_add(1);
        } else {
            streak.version = version;
            streak.at_version = 1;
        }
        let exp = 1u32 << streak.failures.saturating_sub(1).min(16);
        let backoff = retry_backoff.saturating_mul(exp).min(MAX_BACKOFF);
        let at_version = streak.at_version;
        if !at_version.is_multiple_of(DOWNGRADE_AFTER) {
            return Verdict {
                backoff,
                report: None,
            };
        }
        let next_version = (version > 0).then(|| version - 1);
        if let Some(v) = next_version {
            self.caps.insert(key, v);
        }
        Verdict {
            backoff,
            report: Some(DroppedRequest {
                broker: broker.to_owned(),
                api,
                version,
                attempts: at_version,
                next_version,
            }),
        }
    }

    /// `broker` answered `api`: the streak is over (the cap stays).
    pub fn answered(&mut self, broker: &str, api: ApiKey) {
        self.streaks.remove(&(broker.to_owned(), api));
    }
}

impl GroupMember {
    /// The driver sent request `id` to `broker` (`host:port`) at `version`.
    /// Without it a failure of the request counts as an ordinary one: the
    /// member cannot tell which broker and version the broker refused.
    pub fn sent(&mut self, id: RequestId, broker: &str, version: i16) -> Result<(), GroupError> {
        let entry = self
            .in_flight
            .get_mut(&id)
            .ok_or(GroupError::UnknownRequest(id))?;
        entry.sent = Some((broker.to_owned(), version));
        Ok(())
    }

    /// A request failed: count a connection drop, report it when due, and
    /// say how long to wait before retrying.
    pub(super) fn note_failure<E: RequestFailure + ?Sized>(
        &mut self,
        entry: &InFlight,
        error: &E,
    ) -> Duration {
        let dropped = error.is_connection_drop();
        let Some((broker, version)) = entry.sent.as_ref().filter(|_| dropped) else {
            return self.cfg.retry_backoff;
        };
        let verdict = self
            .drops
            .dropped(broker, entry.api, *version, self.cfg.retry_backoff);
        if let Some(report) = verdict.report {
            self.events.push_back(GroupEvent::RequestDropped(report));
        }
        verdict.backoff
    }

    /// A request was answered: its broker handles its API at that version.
    pub(super) fn note_answer(&mut self, entry: &InFlight) {
        if let Some((broker, _)) = &entry.sent {
            self.drops.answered(broker, entry.api);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &str = "127.0.0.1:9092";
    const STEP: Duration = Duration::from_millis(100);

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut t = DropTracker::default();
        let waits: Vec<Duration> = (0..6)
            .map(|_| t.dropped(B, ApiKey::JOIN_GROUP, 0, STEP).backoff)
            .collect();
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn two_drops_at_a_version_cap_the_api_one_lower_at_that_broker() {
        let mut t = DropTracker::default();
        assert_eq!(t.dropped(B, ApiKey::JOIN_GROUP, 9, STEP).report, None);
        assert_eq!(t.cap(B, ApiKey::JOIN_GROUP), None);
        let report = t.dropped(B, ApiKey::JOIN_GROUP, 9, STEP).report;
        assert_eq!(
            report,
            Some(DroppedRequest {
                broker: B.to_owned(),
                api: ApiKey::JOIN_GROUP,
                version: 9,
                attempts: 2,
                next_version: Some(8),
            })
        );
        assert_eq!(t.cap(B, ApiKey::JOIN_GROUP), Some(8));
        assert_eq!(t.cap("other:1", ApiKey::JOIN_GROUP), None);
        assert_eq!(t.cap(B, ApiKey::SYNC_GROUP), None);
        // The next version starts its own count; the backoff keeps growing.
        let v = t.dropped(B, ApiKey::JOIN_GROUP, 8, STEP);
        assert_eq!((v.report, v.backoff), (None, STEP * 4));
        let msg = t
            .dropped(B, ApiKey::JOIN_GROUP, 8, STEP)
            .report
            .map(|r| r.to_string());
        assert_eq!(
            msg.as_deref(),
            Some("broker 127.0.0.1:9092 closed the connection 2 times in a row while JoinGroup v8 was in flight; trying JoinGroup v7 at that broker")
        );
        assert_eq!(t.cap(B, ApiKey::JOIN_GROUP), Some(7));
    }

    #[test]
    fn an_answer_ends_the_streak_but_keeps_the_cap() {
        let mut t = DropTracker::default();
        t.dropped(B, ApiKey::JOIN_GROUP, 6, STEP);
        t.dropped(B, ApiKey::JOIN_GROUP, 6, STEP);
        t.answered(B, ApiKey::JOIN_GROUP);
        assert_eq!(t.cap(B, ApiKey::JOIN_GROUP), Some(5));
        let v = t.dropped(B, ApiKey::JOIN_GROUP, 5, STEP);
        assert_eq!((v.report, v.backoff), (None, STEP));
    }

    #[test]
    fn at_version_zero_the_report_repeats_without_a_lower_version() {
        let mut t = DropTracker::default();
        let reports: Vec<Option<Option<i16>>> = (0..4)
            .map(|_| {
                t.dropped(B, ApiKey::HEARTBEAT, 0, STEP)
                    .report
                    .map(|r| r.next_version)
            })
            .collect();
        assert_eq!(reports, [None, Some(None), None, Some(None)]);
        assert_eq!(t.cap(B, ApiKey::HEARTBEAT), None);
    }
}
