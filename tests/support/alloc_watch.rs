//! For the hostile-broker tests (included with `#[path]`, never through
//! `support/mod.rs`, as it installs the process's global allocator): a
//! counting allocator that records the largest single allocation, and a
//! panic hook that counts panics on tokio worker threads (kafkit's tasks).

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Largest single allocation of the process.
pub static LARGEST: AtomicUsize = AtomicUsize::new(0);
/// Panics on tokio worker threads (kafkit's tasks).
pub static TASK_PANICS: AtomicUsize = AtomicUsize::new(0);

struct Counting;

// SAFETY: forwards to `System` unchanged; only records sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) }
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(p, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Installs the panic hook that counts panics on tokio worker threads
/// (once per process; later calls do nothing).
pub fn count_task_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let worker = std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with("tokio-runtime-worker"));
            if worker {
                TASK_PANICS.fetch_add(1, Ordering::AcqRel);
            }
            default(info);
        }));
    });
}
