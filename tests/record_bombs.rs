//! Decompression bombs: a batch whose one record holds 100 MiB of zeros,
//! compressed with each codec, must fail under a 1 MiB limit with
//! `DecompressedTooLarge` — and without allocating anything near 100 MiB.
//!
//! A counting global allocator (this test binary only) records the peak of
//! live heap bytes on the decoding thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::{Bytes, BytesMut};
use kafkit::protocol::record::{
    BatchAttributes, BatchHeader, BatchView, Compression, DecodeOptions, Record, RecordBatch,
};
use kafkit::protocol::ProtocolError;

struct PeakTracking;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grew(n: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + n;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn shrank(n: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(n)));
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are added.
unsafe impl GlobalAlloc for PeakTracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            // Old and new block may both be live while the data moves.
            grew(new_size);
            shrank(layout.size());
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: PeakTracking = PeakTracking;

/// Runs `f` and returns its result and the peak of extra live heap bytes.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let result = f();
    (result, PEAK.with(Cell::get) - base)
}

const BOMB: usize = 100 << 20;
const LIMIT: usize = 1 << 20;

fn bomb(codec: Compression, zeros: &Bytes) -> Bytes {
    let batch = RecordBatch {
        header: BatchHeader {
            attributes: BatchAttributes {
                compression: codec,
                ..BatchAttributes::default()
            },
            ..BatchHeader::default()
        },
        records: vec![Record {
            value: Some(zeros.clone()),
            ..Record::default()
        }],
    };
    let mut buf = BytesMut::new();
    batch.encode(&mut buf).expect("encode bomb");
    buf.freeze()
}

#[test]
fn bombs_fail_without_inflating() {
    let zeros = Bytes::from(vec![0u8; BOMB]);
    let options = DecodeOptions::default().with_max_decompressed_size(LIMIT);
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        if !codec.is_enabled() {
            continue;
        }
        let bytes = bomb(codec, &zeros);
        assert!(bytes.len() < BOMB / 10, "{codec:?} did not compress");
        let (result, peak) = peak_during(|| BatchView::decode(bytes.clone(), &options));
        assert_eq!(
            result,
            Err(ProtocolError::DecompressedTooLarge { limit: LIMIT }),
            "{codec:?}"
        );
        eprintln!(
            "{codec:?}: {} compressed bytes, decode peak {peak} bytes",
            bytes.len()
        );
        assert!(peak < 4 * LIMIT, "{codec:?} peaked at {peak} bytes");
    }
}
