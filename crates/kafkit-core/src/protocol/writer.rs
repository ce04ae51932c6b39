//! Encoding primitives into a [`BytesMut`].
//!
//! A [`Writer`] knows the version being encoded and whether it is flexible,
//! so message code reads like the spec: `w.string(&self.topic)?` picks the
//! compact or classic form by itself.
//!
//! Spec: <https://kafka.apache.org/protocol#protocol_types>

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{ProtocolError, Result};
use super::uuid::Uuid;

/// Record data at least this long is shared, not copied, by a
/// [`Writer::sharing`] writer.
pub const SHARE_MIN: usize = 1024;

/// Appends wire values to a buffer.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut BytesMut,
    flexible: bool,
    version: i16,
    strict: bool,
    dropped: bool,
    shared: Option<&'a mut Vec<(usize, Bytes)>>,
}

impl<'a> Writer<'a> {
    /// Writes into `buf` for `version`; `flexible` selects compact encodings.
    pub fn new(buf: &'a mut BytesMut, flexible: bool, version: i16) -> Self {
        Self {
            buf,
            flexible,
            version,
            strict: true,
            dropped: false,
            shared: None,
        }
    }

    /// A writer that leaves record data of [`SHARE_MIN`] bytes or more out
    /// of `buf` (see [`Writer::records`]): each such field is pushed on
    /// `shared` with the length of `buf` where it belongs, so a frame can go
    /// out as a list of chunks without copying the records.
    pub fn sharing(
        buf: &'a mut BytesMut,
        flexible: bool,
        version: i16,
        shared: &'a mut Vec<(usize, Bytes)>,
    ) -> Self {
        Self {
            shared: Some(shared),
            ..Self::new(buf, flexible, version)
        }
    }

    /// A writer that silently drops non-default fields a version lacks
    /// instead of failing (used by tests to normalise generated messages).
    pub fn lenient(buf: &'a mut BytesMut, flexible: bool, version: i16) -> Self {
        Self {
            strict: false,
            ..Self::new(buf, flexible, version)
        }
    }

    /// Whether a non-default value was dropped because the version lacks its field.
    pub fn dropped_fields(&self) -> bool {
        self.dropped
    }

    /// Whether absent non-default fields are errors (the default).
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// The version being encoded.
    pub fn version(&self) -> i16 {
        self.version
    }

    /// Whether this writer produces the flexible encoding.
    pub fn is_flexible(&self) -> bool {
        self.flexible
    }

    /// Switches between the classic and the flexible encoding.
    pub fn set_flexible(&mut self, flexible: bool) {
        self.flexible = flexible;
    }

    /// Bytes written to the underlying buffer so far (including earlier content).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether the underlying buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The underlying buffer, for patching lengths written earlier.
    pub fn buf_mut(&mut self) -> &mut BytesMut {
        self.buf
    }

    /// Fails if a field absent at this version holds a non-default value.
    ///
    /// Fields the spec marks ignorable are silently dropped instead, as the
    /// Java client does; pass `ignorable = true` for those.
    pub fn absent(&mut self, field: &'static str, is_default: bool, ignorable: bool) -> Result<()> {
        if is_default {
            Ok(())
        } else if ignorable || !self.strict {
            self.dropped = true;
            Ok(())
        } else {
            Err(ProtocolError::FieldNotSupported {
                field,
                version: self.version,
            })
        }
    }

    /// Checks a null for a field that is nullable only from some version on.
    ///
    /// Returns `Ok(true)` when the value may be written as null; a strict
    /// writer fails otherwise, a lenient one returns `Ok(false)` so the caller
    /// writes the empty value instead.
    pub fn null_allowed(&self, field: &'static str, nullable_here: bool) -> Result<bool> {
        if nullable_here {
            Ok(true)
        } else if self.strict {
            Err(ProtocolError::FieldNotSupported {
                field,
                version: self.version,
            })
        } else {
            Ok(false)
        }
    }

    /// Writes an `int8`.
    pub fn i8(&mut self, v: i8) {
        self.buf.put_i8(v);
    }

    /// Writes a `uint8`.
    pub fn u8(&mut self, v: u8) {
        self.buf.put_u8(v);
    }

    /// Writes a `boolean`.
    pub fn bool(&mut self, v: bool) {
        self.buf.put_u8(u8::from(v));
    }

    /// Writes an `int16`.
    pub fn i16(&mut self, v: i16) {
        self.buf.put_i16(v);
    }

    /// Writes a `uint16`.
    pub fn u16(&mut self, v: u16) {
        self.buf.put_u16(v);
    }

    /// Writes an `int32`.
    pub fn i32(&mut self, v: i32) {
        self.buf.put_i32(v);
    }

    /// Writes a `uint32`.
    pub fn u32(&mut self, v: u32) {
        self.buf.put_u32(v);
    }

