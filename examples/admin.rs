//! kafkit's admin client: topics, offsets, a group's committed positions and lag.
//!
//! ```text
//! cargo run --example admin                                 # in-process mock cluster
//! KAFKA_BROKERS=localhost:9092 cargo run --example admin    # a real cluster
//! ```
//!
//! Against a real cluster it creates the topic `kafkit-admin-example` (3
//! partitions, replication factor 1; first with `validate_only`), writes a
//! few records, commits offsets for a group, prints the offsets table with
//! the lag, lists topics and groups, then deletes the group and the topic.
//!
//! librdkafka's mock cluster has no CreateTopics, DeleteTopics or group
//! administration APIs: without `KAFKA_BROKERS` the topic is created through
//! the mock's control API, and the calls the mock lacks print the
//! "unsupported" error kafkit reports for them.

use std::time::Duration;

use kafkit::admin::{Admin, NewTopic, OffsetSpec, TopicPartition};
use kafkit::consumer::{Consumer, ConsumerConfig};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::types::RDKafkaApiKey;

type BoxError = Box<dyn std::error::Error>;

const TOPIC: &str = "kafkit-admin-example";
const GROUP: &str = "kafkit-admin-example-group";

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut _mock = None;
    let bootstrap = match std::env::var("KAFKA_BROKERS") {
        Ok(brokers) => brokers,
        Err(_) => {
            let mock = MockCluster::new(3)?;
            mock.create_topic(TOPIC, 3, 1)?;
            let servers = mock.bootstrap_servers();
            println!("started a 3-broker mock cluster at {servers}");
            _mock = Some(mock);
            servers
        }
    };
    let admin = Admin::connect(ClientConfig::new([bootstrap.as_str()]))
        .await?
        .with_timeout(Duration::from_secs(10));

    // Create the topic: a dry run first, then for real. Each topic has its own result.
    let topic = NewTopic::new(TOPIC, 3, 1).with_config("retention.ms", "3600000");
    for validate_only in [true, false] {
        match admin
            .create_topics(std::slice::from_ref(&topic), validate_only)
            .await
        {
            Ok(results) => {
                for (name, result) in results {
                    println!("create {name} (validate_only={validate_only}): {result:?}");
                }
            }
            Err(e) => println!("create topics: {e}"),
        }
    }

    // A few records, so the offsets have something to show.
    let producer = Producer::connect(
        ClientConfig::new([bootstrap.as_str()]),
        ProducerConfig::default(),
    )
    .await?;
    for p in 0..3 {
        let records = (0..5 + p).map(|i| {
            ProducerRecord::new(TOPIC)
                .partition(p)
                .value(format!("record {i}"))
        });
        producer.send_all(records).await?;
    }
    producer.close(Duration::from_secs(5)).await?;

    // Offsets at the partition leaders.
    let partitions: Vec<TopicPartition> = (0..3)
        .map(|partition| TopicPartition {
            topic: TOPIC.to_owned(),
            partition,
        })
        .collect();
    for (tp, offset) in admin.list_offsets(&partitions, OffsetSpec::Latest).await? {
        println!(
            "{}/{}: latest {:?}",
            tp.topic,
            tp.partition,
            offset.map(|o| o.offset)
        );
    }

    // A group member that read and committed a few records, then the lag
    // per partition and the group as its coordinator describes it.
    let consumer = consume_some(&bootstrap, _mock.as_ref(), 4).await?;
    println!("partition  earliest  latest  committed  lag");
    for row in admin.topic_offsets(TOPIC, Some(GROUP)).await? {
        let show = |r: &kafkit::Result<i64>| r.as_ref().map_or("error".into(), i64::to_string);
        let committed = match &row.committed {
            Some(Ok(Some(c))) => c.to_string(),
            _ => "-".into(),
        };
        let lag = row.lag().map_or("-".into(), |l| l.to_string());
        println!(
            "{:<9}  {:<8}  {:<6}  {committed:<9}  {lag}",
            row.partition,
            show(&row.earliest),
            show(&row.latest)
        );
    }
    for (group, description) in admin.describe_groups(&[GROUP.to_owned()]).await? {
        match description {
            Ok(d) => println!(
                "group {group}: {} with {} members",
                d.state,
                d.members.len()
            ),
            Err(e) => println!("describe group {group}: {e}"),
        }
    }
    consumer.close().await?;

    let topics = admin.list_topics(false).await?;
    println!(
        "topics: {:?}",
        topics.iter().map(|t| &t.name).collect::<Vec<_>>()
    );
    match admin.list_groups().await {
        Ok(listed) => {
            println!(
                "groups: {:?}",
                listed
                    .groups
                    .iter()
                    .map(|g| &g.group_id)
                    .collect::<Vec<_>>()
            );
            for (broker, e) in listed.errors {
                println!("  broker {broker} could not list its groups: {e}");
            }
        }
        Err(e) => println!("list groups: {e}"),
    }
    for (group, result) in admin.delete_groups(&[GROUP.to_owned()]).await? {
        println!("delete group {group}: {result:?}");
    }
    match admin.delete_topics(&[TOPIC.to_owned()]).await {
        Ok(results) => {
            for (topic, result) in results {
                println!("delete topic {topic}: {result:?}");
            }
        }
        Err(e) => println!("delete topics: {e}"),
    }
    admin.close();
    Ok(())
}

/// Joins the example's group with kafkit's consumer, reads `count`
/// records and commits them.
async fn consume_some<C: rdkafka::ClientContext>(
    bootstrap: &str,
    mock: Option<&MockCluster<'_, C>>,
    count: usize,
) -> Result<Consumer, BoxError> {
    if let Some(mock) = mock {
        // librdkafka 2.12's mock advertises JoinGroup v6, SyncGroup v4 and
        // LeaveGroup v3+ but cannot parse them (see DESIGN.md): cap them.
        for (api, max) in [
            (RDKafkaApiKey::JoinGroup, 5),
            (RDKafkaApiKey::SyncGroup, 3),
            (RDKafkaApiKey::LeaveGroup, 2),
        ] {
            mock.apiversion(api, None, Some(max))?;
        }
    }
    let mut consumer = Consumer::connect(
        ClientConfig::new([bootstrap]),
        ConsumerConfig::group(GROUP).from_beginning(),
    )
    .await?;
    consumer.subscribe(&[TOPIC])?;
    for _ in 0..count {
        match tokio::time::timeout(Duration::from_secs(30), consumer.recv()).await {
            Ok(Some(record)) => {
                let r = record?;
                println!("consumed {}/{} offset {}", r.topic, r.partition, r.offset);
            }
            Ok(None) | Err(_) => break,
        }
    }
    consumer.mark_processed();
    consumer.commit().await?;
    Ok(consumer)
}
