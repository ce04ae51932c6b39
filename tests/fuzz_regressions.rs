//! Replays the fuzz inputs through the fuzz targets' own entry points
//! (`fuzz/entry.rs`): every crash input kept under `fuzz/regressions/<target>/`,
//! the committed seed corpus under `fuzz/seeds/<target>/` and the corpus the
//! last long campaign saved (minimised with `cargo fuzz cmin`) under
//! `fuzz/corpus-saved/<target>/`. None may panic.

#[path = "../fuzz/entry.rs"]
mod entry;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use kafkit::protocol::messages::any::{AnyRequest, AnyResponse};
use kafkit::protocol::record::{DecodeOptions, RecordSet};
use kafkit::protocol::ApiKey;

/// A fuzz target's entry point.
type Entry = fn(&[u8]);

/// Every fuzz target and its entry point.
const TARGETS: &[(&str, Entry)] = &[
    ("frame_response", entry::frame_response),
    ("request", entry::request),
    ("consumer_protocol", entry::consumer_protocol),
    ("record_batch", entry::record_batch),
    ("scram", entry::scram),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files directly under `dir` (none if it does not exist), sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

fn replay(kind: &str) -> usize {
    let mut replayed = 0;
    for (target, run) in TARGETS {
        for path in files(&fuzz_dir().join(kind).join(target)) {
            let data = std::fs::read(&path).expect("read input");
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{} panicked", path.display());
            replayed += 1;
        }
    }
    replayed
}

#[test]
fn crash_inputs_no_longer_panic() {
    let n = replay("regressions");
    println!("replayed {n} regression inputs");
}

#[test]
fn seed_corpus_replays_without_panic() {
    let n = replay("seeds");
    assert!(
        n >= 100,
        "only {n} seeds; regenerate with the write_fuzz_seeds test"
    );
}

#[test]
fn saved_campaign_corpus_replays_without_panic() {
    for (target, _) in TARGETS {
        let dir = fuzz_dir().join("corpus-saved").join(target);
        assert!(
            !files(&dir).is_empty(),
            "no saved corpus for {target} in {}",
            dir.display()
        );
    }
    let n = replay("corpus-saved");
    println!("replayed {n} saved corpus inputs");
}

/// The share-response seeds are `entry::share_seeds()`, written to
/// `fuzz/seeds/share_response/` when `KAFKIT_WRITE_SEEDS=1`. The target is
/// replayed here rather than through `TARGETS` (which requires a saved
/// long-campaign corpus for every target).
#[test]
fn share_seeds_are_committed_and_decode() {
    let dir = fuzz_dir().join("seeds").join("share_response");
    for (name, input) in entry::share_seeds() {
        let path = dir.join(&name);
        if std::env::var_os("KAFKIT_WRITE_SEEDS").is_some() {
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(&path, &input).expect("write seed");
        }
        let committed = std::fs::read(&path).expect("committed seed");
        assert_eq!(committed, input, "{} is stale", path.display());
        entry::share_response(&input);
    }
    // The target's own crash inputs and saved campaign corpus, when any.
    for kind in ["regressions", "corpus-saved"] {
        for path in files(&fuzz_dir().join(kind).join("share_response")) {
            let data = std::fs::read(&path).expect("read input");
            let outcome = std::panic::catch_unwind(|| entry::share_response(&data));
            assert!(outcome.is_ok(), "{} panicked", path.display());
        }
    }
}

/// The transactional-response seeds are `entry::txn_seeds()` (every
/// version of each codec), written to `fuzz/seeds/txn_response/` when
/// `KAFKIT_WRITE_SEEDS=1`; replayed here with the target's crash inputs, and
/// each seed cut short at every length must be refused, not panic.
#[test]
fn txn_seeds_are_committed_and_decode() {
    let dir = fuzz_dir().join("seeds").join("txn_response");
    for (name, input) in entry::txn_seeds() {
        let path = dir.join(&name);
        if std::env::var_os("KAFKIT_WRITE_SEEDS").is_some() {
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(&path, &input).expect("write seed");
        }
        let committed = std::fs::read(&path).expect("committed seed");
        assert_eq!(committed, input, "{} is stale", path.display());
        entry::txn_response(&input);
        for cut in 2..input.len() {
            entry::txn_response(&input[..cut]);
        }
    }
    for kind in ["regressions", "corpus-saved"] {
        for path in files(&fuzz_dir().join(kind).join("txn_response")) {
            let data = std::fs::read(&path).expect("read input");
            let outcome = std::panic::catch_unwind(|| entry::txn_response(&data));
            assert!(outcome.is_ok(), "{} panicked", path.display());
        }
    }
}

/// The seeds are valid messages, so the targets start from inputs that
/// reach deep into every codec (a codec change that breaks them shows here).
#[test]
fn seeds_decode() {
    let dir = fuzz_dir().join("seeds");
    for path in files(&dir.join("request")) {
        let data = Bytes::from(std::fs::read(&path).expect("read"));
        let decoded = AnyRequest::decode_frame(data);
        assert!(decoded.is_ok(), "{}: {decoded:?}", path.display());
    }
    for path in files(&dir.join("frame_response")) {
        let data = std::fs::read(&path).expect("read");
        let [key, version, 0, frame @ ..] = &data[..] else {
            panic!("{}: not an unframed response seed", path.display());
        };
        let key = ApiKey(i16::from(*key));
        let frame = Bytes::copy_from_slice(frame);
        let decoded = AnyResponse::decode_frame_strict(key, i16::from(*version), frame);
        assert!(decoded.is_ok(), "{}: {decoded:?}", path.display());
    }
    let options = DecodeOptions::default().with_max_decompressed_size(entry::RECORD_LIMIT);
    let record_seeds = files(&dir.join("record_batch"));
    assert!(record_seeds.len() >= 10);
    for path in record_seeds {
        let data = std::fs::read(&path).expect("read");
        let set = RecordSet::decode(Bytes::copy_from_slice(&data[1..]), &options);
        let records = set.as_ref().map(|s| {
            s.batches
                .iter()
                .flat_map(|b| b.records())
                .filter(|r| r.is_ok())
                .count()
        });
        assert!(
            matches!(records, Ok(n) if n > 0),
            "{}: {records:?} {set:?}",
            path.display()
        );
    }
}

/// A legacy (magic 0 or 1) message with its CRC-32 (IEEE).
fn legacy_message(offset: i64, magic: i8, attributes: i8, key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut body = vec![magic as u8, attributes as u8];
    if magic == 1 {
        body.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    }
    for part in [key, value] {
        body.extend_from_slice(&(part.len() as i32).to_be_bytes());
        body.extend_from_slice(part);
    }
    let mut crc = flate2::Crc::new();
    crc.update(&body);
    let mut out = offset.to_be_bytes().to_vec();
    out.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    out.extend_from_slice(&crc.sum().to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Writes the committed `record_batch` seeds: v2 batches in every codec, a
/// control batch, several batches with a truncated tail, legacy messages and
/// a gzip wrapper, plus the record sets of the golden Produce frames when
/// `protocol-specs/golden/` exists. Checks them, or rewrites them with `KAFKIT_WRITE_SEEDS=1`.
#[test]
fn write_record_batch_seeds() {
    use bytes::BytesMut;
    use kafkit::protocol::record::{
        end_txn_batch, BatchAttributes, BatchHeader, Compression, Record, RecordBatch, RecordHeader,
    };
    use std::io::Write;

    let dir = fuzz_dir().join("seeds/record_batch");
    let write = |name: &str, records: &[u8]| {
        let seed = [&[0u8][..], records].concat();
        emit_seed(&dir.join(name), &seed);
    };
    let records: Vec<Record> = (0..3)
        .map(|i| Record {
            timestamp_delta: i64::from(i) * 5,
            offset_delta: i,
            key: (i != 1).then(|| Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(format!("value {i} ").repeat(4))),
            headers: vec![RecordHeader {
                key: format!("h{i}"),
                value: (i != 2).then(|| Bytes::from_static(b"hv")),
            }],
            ..Record::default()
        })
        .collect();
    let codecs = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    let mut all = BytesMut::new();
    for codec in codecs {
        let batch = RecordBatch {
            header: BatchHeader {
                base_offset: 100,
                attributes: BatchAttributes {
                    compression: codec,
                    ..BatchAttributes::default()
                },
                last_offset_delta: 2,
                base_timestamp: 1_700_000_000_000,
                max_timestamp: 1_700_000_000_010,
                ..BatchHeader::default()
            },
            records: records.clone(),
        };
        let mut buf = BytesMut::new();
        batch.encode(&mut buf).expect("encode batch");
        write(&format!("v2-{}", codec.name()), &buf);
        all.extend_from_slice(&buf);
    }
    let mut control = BytesMut::new();
    end_txn_batch(7, 1, true, 3, 1_700_000_000_000)
        .encode(&mut control)
        .expect("control batch");
    all.extend_from_slice(&control);
    write("v2-control-commit", &control);
    let cut = all.len() - 9;
    write("v2-all-codecs-truncated", &all[..cut]);

    write("legacy-v0", &legacy_message(5, 0, 0, b"k", b"legacy zero"));
    let plain = [
        legacy_message(0, 1, 0, b"", b"one"),
        legacy_message(1, 1, 0, b"k2", b"two"),
    ]
    .concat();
    write("legacy-v1", &plain);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).expect("gzip");
    let wrapper = legacy_message(1, 1, 1, b"", &gz.finish().expect("gzip"));
    write("legacy-v1-gzip-wrapper", &wrapper);

    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol-specs/golden");
    let index = std::fs::read_to_string(golden.join("INDEX.txt")).unwrap_or_default();
    for line in index.lines().filter(|l| !l.starts_with('#')) {
        let [file, _, key, _, version, direction, ..] =
            line.split_whitespace().collect::<Vec<_>>()[..]
        else {
            continue;
        };
        let (Ok(key), Ok(version)) = (key.parse::<i16>(), version.parse::<i16>()) else {
            continue;
        };
        let Ok(frame) = std::fs::read(golden.join(file)) else {
            continue;
        };
        let body = Bytes::copy_from_slice(frame.get(4..).unwrap_or_default());
        let sets: Vec<Bytes> = match (key, direction) {
            (0, "request") => match AnyRequest::decode_frame(body) {
                Ok((_, AnyRequest::Produce(p))) => p
                    .topic_data
                    .iter()
                    .flat_map(|t| t.partition_data.iter().filter_map(|p| p.records.clone()))
                    .collect(),
                _ => Vec::new(),
            },
            (1, "response") => match AnyResponse::decode_frame(ApiKey(1), version, body) {
                Ok((_, AnyResponse::Fetch(f))) => f
                    .responses
                    .iter()
                    .flat_map(|t| t.partitions.iter().filter_map(|p| p.records.clone()))
                    .collect(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        let stem = Path::new(file)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or(file);
        for (i, set) in sets.iter().enumerate().filter(|(_, s)| !s.is_empty()) {
            write(&format!("golden-{stem}-{i}"), set);
        }
    }
}

/// Writes the committed `scram` seeds: the RFC 7677 server-first and a
/// variant with extensions (server-first mode), and the final messages of
/// the SHA-256 and SHA-512 exchanges plus a server error (server-final
/// mode). Checks them, or rewrites them with `KAFKIT_WRITE_SEEDS=1`.
#[test]
fn write_scram_seeds() {
    let dir = fuzz_dir().join("seeds/scram");
    let first = entry::SCRAM_SERVER_FIRST;
    let [sha256, sha512] = entry::SCRAM_SIGNATURES;
    let seeds = [
        ("first-rfc7677", 0u8, first.to_owned()),
        ("first-extensions", 1, format!("{first},x=1,y=2")),
        ("final-sha256", 2, format!("v={sha256}")),
        ("final-sha512", 3, format!("v={sha512},ext=1")),
        ("final-error", 2, "e=invalid-proof".to_owned()),
    ];
    for (name, flags, message) in seeds {
        emit_seed(
            &dir.join(name),
            &[&[flags][..], message.as_bytes()].concat(),
        );
    }
}

/// Writes a fuzz seed when `KAFKIT_WRITE_SEEDS=1`; otherwise checks that the
/// committed seed is exactly what the generator produces now.
fn emit_seed(path: &std::path::Path, bytes: &[u8]) {
    if std::env::var_os("KAFKIT_WRITE_SEEDS").is_some_and(|v| v == "1") {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create seed dir");
        }
        std::fs::write(path, bytes).expect("write seed");
    } else {
        let committed = std::fs::read(path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (regenerate with KAFKIT_WRITE_SEEDS=1)",
                path.display()
            )
        });
        assert!(
            committed == bytes,
            "{} is stale: regenerate with KAFKIT_WRITE_SEEDS=1",
            path.display()
        );
    }
}
