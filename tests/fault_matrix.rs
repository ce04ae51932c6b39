//! The fault matrix: an idempotent producer and a consumer group under load
//! on a 3-broker librdkafka mock cluster, one fault family per scenario.
//! Each scenario checks that no acknowledged record is lost, none is written
//! twice, per-key order holds in every partition, the group consumes
//! everything and its committed offsets never go backwards (see
//! `support/scenario.rs`). The scenarios run in parallel, one thread and
//! runtime each, and the test prints the fault table (`--nocapture`).

#[path = "support/audit.rs"]
mod audit;
#[path = "support/commits.rs"]
mod commits;
#[path = "support/mock.rs"]
mod mock;
#[path = "support/scenario.rs"]
mod scenario;
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafkit::consumer::ConsumerEvent;
use kafkit::producer::{Acks, Producer, ProducerConfig, ProducerRecord};
use kafkit::ClientConfig;
use rdkafka::mocking::MockCoordinator;
use rdkafka::types::{RDKafkaApiKey as Api, RDKafkaRespErr as E};
use scenario::{run, Action, Ctl, Outcome, Plan};

fn move_coordinator(ctl: &Ctl<'_>, broker: i32) {
    ctl.mock
        .cluster()
        .coordinator(MockCoordinator::Group(ctl.group.to_owned()), broker)
        .expect("coordinator");
}

/// 1. Partition leaders move every third round, during produce and fetch.
async fn leader_moves() -> Outcome {
    run(
        Plan::new("leader moves"),
        |round, ctl| {
            if round % 3 == 1 {
                for p in 0..4 {
                    let leader = ((round as i32 / 3 + p) % 3) + 1;
                    ctl.mock
                        .cluster()
                        .partition_leader(ctl.topic, p, Some(leader))
                        .expect("move");
                }
            }
        },
        |_| {},
    )
    .await
}

/// 2. The group coordinator moves while a member joins (rebalance), while
///    commits run, and while a member leaves.
async fn coordinator_moves() -> Outcome {
    run(
        Plan::new("coordinator moves"),
        |round, ctl| match round {
            4 => ctl.act(Action::AddConsumer),
            5 => move_coordinator(ctl, 2),
            10 => move_coordinator(ctl, 3),
            14 => ctl.act(Action::Close(2)),
            15 => move_coordinator(ctl, 1),
            _ => {}
        },
        |_| {},
    )
    .await
}

/// 3. Broker 2, coordinator and leader of some partitions, is down for 3 s:
///    connections are cut mid-request and reconnects are refused.
async fn broker_down() -> Outcome {
    let mut plan = Plan::new("broker down 3 s");
    plan.rounds = 40;
    run(
        plan,
        |round, ctl| match round {
            0 => move_coordinator(ctl, 2),
            5 => ctl.mock.cluster().broker_down(2).expect("down"),
            35 => ctl.mock.cluster().broker_up(2).expect("up"),
            _ => {}
        },
        |ctl| ctl.mock.cluster().broker_up(2).expect("up"),
    )
    .await
}

/// 4. Injected broker errors on the producer's, the fetcher's and the
///    group's requests.
async fn injected_errors() -> Outcome {
    let mut plan = Plan::new("injected errors");
    // The mock checks sequences only for transactional producers, so a batch
    // behind a failed one would be written out of order instead of rejected:
    // keep one batch in flight per partition (see producer_faults.rs).
    plan.max_in_flight = 1;
    run(
        plan,
        |round, ctl| {
            let m = ctl.mock.cluster();
            match round % 5 {
                0 => {
                    m.request_errors(
                        Api::Produce,
                        &[
                            E::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                            E::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                            E::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                        ],
                    );
                    m.request_errors(
                        Api::Heartbeat,
                        &[E::RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS],
                    );
                }
                1 => {
                    m.request_errors(
                        Api::Fetch,
                        &[
                            E::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                            E::RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE,
                        ],
                    );
                    m.request_errors(Api::OffsetCommit, &[E::RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID]);
                }
                2 => {
                    m.request_errors(Api::Heartbeat, &[E::RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION]);
                    m.request_errors(
                        Api::OffsetCommit,
                        &[E::RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS],
                    );
                }
                3 => {
                    m.request_errors(Api::Heartbeat, &[E::RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID]);
                    m.request_errors(
                        Api::JoinGroup,
                        &[E::RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS],
                    );
                    m.request_errors(
                        Api::OffsetFetch,
                        &[E::RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS],
                    );
                }
                _ => {
                    m.request_errors(
                        Api::OffsetCommit,
                        &[E::RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION],
                    );
                    m.request_errors(Api::Fetch, &[E::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT]);
                }
            }
        },
        |ctl| {
            // Errors nobody consumed yet would hit the readers that check.
            let m = ctl.mock.cluster();
            for api in [
                Api::Produce,
                Api::Fetch,
                Api::Heartbeat,
                Api::OffsetCommit,
                Api::OffsetFetch,
                Api::JoinGroup,
            ] {
                m.clear_request_errors(api);
            }
        },
    )
    .await
}

