//! Stuck-transaction diagnosis: the transactions each broker coordinates
//! (ListTransactions, at every broker), a transactional id's state at its
//! coordinator (DescribeTransactions) and the producers a partition leader
//! tracks, with the start offset of each open transaction
//! (DescribeProducers). A partition whose last stable offset does not move
//! shows an old `current_transaction_start_offset` here, and the producer
//! id leads to the transactional id that holds it.
//!
//! Spec: KIP-664 (ListTransactions, DescribeTransactions,
//! DescribeProducers), KIP-994 (ListTransactions duration filter).

use std::time::Duration;

use super::{Admin, PerItem, TopicPartition};
use crate::cluster::route::Destination;
use crate::error::{BrokerRef, Error, Result};
use crate::protocol::messages::describe_producers::{
    DescribeProducersRequest, DescribeProducersTopic, ProducerState,
};
use crate::protocol::messages::describe_transactions::{
    DescribeTransactionsRequest, DescribedTransactionState,
};
use crate::protocol::messages::list_transactions::ListTransactionsRequest;
use crate::protocol::{ApiKey, ErrorCode};

/// A transaction coordinator's state for a transactional id, as Kafka's
/// `TransactionState` names it; a name this client does not know is kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransactionState {
    /// No transaction open (after init, or after a completed one).
    Empty,
    /// A transaction is open: records may have been written.
    Ongoing,
    /// EndTxn(commit) arrived; markers are being written.
    PrepareCommit,
    /// EndTxn(abort) arrived, or the transaction timed out; markers are
    /// being written.
    PrepareAbort,
    /// The last transaction committed.
    CompleteCommit,
    /// The last transaction aborted.
    CompleteAbort,
    /// The transactional id expired.
    Dead,
    /// A newer producer fenced this one; its transaction is being aborted.
    PrepareEpochFence,
    /// A state name this client does not know.
    Unknown(String),
}

impl TransactionState {
    /// Every known state, in the order above.
    pub const KNOWN: [TransactionState; 8] = [
        Self::Empty,
        Self::Ongoing,
        Self::PrepareCommit,
        Self::PrepareAbort,
        Self::CompleteCommit,
        Self::CompleteAbort,
        Self::Dead,
        Self::PrepareEpochFence,
    ];

    /// The state from the wire's name.
    pub fn parse(name: &str) -> Self {
        Self::KNOWN
            .iter()
            .find(|s| s.as_str() == name)
            .cloned()
            .unwrap_or_else(|| Self::Unknown(name.to_owned()))
    }

    /// The wire's name (`"Ongoing"`, …).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Empty => "Empty",
            Self::Ongoing => "Ongoing",
            Self::PrepareCommit => "PrepareCommit",
            Self::PrepareAbort => "PrepareAbort",
            Self::CompleteCommit => "CompleteCommit",
            Self::CompleteAbort => "CompleteAbort",
            Self::Dead => "Dead",
            Self::PrepareEpochFence => "PrepareEpochFence",
            Self::Unknown(name) => name,
        }
    }
}

impl std::fmt::Display for TransactionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which transactions [`Admin::list_transactions`] returns; the default
/// returns all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionFilter {
    /// Only these states (empty: any).
    pub states: Vec<TransactionState>,
    /// Only these producer ids (empty: any).
    pub producer_ids: Vec<i64>,
    /// Only transactions open longer than this (ListTransactions v1+).
    pub running_longer_than: Option<Duration>,
}

impl TransactionFilter {
    /// Only transactions in `states`.
    pub fn states(mut self, states: impl IntoIterator<Item = TransactionState>) -> Self {
        self.states = states.into_iter().collect();
        self
    }

    /// Only transactions of `ids`.
    pub fn producer_ids(mut self, ids: impl IntoIterator<Item = i64>) -> Self {
        self.producer_ids = ids.into_iter().collect();
        self
    }

    /// Only transactions open longer than `d` (needs ListTransactions v1,
    /// Kafka 3.8+).
    pub fn running_longer_than(mut self, d: Duration) -> Self {
        self.running_longer_than = Some(d);
        self
    }
}

/// One transaction a broker coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionListing {
    /// The transactional id.
    pub transactional_id: String,
    /// Its producer id.
    pub producer_id: i64,
    /// Its state.
    pub state: TransactionState,
}

