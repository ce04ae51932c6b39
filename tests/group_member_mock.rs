//! The sans-IO group member against a real coordinator: librdkafka's mock
//! cluster, with librdkafka consumers in the same group. A small driver
//! (the loop the `group` module documents) pumps the member over kafkit's
//! connection pool.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafkit::connection::BrokerConnection;
use kafkit::group::{
    CooperativeStickyAssignor, GroupCall, GroupConfig, GroupEvent, GroupMember, GroupRequest,
    GroupResponse, MemberState, OffsetAndMetadata, Outbound, RequestId, Target,
};
use kafkit::protocol::{ApiKey, Message, Request};
use kafkit::{Client, ClientConfig};
use rdkafka::config::ClientConfig as RdConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use tokio::sync::mpsc;

type Done = (RequestId, kafkit::Result<GroupResponse>);

async fn exchange<C>(conn: &BrokerConnection, call: &C) -> kafkit::Result<GroupResponse>
where
    C: GroupCall,
    C::Request: Request,
{
    let version = conn
        .version_for::<C::Request>()?
        .min(mock_max_version(C::Request::API_KEY));
    let request = call.to_request(version)?;
    Ok(C::into_response(conn.send_at(&request, version).await?))
}

/// librdkafka's mock advertises flexible JoinGroup (v6), SyncGroup (v4)
/// and the v3+ LeaveGroup, but its handlers parse only the shapes
/// librdkafka itself sends (e.g. it reads JoinGroup's protocol count as an
/// `int32` at v6 and LeaveGroup's single member id at every version). The
/// driver therefore stays at librdkafka's own versions for these APIs.
fn mock_max_version(api: ApiKey) -> i16 {
    match api {
        ApiKey::JOIN_GROUP => 5,
        ApiKey::SYNC_GROUP | ApiKey::HEARTBEAT => 3,
        ApiKey::LEAVE_GROUP => 1,
        _ => i16::MAX,
    }
}

