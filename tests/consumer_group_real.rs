//! The KIP-848 member state machine (`kafkit::group::consumer_member`) and
//! the ConsumerGroupHeartbeat codec against a real broker, before the
//! consumer is wired to them: a small loop in the test pumps two members
//! (FindCoordinator, ConsumerGroupHeartbeat, Metadata by topic id) and
//! commits nothing (revocations are acknowledged at once).
//!
//! The machine's clock is virtual: when both members are idle the loop jumps
//! it to the next deadline, so the members heartbeat every few milliseconds
//! of real time instead of every `group.consumer.heartbeat.interval.ms`
//! (the coordinator accepts early heartbeats).
//!
//! Peer: Apache Kafka 4.4.0 (KRaft), `group.coordinator.rebalance.protocols`
//! includes `consumer` by default.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kafkit::connection::BrokerConnection;
use kafkit::group::consumer_member::{
    ConsumerMember, ConsumerMemberConfig, ConsumerMemberEvent, ConsumerMemberRequest,
    ConsumerMemberResponse, ConsumerMemberState, Subscription,
};
use kafkit::group::{Coordinator, TopicPartition};
use kafkit::protocol::messages::consumer_group_describe::ConsumerGroupDescribeRequest;
use kafkit::protocol::messages::find_coordinator::FindCoordinatorRequest;
use kafkit::protocol::messages::metadata::{MetadataRequest, MetadataRequestTopic};
use kafkit::protocol::{ErrorCode, Uuid};
use kafkit::ClientConfig;

mod support;
use support::{java, kafka};

/// One member with its connection and what it was told.
struct Peer {
    member: ConsumerMember,
    conn: BrokerConnection,
    owned: BTreeSet<TopicPartition>,
    left: bool,
}

impl Peer {
    async fn new(addr: &str, group: &str, topic: &str, name: &str) -> Self {
        let conn = BrokerConnection::connect(addr, None, &ClientConfig::new([addr]))
            .await
            .expect("connect");
        let mut cfg = ConsumerMemberConfig::new(
            group,
            format!("{name}-{}", kafka::unique("id")),
            Subscription::Topics(vec![topic.to_string()]),
        );
        cfg.rebalance_timeout = Duration::from_secs(10);
        Self {
            member: ConsumerMember::new(cfg),
            conn,
            owned: BTreeSet::new(),
            left: false,
        }
    }

    /// Sends every queued request and hands back its answer; applies the
    /// events (acknowledging revocations at once). Returns whether anything
    /// was sent.
    async fn pump(&mut self, now: Instant) -> bool {
        let mut sent = false;
        while let Some(out) = self.member.poll_request() {
            sent = true;
            let answer = match out.request {
                ConsumerMemberRequest::FindCoordinator { key } => {
                    let req = FindCoordinatorRequest {
                        // v4+ (what a 4.x broker negotiates) names keys in a list.
                        coordinator_keys: vec![key],
                        ..Default::default()
                    };
                    self.conn.send(&req).await.map(|r| {
                        let c = r.coordinators.into_iter().next().unwrap_or_default();
                        ConsumerMemberResponse::FindCoordinator {
                            error_code: c.error_code,
                            coordinator: Some(Coordinator {
                                node_id: c.node_id,
                                host: c.host,
                                port: c.port,
                            }),
                        }
                    })
                }
                ConsumerMemberRequest::Heartbeat(req) => self
                    .conn
                    .send(&req)
                    .await
                    .map(ConsumerMemberResponse::Heartbeat),
                ConsumerMemberRequest::TopicNames { topic_ids } => {
                    let req = MetadataRequest {
                        topics: Some(
                            topic_ids
                                .iter()
                                .map(|id| MetadataRequestTopic {
                                    topic_id: *id,
                                    name: None,
                                    ..Default::default()
                                })
                                .collect(),
                        ),
                        allow_auto_topic_creation: false,
                        include_cluster_authorized_operations: false,
                        include_topic_authorized_operations: false,
                        unknown_tagged_fields: Default::default(),
                    };
                    self.conn.send(&req).await.map(|r| {
                        let names: BTreeMap<Uuid, String> = r
                            .topics
                            .into_iter()
                            .filter(|t| t.error_code == ErrorCode::NONE)
                            .filter_map(|t| Some((t.topic_id, t.name?)))
                            .collect();
                        ConsumerMemberResponse::TopicNames(names)
                    })
                }
                other => panic!("unexpected request {other:?}"),
            };
            match answer {
                Ok(a) => self.member.handle_response(out.id, a, now),
                Err(e) => {
                    eprintln!("transport error: {e}");
                    self.member.handle_error(out.id, now)
                }
            }
            .expect("the member accepts the answer");
        }
        while let Some(event) = self.member.poll_event() {
            match event {
                ConsumerMemberEvent::CommitNeeded(_) => {
                    self.member.revocation_done(now).expect("ack");
                }
                ConsumerMemberEvent::Assigned(p) => self.owned.extend(p),
                ConsumerMemberEvent::Revoked(p) | ConsumerMemberEvent::Lost(p) => {
                    self.owned.retain(|tp| !p.contains(tp));
                }
                ConsumerMemberEvent::Left => self.left = true,
                ConsumerMemberEvent::Fatal {
                    error_code,
                    message,
                } => {
                    panic!("fatal: {error_code:?} {message:?}")
                }
                _ => {}
            }
        }
        sent
    }
}

