//! Transactions against a real broker, for the golden scenario (one
//! transaction at the negotiated versions) and the version sweep (one
//! transaction per shared version): FindCoordinator for the transactional
//! id, InitProducerId with it, AddPartitionsToTxn, a transactional Produce,
//! AddOffsetsToTxn, TxnOffsetCommit and EndTxn.

use bytes::{Bytes, BytesMut};
use kafkit::protocol::messages::add_offsets_to_txn::AddOffsetsToTxnRequest;
use kafkit::protocol::messages::add_partitions_to_txn::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, AddPartitionsToTxnTopic,
    AddPartitionsToTxnTransaction,
};
use kafkit::protocol::messages::end_txn::EndTxnRequest;
use kafkit::protocol::messages::find_coordinator::{FindCoordinatorRequest, KEY_TYPE_TRANSACTION};
use kafkit::protocol::messages::init_producer_id::InitProducerIdRequest;
use kafkit::protocol::messages::produce::{PartitionProduceData, ProduceRequest, TopicProduceData};
use kafkit::protocol::messages::txn_offset_commit::{
    TxnOffsetCommitRequest, TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafkit::protocol::record::{BatchAttributes, BatchHeader, Record, RecordBatch};
use kafkit::protocol::{ErrorCode, Request};

use super::kafka_golden::Recorder;
use super::kafka_sweep::versions;

/// The partition the scenario's transaction writes to.
pub const TXN_PARTITION: i32 = 1;
/// The offset the transaction commits for the group on [`TXN_PARTITION`].
pub const TXN_COMMITTED: i64 = 1;
/// The transaction timeout asked for, in ms.
pub const TXN_TIMEOUT_MS: i32 = 60_000;

/// The group a transaction commits offsets for.
pub struct TxnGroup<'a> {
    /// Group id.
    pub id: &'a str,
    /// Generation, -1 outside one.
    pub generation: i32,
    /// Member id, empty outside a generation.
    pub member_id: &'a str,
}

/// A producer id and epoch with its transactional id.
#[derive(Debug, Clone)]
pub struct TxnProducer {
    /// The transactional id.
    pub id: String,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub epoch: i16,
}

/// The value of the transactional record.
pub fn txn_value(id: &str) -> String {
    format!("in transaction {id}")
}

/// A transactional batch of one record (sequence 0).
pub fn txn_batch(p: &TxnProducer) -> Bytes {
    let batch = RecordBatch {
        header: BatchHeader {
            attributes: BatchAttributes {
                transactional: true,
                ..Default::default()
            },
            base_timestamp: 1_765_000_000_000,
            max_timestamp: 1_765_000_000_000,
            producer_id: p.producer_id,
            producer_epoch: p.epoch,
            base_sequence: 0,
            ..Default::default()
        },
        records: vec![Record {
            value: Some(Bytes::from(txn_value(&p.id))),
            ..Default::default()
        }],
    };
    let mut bytes = BytesMut::new();
    batch.encode(&mut bytes).expect("encode batch");
    bytes.freeze()
}

/// AddPartitionsToTxn of `topic`'s [`TXN_PARTITION`] in the shape `version`
/// carries (one transaction up to v3, a batch of one from v4).
pub fn add_partitions(p: &TxnProducer, topic: &str, version: i16) -> AddPartitionsToTxnRequest {
    let topics = vec![AddPartitionsToTxnTopic {
        name: topic.to_string(),
        partitions: vec![TXN_PARTITION],
        ..Default::default()
    }];
    if version >= 4 {
        AddPartitionsToTxnRequest {
            transactions: vec![AddPartitionsToTxnTransaction {
                transactional_id: p.id.clone(),
                producer_id: p.producer_id,
                producer_epoch: p.epoch,
                verify_only: false,
                topics,
                ..Default::default()
            }],
            ..Default::default()
        }
    } else {
        AddPartitionsToTxnRequest {
            v3_and_below_transactional_id: p.id.clone(),
            v3_and_below_producer_id: p.producer_id,
            v3_and_below_producer_epoch: p.epoch,
            v3_and_below_topics: topics,
            ..Default::default()
        }
    }
}

