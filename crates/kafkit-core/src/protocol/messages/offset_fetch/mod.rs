//! OffsetFetch (key 9): read a consumer group's committed offsets.
//!
//! Sent to the group coordinator. Two shapes share the API:
//! - v0-v7 name a single group at the top level, and the response lists
//!   topics at the top level too (a top-level error code from v2, the
//!   committed leader epoch from v5, `require_stable` from v7);
//! - v8+ batch several groups (`groups` in request and response), and v9
//!   adds the KIP-848 member id and epoch to each requested group.
//!
//! A null topic list asks for every topic the group has offsets for (v2+ in
//! the single-group form, always allowed in the batched form). v6 is the
//! first flexible version. v0 read offsets from ZooKeeper and is deprecated.
//!
//! Spec: `OffsetFetchRequest.json` / `OffsetFetchResponse.json`, KIP-320
//! (leader epoch), KIP-447 (`require_stable`), KIP-709 (batched groups), KIP-848.

mod request;
mod response;

pub use request::{OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic};
pub use response::{
    OffsetFetchResponse, OffsetFetchResponseGroup, OffsetFetchResponsePartition,
    OffsetFetchResponseTopic,
};

use crate::protocol::VersionRange;

const VERSIONS: VersionRange = VersionRange::new(0, 9);
const FLEXIBLE_FROM: Option<i16> = Some(6);
