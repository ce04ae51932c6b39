//! Building the next request and handling the broker's answers.

use std::time::Instant;

use crate::producer::TopicPartition;
use crate::protocol::messages::add_offsets_to_txn::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse,
};
use crate::protocol::messages::add_partitions_to_txn::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, AddPartitionsToTxnTopic,
};
use crate::protocol::messages::end_txn::{EndTxnRequest, EndTxnResponse};
use crate::protocol::messages::init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
use crate::protocol::messages::txn_offset_commit::{
    TxnOffsetCommitRequest, TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
    TxnOffsetCommitResponse,
};
use crate::protocol::{ApiKey, ErrorCode, Message, VersionRange};

use super::{
    classify, Coordinator, Destination, ErrorClass, GroupMetadata, Outgoing, Step,
    TransactionManager, TxnError, TxnEvent, TxnOffset, TxnRequest, TxnResponse, TxnState,
};

/// The versions a client sends AddPartitionsToTxn at (v4+ is broker to broker).
pub const CLIENT_ADD_PARTITIONS_VERSIONS: VersionRange = VersionRange::new(0, 3);
/// TxnOffsetCommit and EndTxn versions of transaction protocol v1.
pub const V1_VERSIONS_UP_TO: i16 = 4;
/// TxnOffsetCommit and EndTxn version of transaction protocol v2 (KIP-890).
pub const V2_VERSION: i16 = 5;

impl TransactionManager {
    /// The next request to send, if one is due at `now` and none is in flight.
    pub fn poll_request(&mut self, now: Instant) -> Option<Outgoing> {
        if self.in_flight.is_some() || self.state == TxnState::FatalError {
            return None;
        }
        if self.retry_at.is_some_and(|at| now < at) {
            return None;
        }
        self.retry_at = None;
        loop {
            let step = self.queue.pop_front()?;
            if let Some(out) = self.build(&step) {
                self.in_flight = Some(step);
                return Some(out);
            }
        }
    }

    /// Where `step` goes, and whether its coordinator must be found again
    /// (the flag is handed to the driver once).
    fn route(&mut self, step: &Step) -> (Destination, bool) {
        match step.coordinator() {
            Coordinator::Transaction => (
                Destination::TransactionCoordinator(self.config.transactional_id.clone()),
                std::mem::take(&mut self.txn_moved),
            ),
            Coordinator::Group(g) => (
                Destination::GroupCoordinator(g),
                std::mem::take(&mut self.group_moved),
            ),
        }
    }

    /// The range a v1/v2 transaction sends TxnOffsetCommit and EndTxn at.
    fn end_versions(&self) -> VersionRange {
        if self.v2 {
            VersionRange::new(V2_VERSION, V2_VERSION)
        } else {
            VersionRange::new(0, V1_VERSIONS_UP_TO)
        }
    }

    /// The request for `step`, or `None` when it has nothing left to do.
    fn build(&mut self, step: &Step) -> Option<Outgoing> {
        let id = self.config.transactional_id.clone();
        let (versions, request) = match step {
            Step::InitProducerId => {
                let timeout =
                    i32::try_from(self.config.transaction_timeout.as_millis()).unwrap_or(i32::MAX);
                // -1/-1 the first time; the current id and epoch when
                // bumping the epoch after a failed transaction (KIP-360).
                let req = InitProducerIdRequest {
                    transactional_id: Some(id),
                    transaction_timeout_ms: timeout,
                    producer_id: self.producer_id,
                    producer_epoch: self.epoch,
                    ..Default::default()
                };
                (
                    InitProducerIdRequest::VERSIONS,
                    TxnRequest::InitProducerId(req),
                )
            }
            Step::AddPartitions => {
                if self.pending_partitions.is_empty() {
                    return None;
                }
                self.sending_partitions = std::mem::take(&mut self.pending_partitions);
                let req = self.add_partitions_request();
                (
                    CLIENT_ADD_PARTITIONS_VERSIONS,
                    TxnRequest::AddPartitionsToTxn(req),
                )
            }
            Step::AddOffsets(group_id) => {
                let req = AddOffsetsToTxnRequest {
                    transactional_id: id,
                    producer_id: self.producer_id,
                    producer_epoch: self.epoch,
                    group_id: group_id.clone(),
                    ..Default::default()
                };
                (
                    AddOffsetsToTxnRequest::VERSIONS,
                    TxnRequest::AddOffsetsToTxn(req),
                )
            }
            Step::TxnOffsetCommit(group, offsets) => {
                let req = self.txn_offset_commit_request(group, offsets);
                (self.end_versions(), TxnRequest::TxnOffsetCommit(req))
            }
            Step::EndTxn(committed) => {
                let req = EndTxnRequest {
                    transactional_id: id,
                    producer_id: self.producer_id,
                    producer_epoch: self.epoch,
                    committed: *committed,
                    ..Default::default()
                };
                (self.end_versions(), TxnRequest::EndTxn(req))
            }
        };
        let (destination, rediscover) = self.route(step);
        Some(Outgoing {
            destination,
            rediscover,
            versions,
            request,
        })
    }

