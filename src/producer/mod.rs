//! The producer: choosing partitions for records, batching them per
//! partition and sending the batches to partition leaders.
//!
//! [`partitioner`] is sans-IO: it decides where a record goes from the key and
//! the topic's partition list alone.

pub mod partitioner;
