//! The Fetch request.

use crate::protocol::{
    ApiKey, Message, Reader, Request, Result, Route, TagWriter, TaggedFields, Uuid, VersionRange,
    Writer,
};

use super::response::FetchResponse;
use super::{decode_topic_ref, encode_topic_ref, FLEXIBLE_FROM, VERSIONS};

/// Asks a partition leader (or a follower, for a preferred read replica) for records.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct FetchRequest {
    /// Cluster id, if known (v12+, tag 0, nullable, ignorable).
    pub cluster_id: Option<String>,
    /// Broker id of a fetching follower, -1 for a consumer (v0-v14).
    pub replica_id: i32,
    /// The fetching follower's id and epoch (v15+, tag 1).
    pub replica_state: ReplicaState,
    /// Longest time the broker may wait for `min_bytes`, in ms (v0+).
    pub max_wait_ms: i32,
    /// Bytes to accumulate before answering (v0+).
    pub min_bytes: i32,
    /// Soft limit on the response size (v3+, default `i32::MAX`, ignorable).
    pub max_bytes: i32,
    /// [`Self::READ_UNCOMMITTED`] or [`Self::READ_COMMITTED`] (v4+, ignorable).
    pub isolation_level: i8,
    /// Fetch session id, 0 for none (v7+, ignorable).
    pub session_id: i32,
    /// Fetch session epoch, -1 for none (v7+, ignorable).
    pub session_epoch: i32,
    /// Partitions to fetch, per topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<FetchTopic>,
    /// Partitions to drop from an incremental fetch session (v7+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub forgotten_topics_data: Vec<ForgottenTopic>,
    /// Rack of the consumer, for fetching from the closest replica (v11+, ignorable).
    pub rack_id: String,
    /// Unknown tagged fields (v12+).
    pub unknown_tagged_fields: TaggedFields,
}

impl FetchRequest {
    /// Isolation level that makes every record visible.
    pub const READ_UNCOMMITTED: i8 = 0;
    /// Isolation level that hides aborted and open transactions (records past the LSO).
    pub const READ_COMMITTED: i8 = 1;
}

