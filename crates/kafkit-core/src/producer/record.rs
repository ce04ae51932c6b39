//! What the application hands the producer, and what it gets back.

use bytes::Bytes;

/// A record to send.
///
/// ```
/// use kafkit_core::producer::ProducerRecord;
/// let r = ProducerRecord::new("orders")
///     .key("customer-42")
///     .value(r#"{"total": 12}"#)
///     .header("source", "web");
/// assert_eq!(r.topic, "orders");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ProducerRecord {
    /// Topic to send to.
    pub topic: String,
    /// Explicit partition; `None` lets the partitioner choose (murmur2 of the key, or sticky).
    pub partition: Option<i32>,
    /// Key (null when `None`).
    pub key: Option<Bytes>,
    /// Value (null when `None`: a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// Headers, in order.
    pub headers: Vec<(String, Option<Bytes>)>,
    /// Create time in ms since the epoch; `None` uses the time of `send`.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record for `topic` with no key, value or headers yet.
    pub fn new(topic: impl Into<String>) -> Self {
        Self {
            topic: topic.into(),
            ..Self::default()
        }
    }

    /// Sets the key.
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the value.
    pub fn value(mut self, value: impl Into<Bytes>) -> Self {
        self.value = Some(value.into());
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.headers.push((name.into(), Some(value.into())));
        self
    }

    /// Sets an explicit partition.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the create timestamp (ms since the epoch).
    pub fn timestamp(mut self, ms: i64) -> Self {
        self.timestamp = Some(ms);
        self
    }

    /// Sets the value to `value` written by `ser` (any format: implement
    /// [`Serializer`](crate::payload::Serializer) for it).
    pub fn value_with<T: ?Sized, S: crate::payload::Serializer<T> + ?Sized>(
        mut self,
        ser: &S,
        value: &T,
    ) -> Result<Self, crate::payload::PayloadError> {
        self.value = Some(ser.serialize(value)?);
        Ok(self)
    }

    /// Sets the value to `value` as JSON (the `serde` feature).
    ///
    /// ```
    /// # use kafkit_core::producer::ProducerRecord;
    /// #[derive(serde::Serialize)]
    /// struct Order { id: u64 }
    /// let record = ProducerRecord::new("orders").key("o-1").json(&Order { id: 1 })?;
    /// assert_eq!(record.value.as_deref(), Some(&br#"{"id":1}"#[..]));
    /// # Ok::<(), kafkit_core::payload::PayloadError>(())
    /// ```
    #[cfg(feature = "serde")]
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn json<T: serde::Serialize + ?Sized>(
        self,
        value: &T,
    ) -> Result<Self, crate::payload::PayloadError> {
        self.value_with(&crate::payload::Json, value)
    }

    /// Bytes this record takes in a batch, roughly (used for batching and the buffer limit).
    pub fn size_estimate(&self) -> usize {
        let kv =
            self.key.as_ref().map_or(0, Bytes::len) + self.value.as_ref().map_or(0, Bytes::len);
        let headers: usize = self
            .headers
            .iter()
            .map(|(k, v)| k.len() + v.as_ref().map_or(0, Bytes::len) + 4)
            .sum();
        kv + headers + 24
    }
}

/// Where a record was written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset assigned by the broker; -1 when unknown (acks=0, or a duplicate the broker had already written).
    pub offset: i64,
    /// Record timestamp: the broker's log-append time when the topic uses it, else the create time.
    pub timestamp: i64,
}

impl DeliveryReport {
    /// A report of `offset` in `topic`/`partition` written at `timestamp`
    /// (for the client that drives the producer).
    pub fn new(topic: String, partition: i32, offset: i64, timestamp: i64) -> Self {
        Self {
            topic,
            partition,
            offset,
            timestamp,
        }
    }
}
