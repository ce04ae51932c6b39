//! Log directories and leader elections against real Apache Kafka:
//! DescribeLogDirs per broker (the replicas' sizes grow with the records
//! written), ElectLeaders bringing leadership back to the preferred replica
//! after that replica restarted, and `ELECTION_NOT_NEEDED` as "already
//! there".
//!
//! Peers: the run's single broker (`support::kafka::single()`) and an owned
//! 3-node cluster (`kafka::Cluster::start`) whose preferred leader is
//! restarted, with automatic leader rebalancing off so only our election
//! moves leadership back.

use std::time::Duration;

use kafkit::admin::{ElectionType, LogDir, TopicPartition};
use kafkit::producer::{Producer, ProducerConfig, ProducerRecord};
use kafkit::protocol::ErrorCode;
use kafkit::Error;

mod support;
use support::kafka;
use support::real::{admin, broker, client, create_topics, topic, tp};

fn code_of<T: std::fmt::Debug>(r: &Result<T, Error>) -> Option<ErrorCode> {
    match r {
        Err(Error::Broker { code, .. }) => Some(*code),
        _ => None,
    }
}

/// The replicas of `partition` in `dirs`: (size, is_future).
fn replica_sizes(dirs: &[LogDir], partition: &TopicPartition) -> Vec<i64> {
    dirs.iter()
        .filter(|d| d.error.is_none())
        .flat_map(|d| &d.replicas)
        .filter(|r| &r.partition == partition && !r.is_future)
        .map(|r| r.size)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_dirs_report_each_replica_and_its_size() {
    let Some(bootstrap) = broker() else { return };
    let admin = admin(&bootstrap).await;
    let t = topic(&bootstrap, "logdirs", 2).await;
    let producer = Producer::connect(client(&bootstrap), ProducerConfig::default())
        .await
        .expect("producer");
    producer
        .send_all((0..50).map(|i| {
            ProducerRecord::new(&t)
                .partition(0)
                .value(format!("record {i} {}", "x".repeat(100)))
        }))
        .await
        .expect("produce");
    producer.close(Duration::from_secs(5)).await.expect("close");

    let asked = [tp(&t, 0), tp(&t, 1)];
    let all = admin
        .describe_log_dirs(&[], Some(&asked))
        .await
        .expect("describe log dirs");
    assert_eq!(all.len(), 1, "one result per broker: {all:?}");
    let (node, dirs) = &all[0];
    let dirs = dirs.as_ref().expect("the broker's log dirs");
    assert!(
        !dirs.is_empty() && dirs.iter().all(|d| d.path.starts_with('/')),
        "{dirs:?}"
    );
    let written = replica_sizes(dirs, &asked[0]);
    let empty = replica_sizes(dirs, &asked[1]);
    assert_eq!(written.len(), 1, "partition 0 on broker {node}: {dirs:?}");
    assert!(
        written[0] > 50 * 100,
        "50 records of 100+ bytes: {written:?}"
    );
    assert_eq!(empty, [0], "partition 1 holds nothing: {dirs:?}");
    // Only the asked partitions come back.
    assert!(
        dirs.iter()
            .flat_map(|d| &d.replicas)
            .all(|r| r.partition.topic == t),
        "{dirs:?}"
    );
    let dir = dirs.iter().find(|d| !d.replicas.is_empty()).expect("a dir");
    assert_eq!(dir.size(), written[0]);
    // Kafka 4.4 answers v4: the volume's size and free space.
    let (total, usable) = (dir.total_bytes.unwrap_or(0), dir.usable_bytes.unwrap_or(-1));
    assert!(total > 0 && (0..=total).contains(&usable), "{dir:?}");

    // Every partition (a null topic list) includes ours and more.
    let every = admin.describe_log_dirs(&[*node], None).await.expect("all");
    let every = every[0].1.as_ref().expect("all dirs");
    assert_eq!(replica_sizes(every, &asked[0]), written);
    // A broker that does not exist fails alone.
    let quick = admin.clone().with_timeout(Duration::from_secs(2));
    let r = quick
        .describe_log_dirs(&[*node, 9999], Some(&asked))
        .await
        .expect("asked");
    assert!(r[0].1.is_ok() && r[1].0 == 9999 && r[1].1.is_err(), "{r:?}");
}

/// Waits until `partition`'s leader satisfies `ok` and every replica is in
/// sync; returns (leader, replicas).
async fn wait_for_leader(
    admin: &kafkit::admin::Admin,
    topic: &str,
    ok: impl Fn(i32) -> bool,
) -> (i32, Vec<i32>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let d = admin
            .describe_topics(&[topic.to_owned()])
            .await
            .expect("describe");
        if let Some(Ok(t)) = d.into_iter().next().map(|(_, r)| r) {
            let p = &t.partitions[0];
            if let Some(leader) = p.leader.filter(|l| ok(*l)) {
                if p.isr.len() == p.replicas.len() {
                    return (leader, p.replicas.clone());
                }
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "leader never settled"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferred_leader_election_after_the_leader_restarted() {
    support::real::init_tracing();
    if !kafka::can_start() {
        return;
    }
    let cluster = kafka::Cluster::start(3, &["--set", "auto.leader.rebalance.enable=false"]);
    let bootstrap = cluster.bootstrap.clone();
    let t = kafka::unique("elect");
    create_topics(&bootstrap, &[(&t, 1)], 3).await;
    let admin = admin(&bootstrap).await;
    let (preferred, replicas) = wait_for_leader(&admin, &t, |_| true).await;
    assert_eq!(replicas.first(), Some(&preferred), "{replicas:?}");

    // The preferred replica already leads: nothing to elect.
    let missing = tp(&kafka::unique("elect-missing"), 0);
    let r = admin
        .elect_leaders(&[tp(&t, 0), missing.clone()], ElectionType::Preferred)
        .await
        .expect("elect");
    assert_eq!(r[0], (tp(&t, 0), Ok(false)), "{r:?}");
    assert_eq!(r[1].0, missing);
    assert_eq!(
        code_of(&r[1].1),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        "{r:?}"
    );

    // Every replica holds the partition, each on its own broker.
    let dirs = admin
        .describe_log_dirs(&[], Some(&[tp(&t, 0)]))
        .await
        .expect("dirs");
    assert_eq!(dirs.len(), 3, "{dirs:?}");
    for (node, d) in &dirs {
        let d = d.as_ref().unwrap_or_else(|e| panic!("broker {node}: {e}"));
        assert_eq!(
            replica_sizes(d, &tp(&t, 0)).len(),
            1,
            "broker {node}: {d:?}"
        );
    }

    // A controlled restart moves leadership away; with rebalancing off it
    // stays away until we elect.
    let node = u8::try_from(preferred).expect("node id");
    cluster.restart(node);
    let (other, _) = wait_for_leader(&admin, &t, |l| l != preferred).await;
    assert_ne!(other, preferred);
    let r = admin
        .elect_leaders(&[tp(&t, 0)], ElectionType::Preferred)
        .await
        .expect("elect");
    assert_eq!(r, [(tp(&t, 0), Ok(true))]);
    let (leader, _) = wait_for_leader(&admin, &t, |l| l == preferred).await;
    assert_eq!(leader, preferred);
    admin.close();
}