/// 5. Broker 1 (coordinator, leader of some partitions) answers 300 ms late.
async fn slow_broker() -> Outcome {
    run(
        Plan::new("300 ms RTT on one broker"),
        |round, ctl| {
            if round == 0 {
                move_coordinator(ctl, 1);
                ctl.mock
                    .cluster()
                    .broker_round_trip_time(1, Duration::from_millis(300))
                    .expect("rtt");
            }
        },
        |ctl| {
            ctl.mock
                .cluster()
                .broker_round_trip_time(1, Duration::ZERO)
                .expect("rtt");
        },
    )
    .await
}

/// 6. Of three consumers, one is killed (no LeaveGroup: the session timeout
///    evicts it) and one closes cleanly (its processed offsets are committed
///    on close). Auto-commit is effectively off, so only the commits on
///    revoke and on close protect against redelivery.
async fn consumer_killed_and_closed() -> Outcome {
    let mut plan = Plan::new("consumer killed + consumer closed");
    plan.consumers = 3;
    plan.rounds = 30;
    plan.auto_commit = Duration::from_secs(600);
    let mut outcome = run(
        plan,
        |round, ctl| match round {
            5 => ctl.act(Action::Kill(1)),
            20 => ctl.act(Action::Close(0)),
            _ => {}
        },
        |_| {},
    )
    .await;
    let lost = outcome
        .events
        .iter()
        .any(|(i, e)| *i != 1 && matches!(e, ConsumerEvent::Lost { .. }));
    if lost {
        outcome
            .failures
            .push("a live consumer lost partitions".to_owned());
    }
    outcome
}

/// 7. Every broker down for 2.5 s. A producer with a 1 s delivery timeout
///    sends as the outage starts: every send fails in time and `close`
///    returns in time. The group reports Disconnected and recovers afterwards.
async fn every_broker_down() -> Outcome {
    let probe_result: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut probe_task = None;
    let mut outage_started = None;
    let sink = probe_result.clone();
    let mut outcome = run(
        Plan::new("every broker down 2.5 s"),
        |round, ctl| match round {
            1 => {
                // Connect the probe while the cluster is still up.
                ctl.mock
                    .cluster()
                    .create_topic("probe", 1, 3)
                    .expect("topic");
                let bootstrap = ctl.mock.bootstrap_servers();
                let sink = sink.clone();
                let (tx, rx) = tokio::sync::oneshot::channel();
                outage_started = Some(tx);
                probe_task = Some(tokio::spawn(async move {
                    let problems = probe_outage(bootstrap, rx).await;
                    support_lock(&sink).extend(problems);
                }));
            }
            8 => {
                ctl.mock.cluster().broker_down(-1).expect("down");
                if let Some(tx) = outage_started.take() {
                    let _ = tx.send(());
                }
            }
            33 => ctl.mock.cluster().broker_up(-1).expect("up"),
            _ => {}
        },
        |ctl| ctl.mock.cluster().broker_up(-1).expect("up"),
    )
    .await;
    if let Some(t) = probe_task {
        t.await.expect("probe");
    }
    outcome
        .failures
        .extend(support_lock(&probe_result).drain(..));
    if !outcome
        .events
        .iter()
        .any(|(_, e)| matches!(e, ConsumerEvent::Disconnected { .. }))
    {
        outcome
            .failures
            .push("no consumer reported Disconnected".to_owned());
    }
    outcome
}

