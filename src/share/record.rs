//! What the share consumer hands the application.

use std::ops::Deref;

use crate::consumer::ConsumerRecord;
use crate::protocol::Uuid;

/// A record acquired from a share group: the record and how many times the
/// group delivered it (1 the first time; a released record or one whose
/// acquisition lock expired comes back with a higher count).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShareRecord {
    /// The record (topic, partition, offset, key, value, headers).
    pub record: ConsumerRecord,
    /// How many times it was delivered, this time included.
    pub delivery_count: i16,
    /// Its topic's id.
    pub topic_id: Uuid,
}

impl Deref for ShareRecord {
    type Target = ConsumerRecord;

    fn deref(&self) -> &ConsumerRecord {
        &self.record
    }
}
