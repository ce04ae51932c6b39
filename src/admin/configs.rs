//! Topic and broker configuration: describe (DescribeConfigs, with each
//! value's source and synonyms) and alter key by key
//! (IncrementalAlterConfigs).
//!
//! A topic's configuration is asked of any broker, all topics in one
//! request; a broker's of that broker (only it knows its static settings).
//!
//! Spec: KIP-133, KIP-226 (sources and synonyms), KIP-339 (incremental alter).

use std::collections::BTreeMap;
use std::fmt;

use super::{at, item_error, Admin, PerItem};
use crate::connection::BrokerConnection;
use crate::error::Result;
use crate::protocol::messages::describe_configs::{
    DescribeConfigsEntry, DescribeConfigsRequest, DescribeConfigsResource, RESOURCE_BROKER,
    RESOURCE_TOPIC,
};
use crate::protocol::messages::incremental_alter_configs::{
    AlterConfigsResource, AlterableConfig, IncrementalAlterConfigsRequest, OP_APPEND, OP_DELETE,
    OP_SET, OP_SUBTRACT,
};
use crate::protocol::{ApiKey, ErrorCode};

/// A resource whose configuration is described or altered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ConfigResource {
    /// A topic.
    Topic(String),
    /// A broker, by node id.
    Broker(i32),
}

impl ConfigResource {
    fn wire(&self) -> (i8, String) {
        match self {
            Self::Topic(t) => (RESOURCE_TOPIC, t.clone()),
            Self::Broker(b) => (RESOURCE_BROKER, b.to_string()),
        }
    }

    /// The broker that must be asked: the broker itself, any for a topic.
    fn broker(&self) -> Option<i32> {
        match self {
            Self::Topic(_) => None,
            Self::Broker(b) => Some(*b),
        }
    }
}

impl fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Topic(t) => write!(f, "topic {t}"),
            Self::Broker(b) => write!(f, "broker {b}"),
        }
    }
}

/// Where a configuration value comes from (Java's `ConfigEntry.ConfigSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigSource {
    /// Set on the topic (dynamic).
    DynamicTopic,
    /// Set for this broker (dynamic).
    DynamicBroker,
    /// Set as the cluster-wide broker default (dynamic).
    DynamicDefaultBroker,
    /// In the broker's `server.properties`.
    StaticBroker,
    /// Kafka's default.
    Default,
    /// A broker logger level (dynamic).
    DynamicBrokerLogger,
    /// A source this client does not know, by its wire value (0 is "unknown").
    Other(i8),
}

impl ConfigSource {
    /// From the wire's `int8`.
    pub fn from_wire(v: i8) -> Self {
        match v {
            1 => Self::DynamicTopic,
            2 => Self::DynamicBroker,
            3 => Self::DynamicDefaultBroker,
            4 => Self::StaticBroker,
            5 => Self::Default,
            6 => Self::DynamicBrokerLogger,
            n => Self::Other(n),
        }
    }

    /// The name `kafka-configs.sh` prints (`DYNAMIC_TOPIC_CONFIG`, ...).
    pub fn name(self) -> String {
        match self {
            Self::DynamicTopic => "DYNAMIC_TOPIC_CONFIG".into(),
            Self::DynamicBroker => "DYNAMIC_BROKER_CONFIG".into(),
            Self::DynamicDefaultBroker => "DYNAMIC_DEFAULT_BROKER_CONFIG".into(),
            Self::StaticBroker => "STATIC_BROKER_CONFIG".into(),
            Self::Default => "DEFAULT_CONFIG".into(),
            Self::DynamicBrokerLogger => "DYNAMIC_BROKER_LOGGER_CONFIG".into(),
            Self::Other(0) => "UNKNOWN".into(),
            Self::Other(n) => format!("SOURCE_{n}"),
        }
    }
}

/// One value of a key at one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSynonym {
    /// The key as that source names it (`log.retention.ms` for a topic's `retention.ms`).
    pub name: String,
    /// The value there (`None` when sensitive).
    pub value: Option<String>,
    /// The source.
    pub source: ConfigSource,
}

/// One configuration entry of a described resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// The key.
    pub name: String,
    /// The value in effect (`None` when sensitive or unset).
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Whether it cannot be altered.
    pub read_only: bool,
    /// Whether it is sensitive (its value is never sent).
    pub sensitive: bool,
    /// Every source that sets the key, highest precedence first.
    pub synonyms: Vec<ConfigSynonym>,
    /// The documentation, when asked for (DescribeConfigs v3+).
    pub documentation: Option<String>,
}

