//! The OffsetFetch request body (both the single-group and the batched form).

use super::{OffsetFetchResponse, FLEXIBLE_FROM, VERSIONS};
use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, RouteKey, TaggedFields,
    VersionRange, Writer,
};

/// Asks the coordinator for committed offsets.
///
/// Fill `group_id`/`topics` for v0-v7 and `groups` for v8+; each form is
/// absent from the other's versions, so encoding a non-default value there
/// fails.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct OffsetFetchRequest {
    /// The group (v0-v7).
    pub group_id: String,
    /// Topics to fetch, `None` for all topics (v0-v7, nullable v2-v7;
    /// default an empty list).
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::option::of(crate::protocol::testing::list())")
    )]
    pub topics: Option<Vec<OffsetFetchRequestTopic>>,
    /// The groups to fetch offsets for (v8+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub groups: Vec<OffsetFetchRequestGroup>,
    /// Ask the broker to fail partitions with pending transactional commits
    /// with a retriable error instead of returning unstable offsets (v7+).
    pub require_stable: bool,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for OffsetFetchRequest {
    fn default() -> Self {
        Self {
            group_id: String::new(),
            topics: Some(Vec::new()),
            groups: Vec::new(),
            require_stable: false,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// One group of a batched request (v8+).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct OffsetFetchRequestGroup {
    /// The group id (v8+).
    pub group_id: String,
    /// Member id under the KIP-848 protocol (v9+, nullable, ignorable, default null).
    pub member_id: Option<String>,
    /// Member epoch under the KIP-848 protocol (v9+, ignorable, default -1).
    pub member_epoch: i32,
    /// Topics to fetch, `None` for all topics (v8+, nullable; default an empty list).
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::option::of(crate::protocol::testing::list())")
    )]
    pub topics: Option<Vec<OffsetFetchRequestTopic>>,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for OffsetFetchRequestGroup {
    fn default() -> Self {
        Self {
            group_id: String::new(),
            member_id: None,
            member_epoch: -1,
            topics: Some(Vec::new()),
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// A topic and the partitions whose offsets are wanted (both forms).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct OffsetFetchRequestTopic {
    /// Topic name.
    pub name: String,
    /// Partition indexes.
    #[cfg_attr(
        test,
        proptest(strategy = "crate::protocol::testing::vec_of(proptest::prelude::any::<i32>())")
    )]
    pub partition_indexes: Vec<i32>,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: TaggedFields,
}

fn encode_topics(
    w: &mut Writer<'_>,
    topics: Option<&[OffsetFetchRequestTopic]>,
    nullable: bool,
) -> Result<()> {
    let element = |w: &mut Writer<'_>, t: &OffsetFetchRequestTopic| {
        w.string(&t.name)?;
        w.i32_array(&t.partition_indexes)?;
        w.unknown_tagged_fields(&t.unknown_tagged_fields)
    };
    match topics {
        Some(topics) => w.array(topics, element),
        None if w.null_allowed("topics", nullable)? => w.nullable_array(None, element),
        None => w.array(&[], element),
    }
}

