//! Stuck-transaction diagnosis against real Apache Kafka: a kafkit
//! transactional producer opens a transaction, writes to one partition and
//! does not commit. ListTransactions (every broker) shows it Ongoing,
//! DescribeTransactions (its coordinator) shows the partition it wrote,
//! DescribeProducers (the leader) shows the producer id and epoch and the
//! open transaction's start offset; after the abort the coordinator reports
//! the transaction complete and the leader has no open transaction left.
//!
//! Peer: the run's single broker (`support::kafka::single()`).

use std::time::Duration;

use kafkit::admin::{Admin, TransactionDescription, TransactionFilter, TransactionState};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::frame::decode_response_strict;
use kafkit::protocol::messages::describe_producers::{
    DescribeProducersRequest, DescribeProducersTopic,
};
use kafkit::protocol::messages::describe_transactions::DescribeTransactionsRequest;
use kafkit::protocol::messages::list_transactions::ListTransactionsRequest;
use kafkit::protocol::{ErrorCode, Request, VersionRange};
use kafkit::Error;

mod support;
use support::golden::{assert_bytes_eq, encode_response_frame};
use support::kafka;
use support::kafka_golden::Recorder;
use support::real::{admin, broker, client, topic, tp, WAIT};

/// The versions of `R` kafkit and the broker share.
fn shared<R: Request>(rec: &Recorder) -> Vec<i16> {
    let theirs = rec.broker.get(&R::API_KEY.0).expect("the broker lists it");
    let ours: VersionRange = R::VERSIONS;
    (ours.min.max(theirs.min)..=ours.max.min(theirs.max)).collect()
}

/// `req` at every version both sides share: each answer decodes strictly,
/// has no tagged field the codec does not know and re-encodes to the
/// broker's bytes. Returns the answers.
async fn every_version<R: Request + std::fmt::Debug>(
    rec: &mut Recorder,
    req: &R,
) -> Vec<R::Response>
where
    R::Response: std::fmt::Debug,
{
    let versions = shared::<R>(rec);
    assert!(!versions.is_empty(), "{:?}: no shared version", R::API_KEY);
    let mut out = Vec::new();
    for v in versions {
        let what = format!("{:?} v{v}", R::API_KEY);
        rec.call_at(&what, req, v).await;
        let frame = rec.exchanges.last().expect("recorded").response.clone();
        let (header, body) = decode_response_strict::<R::Response>(frame.slice(4..), v)
            .unwrap_or_else(|e| panic!("{what}: strict decode: {e}"));
        let shown = format!("{body:?}");
        assert!(!shown.contains("TaggedFields([("), "{what}: {shown}");
        assert_bytes_eq(&what, &frame, &encode_response_frame(&header, &body, v));
        out.push(body);
    }
    out
}

/// The three codecs against the broker, at every shared version, while
/// `id`'s transaction is open on `topic`/0.
async fn codecs_at_every_version(bootstrap: &str, id: &str, topic: &str, producer_id: i64) {
    let addr = bootstrap.split(',').next().expect("a broker");
    let mut rec = Recorder::connect(addr).await;
    let list = ListTransactionsRequest {
        producer_id_filters: vec![producer_id],
        ..Default::default()
    };
    let answers = every_version(&mut rec, &list).await;
    assert_eq!(answers.len(), 2, "ListTransactions v0 and v1 on 4.4.0");
    for a in answers {
        assert_eq!(a.error_code, ErrorCode::NONE);
        let ids: Vec<&str> = a
            .transaction_states
            .iter()
            .map(|t| t.transactional_id.as_str())
            .collect();
        assert_eq!(ids, [id]);
    }
    let describe = DescribeTransactionsRequest {
        transactional_ids: vec![id.to_owned()],
        ..Default::default()
    };
    for a in every_version(&mut rec, &describe).await {
        let t = &a.transaction_states[0];
        assert_eq!(
            (t.error_code, t.transaction_state.as_str()),
            (ErrorCode::NONE, "Ongoing")
        );
        assert_eq!(t.topics[0].topic, topic);
    }
    let producers = DescribeProducersRequest {
        topics: vec![DescribeProducersTopic {
            name: topic.to_owned(),
            partition_indexes: vec![0, 1],
            ..Default::default()
        }],
        ..Default::default()
    };
    for a in every_version(&mut rec, &producers).await {
        let parts = &a.topics[0].partitions;
        assert_eq!(parts.len(), 2, "{a:?}");
        let open: Vec<i64> = parts
            .iter()
            .flat_map(|p| &p.active_producers)
            .filter(|s| s.producer_id == producer_id)
            .map(|s| s.current_txn_start_offset)
            .collect();
        assert_eq!(open, [0], "{a:?}");
    }
}

