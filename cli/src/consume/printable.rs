//! One consumed record's fields as `kafkit consume` prints them (the
//! default, `-J` and `-f` outputs all read this).

use bytes::Bytes;
use kafkit::consumer::ConsumerRecord;
use kafkit::protocol::record::TimestampType;

/// One record's fields, borrowed from a [`ConsumerRecord`].
#[derive(Debug, Clone)]
pub struct Printable<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Create or log-append time.
    pub timestamp_type: TimestampType,
    /// Timestamp (ms).
    pub timestamp: i64,
    /// The broker the record was fetched from.
    pub broker: i32,
    /// Headers in order (names are borrowed; values are slices of the fetch).
    pub headers: Vec<(&'a str, Option<Bytes>)>,
    /// Key.
    pub key: Option<&'a [u8]>,
    /// Value.
    pub value: Option<&'a [u8]>,
}

impl<'a> Printable<'a> {
    /// The fields of `r`, fetched from `broker` (headers that fail to decode are left out).
    pub fn of(r: &'a ConsumerRecord, broker: i32) -> Self {
        Self {
            topic: &r.topic,
            partition: r.partition,
            offset: r.offset,
            timestamp_type: r.timestamp_type,
            timestamp: r.timestamp,
            broker,
            headers: r
                .headers
                .iter()
                .filter_map(Result::ok)
                .map(|h| (h.key, h.value))
                .collect(),
            key: r.key.as_deref(),
            value: r.value.as_deref(),
        }
    }
}
