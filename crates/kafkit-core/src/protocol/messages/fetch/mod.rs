//! Fetch (key 1): read record batches from partition logs.
//!
//! The `records` of each partition are kept raw — encoded record batches
//! (or a legacy message set) that the record layer parses. Decoding a
//! response hands them out as zero-copy slices of the input frame, so a
//! fetch of many megabytes is never copied here.
//!
//! Versions 0-17, flexible from 12. Version-by-version changes: v3 max
//! bytes (KIP-74), v4 isolation level and aborted transactions (KIP-98),
//! v5 log start offset, v7 fetch sessions (KIP-227), v9 current leader
//! epoch (KIP-320), v11 rack id and preferred read replica (KIP-392), v12
//! flexible with last fetched epoch and diverging epoch (KIP-595), v13 topic
//! ids instead of names (KIP-516), v15 replica state (KIP-903), v16 leader
//! discovery (KIP-951), v17 replica directory id (KIP-853).
//!
//! Spec: `FetchRequest.json` / `FetchResponse.json` and the KIPs above.

mod request;
mod response;
#[cfg(test)]
mod tests;

use crate::protocol::{Reader, Result, Uuid, VersionRange, Writer};

pub use super::leader_discovery::{LeaderIdAndEpoch, NodeEndpoint};
pub use request::{FetchPartition, FetchRequest, FetchTopic, ForgottenTopic, ReplicaState};
pub use response::{
    AbortedTransaction, EpochEndOffset, FetchPartitionResponse, FetchResponse, FetchTopicResponse,
    SnapshotId,
};

/// Versions both Fetch codecs implement.
const VERSIONS: VersionRange = VersionRange::new(0, 17);
/// First flexible Fetch version.
const FLEXIBLE_FROM: Option<i16> = Some(12);

/// Writes a topic's name (v0-v12) or id (v13+); the other one is ignorable.
fn encode_topic_ref(w: &mut Writer<'_>, name: &str, id: &Uuid) -> Result<()> {
    if w.version() >= 13 {
        w.absent("topic", name.is_empty(), true)?;
        w.uuid(id);
    } else {
        w.absent("topic_id", id.is_zero(), true)?;
        w.string(name)?;
    }
    Ok(())
}

/// Reads a topic's name (v0-v12) or id (v13+).
fn decode_topic_ref(r: &mut Reader, version: i16) -> Result<(String, Uuid)> {
    if version >= 13 {
        Ok((String::new(), r.uuid()?))
    } else {
        Ok((r.string()?, Uuid::ZERO))
    }
}
