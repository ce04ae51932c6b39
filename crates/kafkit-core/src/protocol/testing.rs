//! Test helpers shared by the message modules: strategies and the round-trip check.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::message::Message;
use super::tagged::TaggedFields;
use super::uuid::Uuid;
use super::writer::Writer;

/// Arbitrary byte strings (kept short).
pub fn bytes() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

/// Arbitrary nullable byte strings.
#[allow(dead_code)]
pub fn opt_bytes() -> impl Strategy<Value = Option<Bytes>> {
    proptest::option::of(bytes())
}

/// Arbitrary UUIDs.
pub fn uuid() -> impl Strategy<Value = Uuid> {
    any::<[u8; 16]>().prop_map(Uuid)
}

/// Unknown tagged fields with tags no spec uses (>= 1000), sorted and unique
/// as an encoder writes them.
pub fn tagged() -> impl Strategy<Value = TaggedFields> {
    proptest::collection::btree_map(1000u32..1100, bytes(), 0..3)
        .prop_map(|m| TaggedFields(m.into_iter().collect()))
}

/// Short vectors of any element strategy.
pub fn vec_of<S: Strategy>(s: S) -> impl Strategy<Value = Vec<S::Value>> {
    proptest::collection::vec(s, 0..4)
}

/// The round-trip property every message must hold at every version.
///
/// 1. Encode `msg` leniently (dropping fields the version lacks) → `b1`.
/// 2. Decode `b1` → `m2`; encode `m2` strictly → must succeed and equal `b1`.
/// 3. If `msg` itself encodes strictly at this version, decoding must give
///    back exactly `msg` (nothing present at the version was lost).
pub fn check_roundtrip<M>(msg: &M, version: i16) -> Result<(), TestCaseError>
where
    M: Message + PartialEq + std::fmt::Debug,
{
    let flexible = M::is_flexible(version);
    let mut b1 = BytesMut::new();
    msg.encode_body(&mut Writer::lenient(&mut b1, flexible, version))
        .map_err(|e| TestCaseError::fail(format!("lenient encode v{version}: {e}")))?;
    let b1 = b1.freeze();
    let m2 = M::decode(b1.clone(), version)
        .map_err(|e| TestCaseError::fail(format!("decode v{version}: {e}")))?;
    let mut b2 = BytesMut::new();
    m2.encode(version, &mut b2)
        .map_err(|e| TestCaseError::fail(format!("strict re-encode v{version}: {e}")))?;
    prop_assert_eq!(
        &b1[..],
        &b2[..],
        "re-encoding changed the bytes at v{}",
        version
    );
    let mut strict = BytesMut::new();
    let mut w = Writer::new(&mut strict, flexible, version);
    if msg.encode_body(&mut w).is_ok() && !w.dropped_fields() {
        prop_assert_eq!(&strict[..], &b1[..]);
        prop_assert_eq!(&m2, msg, "fields lost at v{}", version);
    }
    Ok(())
}

/// Short vectors of an `Arbitrary` type (0..4 elements, to keep nesting cheap).
pub fn list<T: Arbitrary>() -> impl Strategy<Value = Vec<T>> {
    vec_of(any::<T>())
}

impl Arbitrary for super::error_code::ErrorCode {
    type Parameters = ();
    type Strategy = BoxedStrategy<Self>;

    fn arbitrary_with(_: ()) -> Self::Strategy {
        any::<i16>().prop_map(Self).boxed()
    }
}

impl Arbitrary for Uuid {
    type Parameters = ();
    type Strategy = BoxedStrategy<Self>;

    fn arbitrary_with(_: ()) -> Self::Strategy {
        uuid().boxed()
    }
}

impl Arbitrary for TaggedFields {
    type Parameters = ();
    type Strategy = BoxedStrategy<Self>;

    fn arbitrary_with(_: ()) -> Self::Strategy {
        tagged().boxed()
    }
}

/// `msg` encoded strictly at `version` (panics in tests if it cannot be).
pub fn encoded<M: Message>(msg: &M, version: i16) -> Vec<u8> {
    let mut buf = BytesMut::new();
    msg.encode(version, &mut buf).expect("encode");
    buf.to_vec()
}

/// Hostile-input checks on a valid body of `M` at `version`: every strict
/// prefix fails to decode (never panics), and every single-byte change
/// (0x00, 0x7f, 0xff at each position: huge counts, nulls, negative
/// lengths) either fails or decodes to something that re-encodes.
pub fn check_hostile<M: Message + std::fmt::Debug>(wire: &[u8], version: i16) {
    assert!(M::decode(Bytes::copy_from_slice(wire), version).is_ok());
    for cut in 0..wire.len() {
        let prefix = Bytes::copy_from_slice(wire.get(..cut).unwrap_or_default());
        assert!(
            M::decode(prefix, version).is_err(),
            "a body cut to {cut} of {} bytes decoded at v{version}",
            wire.len()
        );
    }
    for at in 0..wire.len() {
        for byte in [0x00, 0x7f, 0xff] {
            let mut bent = wire.to_vec();
            if let Some(b) = bent.get_mut(at) {
                *b = byte;
            }
            if let Ok(m) = M::decode(Bytes::from(bent), version) {
                let mut again = BytesMut::new();
                m.encode(version, &mut again)
                    .expect("a decoded body re-encodes");
            }
        }
    }
}
