//! Leader-discovery structs shared by the Produce and Fetch responses.
//!
//! Since KIP-951 a broker answering `NOT_LEADER_OR_FOLLOWER` tells the client
//! who the new leader is (per partition, [`LeaderIdAndEpoch`]) and how to
//! reach it (top level, [`NodeEndpoint`]), so the client can redirect without
//! a metadata round trip. Both only ever travel inside tagged fields, so
//! their bodies are always in the flexible encoding.
//!
//! Spec: KIP-951.

use crate::protocol::{Reader, Result, TaggedFields, Writer};

/// The current leader of a partition and its epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct LeaderIdAndEpoch {
    /// Broker id of the current leader, -1 if unknown.
    pub leader_id: i32,
    /// Latest known leader epoch, -1 if unknown.
    pub leader_epoch: i32,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for LeaderIdAndEpoch {
    fn default() -> Self {
        Self {
            leader_id: -1,
            leader_epoch: -1,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

impl LeaderIdAndEpoch {
    /// Whether every field holds its default (the tagged field is then omitted).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Encodes the struct body (inside a tagged field).
    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.leader_id);
        w.i32(self.leader_epoch);
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    /// Decodes the struct body (inside a tagged field).
    pub(crate) fn decode(r: &mut Reader) -> Result<Self> {
        Ok(Self {
            leader_id: r.i32()?,
            leader_epoch: r.i32()?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

/// How to reach a broker named as a new leader.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct NodeEndpoint {
    /// Broker id.
    pub node_id: i32,
    /// Host name.
    pub host: String,
    /// Port.
    pub port: i32,
    /// Rack, `None` if the broker has none.
    pub rack: Option<String>,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: TaggedFields,
}

/// Encodes a `NodeEndpoints` array (the body of a tagged field).
pub(crate) fn encode_node_endpoints(w: &mut Writer<'_>, nodes: &[NodeEndpoint]) -> Result<()> {
    w.array(nodes, |w, n| {
        w.i32(n.node_id);
        w.string(&n.host)?;
        w.i32(n.port);
        w.nullable_string(n.rack.as_deref())?;
        w.unknown_tagged_fields(&n.unknown_tagged_fields)
    })
}

/// Decodes a `NodeEndpoints` array (the body of a tagged field).
pub(crate) fn decode_node_endpoints(r: &mut Reader) -> Result<Vec<NodeEndpoint>> {
    r.array(|r| {
        Ok(NodeEndpoint {
            node_id: r.i32()?,
            host: r.string()?,
            port: r.i32()?,
            rack: r.nullable_string()?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    })
}
