use super::*;
use crate::producer::ProducerRecord;
use crate::protocol::record::{BatchHeader, BatchView, DecodeOptions};
use bytes::Bytes;

fn cfg(idempotent: bool) -> AccumulatorConfig {
    AccumulatorConfig {
        linger: Duration::from_millis(10),
        batch_size: 100,
        max_in_flight: 2,
        idempotent,
        pool_buffers: 2,
    }
}

/// Appends a record of `size` to partition `p`; a batch it opens gets token
/// `id`. Returns (index in the batch, sealed).
fn add(acc: &mut Accumulator<u32>, p: i32, id: u32, size: usize, now: Instant) -> (i32, bool) {
    let record = ProducerRecord::new("t").value(format!("v{id}"));
    let rec = NewRecord {
        record: &record,
        partition: p,
        timestamp: 1_000 + i64::from(id),
        deadline: now + Duration::from_secs(1),
        size,
    };
    let a = acc.append(&rec, now, || id).expect("append");
    (a.index, a.sealed)
}

/// Sends one full batch (token 99, sequence 0) to partition 0 and has the
/// broker acknowledge it: an idempotent producer pipelines a partition's
/// batches only from then on.
fn first_batch_acknowledged(acc: &mut Accumulator<u32>, now: Instant) {
    add(acc, 0, 99, 100, now);
    let sent = acc.drain(now, |_| Some(1)).by_leader.remove(&1);
    let sent = sent.expect("first batch sent");
    assert_eq!(shape(&sent), vec![(99, 1)]);
    acc.complete(&sent[0]);
}

/// (token, record count) of each batch.
fn shape(batches: &[Batch<u32>]) -> Vec<(u32, i32)> {
    batches
        .iter()
        .map(|b| (b.token, b.record_count()))
        .collect()
}

#[test]
fn lingers_then_drains_to_the_leader() {
    let t0 = Instant::now();
    let mut acc = Accumulator::new(cfg(false));
    add(&mut acc, 0, 1, 10, t0);
    assert!(acc.drain(t0, |_| Some(7)).by_leader.is_empty());
    assert_eq!(acc.next_wakeup(), Some(t0 + Duration::from_millis(10)));
    let d = acc.drain(t0 + Duration::from_millis(10), |_| Some(7));
    let batches = d.by_leader.get(&7).expect("batch for leader 7");
    assert_eq!(shape(batches), vec![(1, 1)]);
    assert_eq!(acc.in_flight(), 1);
}

#[test]
fn full_batches_are_sealed_and_sent_without_linger() {
    let t0 = Instant::now();
    let mut acc = Accumulator::new(cfg(false));
    assert_eq!(add(&mut acc, 0, 1, 60, t0), (0, false));
    assert_eq!(
        add(&mut acc, 0, 2, 60, t0),
        (0, true),
        "second record does not fit: it starts a new batch"
    );
    assert_eq!(add(&mut acc, 0, 3, 40, t0), (1, true), "fills the batch");
    let d = acc.drain(t0, |_| Some(1));
    assert_eq!(shape(&d.by_leader[&1]), vec![(1, 1), (2, 2)]);
}