/// The partition errors of an AddPartitionsToTxn answer, either shape.
pub fn add_partitions_errors(r: &AddPartitionsToTxnResponse) -> Vec<ErrorCode> {
    let v4 = r
        .results_by_transaction
        .iter()
        .flat_map(|t| &t.topic_results);
    v4.chain(&r.results_by_topic_v3_and_below)
        .flat_map(|t| &t.results_by_partition)
        .map(|p| p.partition_error_code)
        .collect()
}

/// The TxnOffsetCommit of [`TXN_COMMITTED`] for `group`.
pub fn txn_offset_commit(p: &TxnProducer, topic: &str, g: &TxnGroup<'_>) -> TxnOffsetCommitRequest {
    TxnOffsetCommitRequest {
        transactional_id: p.id.clone(),
        group_id: g.id.to_string(),
        producer_id: p.producer_id,
        producer_epoch: p.epoch,
        generation_id_or_member_epoch: g.generation,
        member_id: g.member_id.to_string(),
        group_instance_id: None,
        topics: vec![TxnOffsetCommitRequestTopic {
            name: topic.to_string(),
            partitions: vec![TxnOffsetCommitRequestPartition {
                partition_index: TXN_PARTITION,
                committed_offset: TXN_COMMITTED,
                committed_leader_epoch: -1,
                committed_metadata: Some(String::new()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// FindCoordinator (key type 1) and InitProducerId for `id`, at the
/// negotiated versions; `prefix` names the steps.
pub async fn begin(rec: &mut Recorder, prefix: &str, id: &str) -> TxnProducer {
    let find = FindCoordinatorRequest {
        key_type: KEY_TYPE_TRANSACTION,
        coordinator_keys: vec![id.to_string()],
        ..Default::default()
    };
    let step = format!("{prefix}find-coordinator");
    let found = rec
        .call_until(&step, &find, |r| {
            r.coordinators.iter().all(|c| !c.error_code.is_retriable())
        })
        .await;
    assert_eq!(
        found.coordinators[0].error_code,
        ErrorCode::NONE,
        "{found:?}"
    );
    let init = InitProducerIdRequest {
        transactional_id: Some(id.to_string()),
        transaction_timeout_ms: TXN_TIMEOUT_MS,
        ..Default::default()
    };
    let step = format!("{prefix}init-producer-id");
    let ids = rec
        .call_until(&step, &init, |r| !r.error_code.is_retriable())
        .await;
    assert_eq!(ids.error_code, ErrorCode::NONE, "{ids:?}");
    TxnProducer {
        id: id.to_string(),
        producer_id: ids.producer_id,
        epoch: ids.producer_epoch,
    }
}

/// A Produce of one transactional record to [`TXN_PARTITION`].
pub fn txn_produce(p: &TxnProducer, topic: &str) -> ProduceRequest {
    ProduceRequest {
        transactional_id: Some(p.id.clone()),
        acks: -1,
        timeout_ms: 10_000,
        topic_data: vec![TopicProduceData {
            name: topic.to_string(),
            partition_data: vec![PartitionProduceData {
                index: TXN_PARTITION,
                records: Some(txn_batch(p)),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The golden scenario's transaction, at the negotiated versions: adds the
/// partition, writes one record, commits the group's offset of it and
/// commits. Steps are named `txn-*`.
pub async fn scenario_steps(rec: &mut Recorder, topic: &str, group: &TxnGroup<'_>) {
    let p = begin(rec, "txn-", &format!("{}-txn", group.id)).await;
    let version = rec.version::<AddPartitionsToTxnRequest>();
    let add = add_partitions(&p, topic, version);
    rec.call_until("txn-add-partitions", &add, |r| {
        add_partitions_errors(r).iter().all(|e| !e.is_retriable())
    })
    .await;
    rec.call_until(
        "txn-produce",
        &txn_produce(&p, topic),
        super::kafka_scenario::produce_settled,
    )
    .await;
    let add_offsets = AddOffsetsToTxnRequest {
        transactional_id: p.id.clone(),
        producer_id: p.producer_id,
        producer_epoch: p.epoch,
        group_id: group.id.to_string(),
        ..Default::default()
    };
    rec.call_until("txn-add-offsets", &add_offsets, |r| {
        !r.error_code.is_retriable()
    })
    .await;
    rec.call("txn-offset-commit", &txn_offset_commit(&p, topic, group))
        .await;
    rec.call_until("txn-end", &end(&p, true), |r| !r.error_code.is_retriable())
        .await;
}

/// EndTxn for `p`.
pub fn end(p: &TxnProducer, committed: bool) -> EndTxnRequest {
    EndTxnRequest {
        transactional_id: p.id.clone(),
        producer_id: p.producer_id,
        producer_epoch: p.epoch,
        committed,
        ..Default::default()
    }
}

/// The `i`-th shared version of `R`, the newest once `i` is past them.
fn nth<R: Request>(rec: &Recorder, i: usize) -> i16 {
    let all = versions::<R>(rec);
    all.get(i)
        .or(all.last())
        .copied()
        .expect("a shared version")
}

/// One committed transaction per shared version: round `i` sends the
/// `i`-th shared version of each transactional API (AddPartitionsToTxn,
/// AddOffsetsToTxn, TxnOffsetCommit, EndTxn), all answered without error.
pub async fn sweep(rec: &mut Recorder, topic: &str, unique: &dyn Fn(&str) -> String) {
    let rounds = [
        versions::<AddPartitionsToTxnRequest>(rec).len(),
        versions::<AddOffsetsToTxnRequest>(rec).len(),
        versions::<TxnOffsetCommitRequest>(rec).len(),
        versions::<EndTxnRequest>(rec).len(),
    ];
    let group_id = unique("sweep-txn-group");
    let group = TxnGroup {
        id: &group_id,
        generation: -1,
        member_id: "",
    };
    for i in 0..rounds.into_iter().max().unwrap_or(0) {
        let p = begin(rec, "sweep-txn-", &unique("sweep-txn")).await;
        let v = nth::<AddPartitionsToTxnRequest>(rec, i);
        let add = add_partitions(&p, topic, v);
        let resp = rec
            .call_until_at("sweep-add-partitions-to-txn", &add, v, |r| {
                add_partitions_errors(r).iter().all(|e| !e.is_retriable())
            })
            .await;
        assert_eq!(
            add_partitions_errors(&resp),
            [ErrorCode::NONE],
            "AddPartitionsToTxn v{v}: {resp:?}"
        );
        let v = nth::<AddOffsetsToTxnRequest>(rec, i);
        let add_offsets = AddOffsetsToTxnRequest {
            transactional_id: p.id.clone(),
            producer_id: p.producer_id,
            producer_epoch: p.epoch,
            group_id: group_id.clone(),
            ..Default::default()
        };
        let resp = rec
            .call_until_at("sweep-add-offsets-to-txn", &add_offsets, v, |r| {
                !r.error_code.is_retriable()
            })
            .await;
        assert_eq!(resp.error_code, ErrorCode::NONE, "AddOffsetsToTxn v{v}");
        let v = nth::<TxnOffsetCommitRequest>(rec, i);
        let commit = txn_offset_commit(&p, topic, &group);
        let resp = rec
            .call_until_at("sweep-txn-offset-commit", &commit, v, |r| {
                r.topics
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .all(|p| !p.error_code.is_retriable())
            })
            .await;
        let errors: Vec<ErrorCode> = resp.topics[0]
            .partitions
            .iter()
            .map(|p| p.error_code)
            .collect();
        assert_eq!(errors, [ErrorCode::NONE], "TxnOffsetCommit v{v}: {resp:?}");
        let v = nth::<EndTxnRequest>(rec, i);
        let resp = rec
            .call_until_at("sweep-end-txn", &end(&p, true), v, |r| {
                !r.error_code.is_retriable()
            })
            .await;
        assert_eq!(resp.error_code, ErrorCode::NONE, "EndTxn v{v}: {resp:?}");
        if v >= 5 {
            assert_eq!(resp.producer_id, p.producer_id, "EndTxn v{v}: {resp:?}");
            assert!(
                resp.producer_epoch > p.epoch,
                "EndTxn v{v} bumps the epoch: {resp:?}"
            );
        }
    }
}
