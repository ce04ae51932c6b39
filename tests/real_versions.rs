//! Version negotiation against real Apache Kafka: for every API kafkit
//! implements, the version a connection negotiates is the highest one both
//! sides support, and the committed table `protocol-specs/negotiated-versions.md`
//! (API, kafkit's range, the broker's range, the negotiated version) matches
//! what the broker says, so it cannot drift. The pinned broker (4.4.0) is the
//! run's shared node; the old line (3.9.1) is an owned node that also serves
//! a produce/consume round trip and a group join.
//!
//! `KAFKIT_WRITE_VERSIONS=1 cargo test --test real_versions -- --nocapture`
//! prints the table rows for pasting after a kafkit or broker upgrade.
//!
//! Peer: Apache Kafka 4.4.0 and 3.9.1 (KRaft) from Maven Central.

use std::collections::BTreeMap;
use std::time::Duration;

use kafkit::admin::TopicPartition;
use kafkit::connection::BrokerConnection;
use kafkit::consumer::{Consumer, ConsumerConfig};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::messages::any::APIS;
use kafkit::protocol::messages::*;
use kafkit::protocol::VersionRange;
use kafkit::ClientConfig;

mod support;
use support::{kafka, kafka_sweep};

/// The committed table, checked row by row.
const TABLE: &str = include_str!("../protocol-specs/negotiated-versions.md");

/// One API's negotiation with one broker.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    name: &'static str,
    key: i16,
    kafkit: VersionRange,
    /// `None`: the broker does not list the API (3.9.1 and KIP-848).
    broker: Option<VersionRange>,
    negotiated: Option<i16>,
}

impl Row {
    /// The markdown line the table holds for this row.
    fn line(&self) -> String {
        let (Some(broker), Some(negotiated)) = (self.broker, self.negotiated) else {
            return format!(
                "| {} ({}) | {}–{} | — | — | broker does not support it |",
                self.name, self.key, self.kafkit.min, self.kafkit.max
            );
        };
        let behind = if self.kafkit.max < broker.max {
            format!("kafkit behind (broker up to v{})", broker.max)
        } else {
            String::new()
        };
        format!(
            "| {} ({}) | {}–{} | {}–{} | {} | {} |",
            self.name,
            self.key,
            self.kafkit.min,
            self.kafkit.max,
            broker.min,
            broker.max,
            negotiated,
            behind
        )
        .replace(" |  |", " | |")
    }
}

/// `conn.version_for::<R>()` for every implemented request type: the very
/// function the client uses to pick a version (`None` when the broker does
/// not list the API at all).
fn negotiated(conn: &BrokerConnection) -> BTreeMap<i16, Option<i16>> {
    fn one<R: kafkit::protocol::Request>(
        conn: &BrokerConnection,
        out: &mut BTreeMap<i16, Option<i16>>,
    ) {
        let v = match conn.version_for::<R>() {
            Ok(v) => Some(v),
            Err(_) if conn.broker_versions(R::API_KEY).is_none() => None,
            Err(e) => panic!("{:?}: no common version: {e}", R::API_KEY),
        };
        out.insert(R::API_KEY.0, v);
    }
    let mut out = BTreeMap::new();
    one::<produce::ProduceRequest>(conn, &mut out);
    one::<fetch::FetchRequest>(conn, &mut out);
    one::<list_offsets::ListOffsetsRequest>(conn, &mut out);
    one::<metadata::MetadataRequest>(conn, &mut out);
    one::<offset_commit::OffsetCommitRequest>(conn, &mut out);
    one::<offset_fetch::OffsetFetchRequest>(conn, &mut out);
    one::<find_coordinator::FindCoordinatorRequest>(conn, &mut out);
    one::<join_group::JoinGroupRequest>(conn, &mut out);
    one::<heartbeat::HeartbeatRequest>(conn, &mut out);
    one::<leave_group::LeaveGroupRequest>(conn, &mut out);
    one::<sync_group::SyncGroupRequest>(conn, &mut out);
    one::<describe_groups::DescribeGroupsRequest>(conn, &mut out);
    one::<list_groups::ListGroupsRequest>(conn, &mut out);
    one::<sasl_handshake::SaslHandshakeRequest>(conn, &mut out);
    one::<api_versions::ApiVersionsRequest>(conn, &mut out);
    one::<create_topics::CreateTopicsRequest>(conn, &mut out);
    one::<delete_topics::DeleteTopicsRequest>(conn, &mut out);
    one::<init_producer_id::InitProducerIdRequest>(conn, &mut out);
    one::<add_partitions_to_txn::AddPartitionsToTxnRequest>(conn, &mut out);
    one::<add_offsets_to_txn::AddOffsetsToTxnRequest>(conn, &mut out);
    one::<end_txn::EndTxnRequest>(conn, &mut out);
    one::<txn_offset_commit::TxnOffsetCommitRequest>(conn, &mut out);
    one::<sasl_authenticate::SaslAuthenticateRequest>(conn, &mut out);
    one::<delete_groups::DeleteGroupsRequest>(conn, &mut out);
    one::<offset_delete::OffsetDeleteRequest>(conn, &mut out);
    one::<consumer_group_heartbeat::ConsumerGroupHeartbeatRequest>(conn, &mut out);
    one::<consumer_group_describe::ConsumerGroupDescribeRequest>(conn, &mut out);
    one::<share_group_heartbeat::ShareGroupHeartbeatRequest>(conn, &mut out);
    one::<share_group_describe::ShareGroupDescribeRequest>(conn, &mut out);
    one::<share_fetch::ShareFetchRequest>(conn, &mut out);
    one::<share_acknowledge::ShareAcknowledgeRequest>(conn, &mut out);
    one::<describe_share_group_offsets::DescribeShareGroupOffsetsRequest>(conn, &mut out);
    one::<alter_share_group_offsets::AlterShareGroupOffsetsRequest>(conn, &mut out);
    one::<delete_share_group_offsets::DeleteShareGroupOffsetsRequest>(conn, &mut out);
    out
}

