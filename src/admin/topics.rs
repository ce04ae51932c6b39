//! Topic administration: create, delete (on the controller) and list.

use std::future::Future;

use tracing::debug;

use super::{broker_error, in_order, item_error, Admin, Backoff, PerItem};
use crate::connection::BrokerConnection;
use crate::error::{Error, Result};
use crate::protocol::messages::create_topics::{
    CreatableTopic, CreatableTopicConfig, CreateTopicsRequest,
};
use crate::protocol::messages::delete_topics::{DeleteTopicState, DeleteTopicsRequest};
use crate::protocol::messages::metadata::MetadataRequest;
use crate::protocol::{ApiKey, ErrorCode, Uuid};

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewTopic {
    /// Topic name.
    pub name: String,
    /// Partition count; -1 for the broker's default (needs CreateTopics v4+).
    pub partitions: i32,
    /// Replication factor; -1 for the broker's default (needs CreateTopics v4+).
    pub replication_factor: i16,
    /// Topic configurations (`cleanup.policy=compact`, ...).
    pub configs: Vec<(String, String)>,
}

impl NewTopic {
    /// A topic with `partitions` partitions of `replication_factor` replicas.
    pub fn new(name: impl Into<String>, partitions: i32, replication_factor: i16) -> Self {
        Self {
            name: name.into(),
            partitions,
            replication_factor,
            configs: Vec::new(),
        }
    }

