//! ACLs: the bindings matching a filter (DescribeAcls), adding bindings
//! (CreateAcls) and deleting the bindings matching filters (DeleteAcls),
//! all at any broker (KRaft brokers forward changes to the controller).
//! Needs an authorizer on the cluster (`SECURITY_DISABLED` otherwise).
//!
//! Spec: KIP-140 (ACL admin APIs), KIP-290 (prefixed patterns).

use super::{item_error, Admin, PerItem};
use crate::cluster::route::Destination;
use crate::error::{BrokerRef, Result};
use crate::protocol::messages::create_acls::{AclCreation, CreateAclsRequest};
use crate::protocol::messages::delete_acls::DeleteAclsRequest;
use crate::protocol::messages::describe_acls::{AclFilter, DescribeAclsRequest};
use crate::protocol::{ApiKey, ErrorCode};

/// Names of the wire codes of one ACL field (`ANY` is 1 in every field).
fn name_of(table: &[(&'static str, i8)], code: i8) -> &'static str {
    table
        .iter()
        .find(|(_, c)| *c == code)
        .map_or("UNKNOWN", |(n, _)| n)
}

fn code_of(table: &[(&'static str, i8)], name: &str) -> Option<i8> {
    let upper = name.to_ascii_uppercase().replace('-', "_");
    table.iter().find(|(n, _)| *n == upper).map(|(_, c)| *c)
}

/// Resource types.
pub const RESOURCE_TYPES: &[(&str, i8)] = &[
    ("ANY", 1),
    ("TOPIC", 2),
    ("GROUP", 3),
    ("CLUSTER", 4),
    ("TRANSACTIONAL_ID", 5),
    ("DELEGATION_TOKEN", 6),
    ("USER", 7),
];
/// Pattern types (`MATCH` only in filters).
pub const PATTERN_TYPES: &[(&str, i8)] =
    &[("ANY", 1), ("MATCH", 2), ("LITERAL", 3), ("PREFIXED", 4)];
/// Operations.
pub const OPERATIONS: &[(&str, i8)] = &[
    ("ANY", 1),
    ("ALL", 2),
    ("READ", 3),
    ("WRITE", 4),
    ("CREATE", 5),
    ("DELETE", 6),
    ("ALTER", 7),
    ("DESCRIBE", 8),
    ("CLUSTER_ACTION", 9),
    ("DESCRIBE_CONFIGS", 10),
    ("ALTER_CONFIGS", 11),
    ("IDEMPOTENT_WRITE", 12),
    ("CREATE_TOKENS", 13),
    ("DESCRIBE_TOKENS", 14),
];
/// Permission types.
pub const PERMISSIONS: &[(&str, i8)] = &[("ANY", 1), ("DENY", 2), ("ALLOW", 3)];

/// One ACL binding: `principal` from `host` may (or may not) do
/// `operation` on the resources `resource_type`/`resource_name` names.
/// The fields are wire codes; see [`AclBinding::parse`] for names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclBinding {
    /// Resource type ([`RESOURCE_TYPES`]).
    pub resource_type: i8,
    /// Resource name (`kafka-cluster` for the cluster).
    pub resource_name: String,
    /// Pattern type ([`PATTERN_TYPES`]: literal or prefixed).
    pub pattern_type: i8,
    /// Principal, e.g. `User:alice`.
    pub principal: String,
    /// Host, `*` for any.
    pub host: String,
    /// Operation ([`OPERATIONS`]).
    pub operation: i8,
    /// Permission ([`PERMISSIONS`]).
    pub permission: i8,
}

impl AclBinding {
    /// A binding from names (`topic`, `orders`, `literal`, `User:a`, `*`,
    /// `read`, `allow`); `None` when a name is unknown.
    pub fn parse(
        resource_type: &str,
        resource_name: &str,
        pattern_type: &str,
        principal: &str,
        host: &str,
        operation: &str,
        permission: &str,
    ) -> Option<Self> {
        Some(Self {
            resource_type: code_of(RESOURCE_TYPES, resource_type)?,
            resource_name: resource_name.to_owned(),
            pattern_type: code_of(PATTERN_TYPES, pattern_type)?,
            principal: principal.to_owned(),
            host: host.to_owned(),
            operation: code_of(OPERATIONS, operation)?,
            permission: code_of(PERMISSIONS, permission)?,
        })
    }

    /// The binding as a filter matching exactly it.
    pub fn as_filter(&self) -> AclBindingFilter {
        AclBindingFilter {
            resource_type: self.resource_type,
            resource_name: Some(self.resource_name.clone()),
            pattern_type: self.pattern_type,
            principal: Some(self.principal.clone()),
            host: Some(self.host.clone()),
            operation: self.operation,
            permission: self.permission,
        }
    }

    /// `TOPIC:LITERAL:orders User:a@* READ ALLOW`.
    pub fn describe(&self) -> String {
        format!(
            "{}:{}:{} {}@{} {} {}",
            name_of(RESOURCE_TYPES, self.resource_type),
            name_of(PATTERN_TYPES, self.pattern_type),
            self.resource_name,
            self.principal,
            self.host,
            name_of(OPERATIONS, self.operation),
            name_of(PERMISSIONS, self.permission)
        )
    }
}

/// A filter over bindings: `None` names and `ANY` (1) codes match all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclBindingFilter {
    /// Resource type.
    pub resource_type: i8,
    /// Resource name.
    pub resource_name: Option<String>,
    /// Pattern type (`MATCH`: every pattern that applies to the name).
    pub pattern_type: i8,
    /// Principal.
    pub principal: Option<String>,
    /// Host.
    pub host: Option<String>,
    /// Operation.
    pub operation: i8,
    /// Permission.
    pub permission: i8,
}

impl Default for AclBindingFilter {
    /// Matches every binding.
    fn default() -> Self {
        Self {
            resource_type: 1,
            resource_name: None,
            pattern_type: 1,
            principal: None,
            host: None,
            operation: 1,
            permission: 1,
        }
    }
}

impl AclBindingFilter {
    fn wire(&self) -> AclFilter {
        AclFilter {
            resource_type: self.resource_type,
            resource_name: self.resource_name.clone(),
            pattern_type: self.pattern_type,
            principal: self.principal.clone(),
            host: self.host.clone(),
            operation: self.operation,
            permission_type: self.permission,
            ..Default::default()
        }
    }
}

impl Admin {
    /// The bindings matching `filter`.
    pub async fn describe_acls(&self, filter: &AclBindingFilter) -> Result<Vec<AclBinding>> {
        let build = |_: i16, _: &BrokerRef| {
            Ok(DescribeAclsRequest {
                filter: filter.wire(),
            })
        };
        let to = Destination::AnyBroker;
        let answer = self.client.call_to(&to, build, self.deadline()).await?;
        let mut out = Vec::new();
        for res in answer.body.resources {
            for a in res.acls {
                out.push(AclBinding {
                    resource_type: res.resource_type,
                    resource_name: res.resource_name.clone(),
                    pattern_type: res.pattern_type,
                    principal: a.principal,
                    host: a.host,
                    operation: a.operation,
                    permission: a.permission_type,
                });
            }
        }
        Ok(out)
    }

    /// Adds `bindings`; one result per binding, in order.
    pub async fn create_acls(&self, bindings: &[AclBinding]) -> Result<PerItem<AclBinding>> {
        if bindings.is_empty() {
            return Ok(Vec::new());
        }
        let request = CreateAclsRequest {
            creations: bindings
                .iter()
                .map(|b| AclCreation {
                    resource_type: b.resource_type,
                    resource_name: b.resource_name.clone(),
                    resource_pattern_type: b.pattern_type,
                    principal: b.principal.clone(),
                    host: b.host.clone(),
                    operation: b.operation,
                    permission_type: b.permission,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let to = Destination::AnyBroker;
        let build = |_: i16, _: &BrokerRef| Ok(request.clone());
        let answer = self.client.call_to(&to, build, self.deadline()).await?;
        let (broker, version) = (answer.broker, answer.version);
        let mut results = answer.body.results.into_iter();
        Ok(bindings
            .iter()
            .map(|b| {
                let (code, message) = results.next().map_or(
                    (
                        ErrorCode::UNKNOWN_SERVER_ERROR,
                        Some("missing from the response".to_owned()),
                    ),
                    |r| (r.error_code, r.error_message),
                );
                let r = if code.is_ok() {
                    Ok(())
                } else {
                    let what = format!("ACL {}", b.describe());
                    let e = item_error(code, ApiKey::CREATE_ACLS, &what, message.as_deref());
                    Err(e.answered_by(&broker, version))
                };
                (b.clone(), r)
            })
            .collect())
    }

    /// Deletes the bindings matching each filter; per filter, the bindings
    /// it deleted.
    pub async fn delete_acls(
        &self,
        filters: &[AclBindingFilter],
    ) -> Result<PerItem<AclBindingFilter, Vec<AclBinding>>> {
        if filters.is_empty() {
            return Ok(Vec::new());
        }
        let request = DeleteAclsRequest {
            filters: filters.iter().map(AclBindingFilter::wire).collect(),
            ..Default::default()
        };
        let to = Destination::AnyBroker;
        let build = |_: i16, _: &BrokerRef| Ok(request.clone());
        let answer = self.client.call_to(&to, build, self.deadline()).await?;
        let (broker, version) = (answer.broker, answer.version);
        let mut results = answer.body.filter_results.into_iter();
        let api = ApiKey::DELETE_ACLS;
        Ok(filters
            .iter()
            .map(|f| {
                let r = match results.next() {
                    None => Err(item_error(
                        ErrorCode::UNKNOWN_SERVER_ERROR,
                        api,
                        "an ACL filter",
                        Some("missing from the response"),
                    )),
                    Some(r) if !r.error_code.is_ok() => Err(item_error(
                        r.error_code,
                        api,
                        "an ACL filter",
                        r.error_message.as_deref(),
                    )
                    .answered_by(&broker, version)),
                    Some(r) => Ok(r
                        .matching_acls
                        .into_iter()
                        .filter(|a| a.error_code.is_ok())
                        .map(|a| AclBinding {
                            resource_type: a.resource_type,
                            resource_name: a.resource_name,
                            pattern_type: a.pattern_type,
                            principal: a.principal,
                            host: a.host,
                            operation: a.operation,
                            permission: a.permission_type,
                        })
                        .collect()),
                };
                (f.clone(), r)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_parse_from_names_and_describe_themselves() {
        let b = AclBinding::parse("topic", "t", "literal", "User:a", "*", "read", "allow");
        let b = b.expect("known names");
        assert_eq!(
            (b.resource_type, b.pattern_type, b.operation, b.permission),
            (2, 3, 3, 3)
        );
        assert_eq!(b.describe(), "TOPIC:LITERAL:t User:a@* READ ALLOW");
        let idem = AclBinding::parse(
            "cluster",
            "kafka-cluster",
            "literal",
            "User:a",
            "*",
            "idempotent-write",
            "deny",
        );
        assert_eq!(
            idem.map(|b| (b.resource_type, b.operation, b.permission)),
            Some((4, 12, 2))
        );
        assert!(
            AclBinding::parse("topic", "t", "literal", "User:a", "*", "fly", "allow").is_none()
        );
    }
}
