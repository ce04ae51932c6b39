//! The consumer protocol: payloads carried inside JoinGroup and SyncGroup.
//!
//! Groups whose protocol type is [`CONSUMER_PROTOCOL_TYPE`] put a
//! [`ConsumerProtocolSubscription`] in each JoinGroup protocol's metadata
//! and a [`ConsumerProtocolAssignment`] in each SyncGroup assignment. These
//! are not API messages: they have no API key, are never flexible, and are
//! serialized as an `int16` version followed by the classic body.
//!
//! Decoding is forward compatible, as the Java client is: a version above
//! the highest known one is read with the highest known layout (newer
//! versions may only append fields) and bytes left after the body are
//! ignored. An empty assignment (zero bytes), which brokers send to members
//! that got no partitions, decodes as an empty assignment. Fields a lower
//! encoding version lacks are all marked ignorable by the spec and are
//! dropped silently.
//!
//! Spec: `ConsumerProtocolSubscription.json` /
//! `ConsumerProtocolAssignment.json`; KIP-429 (owned partitions, v1),
//! KIP-792 (generation id, v2), KIP-881 (rack id, v3).

use bytes::{Bytes, BytesMut};

use crate::protocol::{ProtocolError, Reader, Result, VersionRange, Writer};

/// The JoinGroup protocol type of Kafka consumer groups.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// A subscribed topic's partitions: owned (in a subscription) or assigned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TopicPartitions {
    /// The topic name.
    pub topic: String,
    /// The partition ids.
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<i32>,
}

/// What a consumer subscribes to, sent as JoinGroup protocol metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ConsumerProtocolSubscription {
    /// Subscribed topics (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<String>,
    /// Assignor-specific data (v0+, nullable).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::opt_bytes()"))]
    pub user_data: Option<Bytes>,
    /// Partitions the member currently owns, for cooperative rebalancing (v1+, ignorable).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub owned_partitions: Vec<TopicPartitions>,
    /// Generation the owned partitions belong to, default -1 (v2+, ignorable).
    pub generation_id: i32,
    /// The member's rack, for rack-aware assignment (v3+, nullable, ignorable).
    pub rack_id: Option<String>,
}

impl Default for ConsumerProtocolSubscription {
    fn default() -> Self {
        Self {
            topics: Vec::new(),
            user_data: None,
            owned_partitions: Vec::new(),
            generation_id: -1,
            rack_id: None,
        }
    }
}

/// The partitions the leader gave a member, sent as a SyncGroup assignment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ConsumerProtocolAssignment {
    /// Assigned partitions by topic (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub assigned_partitions: Vec<TopicPartitions>,
    /// Assignor-specific data (v0+, nullable).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::opt_bytes()"))]
    pub user_data: Option<Bytes>,
}

fn encode_topic_partitions(w: &mut Writer<'_>, items: &[TopicPartitions]) -> Result<()> {
    w.array(items, |w, tp| {
        w.string(&tp.topic)?;
        w.i32_array(&tp.partitions)
    })
}

fn decode_topic_partitions(r: &mut Reader) -> Result<Vec<TopicPartitions>> {
    r.array(|r| {
        Ok(TopicPartitions {
            topic: r.string()?,
            partitions: r.i32_array()?,
        })
    })
}