    /// Adds a topic configuration.
    pub fn with_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.push((key.into(), value.into()));
        self
    }

    fn to_wire(&self) -> CreatableTopic {
        CreatableTopic {
            name: self.name.clone(),
            num_partitions: self.partitions,
            replication_factor: self.replication_factor,
            configs: self
                .configs
                .iter()
                .map(|(k, v)| CreatableTopicConfig {
                    name: k.clone(),
                    value: Some(v.clone()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }
}

/// One topic as [`Admin::list_topics`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicListing {
    /// Topic name.
    pub name: String,
    /// Topic id (zero when the broker does not report ids).
    pub id: Uuid,
    /// Number of partitions.
    pub partitions: usize,
    /// Replicas of the first partition (0 when it has none).
    pub replication_factor: usize,
    /// Whether the topic is internal (`__consumer_offsets`).
    pub internal: bool,
}

/// One attempt's answers: per topic, the error code and message.
pub(super) type Answers = Vec<(String, ErrorCode, Option<String>)>;

impl Admin {
    /// Creates topics on the controller; with `validate_only` the controller
    /// only checks that it could (CreateTopics v1+).
    ///
    /// Each topic gets its own result: an existing topic fails with
    /// `TOPIC_ALREADY_EXISTS` without failing the others.
    pub async fn create_topics(
        &self,
        topics: &[NewTopic],
        validate_only: bool,
    ) -> Result<PerItem<String>> {
        let names: Vec<String> = topics.iter().map(|t| t.name.clone()).collect();
        self.on_controller(ApiKey::CREATE_TOPICS, &names, |conn, pending| async move {
            let version = conn.version_for::<CreateTopicsRequest>()?;
            if validate_only && version < 1 {
                return Err(unsupported(
                    &conn,
                    ApiKey::CREATE_TOPICS,
                    version,
                    "validate_only (v1+)",
                ));
            }
            let request = CreateTopicsRequest {
                topics: topics
                    .iter()
                    .filter(|t| pending.contains(&t.name))
                    .map(NewTopic::to_wire)
                    .collect(),
                timeout_ms: self.timeout_ms(),
                validate_only,
                ..Default::default()
            };
            let response = conn.send_at(&request, version).await?;
            Ok(response
                .topics
                .into_iter()
                .map(|t| (t.name, t.error_code, t.error_message))
                .collect())
        })
        .await
    }

    /// Deletes topics by name on the controller; each topic gets its own result.
    pub async fn delete_topics(&self, names: &[String]) -> Result<PerItem<String>> {
        self.on_controller(ApiKey::DELETE_TOPICS, names, |conn, pending| async move {
            let version = conn.version_for::<DeleteTopicsRequest>()?;
            let mut request = DeleteTopicsRequest {
                timeout_ms: self.timeout_ms(),
                ..Default::default()
            };
            if version >= 6 {
                request.topics = pending
                    .iter()
                    .map(|n| DeleteTopicState {
                        name: Some(n.clone()),
                        ..Default::default()
                    })
                    .collect();
            } else {
                request.topic_names = pending;
            }
            let response = conn.send_at(&request, version).await?;
            Ok(response
                .responses
                .into_iter()
                .map(|t| (t.name.unwrap_or_default(), t.error_code, t.error_message))
                .collect())
        })
        .await
    }

    /// Every topic of the cluster, sorted by name; internal topics only when
    /// `include_internal`.
    pub async fn list_topics(&self, include_internal: bool) -> Result<Vec<TopicListing>> {
        let request = MetadataRequest {
            topics: None,
            allow_auto_topic_creation: false,
            ..Default::default()
        };
        let response = self.client.send_any(&request).await?;
        let mut topics: Vec<TopicListing> = response
            .topics
            .into_iter()
            .filter(|t| t.error_code.is_ok() && (include_internal || !t.is_internal))
            .filter_map(|t| {
                Some(TopicListing {
                    name: t.name?,
                    id: t.topic_id,
                    replication_factor: t.partitions.first().map_or(0, |p| p.replica_nodes.len()),
                    partitions: t.partitions.len(),
                    internal: t.is_internal,
                })
            })
            .collect();
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(topics)
    }

    /// Runs `attempt` on the controller for the topics still pending until
    /// none answers `NOT_CONTROLLER` (refreshing the metadata in between) or
    /// the deadline passes. Transport failures are retried the same way.
    pub(super) async fn on_controller<F, Fut>(
        &self,
        api: ApiKey,
        names: &[String],
        attempt: F,
    ) -> Result<PerItem<String>>
    where
        F: Fn(BrokerConnection, Vec<String>) -> Fut,
        Fut: Future<Output = Result<Answers>>,
    {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut backoff = Backoff::new(self.deadline());
        let mut pending: Vec<String> = names.to_vec();
        let mut done: PerItem<String> = Vec::new();
        loop {
            let answers = match self.controller().await {
                Ok(conn) => attempt(conn, pending.clone()).await,
                Err(e) => Err(e),
            };
            let retry = match answers {
                Ok(answers) => {
                    // Topics the controller did not answer for are not retried.
                    pending = settle(api, answers, &pending, &mut done);
                    None
                }
                // Nothing was asked yet: refuse the whole call.
                Err(e) if !e.is_retriable() && done.is_empty() && pending.len() == names.len() => {
                    return Err(e)
                }
                Err(e) if e.is_retriable() => Some(e),
                Err(e) => {
                    done.extend(pending.drain(..).map(|n| (n, Err(e.clone()))));
                    None
                }
            };
            if pending.is_empty() {
                break;
            }
            debug!(%api, pending = pending.len(), error = ?retry, "retrying on the controller");
            if !backoff.wait().await {
                let e = retry.unwrap_or_else(|| {
                    broker_error(ErrorCode::NOT_CONTROLLER, api, " (deadline passed)".into())
                });
                done.extend(pending.drain(..).map(|n| (n, Err(e.clone()))));
                break;
            }
            // The controller moved or the connection broke: learn where it is now.
            let _ = self.client.refresh_metadata().await;
        }
        Ok(in_order(names, done, |n| {
            broker_error(
                ErrorCode::UNKNOWN_SERVER_ERROR,
                api,
                format!(" for topic {n}: missing from the response"),
            )
        }))
    }
}

/// Moves the topics of one attempt's answers into `done`, except those
/// answered `NOT_CONTROLLER`, which are returned to be asked again.
fn settle(
    api: ApiKey,
    answers: Answers,
    pending: &[String],
    done: &mut PerItem<String>,
) -> Vec<String> {
    let mut retry = Vec::new();
    for (name, code, message) in answers {
        if !pending.contains(&name) {
            continue;
        }
        if code == ErrorCode::NOT_CONTROLLER {
            retry.push(name);
        } else if code.is_ok() {
            done.push((name, Ok(())));
        } else {
            let what = format!("topic {name}");
            let e = item_error(code, api, &what, message.as_deref());
            done.push((name, Err(e)));
        }
    }
    retry
}

fn unsupported(conn: &BrokerConnection, api: ApiKey, version: i16, what: &str) -> Error {
    Error::UnsupportedVersion {
        broker: conn.addr().to_owned(),
        api,
        version,
        what: what.to_owned(),
    }
}
