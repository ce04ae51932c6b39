//! Unit tests of the partitioners: hash vectors from kafka-python, sticky
//! and round-robin behaviour.

use super::*;

/// `(key, murmur2, partitions for 1, 7, 12 and 100 partitions)`, computed
/// with kafka-python 2.0.2 (Debian's python3-kafka):
/// `kafka.partitioner.default.murmur2(key)` (printed as a signed 32-bit
/// value) and `DefaultPartitioner()(key, list(range(n)), [])`. The values
/// for "21", "foobar" and the long strings equal those in Kafka's own
/// `UtilsTest.testMurmur2`.
const VECTORS: &[(&[u8], i32, [i32; 4])] = &[
    (b"", 275646681, [0, 2, 9, 81]),
    (b"a", -1563381124, [0, 5, 4, 24]),
    (b"ab", 316155434, [0, 0, 2, 34]),
    (b"abc", 479470107, [0, 4, 3, 7]),
    (b"abcd", -1323649548, [0, 5, 8, 0]),
    (b"abcde", 461995741, [0, 4, 1, 41]),
    (b"abcdef", 1870650108, [0, 5, 0, 8]),
    (b"abcdefg", -346467175, [0, 4, 1, 73]),
    (b"abcdefgh", -955427363, [0, 0, 9, 85]),
    (b"\xff", -311467685, [0, 5, 3, 63]),
    (b"\xff\xff", -1642832928, [0, 0, 8, 20]),
    (b"\xff\xff\xff", 1548199422, [0, 0, 6, 22]),
    (b"\xff\xff\xff\xff", 644171429, [0, 6, 5, 29]),
    (b"\xff\xff\xff\xff\xff", -363838622, [0, 2, 6, 26]),
    (b"\xff\xff\xff\xff\xff\xff", 28450676, [0, 2, 8, 76]),
    (b"\xff\xff\xff\xff\xff\xff\xff", -71293549, [0, 4, 7, 99]),
    (
        b"\xff\xff\xff\xff\xff\xff\xff\xff",
        185950397,
        [0, 3, 5, 97],
    ),
    (b"\x00", 375494588, [0, 0, 8, 88]),
    (b"\x00\x00\x00\x00", 850957120, [0, 6, 4, 20]),
    (b"\x80\x81\x82\x83\x84", -1665622439, [0, 4, 9, 9]),
    (b"21", -973932308, [0, 3, 0, 40]),
    (b"foobar", -790332482, [0, 0, 6, 66]),
    (b"a-little-bit-long-string", -985981536, [0, 1, 8, 12]),
    (b"a-little-bit-longer-string", -1486304829, [0, 0, 11, 19]),
    (
        b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
        -58897971,
        [0, 3, 5, 77],
    ),
    ("h\u{e9}llo w\u{f6}rld".as_bytes(), 439213890, [0, 3, 6, 90]),
];

#[test]
fn murmur2_matches_kafka_python() {
    for (key, hash, _) in VECTORS {
        assert_eq!(murmur2(key), *hash, "key {key:?}");
    }
    // bytes(range(256)) in kafka-python: every byte value, 64 blocks.
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(murmur2(&all), -1948347274);
}

#[test]
fn partition_for_key_matches_kafka_python_default_partitioner() {
    for (key, _, expected) in VECTORS {
        for (count, want) in [1, 7, 12, 100].into_iter().zip(expected) {
            assert_eq!(partition_for_key(key, count), *want, "{key:?} / {count}");
        }
    }
}

#[test]
fn to_positive_clears_only_the_sign_bit() {
    assert_eq!(to_positive(5), 5);
    assert_eq!(to_positive(0), 0);
    assert_eq!(to_positive(-1), i32::MAX);
    assert_eq!(to_positive(i32::MIN), 0);
    assert_eq!(to_positive(-1563381124), 584102524);
}

#[test]
fn partition_for_key_never_panics_on_a_bad_count() {
    assert_eq!(partition_for_key(b"abc", 0), 0);
    assert_eq!(partition_for_key(b"abc", -7), 0);
}

#[test]
fn keyed_records_ignore_availability_and_batches() {
    let p = DefaultPartitioner::with_seed(1);
    let want = partition_for_key(b"abc", 7);
    assert_eq!(want, 4);
    // Partition 4 has no leader: the key still goes there, like Java.
    assert_eq!(p.partition("t", Some(b"abc"), 7, &[0, 1, 2]), want);
    p.on_new_batch("t", want);
    assert_eq!(p.partition("t", Some(b"abc"), 7, &[0, 1, 2]), want);
    // An empty key is hashed, not treated as a null key.
    assert_eq!(p.partition("t", Some(b""), 12, &[0]), 9);
}