/// Writes the version prefix and the body `body` encodes at `version`.
fn encode_versioned(
    version: i16,
    body: impl FnOnce(&mut Writer<'_>) -> Result<()>,
    what: &'static str,
) -> Result<Bytes> {
    if !PAYLOAD_VERSIONS.contains(version) {
        return Err(ProtocolError::InvalidValue {
            field: what,
            value: i64::from(version),
        });
    }
    let mut buf = BytesMut::new();
    let mut w = Writer::new(&mut buf, false, version);
    w.i16(version);
    body(&mut w)?;
    Ok(buf.freeze())
}

/// Reads the version prefix, clamping versions newer than known to the newest.
fn read_version(r: &mut Reader, what: &'static str) -> Result<i16> {
    let version = r.i16()?;
    if version < PAYLOAD_VERSIONS.min {
        return Err(ProtocolError::InvalidValue {
            field: what,
            value: i64::from(version),
        });
    }
    Ok(version.min(PAYLOAD_VERSIONS.max))
}

/// Versions of both payloads this module encodes; newer ones decode as the max.
const PAYLOAD_VERSIONS: VersionRange = VersionRange::new(0, 3);

impl ConsumerProtocolSubscription {
    /// Versions this codec encodes (newer versions are decoded as the highest).
    pub const VERSIONS: VersionRange = PAYLOAD_VERSIONS;

    /// Serializes as an `int16` version followed by the body at `version`.
    ///
    /// Fields `version` lacks are dropped (the spec marks them all ignorable).
    pub fn encode(&self, version: i16) -> Result<Bytes> {
        encode_versioned(version, |w| self.encode_body(w), "subscription version")
    }

    /// Parses a version-prefixed subscription, tolerating newer versions and trailing bytes.
    pub fn decode(bytes: Bytes) -> Result<Self> {
        let mut r = Reader::new(bytes, false);
        let version = read_version(&mut r, "subscription version")?;
        Self::decode_body(&mut r, version)
    }

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        w.array(&self.topics, |w, t| w.string(t))?;
        w.nullable_bytes(self.user_data.as_deref())?;
        if v >= 1 {
            encode_topic_partitions(w, &self.owned_partitions)?;
        } else {
            w.absent("owned_partitions", self.owned_partitions.is_empty(), true)?;
        }
        if v >= 2 {
            w.i32(self.generation_id);
        } else {
            w.absent("generation_id", self.generation_id == -1, true)?;
        }
        if v >= 3 {
            w.nullable_string(self.rack_id.as_deref())
        } else {
            w.absent("rack_id", self.rack_id.is_none(), true)
        }
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self {
            topics: r.array(Reader::string)?,
            user_data: r.nullable_bytes()?,
            ..Self::default()
        };
        if version >= 1 {
            msg.owned_partitions = decode_topic_partitions(r)?;
        }
        if version >= 2 {
            msg.generation_id = r.i32()?;
        }
        if version >= 3 {
            msg.rack_id = r.nullable_string()?;
        }
        Ok(msg)
    }
}

impl ConsumerProtocolAssignment {
    /// Versions this codec encodes (newer versions are decoded as the highest).
    pub const VERSIONS: VersionRange = PAYLOAD_VERSIONS;

    /// Serializes as an `int16` version followed by the body (identical at v0-v3).
    pub fn encode(&self, version: i16) -> Result<Bytes> {
        encode_versioned(
            version,
            |w| {
                encode_topic_partitions(w, &self.assigned_partitions)?;
                w.nullable_bytes(self.user_data.as_deref())
            },
            "assignment version",
        )
    }

    /// Parses a version-prefixed assignment; zero bytes mean "no partitions".
    ///
    /// Newer versions and trailing bytes are tolerated, as for subscriptions.
    pub fn decode(bytes: Bytes) -> Result<Self> {
        if bytes.is_empty() {
            return Ok(Self::default());
        }
        let mut r = Reader::new(bytes, false);
        read_version(&mut r, "assignment version")?;
        Ok(Self {
            assigned_partitions: decode_topic_partitions(&mut r)?,
            user_data: r.nullable_bytes()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What a subscription should look like after a trip through `version`.
    fn projected(m: &ConsumerProtocolSubscription, version: i16) -> ConsumerProtocolSubscription {
        let mut p = m.clone();
        if version < 1 {
            p.owned_partitions.clear();
        }
        if version < 2 {
            p.generation_id = -1;
        }
        if version < 3 {
            p.rack_id = None;
        }
        p
    }

    proptest! {
        #[test]
        fn subscription_roundtrip(m in any::<ConsumerProtocolSubscription>(), v in 0i16..=3) {
            let b1 = m.encode(v).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&b1[..2], &v.to_be_bytes()[..]);
            let m2 = ConsumerProtocolSubscription::decode(b1.clone())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&m2, &projected(&m, v));
            let b2 = m2.encode(v).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(b1, b2);
        }

        #[test]
        fn assignment_roundtrip(m in any::<ConsumerProtocolAssignment>(), v in 0i16..=3) {
            let b1 = m.encode(v).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&b1[..2], &v.to_be_bytes()[..]);
            let m2 = ConsumerProtocolAssignment::decode(b1.clone())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&m2, &m);
            let b2 = m2.encode(v).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(b1, b2);
        }

