//! One module per API key: request and response structs, their codecs and tests.
//!
//! Field docs say which versions carry each field. Fields a version lacks
//! keep their default on decode; encoding a non-default value there is an
//! error unless the spec marks the field ignorable.

pub mod any;
pub mod api_versions;
