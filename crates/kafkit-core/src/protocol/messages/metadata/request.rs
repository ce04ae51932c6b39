//! The Metadata request body.

use super::MetadataResponse;
use crate::protocol::{
    ApiKey, Message, Reader, Request, Result, Route, TaggedFields, Uuid, VersionRange, Writer,
};

/// Asks for cluster metadata about some or all topics.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct MetadataRequest {
    /// Topics to describe; `None` means all topics (v0+, nullable v1+).
    ///
    /// At v0 `None` is sent as an empty array, which v0 reads as "all
    /// topics"; `Some(vec![])` ("no topics") cannot be sent at v0.
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::option::of(crate::protocol::testing::list())")
    )]
    pub topics: Option<Vec<MetadataRequestTopic>>,
    /// Whether the broker may auto-create missing topics, default true (v4+).
    pub allow_auto_topic_creation: bool,
    /// Whether to return the cluster's authorized operations (v8-v10).
    pub include_cluster_authorized_operations: bool,
    /// Whether to return each topic's authorized operations (v8+).
    pub include_topic_authorized_operations: bool,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for MetadataRequest {
    fn default() -> Self {
        Self {
            topics: None,
            allow_auto_topic_creation: true,
            include_cluster_authorized_operations: false,
            include_topic_authorized_operations: false,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

impl MetadataRequest {
    /// A request for every topic in the cluster.
    pub fn all_topics() -> Self {
        Self::default()
    }

    /// A request for the named topics (an empty list asks for brokers only, v1+).
    pub fn for_topics<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        Self {
            topics: Some(
                names
                    .into_iter()
                    .map(|n| MetadataRequestTopic {
                        name: Some(n.into()),
                        ..MetadataRequestTopic::default()
                    })
                    .collect(),
            ),
            ..Self::default()
        }
    }
}

/// One topic of a [`MetadataRequest`], named or (v12+) identified by id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct MetadataRequestTopic {
    /// Topic id, zero when looking up by name (v10+, ignorable).
    pub topic_id: Uuid,
    /// Topic name (v0+, nullable v10+; brokers honour a null name from v12).
    pub name: Option<String>,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: TaggedFields,
}

impl MetadataRequestTopic {
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        if v >= 10 {
            w.uuid(&self.topic_id);
        } else {
            w.absent("topic_id", self.topic_id.is_zero(), true)?;
        }
        match &self.name {
            Some(name) => w.string(name)?,
            None if w.null_allowed("name", v >= 10)? => w.nullable_string(None)?,
            None => w.string("")?,
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode(r: &mut Reader, version: i16) -> Result<Self> {
        let topic_id = if version >= 10 { r.uuid()? } else { Uuid::ZERO };
        let name = if version >= 10 {
            r.nullable_string()?
        } else {
            Some(r.string()?)
        };
        Ok(Self {
            topic_id,
            name,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Message for MetadataRequest {
    const API_KEY: ApiKey = ApiKey::METADATA;
    const VERSIONS: VersionRange = VersionRange::new(0, 12);
    const FLEXIBLE_FROM: Option<i16> = Some(9);

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        if v == 0 {
            // v0 has no null: "all topics" is an empty array, so an empty
            // list meaning "no topics" has no v0 form.
            let topics = match &self.topics {
                None => &[][..],
                Some(t) => {
                    w.absent(
                        "topics (empty means all topics at v0)",
                        !t.is_empty(),
                        false,
                    )?;
                    t.as_slice()
                }
            };
            w.array(topics, |w, t| t.encode(w))?;
        } else {
            w.nullable_array(self.topics.as_deref(), |w, t| t.encode(w))?;
        }
        if v >= 4 {
            w.bool(self.allow_auto_topic_creation);
        } else {
            w.absent(
                "allow_auto_topic_creation",
                self.allow_auto_topic_creation,
                false,
            )?;
        }
        if (8..=10).contains(&v) {
            w.bool(self.include_cluster_authorized_operations);
        } else {
            w.absent(
                "include_cluster_authorized_operations",
                !self.include_cluster_authorized_operations,
                false,
            )?;
        }
        if v >= 8 {
            w.bool(self.include_topic_authorized_operations);
        } else {
            w.absent(
                "include_topic_authorized_operations",
                !self.include_topic_authorized_operations,
                false,
            )?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let topics = if version == 0 {
            // An empty v0 array means all topics.
            Some(r.array(|r| MetadataRequestTopic::decode(r, version))?).filter(|t| !t.is_empty())
        } else {
            r.nullable_array(|r| MetadataRequestTopic::decode(r, version))?
        };
        let mut msg = Self {
            topics,
            ..Self::default()
        };
        if version >= 4 {
            msg.allow_auto_topic_creation = r.bool()?;
        }
        if (8..=10).contains(&version) {
            msg.include_cluster_authorized_operations = r.bool()?;
        }
        if version >= 8 {
            msg.include_topic_authorized_operations = r.bool()?;
        }
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

impl Request for MetadataRequest {
    type Response = MetadataResponse;
    const ROUTE: Route = Route::AnyBroker;
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
        fn request_roundtrip(m in any::<MetadataRequest>(), v in 0i16..=12) {
            check_roundtrip(&m, v)?;
        }

        /// A request holding only what a version carries survives exactly.
        #[test]
        fn version_shaped_roundtrip(m in any::<MetadataRequest>(), v in 0i16..=12) {
            let m = request_at(m, v);
            check_roundtrip(&m, v)?;
            prop_assert_eq!(MetadataRequest::decode(encoded(&m, v).into(), v), Ok(m));
        }
    }

    /// Resets what version `v` lacks, restating the spec's version ranges.
    fn request_at(mut m: MetadataRequest, v: i16) -> MetadataRequest {
        let flexible = v >= 9;
        if v == 0 && m.topics.as_ref().is_some_and(Vec::is_empty) {
            m.topics = None;
        }
        for t in m.topics.iter_mut().flatten() {
            if v < 10 {
                t.topic_id = Uuid::ZERO;
                t.name.get_or_insert_with(String::new);
            }
            if !flexible {
                t.unknown_tagged_fields = TaggedFields::default();
            }
        }
        if v < 4 {
            m.allow_auto_topic_creation = true;
        }
        if !(8..=10).contains(&v) {
            m.include_cluster_authorized_operations = false;
        }
        if v < 8 {
            m.include_topic_authorized_operations = false;
        }
        if !flexible {
            m.unknown_tagged_fields = TaggedFields::default();
        }
        m
    }

    fn decoded(bytes: &[u8], v: i16) -> Result<MetadataRequest> {
        MetadataRequest::decode(Bytes::copy_from_slice(bytes), v)
    }

    #[test]
    fn v0_bytes() {
        // One topic "ab": int32 count 1, int16 length 2.
        let named: &[u8] = &[0, 0, 0, 1, 0, 2, b'a', b'b'];
        let m = MetadataRequest::for_topics(["ab"]);
        assert_eq!(encoded(&m, 0), named);
        assert_eq!(decoded(named, 0), Ok(m));
        // All topics is an empty array at v0, and an empty array reads back as all topics.
        let all: &[u8] = &[0, 0, 0, 0];
        assert_eq!(encoded(&MetadataRequest::all_topics(), 0), all);
        assert_eq!(decoded(all, 0), Ok(MetadataRequest::all_topics()));
        // "No topics" has no v0 form.
        let none = MetadataRequest::for_topics(Vec::<String>::new());
        assert!(matches!(
            none.encode(0, &mut BytesMut::new()),
            Err(ProtocolError::FieldNotSupported { version: 0, .. })
        ));
    }

    #[test]
    fn v1_and_v4_bytes() {
        // From v1 all topics is a null array (-1) and an empty array means none.
        assert_eq!(encoded(&MetadataRequest::all_topics(), 1), [0xff; 4]);
        assert_eq!(decoded(&[0xff; 4], 1), Ok(MetadataRequest::all_topics()));
        let none = MetadataRequest::for_topics(Vec::<String>::new());
        assert_eq!(encoded(&none, 1), [0, 0, 0, 0]);
        assert_eq!(decoded(&[0, 0, 0, 0], 1), Ok(none));
        // v4 appends allow_auto_topic_creation.
        let no_create = MetadataRequest {
            allow_auto_topic_creation: false,
            ..MetadataRequest::all_topics()
        };
        let v4: &[u8] = &[0xff, 0xff, 0xff, 0xff, 0];
        assert_eq!(encoded(&no_create, 4), v4);
        assert_eq!(decoded(v4, 4), Ok(no_create.clone()));
        // Before v4 the broker always may create topics; false cannot be sent.
        assert!(no_create.encode(3, &mut BytesMut::new()).is_err());
    }

    #[test]
    fn v9_bytes() {
        #[rustfmt::skip]
        let bytes: &[u8] = &[
            2, 2, b'a', 0, // compact: 1 topic, "a", topic tags
            1, // allow auto topic creation
            0, // include cluster authorized operations
            1, // include topic authorized operations
            0, // request tags
        ];
        let m = MetadataRequest {
            include_topic_authorized_operations: true,
            ..MetadataRequest::for_topics(["a"])
        };
        assert_eq!(encoded(&m, 9), bytes);
        assert_eq!(decoded(bytes, 9), Ok(m));
    }

    #[test]
    fn v10_and_v12_bytes() {
        let id = Uuid([7; 16]);
        let by_id = MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                topic_id: id,
                name: None,
                unknown_tagged_fields: TaggedFields::default(),
            }]),
            ..MetadataRequest::default()
        };
        let mut v10 = vec![2]; // compact: 1 topic
        v10.extend_from_slice(&[7; 16]); // topic id
        v10.extend_from_slice(&[0, 0]); // null compact name, topic tags
        v10.extend_from_slice(&[1, 0, 0, 0]); // auto create, cluster ops, topic ops, tags
        assert_eq!(encoded(&by_id, 10), v10);
        assert_eq!(decoded(&v10, 10), Ok(by_id.clone()));
        // v12 has no include_cluster_authorized_operations.
        let mut v12 = v10.clone();
        v12.remove(v12.len() - 3);
        assert_eq!(encoded(&by_id, 12), v12);
        assert_eq!(decoded(&v12, 12), Ok(by_id.clone()));
        let cluster_ops = MetadataRequest {
            include_cluster_authorized_operations: true,
            ..MetadataRequest::default()
        };
        assert!(cluster_ops.encode(11, &mut BytesMut::new()).is_err());
        // A null name does not exist before v10.
        assert_eq!(
            MetadataRequest {
                topics: Some(vec![MetadataRequestTopic::default()]),
                ..MetadataRequest::default()
            }
            .encode(9, &mut BytesMut::new()),
            Err(ProtocolError::FieldNotSupported {
                field: "name",
                version: 9
            })
        );
    }

    #[test]
    fn unknown_tagged_fields_survive() {
        // All topics (null compact array), flags, then a request tag section
        // with tag 9 (2 bytes) that this codec does not know.
        let bytes: &[u8] = &[0, 1, 0, 1, 9, 2, 0xab, 0xcd];
        let m = decoded(bytes, 12).expect("decode");
        assert_eq!(
            m.unknown_tagged_fields,
            TaggedFields(vec![(9, Bytes::from_static(&[0xab, 0xcd]))])
        );
        assert_eq!(encoded(&m, 12), bytes);
    }

    #[test]
    fn hostile_topic_count_is_rejected_before_allocating() {
        let bytes: &[u8] = &[0x7f, 0xff, 0xff, 0xff];
        assert!(matches!(
            decoded(bytes, 1),
            Err(ProtocolError::LengthExceedsInput { .. })
        ));
    }
}