async fn send(client: Client, out: Outbound) -> kafkit::Result<GroupResponse> {
    // The mock completes a sync as soon as the leader's SyncGroup arrives
    // and answers members whose SyncGroup comes later with INVALID_REQUEST
    // (a real coordinator waits for them). When kafkit leads, let the
    // librdkafka followers' SyncGroups go first. (For the same reason
    // kafkit cannot reliably follow a librdkafka leader on the mock: that
    // leader, in-process, usually syncs before kafkit's SyncGroup arrives.)
    if matches!(&out.request, GroupRequest::SyncGroup(r) if !r.assignments.is_empty()) {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let conn = match &out.target {
        Target::AnyBroker => client.pool().any().await?,
        Target::Coordinator(c) => client.broker(c.node_id).await?,
    };
    let call = async {
        match &out.request {
            GroupRequest::FindCoordinator(c) => exchange(&conn, c).await,
            GroupRequest::JoinGroup(c) => exchange(&conn, c).await,
            GroupRequest::SyncGroup(c) => exchange(&conn, c).await,
            GroupRequest::Heartbeat(c) => exchange(&conn, c).await,
            GroupRequest::LeaveGroup(c) => exchange(&conn, c).await,
            GroupRequest::OffsetCommit(c) => exchange(&conn, c).await,
            GroupRequest::OffsetFetch(c) => exchange(&conn, c).await,
            _ => Err(kafkit::Error::Config("unknown group request".into())),
        }
    };
    match tokio::time::timeout(out.timeout, call).await {
        // On a SyncGroup error the mock writes a null assignment, which the
        // spec does not allow (Java's client rejects it too; librdkafka reads
        // it as empty). Report it as a lost connection so the member rejoins,
        // which is what the error code it hides calls for.
        Ok(Err(kafkit::Error::BadResponse { broker, api, .. })) if api == ApiKey::SYNC_GROUP => {
            Err(kafkit::Error::Disconnected { broker })
        }
        Ok(r) => r,
        Err(_) => Err(kafkit::Error::Timeout {
            broker: conn.addr().to_owned(),
            api: out.request.api_key(),
            timeout: out.timeout,
        }),
    }
}

/// The member, its connections, and every event it produced.
struct Driver {
    client: Client,
    member: GroupMember,
    tx: mpsc::UnboundedSender<Done>,
    rx: mpsc::UnboundedReceiver<Done>,
    events: Vec<GroupEvent>,
    /// Offsets to hand in on `CommitNeeded`.
    processed: BTreeMap<kafkit::group::TopicPartition, i64>,
}

impl Driver {
    async fn new(bootstrap: String, cfg: GroupConfig) -> Self {
        let client = Client::connect(ClientConfig::new([bootstrap]))
            .await
            .expect("connect");
        let (tx, rx) = mpsc::unbounded_channel();
        let member = GroupMember::new(cfg, Instant::now()).expect("member");
        Self {
            client,
            member,
            tx,
            rx,
            events: Vec::new(),
            processed: BTreeMap::new(),
        }
    }

    /// Pumps the member for `d` (polling as a healthy application does).
    async fn run_for(&mut self, d: Duration) {
        let end = tokio::time::Instant::now() + d;
        loop {
            self.member.poll(Instant::now()).ok();
            self.pump().await;
            let wake = self
                .member
                .poll_timeout()
                .map(tokio::time::Instant::from_std)
                .unwrap_or(end)
                .min(end)
                .min(tokio::time::Instant::now() + Duration::from_millis(200));
            tokio::select! {
                Some((id, result)) = self.rx.recv() => {
                    let now = Instant::now();
                    match result {
                        Ok(r) => self.member.handle_response(id, r, now).expect("response"),
                        Err(e) => self.member.handle_error(id, &e, now).expect("error"),
                    }
                }
                _ = tokio::time::sleep_until(wake) => self.member.handle_timeout(Instant::now()),
            }
            if tokio::time::Instant::now() >= end || self.member.is_closed() {
                self.pump().await;
                return;
            }
        }
    }

    /// Sends what is queued and reacts to events.
    async fn pump(&mut self) {
        loop {
            let mut idle = true;
            while let Some(out) = self.member.poll_request() {
                idle = false;
                let (client, tx) = (self.client.clone(), self.tx.clone());
                tokio::spawn(async move {
                    let id = out.id;
                    let _ = tx.send((id, send(client, out).await));
                });
            }
            while let Some(e) = self.member.poll_event() {
                idle = false;
                match &e {
                    GroupEvent::MetadataNeeded { topics } => {
                        let mut counts = Vec::new();
                        for t in topics {
                            let meta = self
                                .client
                                .topic(t, Duration::from_secs(5))
                                .await
                                .expect("topic");
                            let n = i32::try_from(meta.partitions.len()).expect("count");
                            counts.push((t.clone(), n));
                        }
                        self.member
                            .set_metadata(counts, Instant::now())
                            .expect("metadata");
                    }
                    GroupEvent::CommitNeeded { partitions, .. } => {
                        let offsets = partitions
                            .iter()
                            .filter_map(|p| {
                                let o = self.processed.get(p)?;
                                Some((p.clone(), OffsetAndMetadata::new(*o)))
                            })
                            .collect();
                        self.member.commit(offsets, Instant::now()).expect("commit");
                    }
                    _ => {}
                }
                self.events.push(e);
            }
            if idle {
                return;
            }
        }
    }
}

fn rd_consumer(bootstrap: &str, group: &str, strategy: &str, topic: &str) -> BaseConsumer {
    let c: BaseConsumer = RdConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("partition.assignment.strategy", strategy)
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .create()
        .expect("consumer");
    c.subscribe(&[topic]).expect("subscribe");
    c
}

fn rd_assignment(c: &BaseConsumer) -> BTreeSet<(String, i32)> {
    c.assignment()
        .expect("assignment")
        .elements()
        .iter()
        .map(|e| (e.topic().to_string(), e.partition()))
        .collect()
}

fn ours(d: &Driver) -> BTreeSet<(String, i32)> {
    d.member
        .assignment()
        .iter()
        .map(|p| (p.topic.clone(), p.partition))
        .collect()
}

fn group_config(group: &str, topic: &str) -> GroupConfig {
    let mut cfg = GroupConfig::new(group, [topic]);
    cfg.session_timeout = Duration::from_secs(6);
    cfg.heartbeat_interval = Duration::from_millis(500);
    cfg.rebalance_timeout = Duration::from_secs(10);
    cfg
}

/// Runs the kafkit member and polls the librdkafka consumers until every
/// partition of `topic` has exactly one owner, then returns the owners.
async fn settle(
    d: &mut Driver,
    others: &[BaseConsumer],
    partitions: usize,
) -> Vec<BTreeSet<(String, i32)>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut stable_rounds = 0;
    loop {
        d.run_for(Duration::from_millis(100)).await;
        for c in others {
            let _ = c.poll(Duration::from_millis(10));
        }
        let mut all = vec![ours(d)];
        all.extend(others.iter().map(rd_assignment));
        let total: usize = all.iter().map(BTreeSet::len).sum();
        let union: BTreeSet<&(String, i32)> = all.iter().flatten().collect();
        let settled = d.member.state() == MemberState::Stable
            && total == partitions
            && union.len() == partitions;
        stable_rounds = if settled { stable_rounds + 1 } else { 0 };
        if stable_rounds >= 20 {
            return all;
        }
        assert!(
            Instant::now() < deadline,
            "group did not settle: {all:?}, member {:?}, events {:?}",
            d.member.state(),
            d.events
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkit_leads_a_group_of_librdkafka_consumers() {
    let mock = MockCluster::new(3).expect("mock cluster");
    mock.create_topic("orders", 6, 1).expect("topic");
    let bootstrap = mock.bootstrap_servers();
    let mut d = Driver::new(bootstrap.clone(), group_config("mixed", "orders")).await;
    // Alone first: kafkit becomes the leader and takes everything.
    let alone = settle(&mut d, &[], 6).await;
    assert_eq!(alone[0].len(), 6);
    assert!(d.member.is_leader());
    let first_generation = d.member.generation_id();

    // Two librdkafka members join; the leader assigns with range.
    let others = [
        rd_consumer(&bootstrap, "mixed", "range", "orders"),
        rd_consumer(&bootstrap, "mixed", "range", "orders"),
    ];
    let all = settle(&mut d, &others, 6).await;
    assert!(d.member.generation_id() > first_generation);
    assert!(d.member.is_leader(), "the existing leader keeps leading");
    assert_eq!(d.member.protocol_name(), Some("range"));
    for owned in &all {
        assert_eq!(owned.len(), 2, "range gives 6 / 3 each: {all:?}");
        let ps: Vec<i32> = owned.iter().map(|(_, p)| *p).collect();
        assert_eq!(ps[1], ps[0] + 1, "range gives contiguous ranges: {all:?}");
    }
    // The eager rebalance asked for a commit before revoking.
    assert!(d.events.iter().any(
        |e| matches!(e, GroupEvent::CommitNeeded { partitions, .. } if partitions.len() == 6)
    ));

    // Commit and read back through the coordinator.
    let mine: Vec<_> = d.member.assignment().iter().cloned().collect();
    let offsets = mine
        .iter()
        .map(|p| {
            (
                p.clone(),
                OffsetAndMetadata::new(40 + i64::from(p.partition)),
            )
        })
        .collect();
    let id = d.member.commit(offsets, Instant::now()).expect("commit");
    d.run_for(Duration::from_millis(500)).await;
    assert!(d
        .events
        .contains(&GroupEvent::CommitCompleted { id, result: Ok(()) }));
    let fetch = d
        .member
        .fetch_committed(mine.iter().cloned().collect(), Instant::now())
        .expect("fetch");
    d.run_for(Duration::from_millis(500)).await;
    let fetched = d.events.iter().find_map(|e| match e {
        GroupEvent::OffsetsFetched { id, result } if *id == fetch => Some(result.clone()),
        _ => None,
    });
    let fetched = fetched.expect("fetched").expect("fetch ok");
    for p in &mine {
        let got = fetched.get(p).cloned().flatten().map(|o| o.offset);
        assert_eq!(got, Some(40 + i64::from(p.partition)));
    }

    // Close: LeaveGroup, and the librdkafka members share all six.
    d.member.close(Instant::now()).expect("close");
    d.run_for(Duration::from_secs(5)).await;
    assert!(d.member.is_closed());
    assert!(d.events.contains(&GroupEvent::LeftGroup {
        error: kafkit::protocol::ErrorCode::NONE
    }));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for c in &others {
            let _ = c.poll(Duration::from_millis(20));
        }
        let sizes: Vec<usize> = others.iter().map(|c| rd_assignment(c).len()).collect();
        if sizes == [3, 3] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "librdkafka members did not take over: {sizes:?}"
        );
    }
    d.client.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_member_rebalances_incrementally_with_librdkafka() {
    let mock = MockCluster::new(1).expect("mock cluster");
    mock.create_topic("events", 4, 1).expect("topic");
    let bootstrap = mock.bootstrap_servers();
    let mut cfg = group_config("coop", "events");
    cfg.assignors = vec![Arc::new(CooperativeStickyAssignor)];
    let mut d = Driver::new(bootstrap.clone(), cfg).await;
    let alone = settle(&mut d, &[], 4).await;
    assert_eq!(alone[0].len(), 4);
    let before = ours(&d);

    let other = [rd_consumer(
        &bootstrap,
        "coop",
        "cooperative-sticky",
        "events",
    )];
    let all = settle(&mut d, &other, 4).await;
    assert_eq!(all.iter().map(BTreeSet::len).collect::<Vec<_>>(), [2, 2]);
    // Incremental: kafkit kept two of its partitions throughout, revoked
    // only the two that moved, and never lost anything.
    assert!(ours(&d).is_subset(&before));
    let revoked: BTreeSet<_> = d
        .events
        .iter()
        .filter_map(|e| match e {
            GroupEvent::Revoked { partitions } => Some(partitions.clone()),
            _ => None,
        })
        .flatten()
        .map(|p| (p.topic, p.partition))
        .collect();
    assert_eq!(revoked.len(), 2, "{:?}", d.events);
    assert!(revoked.is_disjoint(&ours(&d)));
    assert!(!d
        .events
        .iter()
        .any(|e| matches!(e, GroupEvent::Lost { .. })));
    d.member.close(Instant::now()).expect("close");
    d.run_for(Duration::from_secs(5)).await;
    assert!(d.member.is_closed());
    d.client.close();
}