fn all(topic: &str) -> BTreeSet<TopicPartition> {
    (0..4)
        .map(|partition| TopicPartition {
            topic: topic.to_string(),
            partition,
        })
        .collect()
}

/// Pumps `peers` in virtual time until `done` holds (or fails after 20 s).
async fn run_until(
    peers: &mut [&mut Peer],
    clock: &mut Instant,
    what: &str,
    done: impl Fn(&[&mut Peer]) -> bool,
) {
    let give_up = Instant::now() + Duration::from_secs(20);
    while !done(peers) {
        assert!(Instant::now() < give_up, "{what}: not reached in 20 s");
        let mut busy = false;
        for p in peers.iter_mut() {
            p.member.handle_timeout(*clock);
            busy |= p.pump(*clock).await;
        }
        if !busy {
            // Idle: jump to the next deadline, then let the broker breathe.
            let next = peers.iter().filter_map(|p| p.member.poll_timeout()).min();
            *clock = next.map_or(*clock, |n| n.max(*clock));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn stable(p: &Peer) -> bool {
    p.member.state() == ConsumerMemberState::Stable && p.member.epoch() > 0
}

#[tokio::test]
async fn two_kip848_members_split_a_topic_and_one_takes_all_when_the_other_leaves() {
    let Some(k) = kafka::single() else { return };
    let addr = k.bootstrap.split(',').next().expect("a broker");
    let topic = kafka::unique("kip848");
    let group = kafka::unique("kip848-group");
    java::create_topic(&k.bootstrap, &topic, 4).await;
    let mut clock = Instant::now();

    let mut a = Peer::new(addr, &group, &topic, "a").await;
    let mut b = Peer::new(addr, &group, &topic, "b").await;
    a.member.join(clock).unwrap();
    run_until(&mut [&mut a], &mut clock, "a owns all four", |p| {
        stable(p[0]) && p[0].owned == all(&topic)
    })
    .await;
    let first_epoch = a.member.epoch();

    b.member.join(clock).unwrap();
    run_until(
        &mut [&mut a, &mut b],
        &mut clock,
        "a and b split the topic",
        |p| {
            let (a, b) = (&p[0], &p[1]);
            stable(a)
                && stable(b)
                && a.owned.len() == 2
                && b.owned.len() == 2
                && a.owned.is_disjoint(&b.owned)
                && a.owned.union(&b.owned).cloned().collect::<BTreeSet<_>>() == all(&topic)
                && a.member.owned() == a.owned
                && b.member.owned() == b.owned
        },
    )
    .await;
    assert!(a.member.epoch() > first_epoch, "the group epoch moved on");
    eprintln!(
        "split: a {} at epoch {} owns {:?}; b {} at epoch {} owns {:?}",
        a.member.member_id(),
        a.member.epoch(),
        a.owned,
        b.member.member_id(),
        b.member.epoch(),
        b.owned
    );
    assert_ne!(a.member.member_id(), b.member.member_id());

    // ConsumerGroupDescribe shows the same split, by member.
    let describe = ConsumerGroupDescribeRequest {
        group_ids: vec![group.clone()],
        ..Default::default()
    };
    assert_eq!(
        a.conn.version_for::<ConsumerGroupDescribeRequest>().ok(),
        Some(1)
    );
    let described = a.conn.send(&describe).await.expect("describe");
    let g = &described.groups[0];
    assert_eq!(
        (g.error_code, g.group_state.as_str()),
        (ErrorCode::NONE, "Stable")
    );
    assert_eq!(g.members.len(), 2);
    for peer in [&a, &b] {
        let m = g
            .members
            .iter()
            .find(|m| m.member_id == peer.member.member_id())
            .expect("the member is described");
        assert_eq!(m.member_epoch, peer.member.epoch());
        assert_eq!(m.member_type, 1, "joined with the consumer protocol");
        let owned: BTreeSet<TopicPartition> = m
            .assignment
            .topic_partitions
            .iter()
            .flat_map(|tp| {
                tp.partitions.iter().map(|&partition| TopicPartition {
                    topic: tp.topic_name.clone(),
                    partition,
                })
            })
            .collect();
        assert_eq!(owned, peer.owned);
    }

    b.member.leave(clock).unwrap();
    run_until(
        &mut [&mut a, &mut b],
        &mut clock,
        "b left, a owns all four",
        |p| p[1].left && p[1].owned.is_empty() && stable(p[0]) && p[0].owned == all(&topic),
    )
    .await;
    assert_eq!(b.member.state(), ConsumerMemberState::Left);

    a.member.leave(clock).unwrap();
    run_until(&mut [&mut a], &mut clock, "a left", |p| p[0].left).await;
}