        #[test]
        fn arbitrary_input_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = ConsumerProtocolSubscription::decode(Bytes::from(raw.clone()));
            let _ = ConsumerProtocolAssignment::decode(Bytes::from(raw));
        }
    }

    fn subscription() -> ConsumerProtocolSubscription {
        ConsumerProtocolSubscription {
            topics: vec!["t".into()],
            user_data: None,
            owned_partitions: vec![TopicPartitions {
                topic: "t".into(),
                partitions: vec![0, 2],
            }],
            generation_id: 4,
            rack_id: Some("r1".into()),
        }
    }

    #[rustfmt::skip]
    const SUBSCRIPTION_V3: &[u8] = &[
        0, 3,                               // version
        0, 0, 0, 1, 0, 1, b't',             // topics ["t"]
        0xff, 0xff, 0xff, 0xff,             // user_data null
        0, 0, 0, 1,                         // owned partitions: one topic
        0, 1, b't',
        0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, // partitions [0, 2]
        0, 0, 0, 4,                         // generation id
        0, 2, b'r', b'1',                   // rack id
    ];

    #[test]
    fn subscription_v0_bytes() {
        let msg = ConsumerProtocolSubscription {
            user_data: Some(Bytes::from_static(&[0xAA])),
            ..subscription()
        };
        // v0: topics and user data only; v1+ fields are ignorable and dropped.
        let wire = [0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0xAA];
        assert_eq!(&msg.encode(0).unwrap()[..], wire);
        let decoded = ConsumerProtocolSubscription::decode(Bytes::copy_from_slice(&wire)).unwrap();
        assert_eq!(decoded.topics, vec!["t".to_string()]);
        assert_eq!(decoded.user_data, Some(Bytes::from_static(&[0xAA])));
        assert!(decoded.owned_partitions.is_empty());
        assert_eq!(decoded.generation_id, -1);
        assert_eq!(decoded.rack_id, None);
    }

    #[test]
    fn subscription_v3_bytes() {
        assert_eq!(&subscription().encode(3).unwrap()[..], SUBSCRIPTION_V3);
        assert_eq!(
            ConsumerProtocolSubscription::decode(Bytes::from_static(SUBSCRIPTION_V3)).unwrap(),
            subscription()
        );
    }

    #[test]
    fn newer_subscription_decodes_as_v3_ignoring_trailing_bytes() {
        let mut wire = SUBSCRIPTION_V3.to_vec();
        wire[1] = 5;
        // A field a hypothetical v5 appended after the rack id.
        wire.extend_from_slice(&[0, 0, 0, 9, 0xde, 0xad]);
        let decoded = ConsumerProtocolSubscription::decode(Bytes::from(wire)).unwrap();
        assert_eq!(decoded, subscription());
    }

    #[test]
    fn assignment_bytes() {
        let msg = ConsumerProtocolAssignment {
            assigned_partitions: vec![TopicPartitions {
                topic: "t".into(),
                partitions: vec![1],
            }],
            user_data: None,
        };
        #[rustfmt::skip]
        let body = [
            0, 0, 0, 1, 0, 1, b't',         // one topic "t"
            0, 0, 0, 1, 0, 0, 0, 1,         // partitions [1]
            0xff, 0xff, 0xff, 0xff,         // user_data null
        ];
        for version in [0i16, 3] {
            let mut wire = version.to_be_bytes().to_vec();
            wire.extend_from_slice(&body);
            assert_eq!(&msg.encode(version).unwrap()[..], &wire[..]);
            assert_eq!(
                ConsumerProtocolAssignment::decode(Bytes::from(wire)).unwrap(),
                msg
            );
        }
        // Version 7 with an appended field decodes with the v3 layout.
        let mut wire = vec![0, 7];
        wire.extend_from_slice(&body);
        wire.extend_from_slice(&[1, 2, 3]);
        assert_eq!(
            ConsumerProtocolAssignment::decode(Bytes::from(wire)).unwrap(),
            msg
        );
    }

    #[test]
    fn empty_assignment_means_no_partitions() {
        let decoded = ConsumerProtocolAssignment::decode(Bytes::new()).unwrap();
        assert!(decoded.assigned_partitions.is_empty());
        assert_eq!(decoded.user_data, None);
    }

    #[test]
    fn bad_versions_and_truncation_are_errors() {
        assert!(matches!(
            ConsumerProtocolSubscription::decode(Bytes::from_static(&[0xff, 0xff, 0, 0, 0, 0])),
            Err(ProtocolError::InvalidValue { value: -1, .. })
        ));
        assert!(subscription().encode(4).is_err());
        assert!(ConsumerProtocolAssignment::default().encode(-1).is_err());
        // An empty subscription is not valid (only assignments may be empty).
        assert!(ConsumerProtocolSubscription::decode(Bytes::new()).is_err());
        let truncated = Bytes::from_static(&SUBSCRIPTION_V3[..SUBSCRIPTION_V3.len() - 1]);
        assert!(ConsumerProtocolSubscription::decode(truncated).is_err());
    }
}
