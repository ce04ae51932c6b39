use super::*;

fn cfg(idempotent: bool) -> AccumulatorConfig {
    AccumulatorConfig {
        linger: Duration::from_millis(10),
        batch_size: 100,
        max_in_flight: 2,
        idempotent,
    }
}

fn tp(p: i32) -> TopicPartition {
    TopicPartition {
        topic: "t".into(),
        partition: p,
    }
}

fn rec(id: u32, size: usize, now: Instant) -> Pending<u32> {
    Pending {
        record: ProducerRecord::new("t"),
        timestamp: 0,
        deadline: now + Duration::from_secs(1),
        size,
        token: id,
    }
}

fn tokens(b: &Batch<u32>) -> Vec<u32> {
    b.records.iter().map(|p| p.token).collect()
}

#[test]
fn lingers_then_drains_to_the_leader() {
    let t0 = Instant::now();
    let mut acc = Accumulator::new(cfg(false));
    acc.append(&tp(0), rec(1, 10, t0), t0);
    assert!(acc.drain(t0, |_| Some(7)).by_leader.is_empty());
    assert_eq!(acc.next_wakeup(), Some(t0 + Duration::from_millis(10)));
    let d = acc.drain(t0 + Duration::from_millis(10), |_| Some(7));
    let batches = d.by_leader.get(&7).expect("batch for leader 7");
    assert_eq!(tokens(&batches[0]), vec![1]);
    assert_eq!(acc.in_flight(), 1);
}

#[test]
fn full_batches_are_sealed_and_sent_without_linger() {
    let t0 = Instant::now();
    let mut acc = Accumulator::new(cfg(false));
    assert!(!acc.append(&tp(0), rec(1, 60, t0), t0));
    assert!(
        acc.append(&tp(0), rec(2, 60, t0), t0),
        "second record does not fit"
    );
    let d = acc.drain(t0, |_| Some(1));
    let got: Vec<Vec<u32>> = d.by_leader[&1].iter().map(tokens).collect();
    assert_eq!(got, vec![vec![1]]);
}

#[test]
fn missing_leader_keeps_the_batch_and_asks_for_metadata() {
    let t0 = Instant::now();
    let mut acc = Accumulator::new(cfg(false));
    acc.append(&tp(0), rec(1, 200, t0), t0);
    let d = acc.drain(t0, |_| None);
    assert!(d.missing_leader && d.by_leader.is_empty());
    assert_eq!(acc.drain(t0, |_| Some(2)).by_leader[&2].len(), 1);
}

#[test]
fn sequences_follow_records_and_in_flight_is_bounded() {
    let t0 = Instant::now();
    let mut acc = Accumulator::new(cfg(true));
    // [0 1 2] fill one batch (90 bytes), 3 seals it, then [3] [4] [5] alone.
    for i in 0..3 {
        acc.append(&tp(0), rec(i, 30, t0), t0);
    }
    for i in 3..6 {
        acc.append(&tp(0), rec(i, 80, t0), t0);
    }
    acc.seal_all();
    let first = acc
        .drain(t0, |_| Some(1))
        .by_leader
        .remove(&1)
        .expect("sent");
    assert_eq!(first.len(), 2, "max_in_flight is 2");
    let seqs: Vec<Option<i32>> = first.iter().map(|b| b.base_sequence).collect();
    assert_eq!(
        seqs,
        vec![Some(0), Some(3)],
        "a batch of 3 records uses sequences 0..=2"
    );
    assert_eq!(tokens(&first[0]), vec![0, 1, 2]);
    assert!(acc.drain(t0, |_| Some(1)).by_leader.is_empty());
    for b in first {
        acc.complete(b);
    }
    let rest = acc
        .drain(t0, |_| Some(1))
        .by_leader
        .remove(&1)
        .expect("rest");
    assert_eq!(
        rest.iter().map(|b| b.base_sequence).collect::<Vec<_>>(),
        vec![Some(4), Some(5)]
    );
}

#[test]
fn retries_go_back_in_sequence_order_and_hold_the_partition() {
    let t0 = Instant::now();
    let mut acc = Accumulator::new(cfg(true));
    for i in 0..3 {
        acc.append(&tp(0), rec(i, 100, t0), t0);
    }
    let mut sent = acc
        .drain(t0, |_| Some(1))
        .by_leader
        .remove(&1)
        .expect("sent");
    assert_eq!(sent.len(), 2);
    let second = sent.pop().expect("second");
    let first = sent.pop().expect("first");
    // The first fails; the partition is held while the second is in flight.
    acc.retry(first, t0, Duration::from_millis(5));
    assert!(acc
        .drain(t0 + Duration::from_millis(50), |_| Some(1))
        .by_leader
        .is_empty());
    // The second comes back out of order and is retried too.
    acc.retry(second, t0, Duration::from_millis(5));
    let again = acc
        .drain(t0 + Duration::from_millis(50), |_| Some(1))
        .by_leader
        .remove(&1)
        .expect("resent");
    let order: Vec<(Option<i32>, u32)> = again
        .iter()
        .map(|b| (b.base_sequence, b.attempts))
        .collect();
    assert_eq!(order, vec![(Some(0), 2), (Some(1), 2)]);
}

#[test]
fn expiry_of_a_sequenced_batch_requires_an_epoch_bump() {
    let t0 = Instant::now();
    let mut acc = Accumulator::new(cfg(true));
    acc.append(&tp(0), rec(1, 100, t0), t0);
    acc.append(&tp(0), rec(2, 100, t0), t0);
    let mut sent = acc
        .drain(t0, |_| Some(1))
        .by_leader
        .remove(&1)
        .expect("sent");
    let b2 = sent.pop().expect("b2");
    let b1 = sent.pop().expect("b1");
    acc.retry(b1, t0, Duration::from_millis(1));
    let late = t0 + Duration::from_secs(2);
    let expired = acc.expire(late);
    assert_eq!(expired.iter().map(|p| p.token).collect::<Vec<_>>(), vec![1]);
    assert!(!acc.needs_epoch_bump(), "b2 still in flight");
    acc.fail(b2);
    assert!(acc.needs_epoch_bump());
    assert!(
        acc.drain(late, |_| Some(1)).by_leader.is_empty(),
        "nothing is sent before the bump"
    );
    acc.reset_sequences();
    acc.append(&tp(0), rec(3, 100, late), late);
    let after = acc
        .drain(late, |_| Some(1))
        .by_leader
        .remove(&1)
        .expect("sent after bump");
    assert_eq!(after[0].base_sequence, Some(0));
}

#[test]
fn sequence_numbers_wrap() {
    assert_eq!(wrapping_sequence(i32::MAX, 1), 0);
    assert_eq!(wrapping_sequence(i32::MAX - 1, 3), 1);
    assert_eq!(wrapping_sequence(5, 10), 15);
}

#[test]
fn take_all_returns_everything_not_in_flight() {
    let t0 = Instant::now();
    let mut acc = Accumulator::new(cfg(false));
    acc.append(&tp(0), rec(1, 100, t0), t0);
    acc.append(&tp(1), rec(2, 10, t0), t0);
    let sent = acc.drain(t0, |_| Some(1));
    assert_eq!(sent.by_leader[&1].len(), 1);
    let mut left: Vec<u32> = acc.take_all().iter().map(|p| p.token).collect();
    left.sort_unstable();
    assert_eq!(left, vec![2]);
    assert_eq!(acc.queued(), (0, 0));
}
