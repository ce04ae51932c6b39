//! The manual-commit example (examples/manual_commit.rs) against the mock
//! cluster and the run's real Apache Kafka broker: a handler that commits the failing record's own offset and
//! fails sees that record exactly twice, and processing goes on.

use rdkafka::mocking::MockCluster;

mod support;

#[path = "../examples/manual_commit.rs"]
mod manual_commit;

/// Runs the example on `bootstrap` and checks what it reports.
async fn check_example(bootstrap: &str, topic: &str, group: &str) {
    let report = manual_commit::run(bootstrap, topic, group)
        .await
        .expect("example ran");
    let expected: std::collections::BTreeMap<i64, u32> = [(0, 1), (1, 1), (2, 2), (3, 1), (4, 1)]
        .into_iter()
        .collect();
    assert_eq!(report.deliveries, expected, "{report:?}");
    assert_eq!(
        report.committed_on_failure,
        Some(2),
        "committing the failing record's offset stores 'read it next'"
    );
    assert_eq!(report.committed_at_end, Some(5), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_record_committed_at_its_own_offset_is_delivered_twice() {
    support::real::init_tracing();
    let mock = MockCluster::new(1).expect("mock");
    support::cap_mock_group_versions(&mock);
    mock.create_topic("manual", 1, 1).expect("topic");
    check_example(&mock.bootstrap_servers(), "manual", "g-manual").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_on_kafka() {
    let Some(bootstrap) = support::real::broker() else {
        return;
    };
    let topic = support::real::topic(&bootstrap, "manual", 1).await;
    check_example(&bootstrap, &topic, &support::kafka::unique("g-manual")).await;
}