/// Connects to the first broker of `bootstrap` and checks, for every API in
/// [`APIS`], that the negotiated version is the highest common one.
async fn negotiate(bootstrap: &str) -> Vec<Row> {
    let addr = bootstrap.split(',').next().expect("a broker");
    let conn = BrokerConnection::connect(addr, None, &ClientConfig::new([addr]))
        .await
        .expect("connect and negotiate");
    let picked = negotiated(&conn);
    assert_eq!(
        picked.len(),
        APIS.len(),
        "every implemented API is checked: {picked:?} vs {APIS:?}"
    );
    let rows = APIS
        .iter()
        .map(|api| {
            assert_eq!(
                api.request_versions, api.response_versions,
                "{}: request and response codecs cover the same versions",
                api.name
            );
            let kafkit = api.request_versions;
            let broker = conn.broker_versions(api.api_key);
            let negotiated = picked[&api.api_key.0];
            if let (Some(broker), Some(negotiated)) = (broker, negotiated) {
                assert_eq!(
                    negotiated,
                    kafkit.max.min(broker.max),
                    "{}: negotiated v{negotiated}, kafkit {kafkit:?}, broker {broker:?}",
                    api.name
                );
                assert!(
                    negotiated >= kafkit.min && negotiated >= broker.min,
                    "{}: v{negotiated} below a minimum (kafkit {kafkit:?}, broker {broker:?})",
                    api.name
                );
            } else {
                assert_eq!((broker, negotiated), (None, None), "{}", api.name);
            }
            Row {
                name: api.name,
                key: api.api_key.0,
                kafkit,
                broker,
                negotiated,
            }
        })
        .collect();
    conn.close();
    rows
}

/// The table lines under `## Apache Kafka {version}`, keyed by API name.
fn committed(version: &str) -> BTreeMap<String, String> {
    let heading = format!("## Apache Kafka {version}");
    let mut lines = TABLE.lines().skip_while(|l| l.trim() != heading).skip(1);
    let mut out = BTreeMap::new();
    for line in lines.by_ref() {
        if line.starts_with("## ") {
            break;
        }
        let Some(rest) = line.strip_prefix("| ") else {
            continue;
        };
        let name = rest.split(' ').next().unwrap_or_default();
        if name.chars().next().is_some_and(char::is_uppercase) && name != "API" {
            out.insert(name.to_string(), line.trim_end().to_string());
        }
    }
    assert!(!out.is_empty(), "no table under {heading:?} in the file");
    out
}

