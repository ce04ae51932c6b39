//! The Metadata response body.

use super::AUTHORIZED_OPERATIONS_OMITTED;
use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Result, TaggedFields, Uuid, VersionRange, Writer,
};

/// Brokers of the cluster and the layout of the requested topics.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct MetadataResponse {
    /// Throttle time in ms (v3+, ignorable).
    pub throttle_time_ms: i32,
    /// Live brokers (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub brokers: Vec<MetadataResponseBroker>,
    /// Cluster id, `None` if unknown (v2+, nullable, ignorable).
    pub cluster_id: Option<String>,
    /// Controller broker id, -1 if unknown (v1+, ignorable).
    pub controller_id: i32,
    /// The requested topics (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<MetadataResponseTopic>,
    /// Bit set of operations the client may perform on the cluster, or
    /// [`AUTHORIZED_OPERATIONS_OMITTED`] (v8-v10).
    pub cluster_authorized_operations: i32,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for MetadataResponse {
    fn default() -> Self {
        Self {
            throttle_time_ms: 0,
            brokers: Vec::new(),
            cluster_id: None,
            controller_id: -1,
            topics: Vec::new(),
            cluster_authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// One broker of a [`MetadataResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct MetadataResponseBroker {
    /// Broker id (v0+).
    pub node_id: i32,
    /// Host name (v0+).
    pub host: String,
    /// Port (v0+).
    pub port: i32,
    /// Rack, `None` if not assigned (v1+, nullable, ignorable).
    pub rack: Option<String>,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One topic of a [`MetadataResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct MetadataResponseTopic {
    /// Topic-level error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// Topic name; `None` for an unknown topic asked by id (v0+, nullable v12+).
    pub name: Option<String>,
    /// Topic id, zero for an unknown topic asked by name (v10+, ignorable).
    pub topic_id: Uuid,
    /// Whether the topic is internal, e.g. `__consumer_offsets` (v1+, ignorable).
    pub is_internal: bool,
    /// The topic's partitions (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<MetadataResponsePartition>,
    /// Bit set of operations the client may perform on the topic, or
    /// [`AUTHORIZED_OPERATIONS_OMITTED`] (v8+).
    pub topic_authorized_operations: i32,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for MetadataResponseTopic {
    fn default() -> Self {
        Self {
            error_code: ErrorCode::NONE,
            name: Some(String::new()),
            topic_id: Uuid::ZERO,
            is_internal: false,
            partitions: Vec::new(),
            topic_authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// One partition of a [`MetadataResponseTopic`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct MetadataResponsePartition {
    /// Partition-level error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// Partition index (v0+).
    pub partition_index: i32,
    /// Leader broker id, -1 if there is no leader (v0+).
    pub leader_id: i32,
    /// Leader epoch, -1 if unknown (v7+, ignorable).
    pub leader_epoch: i32,
    /// All replicas (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub replica_nodes: Vec<i32>,
    /// In-sync replicas (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub isr_nodes: Vec<i32>,
    /// Offline replicas (v5+, ignorable).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub offline_replicas: Vec<i32>,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for MetadataResponsePartition {
    fn default() -> Self {
        Self {
            error_code: ErrorCode::NONE,
            partition_index: 0,
            leader_id: 0,
            leader_epoch: -1,
            replica_nodes: Vec::new(),
            isr_nodes: Vec::new(),
            offline_replicas: Vec::new(),
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

impl MetadataResponseBroker {
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.node_id);
        w.string(&self.host)?;
        w.i32(self.port);
        if w.version() >= 1 {
            w.nullable_string(self.rack.as_deref())?;
        } else {
            w.absent("rack", self.rack.is_none(), true)?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode(r: &mut Reader, version: i16) -> Result<Self> {
        Ok(Self {
            node_id: r.i32()?,
            host: r.string()?,
            port: r.i32()?,
            rack: if version >= 1 {
                r.nullable_string()?
            } else {
                None
            },
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl MetadataResponsePartition {
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        w.i16(self.error_code.0);
        w.i32(self.partition_index);
        w.i32(self.leader_id);
        if v >= 7 {
            w.i32(self.leader_epoch);
        } else {
            w.absent("leader_epoch", self.leader_epoch == -1, true)?;
        }
        w.i32_array(&self.replica_nodes)?;
        w.i32_array(&self.isr_nodes)?;
        if v >= 5 {
            w.i32_array(&self.offline_replicas)?;
        } else {
            w.absent("offline_replicas", self.offline_replicas.is_empty(), true)?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode(r: &mut Reader, version: i16) -> Result<Self> {
        let mut p = Self {
            error_code: ErrorCode(r.i16()?),
            partition_index: r.i32()?,
            leader_id: r.i32()?,
            ..Self::default()
        };
        if version >= 7 {
            p.leader_epoch = r.i32()?;
        }
        p.replica_nodes = r.i32_array()?;
        p.isr_nodes = r.i32_array()?;
        if version >= 5 {
            p.offline_replicas = r.i32_array()?;
        }
        p.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(p)
    }
}

impl MetadataResponseTopic {
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        w.i16(self.error_code.0);
        match &self.name {
            Some(name) => w.string(name)?,
            None if w.null_allowed("name", v >= 12)? => w.nullable_string(None)?,
            None => w.string("")?,
        }
        if v >= 10 {
            w.uuid(&self.topic_id);
        } else {
            w.absent("topic_id", self.topic_id.is_zero(), true)?;
        }
        if v >= 1 {
            w.bool(self.is_internal);
        } else {
            w.absent("is_internal", !self.is_internal, true)?;
        }
        w.array(&self.partitions, |w, p| p.encode(w))?;
        if v >= 8 {
            w.i32(self.topic_authorized_operations);
        } else {
            w.absent(
                "topic_authorized_operations",
                self.topic_authorized_operations == AUTHORIZED_OPERATIONS_OMITTED,
                false,
            )?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode(r: &mut Reader, version: i16) -> Result<Self> {
        let mut t = Self {
            error_code: ErrorCode(r.i16()?),
            name: if version >= 12 {
                r.nullable_string()?
            } else {
                Some(r.string()?)
            },
            ..Self::default()
        };
        if version >= 10 {
            t.topic_id = r.uuid()?;
        }
        if version >= 1 {
            t.is_internal = r.bool()?;
        }
        t.partitions = r.array(|r| MetadataResponsePartition::decode(r, version))?;
        if version >= 8 {
            t.topic_authorized_operations = r.i32()?;
        }
        t.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(t)
    }
}

impl Message for MetadataResponse {
    const API_KEY: ApiKey = ApiKey::METADATA;
    const VERSIONS: VersionRange = VersionRange::new(0, 12);
    const FLEXIBLE_FROM: Option<i16> = Some(9);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        if v >= 3 {
            w.i32(self.throttle_time_ms);
        } else {
            w.absent("throttle_time_ms", self.throttle_time_ms == 0, true)?;
        }
        w.array(&self.brokers, |w, b| b.encode(w))?;
        if v >= 2 {
            w.nullable_string(self.cluster_id.as_deref())?;
        } else {
            w.absent("cluster_id", self.cluster_id.is_none(), true)?;
        }
        if v >= 1 {
            w.i32(self.controller_id);
        } else {
            w.absent("controller_id", self.controller_id == -1, true)?;
        }
        w.array(&self.topics, |w, t| t.encode(w))?;
        if (8..=10).contains(&v) {
            w.i32(self.cluster_authorized_operations);
        } else {
            w.absent(
                "cluster_authorized_operations",
                self.cluster_authorized_operations == AUTHORIZED_OPERATIONS_OMITTED,
                false,
            )?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self::default();
        if version >= 3 {
            msg.throttle_time_ms = r.i32()?;
        }
        msg.brokers = r.array(|r| MetadataResponseBroker::decode(r, version))?;
        if version >= 2 {
            msg.cluster_id = r.nullable_string()?;
        }
        if version >= 1 {
            msg.controller_id = r.i32()?;
        }
        msg.topics = r.array(|r| MetadataResponseTopic::decode(r, version))?;
        if (8..=10).contains(&version) {
            msg.cluster_authorized_operations = r.i32()?;
        }
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::check_roundtrip;
    use crate::protocol::testing::encoded;
    use crate::protocol::ProtocolError;
    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn response_roundtrip(m in any::<MetadataResponse>(), v in 0i16..=12) {
            check_roundtrip(&m, v)?;
        }

        /// A response holding only what a version carries survives exactly.
        #[test]
        fn version_shaped_roundtrip(m in any::<MetadataResponse>(), v in 0i16..=12) {
            let m = response_at(m, v);
            check_roundtrip(&m, v)?;
            prop_assert_eq!(MetadataResponse::decode(encoded(&m, v).into(), v), Ok(m));
        }
    }

    /// Resets what version `v` lacks, restating the spec's version ranges.
    fn response_at(mut m: MetadataResponse, v: i16) -> MetadataResponse {
        let flexible = v >= 9;
        let untag = |t: &mut TaggedFields| {
            if !flexible {
                *t = TaggedFields::default();
            }
        };
        if v < 3 {
            m.throttle_time_ms = 0;
        }
        for b in &mut m.brokers {
            if v < 1 {
                b.rack = None;
            }
            untag(&mut b.unknown_tagged_fields);
        }
        if v < 2 {
            m.cluster_id = None;
        }
        if v < 1 {
            m.controller_id = -1;
        }
        for t in &mut m.topics {
            if v < 12 {
                t.name.get_or_insert_with(String::new);
            }
            if v < 10 {
                t.topic_id = Uuid::ZERO;
            }
            if v < 1 {
                t.is_internal = false;
            }
            for p in &mut t.partitions {
                if v < 7 {
                    p.leader_epoch = -1;
                }
                if v < 5 {
                    p.offline_replicas.clear();
                }
                untag(&mut p.unknown_tagged_fields);
            }
            if v < 8 {
                t.topic_authorized_operations = AUTHORIZED_OPERATIONS_OMITTED;
            }
            untag(&mut t.unknown_tagged_fields);
        }
        if !(8..=10).contains(&v) {
            m.cluster_authorized_operations = AUTHORIZED_OPERATIONS_OMITTED;
        }
        untag(&mut m.unknown_tagged_fields);
        m
    }

    fn decoded(bytes: &[u8], v: i16) -> Result<MetadataResponse> {
        MetadataResponse::decode(Bytes::copy_from_slice(bytes), v)
    }

    fn broker() -> MetadataResponseBroker {
        MetadataResponseBroker {
            node_id: 1,
            host: "h".into(),
            port: 9092,
            ..Default::default()
        }
    }

    fn partition() -> MetadataResponsePartition {
        MetadataResponsePartition {
            leader_id: 1,
            replica_nodes: vec![1],
            isr_nodes: vec![1],
            ..Default::default()
        }
    }

    #[test]
    fn v0_bytes() {
        #[rustfmt::skip]
        let bytes: &[u8] = &[
            0, 0, 0, 1, // 1 broker
            0, 0, 0, 1, 0, 1, b'h', 0, 0, 0x23, 0x84, // id 1, "h", port 9092
            0, 0, 0, 1, // 1 topic
            0, 0, 0, 1, b't', // error 0, "t"
            0, 0, 0, 1, // 1 partition
            0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // error 0, index 0, leader 1
            0, 0, 0, 1, 0, 0, 0, 1, // replicas [1]
            0, 0, 0, 1, 0, 0, 0, 1, // isr [1]
        ];
        let m = MetadataResponse {
            brokers: vec![broker()],
            topics: vec![MetadataResponseTopic {
                name: Some("t".into()),
                partitions: vec![partition()],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(encoded(&m, 0), bytes);
        assert_eq!(decoded(bytes, 0), Ok(m.clone()));
        // v1 adds a null rack (-1), the controller id and is_internal.
        #[rustfmt::skip]
        let v1: &[u8] = &[
            0, 0, 0, 1,
            0, 0, 0, 1, 0, 1, b'h', 0, 0, 0x23, 0x84, 0xff, 0xff, // rack null
            0xff, 0xff, 0xff, 0xff, // controller id -1
            0, 0, 0, 1,
            0, 0, 0, 1, b't', 0, // is_internal false
            0, 0, 0, 1,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
            0, 0, 0, 1, 0, 0, 0, 1,
            0, 0, 0, 1, 0, 0, 0, 1,
        ];
        assert_eq!(encoded(&m, 1), v1);
        assert_eq!(decoded(v1, 1), Ok(m));
    }

    #[test]
    fn v9_bytes() {
        #[rustfmt::skip]
        let bytes: &[u8] = &[
            0, 0, 0, 0, // throttle
            2, 0, 0, 0, 1, 2, b'h', 0, 0, 0x23, 0x84, // 1 broker: id 1, "h", 9092
            3, b'r', b'1', 0, // rack "r1", broker tags
            2, b'c', // cluster id "c"
            0, 0, 0, 1, // controller 1
            2, 0, 0, 2, b't', 1, // 1 topic: error 0, "t", internal
            2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // 1 partition: error 0, index 0, leader 1
            0, 0, 0, 7, // leader epoch 7
            2, 0, 0, 0, 1, 2, 0, 0, 0, 1, 1, // replicas [1], isr [1], offline []
            0, // partition tags
            0x80, 0, 0, 0, // topic operations omitted
            0, // topic tags
            0, 0, 0, 0x0f, // cluster operations
            0, // response tags
        ];
        let m = MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                rack: Some("r1".into()),
                ..broker()
            }],
            cluster_id: Some("c".into()),
            controller_id: 1,
            topics: vec![MetadataResponseTopic {
                name: Some("t".into()),
                is_internal: true,
                partitions: vec![MetadataResponsePartition {
                    leader_epoch: 7,
                    ..partition()
                }],
                ..Default::default()
            }],
            cluster_authorized_operations: 0x0f,
            ..Default::default()
        };
        assert_eq!(encoded(&m, 9), bytes);
        assert_eq!(decoded(bytes, 9), Ok(m.clone()));
        // Cluster operations are gone from v11 on and cannot be sent there.
        assert!(matches!(
            m.encode(11, &mut BytesMut::new()),
            Err(ProtocolError::FieldNotSupported { .. })
        ));
    }

    #[test]
    fn v12_bytes_null_name_and_unknown_tag() {
        #[rustfmt::skip]
        let mut bytes = vec![
            0, 0, 0, 0, // throttle
            1, // no brokers
            0, // cluster id null
            0xff, 0xff, 0xff, 0xff, // controller -1
            2, 0, 3, 0, // 1 topic: error 3, null name
        ];
        bytes.extend_from_slice(&[9; 16]); // topic id
        #[rustfmt::skip]
        bytes.extend_from_slice(&[
            0, // not internal
            1, // no partitions
            0x80, 0, 0, 0, // topic operations omitted
            0, // topic tags
            1, 7, 2, 0xaa, 0xbb, // response tags: tag 7 with 2 bytes
        ]);
        let m = MetadataResponse {
            topics: vec![MetadataResponseTopic {
                error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                name: None,
                topic_id: Uuid([9; 16]),
                ..Default::default()
            }],
            unknown_tagged_fields: TaggedFields(vec![(7, Bytes::from_static(&[0xaa, 0xbb]))]),
            ..Default::default()
        };
        assert_eq!(encoded(&m, 12), bytes);
        assert_eq!(decoded(&bytes, 12), Ok(m.clone()));
        // A null topic name only exists from v12.
        assert_eq!(
            m.encode(11, &mut BytesMut::new()),
            Err(ProtocolError::FieldNotSupported {
                field: "name",
                version: 11
            })
        );
    }
}
