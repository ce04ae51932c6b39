//! Group errors the member retries on its own, made visible.
//!
//! The sans-IO member retries a retriable FindCoordinator, JoinGroup,
//! SyncGroup or Heartbeat error without end (as the Java client does), and
//! before this a consumer that could never join printed nothing: a cluster
//! whose `__consumer_offsets` cannot be created (its
//! `offsets.topic.replication.factor` above the number of brokers) answers
//! every FindCoordinator with COORDINATOR_NOT_AVAILABLE. The first answer
//! with a given error is a `warn` event (later identical ones are `debug`),
//! until the member joins.

use std::collections::HashMap;

use tracing::{debug, warn};

use crate::group::{GroupResponse, RequestId};
use crate::protocol::{ApiKey, ErrorCode};

/// The last group error reported, so a retry loop warns once, not per attempt.
#[derive(Debug, Default)]
pub(super) struct GroupErrors {
    last: Option<(ApiKey, ErrorCode)>,
    /// Where each request in flight went.
    brokers: HashMap<RequestId, String>,
}

impl GroupErrors {
    /// Request `id` went to `broker`.
    pub(super) fn sent(&mut self, id: RequestId, broker: &str) {
        self.brokers.insert(id, broker.to_owned());
    }

    /// Request `id` ended; `resp` is its answer if one came.
    pub(super) fn observe(&mut self, id: RequestId, resp: Option<&GroupResponse>) {
        let broker = self.brokers.remove(&id).unwrap_or_default();
        if let Some(resp) = resp {
            self.report(&broker, resp);
        }
    }

    fn report(&mut self, broker: &str, resp: &GroupResponse) {
        let (api, code, message) = match resp {
            GroupResponse::FindCoordinator(r) => match r.coordinators.first() {
                Some(c) => (
                    ApiKey::FIND_COORDINATOR,
                    c.error_code,
                    c.error_message.as_deref(),
                ),
                None => (
                    ApiKey::FIND_COORDINATOR,
                    r.error_code,
                    r.error_message.as_deref(),
                ),
            },
            GroupResponse::JoinGroup(r) => (ApiKey::JOIN_GROUP, r.error_code, None),
            GroupResponse::SyncGroup(r) => (ApiKey::SYNC_GROUP, r.error_code, None),
            GroupResponse::Heartbeat(r) => (ApiKey::HEARTBEAT, r.error_code, None),
            _ => return,
        };
        if let Some(e) = routine(api, code) {
            if e {
                self.last = None;
            }
            return;
        }
        let said = message
            .filter(|m| !m.is_empty())
            .map(|m| format!(" ({m})"))
            .unwrap_or_default();
        if self.last == Some((api, code)) {
            debug!(broker, %api, error = %code, "group request failed again{said}; retrying");
            return;
        }
        self.last = Some((api, code));
        let next = if code.is_retriable() {
            "retrying until it succeeds"
        } else {
            "the consumer stops"
        };
        warn!(broker, %api, error = %code, "group request failed: {api} {code}{said} from broker {broker}; {next}");
    }
}

/// `Some(true)` for a success that ends a failure streak (the member
/// joined or synced), `Some(false)` for an answer that is part of the
/// normal protocol, `None` for an error worth telling.
fn routine(api: ApiKey, code: ErrorCode) -> Option<bool> {
    match code {
        ErrorCode::NONE => Some(matches!(api, ApiKey::JOIN_GROUP | ApiKey::SYNC_GROUP)),
        // KIP-394's first join, and the rebalances a member goes through.
        ErrorCode::MEMBER_ID_REQUIRED | ErrorCode::REBALANCE_IN_PROGRESS => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::messages::find_coordinator::FindCoordinatorResponse;
    use crate::protocol::messages::join_group::JoinGroupResponse;

    fn find(code: ErrorCode) -> GroupResponse {
        GroupResponse::FindCoordinator(FindCoordinatorResponse {
            error_code: code,
            ..Default::default()
        })
    }

    fn join(code: ErrorCode) -> GroupResponse {
        GroupResponse::JoinGroup(JoinGroupResponse {
            error_code: code,
            ..Default::default()
        })
    }

    #[test]
    fn a_repeated_error_is_reported_once_until_the_member_joins() {
        let mut e = GroupErrors::default();
        e.report("b:1", &find(ErrorCode::COORDINATOR_NOT_AVAILABLE));
        let first = e.last;
        assert_eq!(
            first,
            Some((
                ApiKey::FIND_COORDINATOR,
                ErrorCode::COORDINATOR_NOT_AVAILABLE
            ))
        );
        e.report("b:1", &find(ErrorCode::NONE));
        assert_eq!(e.last, first, "a coordinator found is not a join");
        e.report("b:1", &join(ErrorCode::MEMBER_ID_REQUIRED));
        assert_eq!(e.last, first, "MEMBER_ID_REQUIRED is routine");
        e.report("b:1", &join(ErrorCode::NONE));
        assert_eq!(e.last, None);
        e.report("b:1", &join(ErrorCode::GROUP_AUTHORIZATION_FAILED));
        assert_eq!(
            e.last,
            Some((ApiKey::JOIN_GROUP, ErrorCode::GROUP_AUTHORIZATION_FAILED))
        );
    }
}