/// Connects a producer and sends one record; once the outage starts,
/// checks sends and close against their deadlines.
async fn probe_outage(
    bootstrap: String,
    outage: tokio::sync::oneshot::Receiver<()>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let cfg = ProducerConfig::default()
        .with_acks(Acks::All)
        .with_idempotence(true)
        .with_delivery_timeout(Duration::from_secs(1));
    let producer = match Producer::connect(ClientConfig::new([&bootstrap]), cfg).await {
        Ok(p) => p,
        Err(e) => return vec![format!("probe producer: {e}")],
    };
    if let Err(e) = producer
        .send(ProducerRecord::new("probe").value("warm-up"))
        .await
    {
        problems.push(format!("probe warm-up: {e}"));
    }
    let _ = outage.await;
    let started = Instant::now();
    let mut futures = Vec::new();
    for i in 0..20 {
        match producer
            .enqueue(ProducerRecord::new("probe").value(format!("p{i}")))
            .await
        {
            Ok(f) => futures.push(f),
            Err(e) => problems.push(format!("probe enqueue: {e}")),
        }
    }
    for f in futures {
        match tokio::time::timeout(Duration::from_secs(3), f).await {
            Ok(Ok(_)) => problems.push("a send succeeded with every broker down".to_owned()),
            Ok(Err(_)) => {}
            Err(_) => problems.push("a send did not resolve within 3 s".to_owned()),
        }
    }
    // Delivery timeout 1 s, plus one retry backoff and scheduling slack.
    if started.elapsed() > Duration::from_millis(1800) {
        problems.push(format!("sends took {:?}", started.elapsed()));
    }
    let pending = producer
        .enqueue(ProducerRecord::new("probe").value("last"))
        .await;
    let started = Instant::now();
    let _ = producer.close(Duration::from_millis(300)).await;
    if started.elapsed() > Duration::from_millis(1200) {
        problems.push(format!("close(300 ms) took {:?}", started.elapsed()));
    }
    if let Ok(f) = pending {
        if !matches!(
            tokio::time::timeout(Duration::from_secs(1), f).await,
            Ok(Err(_))
        ) {
            problems.push("a record pending at close did not fail".to_owned());
        }
    }
    problems
}

fn support_lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

type ScenarioFn = fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Outcome>>>;

#[test]
fn fault_matrix() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let scenarios: Vec<(&str, ScenarioFn)> = vec![
        ("leader moves", || Box::pin(leader_moves())),
        ("coordinator moves", || Box::pin(coordinator_moves())),
        ("broker down", || Box::pin(broker_down())),
        ("injected errors", || Box::pin(injected_errors())),
        ("slow broker", || Box::pin(slow_broker())),
        ("consumer killed/closed", || {
            Box::pin(consumer_killed_and_closed())
        }),
        ("every broker down", || Box::pin(every_broker_down())),
    ];
    let only = std::env::var("FAULT_MATRIX_ONLY").ok();
    let started = Instant::now();
    let threads: Vec<_> = scenarios
        .into_iter()
        .filter(|(name, _)| only.as_deref().is_none_or(|o| name.contains(o)))
        .map(|(name, f)| {
            let t = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("runtime");
                let began = Instant::now();
                let outcome = rt.block_on(f());
                (outcome, began.elapsed())
            });
            (name, t)
        })
        .collect();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (name, t) in threads {
        match t.join() {
            Ok((outcome, took)) => {
                println!("{name}: {took:.1?}");
                failures.extend(outcome.failures.iter().map(|f| format!("{name}: {f}")));
                rows.push(outcome.row);
            }
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                failures.push(format!("{name}: panicked: {msg}"));
            }
        }
    }
    println!(
        "\nfault matrix ({:.1?}):\n{}",
        started.elapsed(),
        scenario::table(&rows)
    );
    for r in &rows {
        assert!(r.produced > 0 && r.acknowledged == r.produced, "{r:?}");
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(rows.iter().all(|r| r.lost == 0 && r.duplicated == 0));
}
