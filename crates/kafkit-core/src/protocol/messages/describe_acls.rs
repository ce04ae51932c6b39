//! DescribeAcls (key 29): the ACL bindings that match a filter.
//!
//! Any broker answers (from the authorizer). v1 adds the pattern type
//! (literal, prefixed; matching filters: any, match); v2 is the first
//! flexible version. The filter type here is shared with DeleteAcls.
//!
//! Spec: `DescribeAclsRequest.json` / `DescribeAclsResponse.json`, KIP-140,
//! KIP-290 (prefixed ACLs).

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 3);
const FLEXIBLE_FROM: Option<i16> = Some(2);

/// Pattern type `LITERAL`, the only one before v1.
pub const PATTERN_LITERAL: i8 = 3;

/// A filter over ACL bindings (a `None` or an `ANY` code matches everything).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AclFilter {
    /// Resource type (1 any, 2 topic, 3 group, 4 cluster, 5 transactional
    /// id, 6 delegation token, 7 user) (v0+).
    pub resource_type: i8,
    /// Resource name (v0+).
    pub resource_name: Option<String>,
    /// Pattern type (1 any, 2 match, 3 literal, 4 prefixed) (v1+; literal before).
    pub pattern_type: i8,
    /// Principal, e.g. `User:alice` (v0+).
    pub principal: Option<String>,
    /// Host (v0+).
    pub host: Option<String>,
    /// Operation (1 any, 2 all, 3 read, 4 write, ...) (v0+).
    pub operation: i8,
    /// Permission (1 any, 2 deny, 3 allow) (v0+).
    pub permission_type: i8,
    /// Unknown tagged fields (v2+; DeleteAcls filters only).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for AclFilter {
    fn default() -> Self {
        Self {
            resource_type: 1,
            resource_name: None,
            pattern_type: PATTERN_LITERAL,
            principal: None,
            host: None,
            operation: 1,
            permission_type: 1,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// Writes `f`'s fields (without tagged fields).
pub(crate) fn encode_filter(w: &mut Writer<'_>, f: &AclFilter) -> Result<()> {
    w.i8(f.resource_type);
    w.nullable_string(f.resource_name.as_deref())?;
    if w.version() >= 1 {
        w.i8(f.pattern_type);
    } else {
        w.absent("pattern_type", f.pattern_type == PATTERN_LITERAL, false)?;
    }
    w.nullable_string(f.principal.as_deref())?;
    w.nullable_string(f.host.as_deref())?;
    w.i8(f.operation);
    w.i8(f.permission_type);
    Ok(())
}

/// Reads a filter's fields (without tagged fields).
pub(crate) fn decode_filter(r: &mut Reader, version: i16) -> Result<AclFilter> {
    Ok(AclFilter {
        resource_type: r.i8()?,
        resource_name: r.nullable_string()?,
        pattern_type: if version >= 1 {
            r.i8()?
        } else {
            PATTERN_LITERAL
        },
        principal: r.nullable_string()?,
        host: r.nullable_string()?,
        operation: r.i8()?,
        permission_type: r.i8()?,
        unknown_tagged_fields: TaggedFields::default(),
    })
}

/// Asks for the bindings matching a filter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeAclsRequest {
    /// The filter; its tagged fields are the request's (v0+).
    pub filter: AclFilter,
}

/// The matching bindings, by resource.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeAclsResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// Error for the whole request (v0+).
    pub error_code: ErrorCode,
    /// The broker's message for it (v0+).
    pub error_message: Option<String>,
    /// The resources and their ACLs (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub resources: Vec<AclResource>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One resource pattern and its ACLs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AclResource {
    /// Resource type (v0+).
    pub resource_type: i8,
    /// Resource name (v0+).
    pub resource_name: String,
    /// Pattern type (v1+; literal before).
    pub pattern_type: i8,
    /// The ACLs (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub acls: Vec<AclDescription>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for AclResource {
    fn default() -> Self {
        Self {
            resource_type: 0,
            resource_name: String::new(),
            pattern_type: PATTERN_LITERAL,
            acls: Vec::new(),
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// One ACL of an [`AclResource`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AclDescription {
    /// Principal (v0+).
    pub principal: String,
    /// Host (v0+).
    pub host: String,
    /// Operation (v0+).
    pub operation: i8,
    /// Permission (v0+).
    pub permission_type: i8,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for DescribeAclsRequest {
    const API_KEY: ApiKey = ApiKey::DESCRIBE_ACLS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        encode_filter(w, &self.filter)?;
        w.unknown_tagged_fields(&self.filter.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        let mut filter = decode_filter(r, version)?;
        filter.unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(Self { filter })
    }
}

impl Request for DescribeAclsRequest {
    type Response = DescribeAclsResponse;
    const ROUTE: Route = Route::AnyBroker;

    fn response_error(response: &Self::Response) -> ErrorCode {
        response.error_code
    }
}

impl Message for DescribeAclsResponse {
    const API_KEY: ApiKey = ApiKey::DESCRIBE_ACLS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.i16(self.error_code.0);
        w.nullable_string(self.error_message.as_deref())?;
        w.array(&self.resources, |w, res| {
            w.i8(res.resource_type);
            w.string(&res.resource_name)?;
            if w.version() >= 1 {
                w.i8(res.pattern_type);
            } else {
                w.absent("pattern_type", res.pattern_type == PATTERN_LITERAL, false)?;
            }
            w.array(&res.acls, |w, a| {
                w.string(&a.principal)?;
                w.string(&a.host)?;
                w.i8(a.operation);
                w.i8(a.permission_type);
                w.unknown_tagged_fields(&a.unknown_tagged_fields)
            })?;
            w.unknown_tagged_fields(&res.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            error_code: ErrorCode(r.i16()?),
            error_message: r.nullable_string()?,
            resources: r.array(|r| {
                Ok(AclResource {
                    resource_type: r.i8()?,
                    resource_name: r.string()?,
                    pattern_type: if version >= 1 {
                        r.i8()?
                    } else {
                        PATTERN_LITERAL
                    },
                    acls: r.array(|r| {
                        Ok(AclDescription {
                            principal: r.string()?,
                            host: r.string()?,
                            operation: r.i8()?,
                            permission_type: r.i8()?,
                            unknown_tagged_fields: r.unknown_tagged_fields()?,
                        })
                    })?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::{check_roundtrip, encoded};
    use bytes::Bytes;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<DescribeAclsRequest>(), v in 0i16..=3) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<DescribeAclsResponse>(), v in 0i16..=3) {
            check_roundtrip(&m, v)?;
        }

        /// Arbitrary bytes never panic the decoders.
        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64), v in 0i16..=3) {
            let _ = DescribeAclsRequest::decode(Bytes::from(b.clone()), v);
            let _ = DescribeAclsResponse::decode(Bytes::from(b), v);
        }
    }

    #[test]
    fn request_bytes_v1_and_v3() {
        // Topic "t", literal, any principal and host, operation read, allow.
        let req = DescribeAclsRequest {
            filter: AclFilter {
                resource_type: 2,
                resource_name: Some("t".into()),
                operation: 3,
                permission_type: 3,
                ..Default::default()
            },
        };
        let v1: &[u8] = &[2, 0, 1, b't', 3, 0xff, 0xff, 0xff, 0xff, 3, 3];
        let v3: &[u8] = &[2, 2, b't', 3, 0, 0, 3, 3, 0];
        assert_eq!(encoded(&req, 1), v1);
        assert_eq!(encoded(&req, 3), v3);
        assert_eq!(
            DescribeAclsRequest::decode(Bytes::from_static(v3), 3),
            Ok(req)
        );
    }

    #[test]
    fn hostile_input_is_an_error() {
        let wire = Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]);
        assert!(DescribeAclsResponse::decode(wire, 1).is_err());
        let full = encoded(
            &DescribeAclsResponse {
                resources: vec![AclResource {
                    acls: vec![AclDescription::default()],
                    ..Default::default()
                }],
                ..Default::default()
            },
            3,
        );
        for n in 0..full.len() {
            let cut = Bytes::copy_from_slice(&full[..n]);
            assert!(DescribeAclsResponse::decode(cut, 3).is_err(), "{n} bytes");
        }
    }
}
