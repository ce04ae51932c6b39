//! Fuzz target `txn_response`: see `fuzz/entry.rs` for what it decodes and checks.
#![no_main]

#[path = "../entry.rs"]
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entry::txn_response(data));
