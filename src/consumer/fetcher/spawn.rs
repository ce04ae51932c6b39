//! The fetcher's spawned work: connections, Fetch requests, offset resets
//! and metadata refreshes, each reporting back to the task as an event.

use super::*;

impl FetcherTask {
    pub(super) fn connect(&mut self, node: i32) {
        if !self.connecting.insert(node) {
            return;
        }
        self.conns.remove(&node);
        let client = self.client.clone();
        let tx = self.events_tx.clone();
        self.tasks.spawn(async move {
            let r = client.broker(node).await;
            let _ = tx.send(Event::Connected(node, r));
        });
    }

    pub(super) fn start_fetch(
        &mut self,
        node: i32,
        conn: BrokerConnection,
        wanted: &BTreeMap<TopicPartition, PartitionFetch>,
    ) {
        let session = self
            .sessions
            .entry(node)
            .or_insert_with(|| FetchSession::new(false));
        let plan = session.build(wanted);
        let meta = self.client.metadata();
        let topic_id = |t: &str| meta.topic(t).map_or(Uuid::ZERO, |m| m.id);
        let mut topics: BTreeMap<String, Vec<FetchPartition>> = BTreeMap::new();
        for (tp, f) in &plan.partitions {
            topics
                .entry(tp.topic.clone())
                .or_default()
                .push(FetchPartition {
                    partition: tp.partition,
                    current_leader_epoch: f.leader_epoch,
                    fetch_offset: f.offset,
                    partition_max_bytes: f.max_bytes,
                    ..Default::default()
                });
        }
        let mut forgotten: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for tp in &plan.forgotten {
            forgotten
                .entry(tp.topic.clone())
                .or_default()
                .push(tp.partition);
        }
        let request = FetchRequest {
            max_wait_ms: i32::try_from(self.cfg.fetch_max_wait.as_millis()).unwrap_or(i32::MAX),
            min_bytes: self.cfg.fetch_min_bytes,
            max_bytes: self.cfg.fetch_max_bytes,
            isolation_level: self.cfg.isolation_level.wire(),
            session_id: plan.session_id,
            session_epoch: plan.epoch,
            topics: topics
                .into_iter()
                .map(|(topic, partitions)| FetchTopic {
                    topic_id: topic_id(&topic),
                    topic,
                    partitions,
                    ..Default::default()
                })
                .collect(),
            forgotten_topics_data: forgotten
                .into_iter()
                .map(|(topic, partitions)| ForgottenTopic {
                    topic_id: topic_id(&topic),
                    topic,
                    partitions,
                    ..Default::default()
                })
                .collect(),
            rack_id: self.cfg.rack.clone().unwrap_or_default(),
            ..Default::default()
        };
        let generations: HashMap<TopicPartition, u64> = wanted
            .keys()
            .filter_map(|tp| self.parts.get(tp).map(|p| (tp.clone(), p.generation)))
            .collect();
        tracing::trace!(
            node,
            session = plan.session_id,
            epoch = plan.epoch,
            partitions = plan.partitions.len(),
            forgotten = plan.forgotten.len(),
            "fetch"
        );
        self.fetching.insert(node);
        let tx = self.events_tx.clone();
        self.tasks.spawn(async move {
            let r = conn.send(&request).await;
            let _ = tx.send(Event::Fetched(node, r, generations));
        });
    }

    pub(super) fn start_resets(&mut self) {
        let policy = self.cfg.offset_reset;
        if policy == OffsetReset::None {
            return;
        }
        let timestamp = if policy == OffsetReset::Earliest {
            EARLIEST_TIMESTAMP
        } else {
            LATEST_TIMESTAMP
        };
        let meta = self.client.metadata();
        let mut by_leader: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
        let mut missing_leader = false;
        for (tp, p) in &self.parts {
            if p.fetch.position.is_some() || self.resetting.contains(tp) {
                continue;
            }
            match meta.leader(&tp.topic, tp.partition) {
                Some(leader) => by_leader.entry(leader).or_default().push(tp.clone()),
                None => missing_leader = true,
            }
        }
        if missing_leader {
            self.refresh_metadata();
        }
        let isolation = self.cfg.isolation_level.wire();
        for (node, tps) in by_leader {
            self.resetting.extend(tps.iter().cloned());
            let client = self.client.clone();
            let tx = self.events_tx.clone();
            self.tasks.spawn(async move {
                let r = list_offsets(&client, node, &tps, timestamp, isolation).await;
                let _ = tx.send(Event::Reset(r));
            });
        }
    }

    pub(super) fn refresh_metadata(&mut self) {
        if self.refreshing {
            return;
        }
        self.refreshing = true;
        let client = self.client.clone();
        let tx = self.events_tx.clone();
        self.tasks.spawn(async move {
            if let Err(e) = client.refresh_metadata().await {
                debug!(error = %e, "metadata refresh failed");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _ = tx.send(Event::Refreshed);
        });
    }
}
