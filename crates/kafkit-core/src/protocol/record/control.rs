//! Control records: the single record of a control batch, whose key says
//! what it controls. Transaction markers (ABORT/COMMIT) carry an end-txn
//! value; the KRaft types are recognised but their values are left raw.
//!
//! ```text
//! key:   version: int16, type: int16
//! value (ABORT/COMMIT): version: int16, coordinator_epoch: int32
//! ```
//!
//! Spec: KIP-98 (transaction markers), KIP-595/KIP-630 (KRaft control types).

use bytes::{BufMut, Bytes, BytesMut};

use super::batch::{BatchAttributes, BatchHeader, RecordBatch};
use super::records::Record;
use crate::protocol::error::{ProtocolError, Result};

fn short(needed: usize, input: &[u8]) -> ProtocolError {
    ProtocolError::UnexpectedEof {
        needed,
        remaining: input.len(),
    }
}

/// The type of a control record. Unknown types survive decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ControlRecordType(pub i16);

impl ControlRecordType {
    /// A transaction was aborted.
    pub const ABORT: Self = Self(0);
    /// A transaction was committed.
    pub const COMMIT: Self = Self(1);
    /// KRaft: the leader changed.
    pub const LEADER_CHANGE: Self = Self(2);
    /// KRaft: start of a snapshot.
    pub const SNAPSHOT_HEADER: Self = Self(3);
    /// KRaft: end of a snapshot.
    pub const SNAPSHOT_FOOTER: Self = Self(4);

    /// Whether this is an ABORT or COMMIT transaction marker.
    pub fn is_transaction_marker(self) -> bool {
        self == Self::ABORT || self == Self::COMMIT
    }
}

/// The key of a control record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ControlRecordKey {
    /// Key schema version (0).
    pub version: i16,
    /// What the record controls.
    pub kind: ControlRecordType,
}

impl ControlRecordKey {
    /// The key of an ABORT marker.
    pub const ABORT: Self = Self {
        version: 0,
        kind: ControlRecordType::ABORT,
    };
    /// The key of a COMMIT marker.
    pub const COMMIT: Self = Self {
        version: 0,
        kind: ControlRecordType::COMMIT,
    };

    /// Parses a control record's key (fields after the type are ignored, as
    /// newer key versions may add them).
    pub fn decode(key: &[u8]) -> Result<Self> {
        let [v0, v1, t0, t1] = *key.first_chunk::<4>().ok_or(short(4, key))?;
        Ok(Self {
            version: i16::from_be_bytes([v0, v1]),
            kind: ControlRecordType(i16::from_be_bytes([t0, t1])),
        })
    }

    /// The encoded key.
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(4);
        buf.put_i16(self.version);
        buf.put_i16(self.kind.0);
        buf.freeze()
    }

    /// Reads the control key of a record of a control batch.
    pub fn of_record(key: Option<&Bytes>) -> Result<Self> {
        Self::decode(key.ok_or(ProtocolError::UnexpectedNull)?)
    }
}

/// The value of an ABORT or COMMIT marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct EndTxnMarker {
    /// Value schema version (0).
    pub version: i16,
    /// Epoch of the transaction coordinator that wrote the marker.
    pub coordinator_epoch: i32,
}

impl EndTxnMarker {
    /// Parses a marker's value.
    pub fn decode(value: &[u8]) -> Result<Self> {
        let [v0, v1, e0, e1, e2, e3] = *value.first_chunk::<6>().ok_or(short(6, value))?;
        Ok(Self {
            version: i16::from_be_bytes([v0, v1]),
            coordinator_epoch: i32::from_be_bytes([e0, e1, e2, e3]),
        })
    }

    /// The encoded value.
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(6);
        buf.put_i16(self.version);
        buf.put_i32(self.coordinator_epoch);
        buf.freeze()
    }
}

/// Builds the control batch a transaction coordinator writes to end a
/// transaction: one ABORT or COMMIT record at `base_offset`.
pub fn end_txn_batch(
    producer_id: i64,
    producer_epoch: i16,
    commit: bool,
    coordinator_epoch: i32,
    timestamp: i64,
) -> RecordBatch {
    let key = if commit {
        ControlRecordKey::COMMIT
    } else {
        ControlRecordKey::ABORT
    };
    RecordBatch {
        header: BatchHeader {
            attributes: BatchAttributes {
                transactional: true,
                control: true,
                ..BatchAttributes::default()
            },
            base_timestamp: timestamp,
            max_timestamp: timestamp,
            producer_id,
            producer_epoch,
            ..BatchHeader::default()
        },
        records: vec![Record {
            key: Some(key.encode()),
            value: Some(
                EndTxnMarker {
                    version: 0,
                    coordinator_epoch,
                }
                .encode(),
            ),
            ..Record::default()
        }],
    }
}