    fn add_partitions_request(&self) -> AddPartitionsToTxnRequest {
        let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
        for tp in &self.sending_partitions {
            match topics.last_mut() {
                Some(t) if t.name == tp.topic => t.partitions.push(tp.partition),
                _ => topics.push(AddPartitionsToTxnTopic {
                    name: tp.topic.clone(),
                    partitions: vec![tp.partition],
                    ..Default::default()
                }),
            }
        }
        AddPartitionsToTxnRequest {
            v3_and_below_transactional_id: self.config.transactional_id.clone(),
            v3_and_below_producer_id: self.producer_id,
            v3_and_below_producer_epoch: self.epoch,
            v3_and_below_topics: topics,
            ..Default::default()
        }
    }

    fn txn_offset_commit_request(
        &self,
        group: &GroupMetadata,
        offsets: &[TxnOffset],
    ) -> TxnOffsetCommitRequest {
        let mut topics: Vec<TxnOffsetCommitRequestTopic> = Vec::new();
        for o in offsets {
            let partition = TxnOffsetCommitRequestPartition {
                partition_index: o.partition.partition,
                committed_offset: o.offset,
                committed_leader_epoch: o.leader_epoch,
                committed_metadata: o.metadata.clone(),
                ..Default::default()
            };
            match topics.iter_mut().find(|t| t.name == o.partition.topic) {
                Some(t) => t.partitions.push(partition),
                None => topics.push(TxnOffsetCommitRequestTopic {
                    name: o.partition.topic.clone(),
                    partitions: vec![partition],
                    ..Default::default()
                }),
            }
        }
        TxnOffsetCommitRequest {
            transactional_id: self.config.transactional_id.clone(),
            group_id: group.group_id.clone(),
            producer_id: self.producer_id,
            producer_epoch: self.epoch,
            generation_id_or_member_epoch: group.generation_id,
            member_id: group.member_id.clone(),
            group_instance_id: group.group_instance_id.clone(),
            topics,
            ..Default::default()
        }
    }

    /// Hands in the answer to the request in flight.
    pub fn on_response(&mut self, response: TxnResponse, now: Instant) -> Result<(), TxnError> {
        let flight = self.in_flight.take();
        match (flight, response) {
            (Some(Step::InitProducerId), TxnResponse::InitProducerId(r)) => {
                self.on_init(&r, now);
            }
            (Some(Step::AddPartitions), TxnResponse::AddPartitionsToTxn(r)) => {
                self.on_add_partitions(&r, now);
            }
            (Some(s @ Step::AddOffsets(_)), TxnResponse::AddOffsetsToTxn(r)) => {
                self.on_add_offsets(s, &r, now);
            }
            (Some(s @ Step::TxnOffsetCommit(..)), TxnResponse::TxnOffsetCommit(r)) => {
                self.on_txn_offset_commit(s, &r, now)
            }
            (Some(Step::EndTxn(commit)), TxnResponse::EndTxn(r)) => {
                self.on_end(commit, &r, now);
            }
            (flight, response) => {
                let expected = flight.as_ref().map(Self::flight_api);
                self.in_flight = flight;
                return Err(TxnError::UnexpectedResponse {
                    expected,
                    got: response.api_key(),
                });
            }
        }
        Ok(())
    }

