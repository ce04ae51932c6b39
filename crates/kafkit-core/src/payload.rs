//! Typed record payloads: a [`Serializer`] turns a value into a record's
//! bytes, a [`Deserializer`] turns them back. Implement the pair for any
//! format (Avro, Protobuf, MessagePack, ...); with the `serde` feature,
//! `Json` implements both for every `serde` type, and the producer's
//! `ProducerRecord::json` and the consumer's `ConsumerRecord::json` (in
//! `kafkit`) use it.
//!
//! A failure is a [`PayloadError`], never a panic.

use bytes::Bytes;

/// A boxed error from a format's library.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a payload could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The value could not be written in the format.
    #[error("cannot encode the payload: {0}")]
    Encode(#[source] BoxError),
    /// The bytes are not a valid value of the type in the format.
    #[error("cannot decode the payload: {0}")]
    Decode(#[source] BoxError),
    /// The record has no value (or key) to decode: it is null.
    #[error("cannot decode the payload: it is null")]
    Null,
}

/// Writes values of `T` as record bytes.
pub trait Serializer<T: ?Sized> {
    /// The bytes for `value`.
    fn serialize(&self, value: &T) -> Result<Bytes, PayloadError>;
}

/// Reads values of `T` from record bytes.
pub trait Deserializer<T> {
    /// The value `bytes` hold.
    fn deserialize(&self, bytes: &[u8]) -> Result<T, PayloadError>;
}

/// JSON through `serde_json`, for every `Serialize` / `DeserializeOwned` type.
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json;

#[cfg(feature = "serde")]
impl<T: serde::Serialize + ?Sized> Serializer<T> for Json {
    fn serialize(&self, value: &T) -> Result<Bytes, PayloadError> {
        serde_json::to_vec(value)
            .map(Bytes::from)
            .map_err(|e| PayloadError::Encode(Box::new(e)))
    }
}

#[cfg(feature = "serde")]
impl<T: serde::de::DeserializeOwned> Deserializer<T> for Json {
    fn deserialize(&self, bytes: &[u8]) -> Result<T, PayloadError> {
        serde_json::from_slice(bytes).map_err(|e| PayloadError::Decode(Box::new(e)))
    }
}

/// Decodes an optional payload (a record's key or value) with `de`.
pub fn decode<T, D: Deserializer<T> + ?Sized>(
    de: &D,
    bytes: Option<&[u8]>,
) -> Result<T, PayloadError> {
    de.deserialize(bytes.ok_or(PayloadError::Null)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A format of our own: a big-endian u32.
    struct U32;

    impl Serializer<u32> for U32 {
        fn serialize(&self, value: &u32) -> Result<Bytes, PayloadError> {
            Ok(Bytes::copy_from_slice(&value.to_be_bytes()))
        }
    }

    impl Deserializer<u32> for U32 {
        fn deserialize(&self, bytes: &[u8]) -> Result<u32, PayloadError> {
            let raw: [u8; 4] = bytes
                .try_into()
                .map_err(|e: std::array::TryFromSliceError| PayloadError::Decode(Box::new(e)))?;
            Ok(u32::from_be_bytes(raw))
        }
    }

    #[test]
    fn a_format_of_ones_own_round_trips_and_fails_cleanly() {
        let bytes = U32.serialize(&7).unwrap();
        assert_eq!(decode(&U32, Some(&bytes[..])).unwrap(), 7);
        assert!(matches!(
            decode(&U32, Some(&b"abc"[..])),
            Err(PayloadError::Decode(_))
        ));
        assert!(matches!(
            decode::<u32, _>(&U32, None),
            Err(PayloadError::Null)
        ));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn json_round_trips_and_reports_bad_input() {
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        struct Order {
            id: u64,
            items: Vec<String>,
        }
        let order = Order {
            id: 9,
            items: vec!["tea".into()],
        };
        let bytes = Json.serialize(&order).unwrap();
        assert_eq!(&bytes[..], br#"{"id":9,"items":["tea"]}"#);
        assert_eq!(decode::<Order, _>(&Json, Some(&bytes[..])).unwrap(), order);
        let err = decode::<Order, _>(&Json, Some(&br#"{"id":"nine"}"#[..])).unwrap_err();
        assert!(matches!(err, PayloadError::Decode(_)));
        assert!(
            err.to_string()
                .starts_with("cannot decode the payload: invalid type"),
            "{err}"
        );
        // Map keys that are not strings cannot be JSON: an error, not a panic.
        let mut odd = std::collections::HashMap::new();
        odd.insert(vec![1u8], 1);
        assert!(matches!(Json.serialize(&odd), Err(PayloadError::Encode(_))));
    }
}