#[test]
fn null_keys_stick_until_their_batch_is_done() {
    let p = DefaultPartitioner::with_seed(7);
    let available = [1, 3, 4, 6];
    let first = p.partition("t", None, 7, &available);
    assert!(available.contains(&first));
    for _ in 0..100 {
        assert_eq!(p.partition("t", None, 7, &available), first);
    }
    // A report for another partition does not move the topic.
    p.on_new_batch("t", (first + 1) % 7);
    p.on_new_batch("other", first);
    assert_eq!(p.partition("t", None, 7, &available), first);

    p.on_new_batch("t", first);
    let second = p.partition("t", None, 7, &available);
    assert_ne!(second, first);
    assert!(available.contains(&second));
    assert_eq!(p.partition("t", None, 7, &available), second);
    // A late second report for the old partition changes nothing.
    p.on_new_batch("t", first);
    assert_eq!(p.partition("t", None, 7, &available), second);
}

#[test]
fn sticky_choices_cover_the_available_partitions() {
    let p = DefaultPartitioner::with_seed(42);
    let available = [0, 2, 5, 8, 11];
    let mut seen = [0u32; 12];
    let mut last = None;
    for _ in 0..500 {
        let chosen = p.partition("t", None, 12, &available);
        assert!(available.contains(&chosen), "{chosen}");
        assert_ne!(Some(chosen), last, "a new batch must move on");
        seen[usize::try_from(chosen).unwrap()] += 1;
        last = Some(chosen);
        p.on_new_batch("t", chosen);
    }
    for a in available {
        // 500 draws over 4 alternatives each time: every partition gets
        // plenty (100 on average); 50 leaves a wide margin.
        assert!(seen[usize::try_from(a).unwrap()] > 50, "{seen:?}");
    }
    assert_eq!(seen.iter().sum::<u32>(), 500);
}

#[test]
fn no_available_partition_falls_back_to_all() {
    let p = DefaultPartitioner::with_seed(3);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let chosen = p.partition("t", None, 3, &[]);
        assert!((0..3).contains(&chosen));
        seen.insert(chosen);
        p.on_new_batch("t", chosen);
    }
    assert_eq!(seen.len(), 3);
    // Listed partitions that are out of range count as none listed.
    let chosen = p.partition("u", None, 3, &[9, -1]);
    assert!((0..3).contains(&chosen));
}

#[test]
fn a_single_candidate_is_reused_after_its_batch() {
    let p = DefaultPartitioner::with_seed(5);
    assert_eq!(p.partition("t", None, 4, &[2]), 2);
    p.on_new_batch("t", 2);
    assert_eq!(p.partition("t", None, 4, &[2]), 2);
    assert_eq!(p.partition("one", None, 1, &[]), 0);
    p.on_new_batch("one", 0);
    assert_eq!(p.partition("one", None, 1, &[]), 0);
}

#[test]
fn a_sticky_partition_that_loses_its_leader_is_left() {
    let p = DefaultPartitioner::with_seed(9);
    let first = p.partition("t", None, 6, &[0, 1, 2, 3, 4, 5]);
    let without: Vec<i32> = (0..6).filter(|&q| q != first).collect();
    let moved = p.partition("t", None, 6, &without);
    assert_ne!(moved, first);
    assert!(without.contains(&moved));
    assert_eq!(p.partition("t", None, 6, &without), moved);
}

#[test]
fn topics_are_independent_and_seeds_reproducible() {
    let a = DefaultPartitioner::with_seed(11);
    let b = DefaultPartitioner::with_seed(11);
    let run = |p: &DefaultPartitioner| -> Vec<i32> {
        (0..50)
            .map(|i| {
                let topic = if i % 2 == 0 { "x" } else { "y" };
                let chosen = p.partition(topic, None, 9, &[]);
                if i % 3 == 0 {
                    p.on_new_batch(topic, chosen);
                }
                chosen
            })
            .collect()
    };
    assert_eq!(run(&a), run(&b));
    let p = DefaultPartitioner::new();
    let x = p.partition("x", None, 9, &[]);
    p.on_new_batch("y", x);
    assert_eq!(p.partition("x", None, 9, &[]), x);
}

#[test]
fn round_robin_cycles_null_keys_over_available_partitions() {
    let p = RoundRobinPartitioner::new();
    let got: Vec<i32> = (0..7)
        .map(|_| p.partition("t", None, 6, &[4, 1, 5]))
        .collect();
    assert_eq!(got, [4, 1, 5, 4, 1, 5, 4]);
    let got: Vec<i32> = (0..4).map(|_| p.partition("u", None, 3, &[])).collect();
    assert_eq!(got, [0, 1, 2, 0]);
    assert_eq!(p.partition("t", Some(b"foobar"), 12, &[4]), 6);
}

#[test]
fn rng_below_stays_in_range() {
    let mut rng = XorShift64::new(0);
    for n in 1..50 {
        for _ in 0..20 {
            assert!(rng.below(n) < n);
        }
    }
}

proptest::proptest! {
    #[test]
    fn partition_for_key_is_in_range(key: Vec<u8>, count in 1i32..10_000) {
        let p = partition_for_key(&key, count);
        proptest::prop_assert!((0..count).contains(&p));
        proptest::prop_assert_eq!(p, to_positive(murmur2(&key)) % count);
    }
}