    fn flight_api(f: &Step) -> ApiKey {
        match f {
            Step::InitProducerId => ApiKey::INIT_PRODUCER_ID,
            Step::AddPartitions => ApiKey::ADD_PARTITIONS_TO_TXN,
            Step::AddOffsets(_) => ApiKey::ADD_OFFSETS_TO_TXN,
            Step::TxnOffsetCommit(..) => ApiKey::TXN_OFFSET_COMMIT,
            Step::EndTxn(_) => ApiKey::END_TXN,
        }
    }

    /// The request in flight got no answer (connection lost, timeout): the
    /// coordinator is looked up again and the request retried after the backoff.
    pub fn on_request_failed(&mut self, now: Instant) {
        if let Some(step) = self.in_flight.take() {
            self.forget_coordinator(&step.coordinator());
            self.retry(step, now);
        }
    }

    /// The driver could not find the coordinator of the request in flight:
    /// FindCoordinator answered `code` (already normalised: an answer that
    /// names no usable broker is `COORDINATOR_NOT_AVAILABLE`). Transient
    /// codes retry the request (and the lookup) after the backoff; the rest
    /// fail the transaction or the producer as the Java client does.
    pub fn on_coordinator_error(&mut self, code: ErrorCode, now: Instant) {
        let Some(step) = self.in_flight.take() else {
            return;
        };
        match classify(ApiKey::FIND_COORDINATOR, code) {
            ErrorClass::Abortable => self.abortable(ApiKey::FIND_COORDINATOR, code, None),
            ErrorClass::Fatal => self.fatal(ApiKey::FIND_COORDINATOR, code),
            ErrorClass::None | ErrorClass::CoordinatorMoved | ErrorClass::RetryAfterBackoff => {
                self.retry(step, now)
            }
        }
    }

    fn backoff(&mut self, now: Instant) {
        self.retry_at = Some(now + self.config.retry_backoff);
    }

    /// Puts `step` back at the front of the queue and waits the backoff.
    fn retry(&mut self, step: Step, now: Instant) {
        // An abort drops what it no longer needs: only EndTxn is retried.
        let dropped = self.state == TxnState::Aborting && !matches!(step, Step::EndTxn(_));
        if step == Step::AddPartitions {
            let sending = std::mem::take(&mut self.sending_partitions);
            if !dropped {
                self.pending_partitions.extend(sending);
            }
        }
        let failed = matches!(self.state, TxnState::FatalError | TxnState::AbortableError);
        if !failed && !dropped {
            self.queue.push_front(step);
        }
        self.backoff(now);
    }

    fn forget_coordinator(&mut self, kind: &Coordinator) {
        match kind {
            Coordinator::Transaction => self.txn_moved = true,
            Coordinator::Group(_) => self.group_moved = true,
        }
    }

    /// The shared handling of a non-success class; `Ok` on success.
    fn settle(&mut self, api: ApiKey, error: ErrorCode, step: Step, now: Instant) -> bool {
        match classify(api, error) {
            ErrorClass::None => return true,
            ErrorClass::CoordinatorMoved => {
                self.forget_coordinator(&step.coordinator());
                self.retry(step, now);
            }
            ErrorClass::RetryAfterBackoff => self.retry(step, now),
            ErrorClass::Abortable => self.abortable(api, error, None),
            ErrorClass::Fatal => self.fatal(api, error),
        }
        false
    }

    fn on_init(&mut self, r: &InitProducerIdResponse, now: Instant) {
        if self.settle(
            ApiKey::INIT_PRODUCER_ID,
            r.error_code,
            Step::InitProducerId,
            now,
        ) {
            self.producer_id = r.producer_id;
            self.epoch = r.producer_epoch;
            self.transition(TxnState::Ready);
            self.events.push_back(TxnEvent::Initialized {
                producer_id: r.producer_id,
                epoch: r.producer_epoch,
            });
        }
    }