impl From<DescribeConfigsEntry> for ConfigEntry {
    fn from(c: DescribeConfigsEntry) -> Self {
        Self {
            name: c.name,
            value: c.value,
            source: ConfigSource::from_wire(c.config_source),
            read_only: c.read_only,
            sensitive: c.is_sensitive,
            synonyms: c
                .synonyms
                .into_iter()
                .map(|s| ConfigSynonym {
                    name: s.name,
                    value: s.value,
                    source: ConfigSource::from_wire(s.source),
                })
                .collect(),
            documentation: c.documentation,
        }
    }
}

/// One change of [`Admin::alter_configs`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlterConfigOp {
    /// Sets the key to the value.
    Set(String, String),
    /// Removes the key (the next source's value applies).
    Delete(String),
    /// Appends the value to a list key.
    Append(String, String),
    /// Removes the value from a list key.
    Subtract(String, String),
}

impl AlterConfigOp {
    fn wire(&self) -> AlterableConfig {
        let (name, op, value) = match self {
            Self::Set(k, v) => (k, OP_SET, Some(v.clone())),
            Self::Delete(k) => (k, OP_DELETE, None),
            Self::Append(k, v) => (k, OP_APPEND, Some(v.clone())),
            Self::Subtract(k, v) => (k, OP_SUBTRACT, Some(v.clone())),
        };
        AlterableConfig {
            name: name.clone(),
            config_operation: op,
            value,
            ..Default::default()
        }
    }
}

/// Resources grouped by the broker to ask (`None`: any broker).
fn by_broker<T: Clone>(
    items: &[(ConfigResource, T)],
) -> BTreeMap<Option<i32>, Vec<(ConfigResource, T)>> {
    let mut out: BTreeMap<Option<i32>, Vec<(ConfigResource, T)>> = BTreeMap::new();
    for (r, t) in items {
        out.entry(r.broker())
            .or_default()
            .push((r.clone(), t.clone()));
    }
    out
}

impl Admin {
    async fn config_broker(&self, node: Option<i32>) -> Result<BrokerConnection> {
        match node {
            Some(id) => {
                self.client.refresh_metadata().await?;
                self.client.broker(id).await
            }
            None => self.client.pool().any().await,
        }
    }

    /// Describes resources' configuration, every key, with synonyms (and the
    /// documentation when `documentation`); one result per resource.
    pub async fn describe_configs(
        &self,
        resources: &[ConfigResource],
        documentation: bool,
    ) -> Result<PerItem<ConfigResource, Vec<ConfigEntry>>> {
        let items: Vec<(ConfigResource, ())> = resources.iter().map(|r| (r.clone(), ())).collect();
        let mut done = Vec::new();
        for (node, group) in by_broker(&items) {
            let asked: Vec<ConfigResource> = group.into_iter().map(|(r, ())| r).collect();
            match self.describe_configs_at(node, &asked, documentation).await {
                Ok(results) => done.extend(results),
                Err(e) => done.extend(asked.into_iter().map(|r| (r, Err(e.clone())))),
            }
        }
        Ok(super::in_order(resources, done, |r| {
            missing(ApiKey::DESCRIBE_CONFIGS, r)
        }))
    }

    async fn describe_configs_at(
        &self,
        node: Option<i32>,
        asked: &[ConfigResource],
        documentation: bool,
    ) -> Result<PerItem<ConfigResource, Vec<ConfigEntry>>> {
        let conn = self.config_broker(node).await?;
        let version = conn.version_for::<DescribeConfigsRequest>()?;
        let request = DescribeConfigsRequest {
            resources: asked
                .iter()
                .map(|r| {
                    let (resource_type, resource_name) = r.wire();
                    DescribeConfigsResource {
                        resource_type,
                        resource_name,
                        configuration_keys: None,
                        ..Default::default()
                    }
                })
                .collect(),
            include_synonyms: true,
            include_documentation: documentation && version >= 3,
            ..Default::default()
        };
        let response = conn.send_at(&request, version).await?;
        let where_ = at(&conn, version);
        let mut done = Vec::new();
        for res in response.results {
            let Some(r) = asked
                .iter()
                .find(|r| r.wire() == (res.resource_type, res.resource_name.clone()))
            else {
                continue;
            };
            let result = if res.error_code.is_ok() {
                Ok(res.configs.into_iter().map(ConfigEntry::from).collect())
            } else {
                let what = format!("{r}{where_}");
                Err(item_error(
                    res.error_code,
                    ApiKey::DESCRIBE_CONFIGS,
                    &what,
                    res.error_message.as_deref(),
                ))
            };
            done.push((r.clone(), result));
        }
        Ok(done)
    }