/// A transactional id's state at its coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionDescription {
    /// The transactional id.
    pub transactional_id: String,
    /// The coordinator's node id (when the metadata names it).
    pub coordinator: Option<i32>,
    /// The state.
    pub state: TransactionState,
    /// The transaction timeout.
    pub timeout: Duration,
    /// When the open (or, once completed, the last) transaction started,
    /// ms since the epoch (`None` before the first one).
    pub start_time_ms: Option<i64>,
    /// The producer id.
    pub producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
    /// The partitions the open transaction has written to (without those
    /// already carrying a marker while it completes).
    pub partitions: Vec<TopicPartition>,
}

/// A producer with state in one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerDescription {
    /// The producer id.
    pub producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i32,
    /// The last sequence number written (`None` when none).
    pub last_sequence: Option<i32>,
    /// The last write's timestamp in ms (`None` when unknown).
    pub last_timestamp_ms: Option<i64>,
    /// The epoch of the coordinator that wrote this producer's last marker.
    pub coordinator_epoch: i32,
    /// The first offset of its open transaction (`None` when none is open):
    /// the partition's last stable offset cannot pass it.
    pub current_transaction_start_offset: Option<i64>,
}

impl Admin {
    /// The transactions every broker coordinates, matching `filter`: one
    /// result per broker (node id), each failing or succeeding on its own.
    pub async fn list_transactions(
        &self,
        filter: &TransactionFilter,
    ) -> Result<PerItem<i32, Vec<TransactionListing>>> {
        let metadata = self.client.refresh_metadata().await?;
        let mut brokers: Vec<i32> = metadata.brokers.keys().copied().collect();
        brokers.sort_unstable();
        let build = |version: i16, broker: &BrokerRef| {
            let duration_filter_ms = match filter.running_longer_than {
                None => -1,
                Some(d) if version >= 1 => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
                Some(_) => {
                    return Err(Error::UnsupportedVersion {
                        broker: broker.addr.clone(),
                        api: ApiKey::LIST_TRANSACTIONS,
                        version,
                        what: "a duration filter (ListTransactions v1+)".to_owned(),
                    })
                }
            };
            Ok(ListTransactionsRequest {
                state_filters: filter.states.iter().map(|s| s.as_str().into()).collect(),
                producer_id_filters: filter.producer_ids.clone(),
                duration_filter_ms,
                ..Default::default()
            })
        };
        let mut out = Vec::with_capacity(brokers.len());
        for node in brokers {
            let to = Destination::Broker(node);
            let answer = self.client.call_to(&to, build, self.deadline()).await;
            let listed = answer.map(|a| {
                let states = a.body.transaction_states.into_iter();
                states
                    .map(|t| TransactionListing {
                        transactional_id: t.transactional_id,
                        producer_id: t.producer_id,
                        state: TransactionState::parse(&t.transaction_state),
                    })
                    .collect()
            });
            out.push((node, listed));
        }
        Ok(out)
    }

    /// Each transactional id's state at its transaction coordinator, in
    /// the order asked. An id the coordinator does not know fails with
    /// `TRANSACTIONAL_ID_NOT_FOUND`, an empty one with [`Error::Config`].
    pub async fn describe_transactions(
        &self,
        transactional_ids: &[&str],
    ) -> Result<PerItem<String, TransactionDescription>> {
        let mut out = Vec::with_capacity(transactional_ids.len());
        for id in transactional_ids {
            if id.is_empty() {
                let e = Error::Config("a transactional id cannot be empty".to_owned());
                out.push((String::new(), Err(e)));
                continue;
            }
            let req = DescribeTransactionsRequest {
                transactional_ids: vec![(*id).to_owned()],
                ..Default::default()
            };
            let to = Destination::of(&req)?;
            let build = |_: i16, _: &BrokerRef| Ok(req.clone());
            let answer = self.client.call_to(&to, build, self.deadline()).await;
            let described = answer.and_then(|a| {
                let coordinator = a.broker.node_id;
                let state = a.body.transaction_states.into_iter().next();
                state.map(|s| description(s, coordinator)).ok_or_else(|| {
                    missing(
                        ApiKey::DESCRIBE_TRANSACTIONS,
                        &format!("transactional id {id}"),
                    )
                    .answered_by(&a.broker, a.version)
                })
            });
            out.push(((*id).to_owned(), described));
        }
        Ok(out)
    }

