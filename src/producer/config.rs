//! Producer settings, named after the Java client's where they overlap.

use std::time::Duration;

use crate::protocol::record::Compression;

/// How many replicas must have a record before the broker acknowledges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// Do not wait for an acknowledgement (`acks=0`): fastest, records may be lost.
    None,
    /// The leader wrote it (`acks=1`).
    Leader,
    /// Every in-sync replica has it (`acks=all`, required for idempotence).
    All,
}

impl Acks {
    /// The wire value.
    pub fn wire(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

/// Producer configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProducerConfig {
    /// Acknowledgement level (default `All`).
    pub acks: Acks,
    /// How long a batch may wait for more records (`linger.ms`, default 5 ms).
    pub linger: Duration,
    /// Largest batch per partition in bytes before it is sent (`batch.size`, default 64 KiB).
    pub batch_size: usize,
    /// Bytes of unsent and unacknowledged records before `send` waits (`buffer.memory`, default 32 MiB).
    pub buffer_memory: usize,
    /// Compression codec (default none).
    pub compression: Compression,
    /// Upper bound on the time from `send` to a delivery report or error, retries included
    /// (`delivery.timeout.ms`, default 120 s).
    pub delivery_timeout: Duration,
    /// Wait between retries of a failed batch (`retry.backoff.ms`, default 100 ms).
    pub retry_backoff: Duration,
    /// Largest Produce request in bytes (`max.request.size`, default 1 MiB).
    pub max_request_size: usize,
    /// Idempotent producer (default on; used when the broker supports it and acks is `All`).
    pub idempotence: bool,
    /// Requests in flight per partition (`max.in.flight.requests.per.connection`, default 5;
    /// without idempotence kafkit keeps one per partition so retries cannot reorder records,
    /// unless `allow_reordering` is set).
    pub max_in_flight: usize,
    /// Without idempotence, keep up to `max_in_flight` batches of a partition in flight
    /// instead of one (default false). Faster, but a retried batch may then land after a
    /// later one, as with the Java client when idempotence is off. No effect on an
    /// idempotent producer, whose sequences keep order.
    pub allow_reordering: bool,
    /// How long the broker may wait for replicas (`timeout_ms` of the request, default 30 s).
    pub ack_timeout: Duration,
    /// Makes the producer transactional (`transactional.id`, default none):
    /// see [`Producer::init_transactions`](super::Producer::init_transactions).
    /// Implies idempotence and acks=all (the producer forces both).
    pub transactional_id: Option<String>,
    /// Idle time after which the coordinator aborts an open transaction
    /// (`transaction.timeout.ms`, default 60 s); also the most each
    /// transactional call waits.
    pub transaction_timeout: Duration,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        Self {
            acks: Acks::All,
            linger: Duration::from_millis(5),
            batch_size: 64 * 1024,
            buffer_memory: 32 * 1024 * 1024,
            compression: Compression::None,
            delivery_timeout: Duration::from_secs(120),
            retry_backoff: Duration::from_millis(100),
            max_request_size: 1024 * 1024,
            idempotence: true,
            max_in_flight: 5,
            allow_reordering: false,
            ack_timeout: Duration::from_secs(30),
            transactional_id: None,
            transaction_timeout: Duration::from_secs(60),
        }
    }
}

impl ProducerConfig {
    /// Whether batches carry producer id and sequences (idempotence asked
    /// for and acks=all; the broker may still turn out to lack support).
    pub(crate) fn is_idempotent(&self) -> bool {
        self.idempotence && self.acks == Acks::All
    }

    /// Batches in flight per partition: up to 5 with idempotence (sequences
    /// keep them in order), else [`ProducerConfig::in_flight_without_idempotence`].
    pub(crate) fn in_flight_per_partition(&self) -> usize {
        if self.is_idempotent() {
            self.max_in_flight.clamp(1, 5)
        } else {
            self.in_flight_without_idempotence()
        }
    }

    /// One, so a retry cannot reorder records, unless reordering is allowed.
    pub(crate) fn in_flight_without_idempotence(&self) -> usize {
        if self.allow_reordering {
            self.max_in_flight.clamp(1, 5)
        } else {
            1
        }
    }

    /// Sets acks.
    pub fn with_acks(mut self, acks: Acks) -> Self {
        self.acks = acks;
        self
    }

    /// Sets linger.
    pub fn with_linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Sets the batch size.
    pub fn with_batch_size(mut self, bytes: usize) -> Self {
        self.batch_size = bytes;
        self
    }

    /// Sets the buffer limit.
    pub fn with_buffer_memory(mut self, bytes: usize) -> Self {
        self.buffer_memory = bytes;
        self
    }

    /// Sets the compression codec.
    pub fn with_compression(mut self, c: Compression) -> Self {
        self.compression = c;
        self
    }

    /// Sets the delivery timeout.
    pub fn with_delivery_timeout(mut self, t: Duration) -> Self {
        self.delivery_timeout = t;
        self
    }

    /// Sets the retry backoff.
    pub fn with_retry_backoff(mut self, t: Duration) -> Self {
        self.retry_backoff = t;
        self
    }

    /// Turns idempotence on or off.
    pub fn with_idempotence(mut self, on: bool) -> Self {
        self.idempotence = on;
        self
    }

    /// Sets the requests in flight per partition (1 to 5; see `allow_reordering`
    /// for a producer without idempotence).
    pub fn with_max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.clamp(1, 5);
        self
    }

    /// Lets a producer without idempotence keep `max_in_flight` batches of a
    /// partition in flight, at the risk of reordering on retries.
    pub fn with_reordering_allowed(mut self, allow: bool) -> Self {
        self.allow_reordering = allow;
        self
    }

    /// Makes the producer transactional with this id (forces idempotence
    /// and acks=all).
    pub fn with_transactional_id(mut self, id: impl Into<String>) -> Self {
        self.transactional_id = Some(id.into());
        self
    }

    /// Sets the transaction timeout.
    pub fn with_transaction_timeout(mut self, t: Duration) -> Self {
        self.transaction_timeout = t;
        self
    }

    /// Sets the maximum request size.
    pub fn with_max_request_size(mut self, bytes: usize) -> Self {
        self.max_request_size = bytes;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_batch_in_flight_without_idempotence_unless_reordering_is_allowed() {
        let leader = ProducerConfig::default().with_acks(Acks::Leader);
        assert_eq!(
            leader.in_flight_per_partition(),
            1,
            "the default keeps order"
        );
        let opted_in = leader
            .clone()
            .with_reordering_allowed(true)
            .with_max_in_flight(4);
        assert_eq!(opted_in.in_flight_per_partition(), 4);
        let idempotent = ProducerConfig::default().with_max_in_flight(3);
        assert_eq!(idempotent.in_flight_per_partition(), 3);
        let no_idempotence = idempotent.with_idempotence(false);
        assert_eq!(no_idempotence.in_flight_per_partition(), 1);
    }
}
