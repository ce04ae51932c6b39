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

    /// The value read by `de` (any format: implement
    /// [`Deserializer`](crate::payload::Deserializer) for it). A null value
    /// is [`PayloadError::Null`](crate::payload::PayloadError::Null).
    pub fn decode<T, D: crate::payload::Deserializer<T> + ?Sized>(
        &self,
        de: &D,
    ) -> Result<T, crate::payload::PayloadError> {
        crate::payload::decode(de, self.value.as_deref())
    }

    /// The value as JSON (the `serde` feature).
    #[cfg(feature = "serde")]
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, crate::payload::PayloadError> {
        self.decode(&crate::payload::Json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(value: Option<&'static [u8]>) -> ConsumerRecord {
        ConsumerRecord {
            topic: Arc::from("t"),
            partition: 0,
            offset: 0,
            timestamp: 0,
            timestamp_type: TimestampType::CreateTime,
            key: None,
            value: value.map(Bytes::from_static),
            headers: HeaderBlock::default(),
            leader_epoch: -1,
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn json_values_decode_and_bad_ones_are_errors() {
        use crate::payload::PayloadError;
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct Order {
            id: u64,
        }
        assert_eq!(
            record(Some(br#"{"id":3}"#)).json::<Order>().unwrap(),
            Order { id: 3 }
        );
        assert!(matches!(
            record(Some(b"{")).json::<Order>(),
            Err(PayloadError::Decode(_))
        ));
        assert!(matches!(
            record(None).json::<Order>(),
            Err(PayloadError::Null)
        ));
    }

    #[test]
    fn decode_takes_any_deserializer() {
        struct Utf8;
        impl crate::payload::Deserializer<String> for Utf8 {
            fn deserialize(&self, b: &[u8]) -> Result<String, crate::payload::PayloadError> {
                String::from_utf8(b.to_vec())
                    .map_err(|e| crate::payload::PayloadError::Decode(Box::new(e)))
            }
        }
        assert_eq!(record(Some(b"hi")).decode(&Utf8).unwrap(), "hi");
        assert!(record(Some(&[0xff])).decode(&Utf8).is_err());
    }
}