    /// The producers each partition's leader tracks, in the order asked;
    /// an open transaction shows as the producer's
    /// [`ProducerDescription::current_transaction_start_offset`]. A
    /// partition without a leader in the metadata fails with
    /// `UNKNOWN_TOPIC_OR_PARTITION`.
    pub async fn describe_producers(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<PerItem<TopicPartition, Vec<ProducerDescription>>> {
        self.client
            .track_topics(partitions.iter().map(|tp| tp.topic.clone()));
        let _ = self.client.refresh_metadata().await;
        let mut out = Vec::with_capacity(partitions.len());
        for tp in partitions {
            let what = format!("{}/{}", tp.topic, tp.partition);
            if self
                .client
                .metadata()
                .leader(&tp.topic, tp.partition)
                .is_none()
            {
                let code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
                let e = super::item_error(code, ApiKey::DESCRIBE_PRODUCERS, &what, None);
                out.push((tp.clone(), Err(e)));
                continue;
            }
            let req = DescribeProducersRequest {
                topics: vec![DescribeProducersTopic {
                    name: tp.topic.clone(),
                    partition_indexes: vec![tp.partition],
                    ..Default::default()
                }],
                ..Default::default()
            };
            let to = Destination::of(&req)?;
            let build = |_: i16, _: &BrokerRef| Ok(req.clone());
            let answer = self.client.call_to(&to, build, self.deadline()).await;
            let described = answer.and_then(|a| {
                let partition = a.body.topics.into_iter().flat_map(|t| t.partitions);
                let mut partition = partition.filter(|p| p.partition_index == tp.partition);
                match partition.next() {
                    Some(p) => Ok(p.active_producers.into_iter().map(producer).collect()),
                    None => Err(missing(ApiKey::DESCRIBE_PRODUCERS, &what)
                        .answered_by(&a.broker, a.version)),
                }
            });
            out.push((tp.clone(), described));
        }
        Ok(out)
    }
}

fn missing(api: ApiKey, what: &str) -> Error {
    super::broker_error(
        ErrorCode::UNKNOWN_SERVER_ERROR,
        api,
        format!(" for {what}: missing from the response"),
    )
}

fn description(s: DescribedTransactionState, coordinator: Option<i32>) -> TransactionDescription {
    let partitions = s.topics.into_iter().flat_map(|t| {
        let topic = t.topic;
        t.partitions
            .into_iter()
            .map(move |partition| TopicPartition {
                topic: topic.clone(),
                partition,
            })
    });
    let timeout_ms = u64::try_from(s.transaction_timeout_ms).unwrap_or(0);
    TransactionDescription {
        transactional_id: s.transactional_id,
        coordinator,
        state: TransactionState::parse(&s.transaction_state),
        timeout: Duration::from_millis(timeout_ms),
        start_time_ms: (s.transaction_start_time_ms >= 0).then_some(s.transaction_start_time_ms),
        producer_id: s.producer_id,
        producer_epoch: s.producer_epoch,
        partitions: partitions.collect(),
    }
}

fn producer(p: ProducerState) -> ProducerDescription {
    ProducerDescription {
        producer_id: p.producer_id,
        producer_epoch: p.producer_epoch,
        last_sequence: (p.last_sequence >= 0).then_some(p.last_sequence),
        last_timestamp_ms: (p.last_timestamp >= 0).then_some(p.last_timestamp),
        coordinator_epoch: p.coordinator_epoch,
        current_transaction_start_offset: (p.current_txn_start_offset >= 0)
            .then_some(p.current_txn_start_offset),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_round_trip_and_unknown_ones_survive() {
        for s in TransactionState::KNOWN {
            assert_eq!(TransactionState::parse(s.as_str()), s);
        }
        let odd = TransactionState::parse("Frozen");
        assert_eq!(odd, TransactionState::Unknown("Frozen".into()));
        assert_eq!(odd.to_string(), "Frozen");
    }

    #[test]
    fn negative_wire_values_mean_none() {
        let p = producer(ProducerState {
            producer_id: 4,
            producer_epoch: 1,
            last_sequence: -1,
            last_timestamp: -1,
            coordinator_epoch: 0,
            current_txn_start_offset: -1,
            ..Default::default()
        });
        assert_eq!(
            (p.last_sequence, p.last_timestamp_ms),
            (None, None),
            "{p:?}"
        );
        assert_eq!(p.current_transaction_start_offset, None);
        let d = description(
            DescribedTransactionState {
                transaction_state: "Empty".into(),
                transaction_start_time_ms: -1,
                transaction_timeout_ms: 60_000,
                ..Default::default()
            },
            Some(1),
        );
        assert_eq!(d.start_time_ms, None);
        assert_eq!(d.timeout, Duration::from_secs(60));
        assert_eq!(d.state, TransactionState::Empty);
    }
}
