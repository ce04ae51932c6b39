//! Records the listener gave up on, as written to a dead-letter topic.
//!
//! A dead-letter record keeps the original key, value and headers and adds
//! these headers (values are UTF-8 text):
//!
//! | header | value |
//! | --- | --- |
//! | `kafkit-dlt-original-topic` | topic the record came from |
//! | `kafkit-dlt-original-partition` | its partition (decimal) |
//! | `kafkit-dlt-original-offset` | its offset (decimal) |
//! | `kafkit-dlt-original-timestamp` | its timestamp, ms since the epoch (decimal) |
//! | `kafkit-dlt-error` | the handler's last error, rendered |
//! | `kafkit-dlt-attempts` | deliveries made (decimal) |
//!
//! The record is partitioned by its key like any other; its timestamp is the
//! time it was dead-lettered.
//!
//! Spec: none; the header names are kafkit's own (Spring Kafka's
//! `kafka_dlt-*` headers are the nearest convention).

use bytes::Bytes;

use crate::consumer::ConsumerRecord;
use crate::producer::ProducerRecord;

/// Header naming the topic the record came from.
pub const HEADER_ORIGINAL_TOPIC: &str = "kafkit-dlt-original-topic";
/// Header carrying the original partition.
pub const HEADER_ORIGINAL_PARTITION: &str = "kafkit-dlt-original-partition";
/// Header carrying the original offset.
pub const HEADER_ORIGINAL_OFFSET: &str = "kafkit-dlt-original-offset";
/// Header carrying the original timestamp.
pub const HEADER_ORIGINAL_TIMESTAMP: &str = "kafkit-dlt-original-timestamp";
/// Header carrying the handler's last error.
pub const HEADER_ERROR: &str = "kafkit-dlt-error";
/// Header carrying the number of deliveries made.
pub const HEADER_ATTEMPTS: &str = "kafkit-dlt-attempts";

/// The dead-letter copy of `record` for `topic`.
pub(crate) fn dead_letter_record(
    record: &ConsumerRecord,
    topic: &str,
    error: &str,
    attempts: u32,
) -> ProducerRecord {
    let mut out = ProducerRecord::new(topic);
    out.key = record.key.clone();
    out.value = record.value.clone();
    out.headers = record.header_pairs();
    let text = |s: String| Some(Bytes::from(s));
    out.headers.extend([
        (
            HEADER_ORIGINAL_TOPIC.to_owned(),
            text(record.topic.to_string()),
        ),
        (
            HEADER_ORIGINAL_PARTITION.to_owned(),
            text(record.partition.to_string()),
        ),
        (
            HEADER_ORIGINAL_OFFSET.to_owned(),
            text(record.offset.to_string()),
        ),
        (
            HEADER_ORIGINAL_TIMESTAMP.to_owned(),
            text(record.timestamp.to_string()),
        ),
        (HEADER_ERROR.to_owned(), text(error.to_owned())),
        (HEADER_ATTEMPTS.to_owned(), text(attempts.to_string())),
    ]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::record::{HeaderBlock, TimestampType};

    #[test]
    fn keeps_key_value_and_adds_the_headers() {
        let record = ConsumerRecord {
            topic: "orders".into(),
            partition: 3,
            offset: 42,
            timestamp: 1_700_000_000_000,
            timestamp_type: TimestampType::CreateTime,
            key: Some(Bytes::from_static(b"k")),
            value: None,
            headers: HeaderBlock::default(),
            leader_epoch: 0,
        };
        let out = dead_letter_record(&record, "orders.dlt", "boom", 3);
        assert_eq!(out.topic, "orders.dlt");
        assert_eq!(out.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(out.value, None, "a null value stays null");
        let get = |name: &str| {
            out.headers
                .iter()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.clone())
        };
        assert_eq!(get(HEADER_ORIGINAL_TOPIC).as_deref(), Some(&b"orders"[..]));
        assert_eq!(get(HEADER_ORIGINAL_PARTITION).as_deref(), Some(&b"3"[..]));
        assert_eq!(get(HEADER_ORIGINAL_OFFSET).as_deref(), Some(&b"42"[..]));
        assert_eq!(
            get(HEADER_ORIGINAL_TIMESTAMP).as_deref(),
            Some(&b"1700000000000"[..])
        );
        assert_eq!(get(HEADER_ERROR).as_deref(), Some(&b"boom"[..]));
        assert_eq!(get(HEADER_ATTEMPTS).as_deref(), Some(&b"3"[..]));
    }
}