fn decode_topics(r: &mut Reader, nullable: bool) -> Result<Option<Vec<OffsetFetchRequestTopic>>> {
    let element = |r: &mut Reader| {
        Ok(OffsetFetchRequestTopic {
            name: r.string()?,
            partition_indexes: r.i32_array()?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    };
    if nullable {
        r.nullable_array(element)
    } else {
        r.array(element).map(Some)
    }
}

fn encode_group(w: &mut Writer<'_>, g: &OffsetFetchRequestGroup) -> Result<()> {
    w.string(&g.group_id)?;
    if w.version() >= 9 {
        w.nullable_string(g.member_id.as_deref())?;
        w.i32(g.member_epoch);
    } else {
        w.absent("member_id", g.member_id.is_none(), true)?;
        w.absent("member_epoch", g.member_epoch == -1, true)?;
    }
    encode_topics(w, g.topics.as_deref(), true)?;
    w.unknown_tagged_fields(&g.unknown_tagged_fields)
}

fn decode_group(r: &mut Reader, version: i16) -> Result<OffsetFetchRequestGroup> {
    let mut g = OffsetFetchRequestGroup {
        group_id: r.string()?,
        ..OffsetFetchRequestGroup::default()
    };
    if version >= 9 {
        g.member_id = r.nullable_string()?;
        g.member_epoch = r.i32()?;
    }
    g.topics = decode_topics(r, true)?;
    g.unknown_tagged_fields = r.unknown_tagged_fields()?;
    Ok(g)
}

impl Message for OffsetFetchRequest {
    const API_KEY: ApiKey = ApiKey::OFFSET_FETCH;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        let v = w.version();
        if v <= 7 {
            w.string(&self.group_id)?;
            encode_topics(w, self.topics.as_deref(), v >= 2)?;
            w.absent("groups", self.groups.is_empty(), false)?;
        } else {
            w.absent("group_id", self.group_id.is_empty(), false)?;
            let topics_default = self.topics.as_ref().is_some_and(Vec::is_empty);
            w.absent("topics", topics_default, false)?;
            w.array(&self.groups, encode_group)?;
        }
        if v >= 7 {
            w.bool(self.require_stable);
        } else {
            w.absent("require_stable", !self.require_stable, false)?;
        }
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut msg = Self::default();
        if version <= 7 {
            msg.group_id = r.string()?;
            msg.topics = decode_topics(r, version >= 2)?;
        } else {
            msg.groups = r.array(|r| decode_group(r, version))?;
        }
        if version >= 7 {
            msg.require_stable = r.bool()?;
        }
        msg.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(msg)
    }
}

impl Request for OffsetFetchRequest {
    type Response = OffsetFetchResponse;
    const ROUTE: Route = Route::GroupCoordinator;

    fn route_key(&self) -> RouteKey<'_> {
        match self.groups.as_slice() {
            [] => RouteKey::Coordinator(&self.group_id),
            [one] => RouteKey::Coordinator(&one.group_id),
            _ => RouteKey::None,
        }
    }

    fn response_error(response: &Self::Response) -> ErrorCode {
        match response.groups.as_slice() {
            [] => response.error_code,
            [one] => one.error_code,
            _ => ErrorCode::NONE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::check_roundtrip;
    use crate::protocol::ProtocolError;
    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn roundtrip(m in any::<OffsetFetchRequest>(), v in 0i16..=9) {
            check_roundtrip(&m, v)?;
        }

        /// A request holding only fields its version has encodes strictly
        /// and decodes back unchanged.
        #[test]
        fn fitted_request_survives(m in any::<OffsetFetchRequest>(), v in 0i16..=9) {
            let m = fit(m, v);
            let bytes = encode(&m, v).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(OffsetFetchRequest::decode(bytes.into(), v), Ok(m));
        }
    }

    /// Resets every field `v` lacks to its default.
    fn fit(mut m: OffsetFetchRequest, v: i16) -> OffsetFetchRequest {
        let flexible = v >= 6;
        let fit_topics = |topics: &mut Option<Vec<OffsetFetchRequestTopic>>| {
            for t in topics.iter_mut().flatten() {
                if !flexible {
                    t.unknown_tagged_fields = TaggedFields::default();
                }
            }
        };
        if v <= 7 {
            m.groups.clear();
            if v < 2 && m.topics.is_none() {
                m.topics = Some(Vec::new());
            }
            fit_topics(&mut m.topics);
        } else {
            m.group_id.clear();
            m.topics = Some(Vec::new());
            for g in &mut m.groups {
                if v < 9 {
                    g.member_id = None;
                    g.member_epoch = -1;
                }
                fit_topics(&mut g.topics);
            }
        }
        if v < 7 {
            m.require_stable = false;
        }
        if !flexible {
            m.unknown_tagged_fields = TaggedFields::default();
        }
        m
    }

    fn encode(m: &OffsetFetchRequest, v: i16) -> Result<Vec<u8>> {
        let mut buf = BytesMut::new();
        m.encode(v, &mut buf)?;
        Ok(buf.to_vec())
    }

    fn topic(name: &str, partitions: &[i32]) -> OffsetFetchRequestTopic {
        OffsetFetchRequestTopic {
            name: name.into(),
            partition_indexes: partitions.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn single_group_v1_bytes() {
        let req = OffsetFetchRequest {
            group_id: "g".into(),
            topics: Some(vec![topic("t", &[0, 3])]),
            ..Default::default()
        };
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0, 1, b'g',             // group_id
            0, 0, 0, 1,             // topics: 1
            0, 1, b't',             //   name
            0, 0, 0, 2, 0, 0, 0, 0, //   partition_indexes: [0,
            0, 0, 0, 3,             //                       3]
        ];
        assert_eq!(encode(&req, 1).expect("v1"), expected);
        let back = OffsetFetchRequest::decode(Bytes::from_static(expected), 1).expect("v1");
        assert_eq!(back, req);
    }

    #[test]
    fn null_topics_only_from_v2() {
        let all = OffsetFetchRequest {
            group_id: "g".into(),
            topics: None,
            ..Default::default()
        };
        assert_eq!(
            encode(&all, 1),
            Err(ProtocolError::FieldNotSupported {
                field: "topics",
                version: 1
            })
        );
        let v2: &[u8] = &[0, 1, b'g', 0xff, 0xff, 0xff, 0xff];
        assert_eq!(encode(&all, 2).expect("v2"), v2);
        assert_eq!(
            OffsetFetchRequest::decode(Bytes::from_static(v2), 2).expect("v2"),
            all
        );
        // At v1 the array is not nullable, so -1 is rejected.
        assert!(OffsetFetchRequest::decode(Bytes::from_static(v2), 1).is_err());
    }

    /// v7: flexible single-group form with `require_stable`; null topics is a 0 count.
    #[test]
    fn single_group_v7_bytes() {
        let req = OffsetFetchRequest {
            group_id: "g".into(),
            topics: None,
            require_stable: true,
            ..Default::default()
        };
        let expected: &[u8] = &[2, b'g', 0, 1, 0];
        assert_eq!(encode(&req, 7).expect("v7"), expected);
        assert_eq!(
            OffsetFetchRequest::decode(Bytes::from_static(expected), 7).expect("v7"),
            req
        );
        assert!(encode(&req, 6).is_err(), "require_stable is not ignorable");
    }

    #[test]
    fn batched_v8_and_v9_bytes() {
        let req = OffsetFetchRequest {
            groups: vec![
                OffsetFetchRequestGroup {
                    group_id: "a".into(),
                    topics: Some(vec![topic("t", &[1])]),
                    ..Default::default()
                },
                OffsetFetchRequestGroup {
                    group_id: "b".into(),
                    member_id: Some("m".into()),
                    member_epoch: 4,
                    topics: None,
                    ..Default::default()
                },
            ],
            topics: Some(Vec::new()),
            ..Default::default()
        };
        #[rustfmt::skip]
        let v9: &[u8] = &[
            3,                    // groups: 2
            2, b'a',              //   group_id
            0,                    //   member_id: null
            0xff, 0xff, 0xff, 0xff, // member_epoch: -1
            2, 2, b't', 2, 0, 0, 0, 1, 0, // topics: [t: [1]], topic tags
            0,                    //   group tags
            2, b'b', 2, b'm',     //   group_id, member_id
            0, 0, 0, 4,           //   member_epoch
            0,                    //   topics: null
            0,                    //   group tags
            0,                    // require_stable
            0,                    // request tags
        ];
        assert_eq!(encode(&req, 9).expect("v9"), v9);
        assert_eq!(
            OffsetFetchRequest::decode(Bytes::from_static(v9), 9).expect("v9"),
            req
        );
        // v8 lacks the (ignorable) member fields: they are dropped.
        #[rustfmt::skip]
        let v8: &[u8] = &[
            3,
            2, b'a', 2, 2, b't', 2, 0, 0, 0, 1, 0, 0,
            2, b'b', 0, 0,
            0, 0,
        ];
        assert_eq!(encode(&req, 8).expect("v8"), v8);
        // The single-group fields do not exist at v8+.
        let single = OffsetFetchRequest {
            group_id: "g".into(),
            ..Default::default()
        };
        assert!(encode(&single, 8).is_err());
        assert!(encode(&req, 7).is_err(), "groups do not exist before v8");
    }
}
