//! Topic administration: create, delete (on the controller) and list.

use super::{broker_error, in_order, item_error, Admin, PerItem};
use crate::cluster::{Answer, Destination};
use crate::error::{BrokerRef, Error, Result};
use crate::protocol::messages::create_topics::{
    CreatableTopic, CreatableTopicConfig, CreateTopicsRequest,
};
use crate::protocol::messages::delete_topics::{DeleteTopicState, DeleteTopicsRequest};
use crate::protocol::messages::metadata::MetadataRequest;
use crate::protocol::{ApiKey, ErrorCode, Request, Uuid};

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
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let build = |version: i16, broker: &BrokerRef| {
            if validate_only && version < 1 {
                return Err(unsupported(
                    broker,
                    ApiKey::CREATE_TOPICS,
                    version,
                    "validate_only (v1+)",
                ));
            }
            Ok(CreateTopicsRequest {
                topics: topics.iter().map(NewTopic::to_wire).collect(),
                timeout_ms: self.timeout_ms(),
                validate_only,
                ..Default::default()
            })
        };
        let answer = self.on_controller(build).await?;
        let answers = answer.map(|a| {
            let (broker, version) = (a.broker, a.version);
            let answers = a.body.topics.into_iter();
            let answers = answers.map(|t| (t.name, t.error_code, t.error_message));
            (broker, version, answers.collect())
        });
        Ok(settle(ApiKey::CREATE_TOPICS, &names, answers))
    }

    /// Deletes topics by name on the controller; each topic gets its own result.
    pub async fn delete_topics(&self, names: &[String]) -> Result<PerItem<String>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let build = |version: i16, _: &BrokerRef| {
            let mut request = DeleteTopicsRequest {
                timeout_ms: self.timeout_ms(),
                ..Default::default()
            };
            if version >= 6 {
                request.topics = names
                    .iter()
                    .map(|n| DeleteTopicState {
                        name: Some(n.clone()),
                        ..Default::default()
                    })
                    .collect();
            } else {
                request.topic_names = names.to_vec();
            }
            Ok(request)
        };
        let answer = self.on_controller(build).await?;
        let answers = answer.map(|a| {
            let (broker, version) = (a.broker, a.version);
            let answers = a.body.responses.into_iter();
            let answers =
                answers.map(|t| (t.name.unwrap_or_default(), t.error_code, t.error_message));
            (broker, version, answers.collect())
        });
        Ok(settle(ApiKey::DELETE_TOPICS, names, answers))
    }

    /// Every topic of the cluster, sorted by name; internal topics only when
    /// `include_internal`.
    pub async fn list_topics(&self, include_internal: bool) -> Result<Vec<TopicListing>> {
        let request = MetadataRequest {
            topics: None,
            allow_auto_topic_creation: false,
            ..Default::default()
        };
        let response = self.client.call(&request, self.deadline()).await?;
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

    /// `build`'s request at the controller through the client's one call
    /// path (which asks the new controller after a `NOT_CONTROLLER`, until
    /// the deadline). `Ok(Err(e))`: the request could not be answered for
    /// a reason a retry might have cured (every topic fails with `e`); a
    /// failure no retry can cure fails the whole call.
    pub(super) async fn on_controller<R, B>(
        &self,
        build: B,
    ) -> Result<std::result::Result<Answer<R::Response>, Error>>
    where
        R: Request,
        B: Fn(i16, &BrokerRef) -> Result<R>,
    {
        match self
            .client
            .call_to(&Destination::Controller, build, self.deadline())
            .await
        {
            Ok(answer) => Ok(Ok(answer)),
            Err(e) if e.is_retriable() => Ok(Err(e)),
            Err(e) => Err(e),
        }
    }
}

/// One answer per topic: (name, error code, message).
pub(super) type Answers = Vec<(String, ErrorCode, Option<String>)>;

/// Each asked topic's result from the controller's answers (or the error
/// that kept it from answering), in the order asked.
pub(super) fn settle(
    api: ApiKey,
    names: &[String],
    answers: std::result::Result<(BrokerRef, i16, Answers), Error>,
) -> PerItem<String> {
    let mut done: PerItem<String> = Vec::new();
    match answers {
        Err(e) => done.extend(names.iter().map(|n| (n.clone(), Err(e.clone())))),
        Ok((broker, version, answers)) => {
            for (name, code, message) in answers {
                if !names.contains(&name) {
                    continue;
                }
                if code.is_ok() {
                    done.push((name, Ok(())));
                } else {
                    let what = format!("topic {name}");
                    let e = item_error(code, api, &what, message.as_deref());
                    done.push((name, Err(e.answered_by(&broker, version))));
                }
            }
        }
    }
    in_order(names, done, |n| {
        broker_error(
            ErrorCode::UNKNOWN_SERVER_ERROR,
            api,
            format!(" for topic {n}: missing from the response"),
        )
    })
}

fn unsupported(broker: &BrokerRef, api: ApiKey, version: i16, what: &str) -> Error {
    Error::UnsupportedVersion {
        broker: broker.addr.clone(),
        api,
        version,
        what: what.to_owned(),
    }
}