/// Compares the rows with the committed table for `version`, naming every
/// row that differs.
fn check_table(version: &str, rows: &[Row]) {
    if std::env::var_os("KAFKIT_WRITE_VERSIONS").is_some() {
        println!("## Apache Kafka {version}");
        for row in rows {
            println!("{}", row.line());
        }
    }
    let table = committed(version);
    let mut wrong = Vec::new();
    for row in rows {
        let want = row.line();
        match table.get(row.name) {
            Some(have) if *have == want => {}
            Some(have) => wrong.push(format!(
                "row {}: committed\n  {have}\nbroker says\n  {want}",
                row.name
            )),
            None => wrong.push(format!("row {} missing; broker says\n  {want}", row.name)),
        }
    }
    for name in table.keys() {
        if !rows.iter().any(|r| r.name == name) {
            wrong.push(format!(
                "row {name} is in the table but kafkit does not implement it"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "protocol-specs/negotiated-versions.md, Apache Kafka {version}:\n{}",
        wrong.join("\n")
    );
}

/// The pinned broker version of the run (scripts/kafka.sh's default).
fn pinned_version() -> String {
    std::env::var("KAFKIT_KAFKA_VERSION").unwrap_or_else(|_| "4.4.0".to_string())
}

#[tokio::test]
async fn every_api_negotiates_the_highest_common_version_with_the_pinned_broker() {
    let Some(k) = kafka::single() else { return };
    let rows = negotiate(&k.bootstrap).await;
    if k.origin == "KAFKA_BROKERS" {
        // A user's own cluster, of a version the table may not hold, maybe
        // with several brokers (the sweep needs one that is its own coordinator).
        return;
    }
    check_table(&pinned_version(), &rows);
}

#[tokio::test]
async fn every_common_version_of_every_api_round_trips_with_the_pinned_broker() {
    let Some(k) = kafka::single() else { return };
    if k.origin == "KAFKA_BROKERS" {
        eprintln!("KAFKA_BROKERS is a user's cluster: the sweep runs on the test rig only");
        return;
    }
    let addr = k.bootstrap.split(',').next().expect("a broker");
    let seen = kafka_sweep::sweep(addr, &kafka::unique).await;
    assert_eq!(
        seen.len(),
        APIS.len(),
        "4.4.0 serves every API kafkit implements"
    );
}

/// The APIs where the broker offers versions newer than kafkit's, as the
/// table reports them: kept in one list so a kafkit upgrade shows up here.
#[test]
fn the_table_lists_where_kafkit_is_behind_the_broker() {
    let behind: Vec<String> = committed("4.4.0")
        .into_iter()
        .filter(|(_, line)| line.contains("kafkit behind"))
        .map(|(name, _)| name)
        .collect();
    for api in APIS {
        let line = &committed("4.4.0")[api.name];
        let max: i16 = line
            .split('|')
            .nth(2)
            .and_then(|c| c.trim().split('–').nth(1))
            .and_then(|m| m.parse().ok())
            .unwrap_or_else(|| panic!("row {}: kafkit range unreadable: {line}", api.name));
        assert_eq!(
            max, api.request_versions.max,
            "row {}: the table's kafkit max is not the codec's",
            api.name
        );
    }
    let section = TABLE
        .split("## Where kafkit is behind")
        .nth(1)
        .expect("a 'Where kafkit is behind' section");
    for name in &behind {
        assert!(
            section.contains(&format!("{name} ")),
            "{name} is behind in the 4.4.0 table but not listed in 'Where kafkit is behind'"
        );
    }
}

const WAIT: Duration = Duration::from_secs(60);

/// The old line: an owned 3.9.1 node negotiates as its table says, carries a
/// record from a producer to a consumer and lets a group member join.
#[tokio::test]
async fn the_old_line_negotiates_and_serves_records_and_groups() {
    if !kafka::can_start() {
        return;
    }
    let node = tokio::task::spawn_blocking(|| kafka::Cluster::start(1, &["--version", "3.9.1"]))
        .await
        .expect("start 3.9.1");
    let rows = negotiate(&node.bootstrap).await;
    check_table("3.9.1", &rows);
    let seen = kafka_sweep::sweep(&node.bootstrap, &kafka::unique).await;
    let served = rows.iter().filter(|r| r.broker.is_some()).count();
    assert_eq!(seen.len(), served, "every API 3.9.1 lists is swept");

    let config = ClientConfig::new([node.bootstrap.as_str()]);
    let topic = kafka::unique("old-line");
    let producer = Producer::connect(config.clone(), ProducerConfig::default())
        .await
        .expect("producer");
    let report = producer
        .send(
            ProducerRecord::new(topic.as_str())
                .key("k")
                .value("on 3.9.1"),
        )
        .await
        .expect("send (auto-created topic)");
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");

    // A group member: FindCoordinator, JoinGroup, SyncGroup on 3.9.1's
    // classic coordinator, then Fetch from the assigned partition.
    let group = kafka::unique("old-line-group");
    let mut member = Consumer::connect(
        config,
        ConsumerConfig::group(group.as_str())
            .from_beginning()
            .with_session_timeout(Duration::from_secs(10)),
    )
    .await
    .expect("group consumer");
    member.subscribe(&[topic.as_str()]).expect("subscribe");
    let record = tokio::time::timeout(WAIT, member.recv())
        .await
        .expect("a record through the group within 60 s")
        .expect("stream open")
        .expect("record");
    assert_eq!(
        (record.partition, record.offset),
        (report.partition, report.offset)
    );
    assert_eq!(record.value.as_deref(), Some(&b"on 3.9.1"[..]));
    member.mark_processed();
    member.commit().await.expect("commit on 3.9.1");
    let tp = TopicPartition {
        topic: topic.clone(),
        partition: report.partition,
    };
    let committed = member
        .committed(vec![tp.clone()])
        .await
        .expect("committed offsets");
    assert_eq!(
        committed.get(&tp).copied().flatten(),
        Some(report.offset + 1)
    );
    member.close().await.expect("leave the group");
}
