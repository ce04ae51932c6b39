//! Incremental fetch sessions (KIP-227), sans-IO.
//!
//! A broker that supports sessions (Fetch v7+) remembers which partitions a
//! client fetches; later requests then carry only the partitions whose fetch
//! position changed, plus the ones to forget. Epoch 0 opens a full session,
//! -1 fetches without one. On `FETCH_SESSION_ID_NOT_FOUND` or
//! `INVALID_FETCH_SESSION_EPOCH` the session is dropped and the next request
//! is a full one.
//!
//! Spec: KIP-227.

use std::collections::BTreeMap;

use crate::protocol::ErrorCode;

/// What a partition is fetched with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionFetch {
    /// Offset to fetch from.
    pub offset: i64,
    /// Leader epoch the client believes current (-1 if unknown).
    pub leader_epoch: i32,
    /// Bytes at most for this partition.
    pub max_bytes: i32,
}

/// The partitions of one request, as the session decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRequest<K> {
    /// Session id to send (0 for none / new).
    pub session_id: i32,
    /// Session epoch to send (-1 sessionless, 0 new full session, >0 incremental).
    pub epoch: i32,
    /// Partitions to include (all of them for a full request, changed ones otherwise).
    pub partitions: Vec<(K, PartitionFetch)>,
    /// Partitions the broker should drop from the session.
    pub forgotten: Vec<K>,
}

/// Client side of one broker's fetch session.
#[derive(Debug)]
pub struct FetchSession<K: Ord + Clone> {
    enabled: bool,
    id: i32,
    epoch: i32,
    /// What the broker's session holds, as of the last successful response.
    sent: BTreeMap<K, PartitionFetch>,
    /// The last request's view, committed to `sent` when its response succeeds.
    pending: Option<BTreeMap<K, PartitionFetch>>,
}

impl<K: Ord + Clone> FetchSession<K> {
    /// A session; `enabled` is false when the broker's Fetch version is below 7.
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            id: 0,
            epoch: 0,
            sent: BTreeMap::new(),
            pending: None,
        }
    }

    /// The request for the partitions `wanted` (all partitions the client
    /// wants from this broker now, with their positions).
    pub fn build(&mut self, wanted: &BTreeMap<K, PartitionFetch>) -> SessionRequest<K> {
        self.pending = Some(wanted.clone());
        if !self.enabled {
            return SessionRequest {
                session_id: 0,
                epoch: -1,
                partitions: wanted.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                forgotten: Vec::new(),
            };
        }
        if self.id == 0 {
            return SessionRequest {
                session_id: 0,
                epoch: 0,
                partitions: wanted.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                forgotten: Vec::new(),
            };
        }
        let partitions = wanted
            .iter()
            .filter(|(k, v)| self.sent.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        let forgotten = self
            .sent
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        SessionRequest {
            session_id: self.id,
            epoch: self.epoch,
            partitions,
            forgotten,
        }
    }

    /// Applies a response's top-level error and session id.
    ///
    /// Returns whether the response's partition data can be used.
    pub fn handle_response(&mut self, error: ErrorCode, session_id: i32) -> bool {
        let pending = self.pending.take();
        if !error.is_ok() {
            if matches!(
                error,
                ErrorCode::FETCH_SESSION_ID_NOT_FOUND | ErrorCode::INVALID_FETCH_SESSION_EPOCH
            ) {
                self.reset();
            }
            return false;
        }
        if !self.enabled {
            return true;
        }
        if let Some(p) = pending {
            self.sent = p;
        }
        if session_id == 0 {
            // The broker did not create a session: stay with full requests.
            self.id = 0;
            self.epoch = 0;
            self.sent.clear();
        } else {
            if self.id != session_id {
                self.id = session_id;
                self.epoch = 0;
            }
            self.epoch = next_epoch(self.epoch);
        }
        true
    }

    /// A request failed (timeout, disconnect): start over with a full request.
    pub fn reset(&mut self) {
        self.id = 0;
        self.epoch = 0;
        self.sent.clear();
        self.pending = None;
    }

    /// A partition's position changed outside the fetch flow (seek, reset):
    /// make sure the next request carries it.
    pub fn invalidate(&mut self, key: &K) {
        self.sent.remove(key);
    }
}

fn next_epoch(e: i32) -> i32 {
    if e == i32::MAX {
        1
    } else {
        e + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pf(offset: i64) -> PartitionFetch {
        PartitionFetch {
            offset,
            leader_epoch: -1,
            max_bytes: 1024,
        }
    }

    #[test]
    fn full_then_incremental_then_forget() {
        let mut s: FetchSession<&str> = FetchSession::new(true);
        let mut wanted = BTreeMap::from([("a", pf(0)), ("b", pf(0))]);
        let r1 = s.build(&wanted);
        assert_eq!((r1.session_id, r1.epoch, r1.partitions.len()), (0, 0, 2));
        assert!(s.handle_response(ErrorCode::NONE, 77));
        // Nothing changed: an empty incremental request.
        let r2 = s.build(&wanted);
        assert_eq!((r2.session_id, r2.epoch), (77, 1));
        assert!(r2.partitions.is_empty() && r2.forgotten.is_empty());
        assert!(s.handle_response(ErrorCode::NONE, 77));
        // a advanced, b dropped.
        wanted.insert("a", pf(10));
        wanted.remove("b");
        let r3 = s.build(&wanted);
        assert_eq!(r3.epoch, 2);
        assert_eq!(r3.partitions, vec![("a", pf(10))]);
        assert_eq!(r3.forgotten, vec!["b"]);
    }

    #[test]
    fn session_errors_fall_back_to_a_full_request() {
        let mut s: FetchSession<u8> = FetchSession::new(true);
        let wanted = BTreeMap::from([(1, pf(5))]);
        s.build(&wanted);
        s.handle_response(ErrorCode::NONE, 9);
        s.build(&wanted);
        assert!(!s.handle_response(ErrorCode::INVALID_FETCH_SESSION_EPOCH, 0));
        let r = s.build(&wanted);
        assert_eq!((r.session_id, r.epoch, r.partitions.len()), (0, 0, 1));
    }

    #[test]
    fn sessionless_brokers_get_full_requests_with_epoch_minus_one() {
        let mut s: FetchSession<u8> = FetchSession::new(false);
        let wanted = BTreeMap::from([(1, pf(5)), (2, pf(6))]);
        let r = s.build(&wanted);
        assert_eq!((r.session_id, r.epoch, r.partitions.len()), (0, -1, 2));
        assert!(s.handle_response(ErrorCode::NONE, 0));
        assert_eq!(s.build(&wanted).partitions.len(), 2);
    }

    #[test]
    fn invalidated_partition_is_resent() {
        let mut s: FetchSession<u8> = FetchSession::new(true);
        let wanted = BTreeMap::from([(1, pf(5))]);
        s.build(&wanted);
        s.handle_response(ErrorCode::NONE, 3);
        s.invalidate(&1);
        assert_eq!(s.build(&wanted).partitions.len(), 1);
    }
}
