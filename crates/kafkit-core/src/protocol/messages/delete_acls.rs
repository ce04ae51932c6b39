//! DeleteAcls (key 31): remove the ACL bindings matching filters.
//!
//! Any broker takes it (KRaft forwards it to the controller). The filters
//! are DescribeAcls's ([`AclFilter`]). v1 adds the pattern type; v2 is the
//! first flexible version.
//!
//! Spec: `DeleteAclsRequest.json` / `DeleteAclsResponse.json`, KIP-140,
//! KIP-290.

use super::describe_acls::{decode_filter, encode_filter, AclFilter, PATTERN_LITERAL};
use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 3);
const FLEXIBLE_FROM: Option<i16> = Some(2);

/// Asks to delete the bindings matching each filter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeleteAclsRequest {
    /// The filters (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub filters: Vec<AclFilter>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One result per filter, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeleteAclsResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// The results (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub filter_results: Vec<DeleteAclsFilterResult>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One filter's outcome: the bindings it deleted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeleteAclsFilterResult {
    /// Error, `NONE` on success (v0+).
    pub error_code: ErrorCode,
    /// The broker's message for the error (v0+).
    pub error_message: Option<String>,
    /// The bindings that matched (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub matching_acls: Vec<DeletedAcl>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One binding that matched a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeletedAcl {
    /// Error deleting this one (v0+).
    pub error_code: ErrorCode,
    /// The broker's message for it (v0+).
    pub error_message: Option<String>,
    /// Resource type (v0+).
    pub resource_type: i8,
    /// Resource name (v0+).
    pub resource_name: String,
    /// Pattern type (v1+; literal before).
    pub pattern_type: i8,
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

impl Default for DeletedAcl {
    fn default() -> Self {
        Self {
            error_code: ErrorCode::NONE,
            error_message: None,
            resource_type: 0,
            resource_name: String::new(),
            pattern_type: PATTERN_LITERAL,
            principal: String::new(),
            host: String::new(),
            operation: 0,
            permission_type: 0,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

impl Message for DeleteAclsRequest {
    const API_KEY: ApiKey = ApiKey::DELETE_ACLS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.array(&self.filters, |w, f| {
            encode_filter(w, f)?;
            w.unknown_tagged_fields(&f.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        Ok(Self {
            filters: r.array(|r| {
                let mut f = decode_filter(r, version)?;
                f.unknown_tagged_fields = r.unknown_tagged_fields()?;
                Ok(f)
            })?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for DeleteAclsRequest {
    type Response = DeleteAclsResponse;
    const ROUTE: Route = Route::AnyBroker;
}

impl Message for DeleteAclsResponse {
    const API_KEY: ApiKey = ApiKey::DELETE_ACLS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        w.array(&self.filter_results, |w, f| {
            w.i16(f.error_code.0);
            w.nullable_string(f.error_message.as_deref())?;
            w.array(&f.matching_acls, |w, a| {
                w.i16(a.error_code.0);
                w.nullable_string(a.error_message.as_deref())?;
                w.i8(a.resource_type);
                w.string(&a.resource_name)?;
                if w.version() >= 1 {
                    w.i8(a.pattern_type);
                } else {
                    w.absent("pattern_type", a.pattern_type == PATTERN_LITERAL, false)?;
                }
                w.string(&a.principal)?;
                w.string(&a.host)?;
                w.i8(a.operation);
                w.i8(a.permission_type);
                w.unknown_tagged_fields(&a.unknown_tagged_fields)
            })?;
            w.unknown_tagged_fields(&f.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            filter_results: r.array(|r| {
                Ok(DeleteAclsFilterResult {
                    error_code: ErrorCode(r.i16()?),
                    error_message: r.nullable_string()?,
                    matching_acls: r.array(|r| decode_deleted(r, version))?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

fn decode_deleted(r: &mut Reader, version: i16) -> Result<DeletedAcl> {
    Ok(DeletedAcl {
        error_code: ErrorCode(r.i16()?),
        error_message: r.nullable_string()?,
        resource_type: r.i8()?,
        resource_name: r.string()?,
        pattern_type: if version >= 1 {
            r.i8()?
        } else {
            PATTERN_LITERAL
        },
        principal: r.string()?,
        host: r.string()?,
        operation: r.i8()?,
        permission_type: r.i8()?,
        unknown_tagged_fields: r.unknown_tagged_fields()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::{check_roundtrip, encoded};
    use bytes::Bytes;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<DeleteAclsRequest>(), v in 0i16..=3) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<DeleteAclsResponse>(), v in 0i16..=3) {
            check_roundtrip(&m, v)?;
        }

        /// Arbitrary bytes never panic the decoders.
        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64), v in 0i16..=3) {
            let _ = DeleteAclsRequest::decode(Bytes::from(b.clone()), v);
            let _ = DeleteAclsResponse::decode(Bytes::from(b), v);
        }
    }

    #[test]
    fn prefixed_filters_cannot_go_out_at_v0() {
        let req = DeleteAclsRequest {
            filters: vec![AclFilter {
                pattern_type: 4,
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut buf = bytes::BytesMut::new();
        assert!(req.encode(0, &mut buf).is_err());
        assert!(req.encode(1, &mut buf).is_ok());
    }

    #[test]
    fn hostile_input_is_an_error() {
        let wire = Bytes::from_static(&[0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]);
        assert!(DeleteAclsResponse::decode(wire, 1).is_err());
        let full = encoded(
            &DeleteAclsResponse {
                filter_results: vec![DeleteAclsFilterResult {
                    matching_acls: vec![DeletedAcl::default()],
                    ..Default::default()
                }],
                ..Default::default()
            },
            3,
        );
        for n in 0..full.len() {
            let cut = Bytes::copy_from_slice(&full[..n]);
            assert!(DeleteAclsResponse::decode(cut, 3).is_err(), "{n} bytes");
        }
    }
}