    fn on_add_partitions(&mut self, r: &AddPartitionsToTxnResponse, now: Instant) {
        let results = r.results_by_topic_v3_and_below.iter().chain(
            r.results_by_transaction
                .iter()
                .flat_map(|t| &t.topic_results),
        );
        let mut worst: Option<Failure> = None;
        let mut added = Vec::new();
        for t in results {
            for p in &t.results_by_partition {
                let tp = TopicPartition {
                    topic: t.name.clone(),
                    partition: p.partition_index,
                };
                let class = classify(ApiKey::ADD_PARTITIONS_TO_TXN, p.partition_error_code);
                if class == ErrorClass::None && self.sending_partitions.remove(&tp) {
                    added.push(tp);
                } else if p.partition_error_code != ErrorCode::OPERATION_NOT_ATTEMPTED
                    && worst.as_ref().is_none_or(|w| rank(class) > rank(w.0))
                {
                    worst = Some((
                        class,
                        p.partition_error_code,
                        Some((tp.topic, tp.partition)),
                    ));
                }
            }
        }
        if r.error_code != ErrorCode::NONE {
            let class = classify(ApiKey::ADD_PARTITIONS_TO_TXN, r.error_code);
            worst = Some((class, r.error_code, None));
        }
        self.added.extend(added.iter().cloned());
        if !added.is_empty() {
            self.events.push_back(TxnEvent::PartitionsAdded(added));
        }
        match worst {
            None if self.sending_partitions.is_empty() => {}
            // Partitions the answer did not mention: ask again.
            None => self.retry(Step::AddPartitions, now),
            Some((class, error, partition)) => match class {
                ErrorClass::Fatal => self.fatal(ApiKey::ADD_PARTITIONS_TO_TXN, error),
                ErrorClass::Abortable => {
                    self.abortable(ApiKey::ADD_PARTITIONS_TO_TXN, error, partition)
                }
                _ => {
                    let _ = self.settle(
                        ApiKey::ADD_PARTITIONS_TO_TXN,
                        error,
                        Step::AddPartitions,
                        now,
                    );
                }
            },
        }
        if self.state == TxnState::Aborting {
            self.sending_partitions.clear();
        }
    }

    fn on_add_offsets(&mut self, step: Step, r: &AddOffsetsToTxnResponse, now: Instant) {
        let _ = self.settle(ApiKey::ADD_OFFSETS_TO_TXN, r.error_code, step, now);
    }

    fn on_txn_offset_commit(&mut self, step: Step, r: &TxnOffsetCommitResponse, now: Instant) {
        let mut worst = (ErrorClass::None, ErrorCode::NONE, None);
        for t in &r.topics {
            for p in &t.partitions {
                let class = classify(ApiKey::TXN_OFFSET_COMMIT, p.error_code);
                if rank(class) > rank(worst.0) {
                    worst = (
                        class,
                        p.error_code,
                        Some((t.name.clone(), p.partition_index)),
                    );
                }
            }
        }
        match worst {
            (ErrorClass::None, ..) => self.events.push_back(TxnEvent::OffsetsSent),
            (ErrorClass::Abortable, error, partition) => {
                self.abortable(ApiKey::TXN_OFFSET_COMMIT, error, partition)
            }
            (_, error, _) => {
                let _ = self.settle(ApiKey::TXN_OFFSET_COMMIT, error, step, now);
            }
        }
    }

    fn on_end(&mut self, committed: bool, r: &EndTxnResponse, now: Instant) {
        let class = classify(ApiKey::END_TXN, r.error_code);
        if class == ErrorClass::Abortable && !committed {
            // An abort that cannot complete leaves nothing to fall back to.
            return self.fatal(ApiKey::END_TXN, r.error_code);
        }
        if self.settle(ApiKey::END_TXN, r.error_code, Step::EndTxn(committed), now) {
            if self.v2 && r.producer_id >= 0 && r.producer_epoch >= 0 {
                // KIP-890: the coordinator bumped the epoch for the next transaction.
                self.producer_id = r.producer_id;
                self.epoch = r.producer_epoch;
            }
            self.finish_transaction(committed);
        }
    }
}

/// An error to act on: its class, code and partition.
type Failure = (ErrorClass, ErrorCode, Option<(String, i32)>);

/// How bad a class is, for picking the one error to act on.
fn rank(class: ErrorClass) -> u8 {
    match class {
        ErrorClass::None => 0,
        ErrorClass::RetryAfterBackoff => 1,
        ErrorClass::CoordinatorMoved => 2,
        ErrorClass::Abortable => 3,
        ErrorClass::Fatal => 4,
    }
}
