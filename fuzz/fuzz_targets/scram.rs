//! Fuzz target `scram`: see `fuzz/entry.rs` for what it parses and checks.
#![no_main]

#[path = "../entry.rs"]
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entry::scram(data));