async fn described(admin: &Admin, id: &str) -> TransactionDescription {
    let mut all = admin.describe_transactions(&[id]).await.expect("describe");
    assert_eq!(all.len(), 1);
    let (asked, result) = all.remove(0);
    assert_eq!(asked, id);
    result.unwrap_or_else(|e| panic!("describing {id}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_transaction_shows_in_list_describe_and_producers_until_aborted() {
    let Some(bootstrap) = broker() else { return };
    let admin = admin(&bootstrap).await;
    let t = topic(&bootstrap, "stuck-txn", 2).await;
    let id = kafka::unique("stuck-txn-id");
    let config = ProducerConfig::default()
        .with_transactional_id(&id)
        .with_transaction_timeout(Duration::from_secs(20));
    let producer = Producer::connect(client(&bootstrap), config)
        .await
        .expect("producer");
    producer.init_transactions().await.expect("init");
    // Before the first transaction the id is known and Empty.
    assert_eq!(described(&admin, &id).await.state, TransactionState::Empty);
    producer.begin_transaction().await.expect("begin");
    let reports = producer
        .send_all((0..3).map(|i| ProducerRecord::new(&t).partition(0).value(format!("v{i}"))))
        .await
        .expect("send in the transaction");
    let first_offset = reports[0].offset;

    // ListTransactions: every broker is asked; ours is Ongoing at one.
    let ongoing = TransactionFilter::default().states([TransactionState::Ongoing]);
    let listed = admin.list_transactions(&ongoing).await.expect("list");
    assert!(!listed.is_empty(), "one result per broker");
    let mut ours = Vec::new();
    for (node, result) in listed {
        let txns = result.unwrap_or_else(|e| panic!("broker {node}: {e}"));
        assert!(txns.iter().all(|x| x.state == TransactionState::Ongoing));
        ours.extend(txns.into_iter().filter(|x| x.transactional_id == id));
    }
    assert_eq!(ours.len(), 1, "{ours:?}");
    let producer_id = ours[0].producer_id;
    assert!(producer_id >= 0);
    // Filtering by producer id leaves exactly ours; a transaction younger
    // than an hour is not "running longer than" one (v1 filter).
    let by_id = TransactionFilter::default().producer_ids([producer_id]);
    let only: Vec<_> = admin.list_transactions(&by_id).await.expect("list by id");
    let only: Vec<_> = only
        .into_iter()
        .flat_map(|(_, r)| r.expect("listed"))
        .collect();
    assert_eq!(only.len(), 1, "{only:?}");
    assert_eq!(only[0].transactional_id, id);
    let old = TransactionFilter::default()
        .producer_ids([producer_id])
        .running_longer_than(Duration::from_secs(3600));
    let old = admin.list_transactions(&old).await.expect("list old");
    assert!(
        old.iter().all(|(_, r)| r.as_ref().is_ok_and(Vec::is_empty)),
        "{old:?}"
    );

    // DescribeTransactions at the coordinator: Ongoing on partition 0 only.
    let d = described(&admin, &id).await;
    assert_eq!(d.state, TransactionState::Ongoing);
    assert_eq!(d.producer_id, producer_id);
    assert_eq!(d.partitions, [tp(&t, 0)]);
    assert_eq!(d.timeout, Duration::from_secs(20));
    assert!(d.start_time_ms.is_some_and(|ms| ms > 0), "{d:?}");
    assert!(d.coordinator.is_some());

    // DescribeProducers at the leader: partition 0 holds the open
    // transaction from its first record; partition 1 has no producer.
    let producers = admin
        .describe_producers(&[tp(&t, 0), tp(&t, 1)])
        .await
        .expect("describe producers");
    let p0 = producers[0].1.as_ref().expect("partition 0");
    let ours: Vec<_> = p0.iter().filter(|p| p.producer_id == producer_id).collect();
    assert_eq!(ours.len(), 1, "{p0:?}");
    assert_eq!(ours[0].producer_epoch, i32::from(d.producer_epoch));
    assert_eq!(ours[0].current_transaction_start_offset, Some(first_offset));
    assert_eq!(
        ours[0].last_sequence,
        Some(2),
        "three records, sequences 0-2"
    );
    assert!(producers[1].1.as_ref().expect("partition 1").is_empty());
    assert_eq!(first_offset, 0, "a fresh partition");
    codecs_at_every_version(&bootstrap, &id, &t, producer_id).await;

    // Unknown ids and partitions fail item by item, with the broker's code.
    let unknown = kafka::unique("never-used-txn-id");
    let missing = admin.describe_transactions(&[&unknown]).await.expect("ask");
    assert!(
        matches!(&missing[0].1, Err(Error::Broker { code, .. }) if *code == ErrorCode::TRANSACTIONAL_ID_NOT_FOUND),
        "{missing:?}"
    );
    let empty = admin.describe_transactions(&[""]).await.expect("ask");
    assert!(matches!(&empty[0].1, Err(Error::Config(_))), "{empty:?}");
    let nowhere = tp(&kafka::unique("no-such-topic"), 0);
    let missing = admin.describe_producers(&[nowhere]).await.expect("ask");
    assert!(
        matches!(&missing[0].1, Err(Error::Broker { code, .. }) if *code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        "{missing:?}"
    );

    producer.abort_transaction().await.expect("abort");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let d = described(&admin, &id).await;
        let settled = matches!(
            d.state,
            TransactionState::CompleteAbort | TransactionState::Empty
        ) && d.partitions.is_empty();
        let producers = admin
            .describe_producers(&[tp(&t, 0)])
            .await
            .expect("producers");
        let open = producers[0]
            .1
            .as_ref()
            .expect("partition 0")
            .iter()
            .any(|p| p.producer_id == producer_id && p.current_transaction_start_offset.is_some());
        if settled && !open {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after abort: {d:?}, producers {producers:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    producer.close(Duration::from_secs(5)).await.expect("close");
    admin.close();
}