#[test]
fn records_are_encoded_as_appended() {
    let t0 = Instant::now();
    let mut acc = Accumulator::new(cfg(false));
    for id in 0..3 {
        add(&mut acc, 0, id, 10, t0);
    }
    acc.seal_all();
    let mut batch = acc
        .drain(t0, |_| Some(1))
        .by_leader
        .remove(&1)
        .expect("sent");
    let mut bytes = std::mem::take(&mut batch[0].records);
    let (base, max) = batch[0].timestamps();
    assert_eq!((base, max), (1_000, 1_002));
    let header = BatchHeader {
        base_timestamp: base,
        max_timestamp: max,
        last_offset_delta: 2,
        ..BatchHeader::default()
    };
    header.write_v2(&mut bytes, 3).expect("header");
    let view = BatchView::decode(bytes.freeze(), &DecodeOptions::default()).expect("decode");
    let got: Vec<(i64, i64, Option<Bytes>)> = view
        .records()
        .map(|r| r.expect("record"))
        .map(|r| (r.offset, r.timestamp, r.value))
        .collect();
    let want: Vec<(i64, i64, Option<Bytes>)> = (0..3)
        .map(|i| (i, 1_000 + i, Some(Bytes::from(format!("v{i}")))))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn missing_leader_keeps_the_batch_and_asks_for_metadata() {
    let t0 = Instant::now();
    let mut acc = Accumulator::new(cfg(false));
    add(&mut acc, 0, 1, 200, t0);
    let d = acc.drain(t0, |_| None);
    assert!(d.missing_leader && d.by_leader.is_empty());
    assert_eq!(acc.drain(t0, |_| Some(2)).by_leader[&2].len(), 1);
}

#[test]
fn sequences_follow_records_and_in_flight_is_bounded() {
    let t0 = Instant::now();
    let mut acc = Accumulator::new(cfg(true));
    first_batch_acknowledged(&mut acc, t0);
    // [0 1 2] fill one batch (90 bytes), 3 seals it, then [3] [4] [5] alone.
    for i in 0..3 {
        add(&mut acc, 0, i, 30, t0);
    }
    for i in 3..6 {
        add(&mut acc, 0, i, 80, t0);
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
        vec![Some(1), Some(4)],
        "a batch of 3 records uses sequences 1..=3"
    );
    assert_eq!(shape(&first), vec![(0, 3), (3, 1)]);
    assert!(acc.drain(t0, |_| Some(1)).by_leader.is_empty());
    for b in &first {
        acc.complete(b);
    }
    let rest = acc
        .drain(t0, |_| Some(1))
        .by_leader
        .remove(&1)
        .expect("rest");
    assert_eq!(
        rest.iter().map(|b| b.base_sequence).collect::<Vec<_>>(),
        vec![Some(5), Some(6)]
    );
}

#[test]
fn retries_go_back_in_sequence_order_and_hold_the_partition() {
    let t0 = Instant::now();
    let mut acc = Accumulator::new(cfg(true));
    first_batch_acknowledged(&mut acc, t0);
    for i in 0..3 {
        add(&mut acc, 0, i, 100, t0);
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
    assert_eq!(order, vec![(Some(1), 2), (Some(2), 2)]);
}

#[test]
fn expiry_of_a_sequenced_batch_requires_an_epoch_bump() {
    let t0 = Instant::now();
    let mut acc = Accumulator::new(cfg(true));
    first_batch_acknowledged(&mut acc, t0);
    add(&mut acc, 0, 1, 100, t0);
    add(&mut acc, 0, 2, 100, t0);
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
    assert_eq!(shape(&expired), vec![(1, 1)]);
    assert!(!acc.needs_epoch_bump(), "b2 still in flight");
    acc.fail(&b2);
    assert!(acc.needs_epoch_bump());
    assert!(
        acc.drain(late, |_| Some(1)).by_leader.is_empty(),
        "nothing is sent before the bump"
    );
    acc.reset_sequences();
    add(&mut acc, 0, 3, 100, late);
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
fn flush_point_waits_for_older_batches_only() {
    let t0 = Instant::now();
    let mut acc = Accumulator::new(cfg(false));
    add(&mut acc, 0, 1, 10, t0);
    add(&mut acc, 1, 2, 10, t0);
    acc.seal_all();
    let point = acc.flush_point();
    assert!(!acc.is_flushed(point));
    add(&mut acc, 0, 3, 10, t0);
    let mut sent = acc
        .drain(t0, |_| Some(1))
        .by_leader
        .remove(&1)
        .expect("sent");
    assert_eq!(shape(&sent), vec![(1, 1), (2, 1)]);
    acc.complete(&sent.remove(0));
    assert!(!acc.is_flushed(point));
    acc.fail(&sent.remove(0));
    assert!(
        acc.is_flushed(point),
        "the batch opened after the flush does not count"
    );
    assert!(!acc.is_idle());
}

#[test]
fn close_returns_everything_not_in_flight_and_refuses_appends() {
    let t0 = Instant::now();
    let mut acc = Accumulator::new(cfg(false));
    add(&mut acc, 0, 1, 100, t0);
    add(&mut acc, 1, 2, 10, t0);
    let sent = acc.drain(t0, |_| Some(1));
    assert_eq!(sent.by_leader[&1].len(), 1);
    assert_eq!(shape(&acc.close()), vec![(2, 1)]);
    assert_eq!(acc.queued(), (0, 0));
    let record = ProducerRecord::new("t");
    let rec = NewRecord {
        record: &record,
        partition: 0,
        timestamp: 0,
        deadline: t0,
        size: 1,
    };
    assert!(matches!(
        acc.append(&rec, t0, || 9),
        Err(AppendError::Closed)
    ));
}

#[test]
fn a_record_that_cannot_be_encoded_leaves_no_empty_batch() {
    let t0 = Instant::now();
    let mut acc = Accumulator::new(cfg(false));
    add(&mut acc, 0, 1, 10, t0);
    let record = ProducerRecord::new("t");
    let rec = NewRecord {
        record: &record,
        partition: 1,
        timestamp: i64::MIN,
        deadline: t0,
        size: 1,
    };
    // Opens partition 1's batch with base i64::MIN, fine; the next record's
    // delta overflows and is refused, leaving partition 1's batch as it was.
    acc.append(&rec, t0, || 2).expect("first record");
    let late = NewRecord {
        timestamp: i64::MAX,
        ..rec
    };
    assert!(matches!(
        acc.append(&late, t0, || 3),
        Err(AppendError::TimestampOutOfRange { .. })
    ));
    acc.seal_all();
    let sent = acc
        .drain(t0, |_| Some(1))
        .by_leader
        .remove(&1)
        .expect("sent");
    assert_eq!(shape(&sent), vec![(1, 1), (2, 1)]);
    let bad = NewRecord {
        partition: -1,
        ..rec
    };
    assert!(acc.append(&bad, t0, || 4).is_err());
    assert_eq!(acc.queued(), (0, 0));
}

#[test]
fn a_partition_at_its_in_flight_limit_keeps_filling_its_open_batch() {
    let t0 = Instant::now();
    let linger = Duration::from_millis(10);
    let mut acc = Accumulator::new(cfg(true));
    first_batch_acknowledged(&mut acc, t0);
    // Two batches go out and fill the partition's two slots.
    let mut in_flight = Vec::new();
    for id in 0..2 {
        add(&mut acc, 0, id, 10, t0 + linger * id);
        let mut sent = acc.drain(t0 + linger * (id + 1), |_| Some(1));
        let batches = sent.by_leader.remove(&1).expect("sent");
        assert_eq!(shape(&batches), vec![(id, 1)]);
        in_flight.extend(batches);
    }
    // Records arriving meanwhile, over several linger periods, share one
    // batch instead of one tiny batch per period.
    let later = t0 + linger * 3;
    for i in 0..5u32 {
        add(&mut acc, 0, 10 + i, 10, later + linger * i);
        // The task drains after each event and at each linger deadline.
        let at = later + linger * (i + 1);
        assert!(acc.drain(at, |_| Some(1)).by_leader.is_empty());
    }
    let blocked = later + linger * 6;
    assert_eq!(acc.queued(), (1, 5), "one open batch of 5 records");
    assert!(
        acc.next_wakeup().is_none_or(|t| t > blocked),
        "no wake-up for a batch that cannot go out (no busy loop)"
    );
    // A slot frees: the lingered batch goes out whole, with the next sequence.
    acc.complete(&in_flight[0]);
    let mut sent = acc.drain(blocked, |_| Some(1));
    let batches = sent.by_leader.remove(&1).expect("sent");
    assert_eq!(shape(&batches), vec![(10, 5)]);
    assert_eq!(batches[0].base_sequence, Some(3));
}

/// A topic created a moment ago: the first batch of a partition (sequence 0)
/// is refused with NOT_LEADER_OR_FOLLOWER while the partition loads. Had a
/// second batch been in flight behind it, the broker (which knows nothing
/// of the producer there yet) would have written it first, and sequence 0
/// would be OUT_OF_ORDER_SEQUENCE_NUMBER on every retry. So a partition has
/// one batch in flight until one is acknowledged, then `max_in_flight`; a
/// new producer id or epoch starts that over.
#[test]
fn one_batch_in_flight_until_the_broker_acknowledges_a_sequence() {
    let t0 = Instant::now();
    let mut acc = Accumulator::new(cfg(true));
    for i in 0..4 {
        add(&mut acc, 0, i, 100, t0);
    }
    let sent = acc.drain(t0, |_| Some(1)).by_leader.remove(&1);
    let mut sent = sent.expect("first batch");
    assert_eq!(shape(&sent), vec![(0, 1)], "only the first batch");
    assert_eq!(sent[0].base_sequence, Some(0));
    assert!(acc.drain(t0, |_| Some(1)).by_leader.is_empty());
    // Refused while the partition loads: it goes again, still alone.
    let first = sent.pop().expect("first");
    acc.retry(first, t0, Duration::from_millis(5));
    let later = t0 + Duration::from_millis(5);
    let again = acc.drain(later, |_| Some(1)).by_leader.remove(&1);
    let again = again.expect("resent");
    assert_eq!(shape(&again), vec![(0, 1)]);
    assert_eq!((again[0].base_sequence, again[0].attempts), (Some(0), 2));
    // Acknowledged: the rest is pipelined up to max_in_flight (2).
    acc.complete(&again[0]);
    let rest = acc.drain(later, |_| Some(1)).by_leader.remove(&1);
    let rest = rest.expect("pipelined");
    let seqs: Vec<Option<i32>> = rest.iter().map(|b| b.base_sequence).collect();
    assert_eq!(seqs, vec![Some(1), Some(2)]);
    // A new epoch: the broker may not know the producer again.
    for b in &rest {
        acc.complete(b);
    }
    acc.reset_sequences();
    let after = acc.drain(later, |_| Some(1)).by_leader.remove(&1);
    let after = after.expect("after the bump");
    assert_eq!(shape(&after), vec![(3, 1)]);
    assert_eq!(after[0].base_sequence, Some(0));
    add(&mut acc, 0, 4, 100, later);
    assert!(acc.drain(later, |_| Some(1)).by_leader.is_empty());
}

#[test]
fn take_unsent_leaves_in_flight_batches_and_flags_a_lost_sequence() {
    let t0 = Instant::now();
    let mut acc = Accumulator::new(cfg(true));
    first_batch_acknowledged(&mut acc, t0);
    add(&mut acc, 0, 1, 100, t0);
    add(&mut acc, 0, 2, 100, t0);
    let mut sent = acc
        .drain(t0, |_| Some(1))
        .by_leader
        .remove(&1)
        .expect("sent");
    assert_eq!(shape(&sent), vec![(1, 1), (2, 1)]);
    add(&mut acc, 0, 3, 10, t0);
    // Never sent: taking it loses no sequence.
    let point = acc.flush_point();
    assert_eq!(shape(&acc.take_unsent()), vec![(3, 1)]);
    assert_eq!(acc.in_flight(), 2);
    assert!(
        !acc.is_flushed(point),
        "the in-flight batches are still out"
    );
    let second = sent.pop().expect("second");
    acc.complete(&sent[0]);
    acc.complete(&second);
    assert!(acc.is_flushed(point));
    assert!(!acc.needs_epoch_bump());
    // A retried batch had a sequence: taking it needs a new epoch.
    add(&mut acc, 0, 4, 100, t0);
    let batch = acc
        .drain(t0, |_| Some(1))
        .by_leader
        .remove(&1)
        .expect("sent")
        .remove(0);
    acc.retry(batch, t0, Duration::from_millis(5));
    assert_eq!(shape(&acc.take_unsent()), vec![(4, 1)]);
    assert!(acc.needs_epoch_bump());
    add(&mut acc, 0, 5, 10, t0);
    assert_eq!(acc.queued().0, 1, "still open for appends");
}
