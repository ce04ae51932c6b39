//! Test-only cross-check against an independent implementation.
//!
//! The `kafka-protocol` crate (a dev-dependency, generated from the same
//! upstream schemas by other people) decodes what kafkit encoded and encodes
//! it again; the bytes must not change. This catches a field written in the
//! wrong order or at the wrong version, which a self round trip cannot see.
//! It only covers the versions that crate still implements.

use bytes::BytesMut;
use kafka_protocol::protocol::{Decodable, Encodable};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::protocol::{Message, Writer};

/// Encodes `msg` leniently at `version`, decodes it with `K` from
/// `kafka-protocol`, re-encodes that and checks the bytes are identical.
pub(crate) fn check_against<K, M>(msg: &M, version: i16) -> Result<(), TestCaseError>
where
    K: Encodable + Decodable,
    M: Message,
{
    let mut ours = BytesMut::new();
    msg.encode_body(&mut Writer::lenient(
        &mut ours,
        M::is_flexible(version),
        version,
    ))
    .map_err(|e| TestCaseError::fail(format!("kafkit encode v{version}: {e}")))?;
    let ours = ours.freeze();
    let mut input = ours.clone();
    let theirs = K::decode(&mut input, version)
        .map_err(|e| TestCaseError::fail(format!("kafka-protocol decode v{version}: {e}")))?;
    prop_assert!(
        input.is_empty(),
        "kafka-protocol left bytes at v{}",
        version
    );
    let mut again = BytesMut::new();
    theirs
        .encode(&mut again, version)
        .map_err(|e| TestCaseError::fail(format!("kafka-protocol encode v{version}: {e}")))?;
    prop_assert_eq!(&ours[..], &again[..], "bytes differ at v{}", version);
    Ok(())
}
