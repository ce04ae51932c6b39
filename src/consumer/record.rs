//! What the consumer hands the application.

use std::sync::Arc;

use bytes::Bytes;

use crate::protocol::record::{HeaderBlock, TimestampType};

/// One consumed record. Key, value and header values are zero-copy slices
/// of the fetched response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerRecord {
    /// Topic.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp in ms since the epoch.
    pub timestamp: i64,
    /// Whether the timestamp is the create time or the broker's log-append time.
    pub timestamp_type: TimestampType,
    /// Key (`None` is null).
    pub key: Option<Bytes>,
    /// Value (`None` is null).
    pub value: Option<Bytes>,
    /// Headers, decoded on demand.
    pub headers: HeaderBlock,
    /// Leader epoch of the batch (-1 if unknown).
    pub leader_epoch: i32,
}

impl ConsumerRecord {
    /// The value of the first header named `key`.
    pub fn header(&self, key: &str) -> Option<Bytes> {
        self.headers
            .iter()
            .filter_map(Result::ok)
            .find(|h| h.key == key)
            .and_then(|h| h.value)
    }

    /// The headers as `(name, value)` pairs (headers that fail to decode are skipped).
    pub fn header_pairs(&self) -> Vec<(String, Option<Bytes>)> {
        self.headers
            .iter()
            .filter_map(Result::ok)
            .map(|h| (h.key.to_owned(), h.value))
            .collect()
    }
}