impl Default for FetchRequest {
    fn default() -> Self {
        Self {
            cluster_id: None,
            replica_id: -1,
            replica_state: ReplicaState::default(),
            max_wait_ms: 0,
            min_bytes: 0,
            max_bytes: i32::MAX,
            isolation_level: Self::READ_UNCOMMITTED,
            session_id: 0,
            session_epoch: -1,
            topics: Vec::new(),
            forgotten_topics_data: Vec::new(),
            rack_id: String::new(),
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// A fetching follower's identity (v15+).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ReplicaState {
    /// Broker id of the follower, -1 for a consumer (v15+).
    pub replica_id: i32,
    /// Broker epoch of the follower, -1 if not available (v15+).
    pub replica_epoch: i64,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for ReplicaState {
    fn default() -> Self {
        Self {
            replica_id: -1,
            replica_epoch: -1,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// The partitions to fetch from one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct FetchTopic {
    /// Topic name (v0-v12, ignorable).
    pub topic: String,
    /// Topic id (v13+, ignorable).
    pub topic_id: Uuid,
    /// Partitions to fetch (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<FetchPartition>,
    /// Unknown tagged fields (v12+).
    pub unknown_tagged_fields: TaggedFields,
}

/// Where to fetch from in one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct FetchPartition {
    /// Partition index (v0+).
    pub partition: i32,
    /// Leader epoch the fetcher knows, -1 if none (v9+, ignorable).
    pub current_leader_epoch: i32,
    /// First offset to fetch (v0+).
    pub fetch_offset: i64,
    /// Epoch of the last fetched record, -1 if none (v12+).
    pub last_fetched_epoch: i32,
    /// Follower's log start offset, -1 for consumers (v5+, ignorable).
    pub log_start_offset: i64,
    /// Soft limit on the bytes returned for this partition (v0+).
    pub partition_max_bytes: i32,
    /// Directory id of a fetching follower (v17+, tag 0, ignorable).
    pub replica_directory_id: Uuid,
    /// Unknown tagged fields (v12+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for FetchPartition {
    fn default() -> Self {
        Self {
            partition: 0,
            current_leader_epoch: -1,
            fetch_offset: 0,
            last_fetched_epoch: -1,
            log_start_offset: -1,
            partition_max_bytes: 0,
            replica_directory_id: Uuid::ZERO,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// Partitions to remove from an incremental fetch session (v7+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ForgottenTopic {
    /// Topic name (v7-v12, ignorable).
    pub topic: String,
    /// Topic id (v13+, ignorable).
    pub topic_id: Uuid,
    /// Partition indexes to forget (v7+).
    #[cfg_attr(
        test,
        proptest(strategy = "crate::protocol::testing::vec_of(proptest::prelude::any::<i32>())")
    )]
    pub partitions: Vec<i32>,
    /// Unknown tagged fields (v12+).
    pub unknown_tagged_fields: TaggedFields,
}

fn encode_partition(w: &mut Writer<'_>, p: &FetchPartition) -> Result<()> {
    let v = w.version();
    w.i32(p.partition);
    if v >= 9 {
        w.i32(p.current_leader_epoch);
    } else {
        w.absent("current_leader_epoch", p.current_leader_epoch == -1, true)?;
    }
    w.i64(p.fetch_offset);
    if v >= 12 {
        w.i32(p.last_fetched_epoch);
    } else {
        w.absent("last_fetched_epoch", p.last_fetched_epoch == -1, false)?;
    }
    if v >= 5 {
        w.i64(p.log_start_offset);
    } else {
        w.absent("log_start_offset", p.log_start_offset == -1, true)?;
    }
    w.i32(p.partition_max_bytes);
    let mut tags = TagWriter::new(&p.unknown_tagged_fields, w);
    if v >= 17 {
        if !p.replica_directory_id.is_zero() {
            tags.field(0, |w| {
                w.uuid(&p.replica_directory_id);
                Ok(())
            })?;
        }
    } else {
        w.absent(
            "replica_directory_id",
            p.replica_directory_id.is_zero(),
            true,
        )?;
    }
    tags.finish(w)
}

fn decode_partition(r: &mut Reader, version: i16) -> Result<FetchPartition> {
    let mut p = FetchPartition {
        partition: r.i32()?,
        ..FetchPartition::default()
    };
    if version >= 9 {
        p.current_leader_epoch = r.i32()?;
    }
    p.fetch_offset = r.i64()?;
    if version >= 12 {
        p.last_fetched_epoch = r.i32()?;
    }
    if version >= 5 {
        p.log_start_offset = r.i64()?;
    }
    p.partition_max_bytes = r.i32()?;
    p.unknown_tagged_fields = r.tagged_fields(|tag, f| match tag {
        0 if version >= 17 => {
            p.replica_directory_id = f.uuid()?;
            f.finish()?;
            Ok(true)
        }
        _ => Ok(false),
    })?;
    Ok(p)
}

fn encode_forgotten(w: &mut Writer<'_>, forgotten: &[ForgottenTopic]) -> Result<()> {
    if w.version() < 7 {
        return w.absent("forgotten_topics_data", forgotten.is_empty(), false);
    }
    w.array(forgotten, |w, t| {
        encode_topic_ref(w, &t.topic, &t.topic_id)?;
        w.i32_array(&t.partitions)?;
        w.unknown_tagged_fields(&t.unknown_tagged_fields)
    })
}

impl FetchRequest {
    fn encode_tagged(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        let mut tags = TagWriter::new(&self.unknown_tagged_fields, w);
        if v >= 12 {
            if let Some(cluster_id) = &self.cluster_id {
                tags.field(0, |w| w.nullable_string(Some(cluster_id)))?;
            }
        } else {
            w.absent("cluster_id", self.cluster_id.is_none(), true)?;
        }
        let default_state = self.replica_state == ReplicaState::default();
        if v >= 15 {
            if !default_state {
                tags.field(1, |w| {
                    w.i32(self.replica_state.replica_id);
                    w.i64(self.replica_state.replica_epoch);
                    w.unknown_tagged_fields(&self.replica_state.unknown_tagged_fields)
                })?;
            }
        } else {
            w.absent("replica_state", default_state, false)?;
        }
        tags.finish(w)
    }
}

impl Message for FetchRequest {
    const API_KEY: ApiKey = ApiKey::FETCH;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        if v <= 14 {
            w.i32(self.replica_id);
        } else {
            w.absent("replica_id", self.replica_id == -1, false)?;
        }
        w.i32(self.max_wait_ms);
        w.i32(self.min_bytes);
        if v >= 3 {
            w.i32(self.max_bytes);
        } else {
            w.absent("max_bytes", self.max_bytes == i32::MAX, true)?;
        }
        if v >= 4 {
            w.i8(self.isolation_level);
        } else {
            w.absent("isolation_level", self.isolation_level == 0, true)?;
        }
        if v >= 7 {
            w.i32(self.session_id);
            w.i32(self.session_epoch);
        } else {
            w.absent("session_id", self.session_id == 0, true)?;
            w.absent("session_epoch", self.session_epoch == -1, true)?;
        }
        w.array(&self.topics, |w, t| {
            encode_topic_ref(w, &t.topic, &t.topic_id)?;
            w.array(&t.partitions, encode_partition)?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        encode_forgotten(w, &self.forgotten_topics_data)?;
        if v >= 11 {
            w.string(&self.rack_id)?;
        } else {
            w.absent("rack_id", self.rack_id.is_empty(), true)?;
        }
        self.encode_tagged(w)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self::default();
        if version <= 14 {
            msg.replica_id = r.i32()?;
        }
        msg.max_wait_ms = r.i32()?;
        msg.min_bytes = r.i32()?;
        if version >= 3 {
            msg.max_bytes = r.i32()?;
        }
        if version >= 4 {
            msg.isolation_level = r.i8()?;
        }
        if version >= 7 {
            msg.session_id = r.i32()?;
            msg.session_epoch = r.i32()?;
        }
        msg.topics = r.array(|r| {
            let (topic, topic_id) = decode_topic_ref(r, version)?;
            Ok(FetchTopic {
                topic,
                topic_id,
                partitions: r.array(|r| decode_partition(r, version))?,
                unknown_tagged_fields: r.unknown_tagged_fields()?,
            })
        })?;
        if version >= 7 {
            msg.forgotten_topics_data = r.array(|r| {
                let (topic, topic_id) = decode_topic_ref(r, version)?;
                Ok(ForgottenTopic {
                    topic,
                    topic_id,
                    partitions: r.i32_array()?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?;
        }
        if version >= 11 {
            msg.rack_id = r.string()?;
        }
        msg.unknown_tagged_fields = r.tagged_fields(|tag, f| {
            match tag {
                0 if version >= 12 => msg.cluster_id = f.nullable_string()?,
                1 if version >= 15 => msg.replica_state = decode_replica_state(f)?,
                _ => return Ok(false),
            }
            f.finish()?;
            Ok(true)
        })?;
        Ok(msg)
    }
}

fn decode_replica_state(r: &mut Reader) -> Result<ReplicaState> {
    Ok(ReplicaState {
        replica_id: r.i32()?,
        replica_epoch: r.i64()?,
        unknown_tagged_fields: r.unknown_tagged_fields()?,
    })
}

impl Request for FetchRequest {
    type Response = FetchResponse;
    const ROUTE: Route = Route::PartitionLeader;
}