    /// Alters resources' configuration key by key (IncrementalAlterConfigs);
    /// with `validate_only` the broker only checks. One result per resource.
    pub async fn alter_configs(
        &self,
        changes: &[(ConfigResource, Vec<AlterConfigOp>)],
        validate_only: bool,
    ) -> Result<PerItem<ConfigResource>> {
        let mut done = Vec::new();
        for (node, group) in by_broker(changes) {
            let asked: Vec<ConfigResource> = group.iter().map(|(r, _)| r.clone()).collect();
            match self.alter_configs_at(node, &group, validate_only).await {
                Ok(results) => done.extend(results),
                Err(e) => done.extend(asked.into_iter().map(|r| (r, Err(e.clone())))),
            }
        }
        let asked: Vec<ConfigResource> = changes.iter().map(|(r, _)| r.clone()).collect();
        let api = ApiKey::INCREMENTAL_ALTER_CONFIGS;
        Ok(super::in_order(&asked, done, |r| missing(api, r)))
    }

    async fn alter_configs_at(
        &self,
        node: Option<i32>,
        changes: &[(ConfigResource, Vec<AlterConfigOp>)],
        validate_only: bool,
    ) -> Result<PerItem<ConfigResource>> {
        let conn = self.config_broker(node).await?;
        let version = conn.version_for::<IncrementalAlterConfigsRequest>()?;
        let request = IncrementalAlterConfigsRequest {
            resources: changes
                .iter()
                .map(|(r, ops)| {
                    let (resource_type, resource_name) = r.wire();
                    AlterConfigsResource {
                        resource_type,
                        resource_name,
                        configs: ops.iter().map(AlterConfigOp::wire).collect(),
                        ..Default::default()
                    }
                })
                .collect(),
            validate_only,
            ..Default::default()
        };
        let response = conn.send_at(&request, version).await?;
        let where_ = at(&conn, version);
        let mut done = Vec::new();
        for res in response.responses {
            let key = (res.resource_type, res.resource_name.clone());
            let Some((r, _)) = changes.iter().find(|(r, _)| r.wire() == key) else {
                continue;
            };
            let result = if res.error_code.is_ok() {
                Ok(())
            } else {
                let what = format!("{r}{where_}");
                let api = ApiKey::INCREMENTAL_ALTER_CONFIGS;
                Err(item_error(
                    res.error_code,
                    api,
                    &what,
                    res.error_message.as_deref(),
                ))
            };
            done.push((r.clone(), result));
        }
        Ok(done)
    }
}

fn missing(api: ApiKey, r: &ConfigResource) -> crate::error::Error {
    super::broker_error(
        ErrorCode::UNKNOWN_SERVER_ERROR,
        api,
        format!(" for {r}: missing from the response"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_and_sources_map_to_the_wire() {
        assert_eq!(ConfigResource::Topic("t".into()).wire(), (2, "t".into()));
        assert_eq!(ConfigResource::Broker(3).wire(), (4, "3".into()));
        assert_eq!(ConfigSource::from_wire(1), ConfigSource::DynamicTopic);
        assert_eq!(ConfigSource::from_wire(4).name(), "STATIC_BROKER_CONFIG");
        assert_eq!(ConfigSource::from_wire(0).name(), "UNKNOWN");
        assert_eq!(ConfigSource::from_wire(42), ConfigSource::Other(42));
        let op = AlterConfigOp::Delete("k".into()).wire();
        assert_eq!((op.config_operation, op.value), (OP_DELETE, None));
    }

    #[test]
    fn topics_share_any_broker_and_brokers_are_asked_alone() {
        let items = [
            (ConfigResource::Topic("a".into()), ()),
            (ConfigResource::Broker(2), ()),
            (ConfigResource::Topic("b".into()), ()),
        ];
        let grouped = by_broker(&items);
        assert_eq!(grouped.get(&None).map(Vec::len), Some(2));
        assert_eq!(grouped.get(&Some(2)).map(Vec::len), Some(1));
    }
}