    /// Writes an `int64`.
    pub fn i64(&mut self, v: i64) {
        self.buf.put_i64(v);
    }

    /// Writes a `float64`.
    pub fn f64(&mut self, v: f64) {
        self.buf.put_f64(v);
    }

    /// Writes a `uuid`.
    pub fn uuid(&mut self, v: &Uuid) {
        self.buf.put_slice(&v.0);
    }

    /// Writes raw bytes with no length prefix.
    pub fn raw(&mut self, data: &[u8]) {
        self.buf.put_slice(data);
    }

    /// Writes an `unsigned_varint`.
    pub fn uvarint(&mut self, v: u32) {
        self.uvarlong(u64::from(v));
    }

    /// Writes an unsigned 64-bit varint.
    pub fn uvarlong(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.put_u8((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.put_u8(v as u8);
    }

    /// Writes a zigzag `varint`.
    pub fn varint(&mut self, v: i32) {
        self.uvarint(((v << 1) ^ (v >> 31)) as u32);
    }

    /// Writes a zigzag `varlong`.
    pub fn varlong(&mut self, v: i64) {
        self.uvarlong(((v << 1) ^ (v >> 63)) as u64);
    }

    fn compact_len(&mut self, len: Option<usize>, what: &'static str) -> Result<()> {
        match len {
            None => self.uvarint(0),
            Some(n) => {
                let n = u32::try_from(n)
                    .ok()
                    .and_then(|n| n.checked_add(1))
                    .ok_or(ProtocolError::ValueTooLarge(what))?;
                self.uvarint(n);
            }
        }
        Ok(())
    }

    fn string_len(&mut self, len: Option<usize>) -> Result<()> {
        if self.flexible {
            return self.compact_len(len, "string");
        }
        let raw = match len {
            None => -1,
            Some(n) => i16::try_from(n).map_err(|_| ProtocolError::ValueTooLarge("string"))?,
        };
        self.i16(raw);
        Ok(())
    }

    fn i32_len(&mut self, len: Option<usize>, what: &'static str) -> Result<()> {
        if self.flexible {
            return self.compact_len(len, what);
        }
        let raw = match len {
            None => -1,
            Some(n) => i32::try_from(n).map_err(|_| ProtocolError::ValueTooLarge(what))?,
        };
        self.i32(raw);
        Ok(())
    }

    /// Writes a (compact) `string`.
    pub fn string(&mut self, s: &str) -> Result<()> {
        self.string_len(Some(s.len()))?;
        self.raw(s.as_bytes());
        Ok(())
    }

    /// Writes a (compact) `nullable_string`.
    pub fn nullable_string(&mut self, s: Option<&str>) -> Result<()> {
        match s {
            Some(s) => self.string(s),
            None => self.string_len(None),
        }
    }

    /// Writes (compact) `bytes`.
    pub fn bytes(&mut self, b: &[u8]) -> Result<()> {
        self.i32_len(Some(b.len()), "bytes")?;
        self.raw(b);
        Ok(())
    }

    /// Writes (compact) `nullable_bytes` (also `records`).
    pub fn nullable_bytes(&mut self, b: Option<&[u8]>) -> Result<()> {
        match b {
            Some(b) => self.bytes(b),
            None => self.i32_len(None, "bytes"),
        }
    }

    /// Writes a (compact) `nullable_bytes` holding record data: like
    /// [`Writer::nullable_bytes`], except that a [`Writer::sharing`] writer
    /// writes only the length of large data and keeps a reference to it.
    pub fn records(&mut self, b: Option<&Bytes>) -> Result<()> {
        match b {
            Some(b) if b.len() >= SHARE_MIN && self.shared.is_some() => {
                self.i32_len(Some(b.len()), "bytes")?;
                let at = self.buf.len();
                if let Some(shared) = self.shared.as_deref_mut() {
                    shared.push((at, b.clone()));
                }
                Ok(())
            }
            _ => self.nullable_bytes(b.map(|b| &b[..])),
        }
    }

    /// Writes a (compact) array, encoding each element with `element`.
    pub fn array<T>(
        &mut self,
        items: &[T],
        mut element: impl FnMut(&mut Self, &T) -> Result<()>,
    ) -> Result<()> {
        self.i32_len(Some(items.len()), "array")?;
        for item in items {
            element(self, item)?;
        }
        Ok(())
    }

    /// Writes a (compact) nullable array.
    pub fn nullable_array<T>(
        &mut self,
        items: Option<&[T]>,
        element: impl FnMut(&mut Self, &T) -> Result<()>,
    ) -> Result<()> {
        match items {
            Some(items) => self.array(items, element),
            None => self.i32_len(None, "array"),
        }
    }

    /// Writes an array of `int32`.
    pub fn i32_array(&mut self, items: &[i32]) -> Result<()> {
        self.array(items, |w, v| {
            w.i32(*v);
            Ok(())
        })
    }
}
