//! Replays the fuzz inputs through the fuzz targets' own entry points
//! (`fuzz/entry.rs`): every crash input kept under `fuzz/regressions/<target>/`
//! and the committed seed corpus under `fuzz/seeds/<target>/`. None may panic.

#[path = "../fuzz/entry.rs"]
mod entry;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use kafkit::protocol::messages::any::{AnyRequest, AnyResponse, APIS};

/// A fuzz target's entry point.
type Entry = fn(&[u8]);

/// Every fuzz target and its entry point.
const TARGETS: &[(&str, Entry)] = &[
    ("frame_response", entry::frame_response),
    ("request", entry::request),
    ("consumer_protocol", entry::consumer_protocol),
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
        let [api, selector, 0, frame @ ..] = &data[..] else {
            panic!("{}: not an unframed response seed", path.display());
        };
        let api = &APIS[usize::from(*api)];
        let version = api.response_versions.min - 1 + i16::from(*selector);
        let frame = Bytes::copy_from_slice(frame);
        let decoded = AnyResponse::decode_frame_strict(api.api_key, version, frame);
        assert!(decoded.is_ok(), "{}: {decoded:?}", path.display());
    }
}
