//! Decoding primitives over [`Bytes`].
//!
//! A [`Reader`] consumes a `Bytes` buffer front to back. Every length and
//! element count read from the wire is checked against the bytes that remain
//! before anything is allocated, so hostile input can never make a decoder
//! reserve more memory than it was given. Byte fields are returned as
//! zero-copy slices of the input.
//!
//! Spec: <https://kafka.apache.org/protocol#protocol_types>

use bytes::{Buf, Bytes};

use super::error::{ProtocolError, Result};
use super::tagged::TaggedFields;
use super::uuid::Uuid;

/// A cursor over wire bytes that knows whether it decodes a flexible version.
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
    flexible: bool,
}

impl Reader {
    /// Starts reading `buf`; `flexible` selects compact strings, arrays and tagged fields.
    pub fn new(buf: Bytes, flexible: bool) -> Self {
        Self { buf, flexible }
    }

    /// Whether this reader decodes the flexible (compact, tagged) encoding.
    pub fn is_flexible(&self) -> bool {
        self.flexible
    }

    /// Switches between the classic and the flexible encoding.
    pub fn set_flexible(&mut self, flexible: bool) {
        self.flexible = flexible;
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Fails with [`ProtocolError::TrailingBytes`] unless every byte was consumed.
    pub fn finish(&self) -> Result<()> {
        match self.buf.len() {
            0 => Ok(()),
            n => Err(ProtocolError::TrailingBytes(n)),
        }
    }

    /// The unread bytes, consuming the reader.
    pub fn into_rest(self) -> Bytes {
        self.buf
    }

    fn need(&self, n: usize) -> Result<()> {
        if self.buf.len() < n {
            Err(ProtocolError::UnexpectedEof {
                needed: n,
                remaining: self.buf.len(),
            })
        } else {
            Ok(())
        }
    }

    /// Reads an `int8`.
    pub fn i8(&mut self) -> Result<i8> {
        self.need(1)?;
        Ok(self.buf.get_i8())
    }

    /// Reads a `uint8`.
    pub fn u8(&mut self) -> Result<u8> {
        self.need(1)?;
        Ok(self.buf.get_u8())
    }

    /// Reads a `boolean` (any non-zero byte is true).
    pub fn bool(&mut self) -> Result<bool> {
        Ok(self.u8()? != 0)
    }

    /// Reads a big-endian `int16`.
    pub fn i16(&mut self) -> Result<i16> {
        self.need(2)?;
        Ok(self.buf.get_i16())
    }

    /// Reads a big-endian `uint16`.
    pub fn u16(&mut self) -> Result<u16> {
        self.need(2)?;
        Ok(self.buf.get_u16())
    }

    /// Reads a big-endian `int32`.
    pub fn i32(&mut self) -> Result<i32> {
        self.need(4)?;
        Ok(self.buf.get_i32())
    }

    /// Reads a big-endian `uint32`.
    pub fn u32(&mut self) -> Result<u32> {
        self.need(4)?;
        Ok(self.buf.get_u32())
    }

    /// Reads a big-endian `int64`.
    pub fn i64(&mut self) -> Result<i64> {
        self.need(8)?;
        Ok(self.buf.get_i64())
    }

    /// Reads a big-endian IEEE 754 `float64`.
    pub fn f64(&mut self) -> Result<f64> {
        self.need(8)?;
        Ok(self.buf.get_f64())
    }

    /// Reads a 16-byte `uuid`.
    pub fn uuid(&mut self) -> Result<Uuid> {
        self.need(16)?;
        let mut raw = [0u8; 16];
        self.buf.copy_to_slice(&mut raw);
        Ok(Uuid(raw))
    }

    /// Reads an unsigned LEB128 varint of at most 5 bytes (`unsigned_varint`).
    pub fn uvarint(&mut self) -> Result<u32> {
        let v = self.uvarint_wide(5)?;
        u32::try_from(v).map_err(|_| ProtocolError::VarintOverflow)
    }

    /// Reads an unsigned LEB128 varint of at most 10 bytes.
    pub fn uvarlong(&mut self) -> Result<u64> {
        self.uvarint_wide(10)
    }

    fn uvarint_wide(&mut self, max_bytes: u32) -> Result<u64> {
        let mut value: u64 = 0;
        for i in 0..max_bytes {
            let byte = self.u8()?;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ProtocolError::VarintOverflow)
    }

    /// Reads a zigzag-encoded signed 32-bit `varint`.
    pub fn varint(&mut self) -> Result<i32> {
        let raw = self.uvarint()?;
        Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
    }

    /// Reads a zigzag-encoded signed 64-bit `varlong`.
    pub fn varlong(&mut self) -> Result<i64> {
        let raw = self.uvarlong()?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    /// Takes the next `n` bytes as a zero-copy slice, after checking they exist.
    pub fn take(&mut self, n: usize) -> Result<Bytes> {
        self.need(n)?;
        Ok(self.buf.split_to(n))
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.need(n)?;
        self.buf.advance(n);
        Ok(())
    }

    /// Checks that a claimed length or count fits in what remains.
    fn fits(&self, len: usize) -> Result<usize> {
        if len > self.buf.len() {
            Err(ProtocolError::LengthExceedsInput {
                len,
                remaining: self.buf.len(),
            })
        } else {
            Ok(len)
        }
    }

    /// Reads a compact length (`N+1` as unsigned varint, 0 meaning null).
    fn compact_len(&mut self) -> Result<Option<usize>> {
        match self.uvarint()? {
            0 => Ok(None),
            n => Ok(Some(self.fits((n - 1) as usize)?)),
        }
    }

    /// Reads a classic signed length where -1 means null.
    fn classic_len(&mut self, raw: i64) -> Result<Option<usize>> {
        match raw {
            -1 => Ok(None),
            n if n < 0 => Err(ProtocolError::InvalidLength(n)),
            n => Ok(Some(self.fits(n as usize)?)),
        }
    }

    fn string_len(&mut self) -> Result<Option<usize>> {
        if self.flexible {
            self.compact_len()
        } else {
            let raw = i64::from(self.i16()?);
            self.classic_len(raw)
        }
    }

    fn bytes_len(&mut self) -> Result<Option<usize>> {
        if self.flexible {
            self.compact_len()
        } else {
            let raw = i64::from(self.i32()?);
            self.classic_len(raw)
        }
    }

    fn utf8(&mut self, len: usize) -> Result<String> {
        let raw = self.take(len)?;
        std::str::from_utf8(&raw)
            .map(str::to_owned)
            .map_err(|_| ProtocolError::InvalidUtf8)
    }

    /// Reads a (compact) `string`; null is an error.
    pub fn string(&mut self) -> Result<String> {
        self.nullable_string()?.ok_or(ProtocolError::UnexpectedNull)
    }

    /// Reads a (compact) `nullable_string`.
    pub fn nullable_string(&mut self) -> Result<Option<String>> {
        match self.string_len()? {
            None => Ok(None),
            Some(len) => self.utf8(len).map(Some),
        }
    }

    /// Reads (compact) `bytes`; null is an error.
    pub fn bytes(&mut self) -> Result<Bytes> {
        self.nullable_bytes()?.ok_or(ProtocolError::UnexpectedNull)
    }

    /// Reads (compact) `nullable_bytes`, also used for `records` fields.
    pub fn nullable_bytes(&mut self) -> Result<Option<Bytes>> {
        match self.bytes_len()? {
            None => Ok(None),
            Some(len) => self.take(len).map(Some),
        }
    }

    fn array_len(&mut self) -> Result<Option<usize>> {
        if self.flexible {
            self.compact_len()
        } else {
            let raw = i64::from(self.i32()?);
            self.classic_len(raw)
        }
    }

    /// Reads a (compact) array, decoding each element with `element`; null is an error.
    ///
    /// The count is checked against the remaining bytes (every element takes
    /// at least one byte) before any memory is reserved.
    pub fn array<T>(&mut self, element: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        self.nullable_array(element)?
            .ok_or(ProtocolError::UnexpectedNull)
    }

    /// Reads a (compact) nullable array.
    pub fn nullable_array<T>(
        &mut self,
        mut element: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Option<Vec<T>>> {
        let Some(count) = self.array_len()? else {
            return Ok(None);
        };
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(element(self)?);
        }
        Ok(Some(items))
    }

    /// Reads an array of `int32` (a common shape: partition ids, replicas).
    pub fn i32_array(&mut self) -> Result<Vec<i32>> {
        self.array(Self::i32)
    }

    /// Reads a tagged-field section.
    ///
    /// `known` is called with a reader positioned on a field's bytes; it
    /// returns `Ok(false)` for tags it does not know, which are then kept
    /// verbatim in the returned [`TaggedFields`] so they can be written back.
    /// Returns an empty set without reading when the reader is not flexible.
    pub fn tagged_fields(
        &mut self,
        mut known: impl FnMut(u32, &mut Reader) -> Result<bool>,
    ) -> Result<TaggedFields> {
        let mut unknown = TaggedFields::default();
        if !self.flexible {
            return Ok(unknown);
        }
        let count = self.uvarint()? as usize;
        self.fits(count)?;
        for _ in 0..count {
            let tag = self.uvarint()?;
            let size = self.uvarint()? as usize;
            let data = self.take(size)?;
            let mut field = Reader::new(data.clone(), true);
            if !known(tag, &mut field)? {
                unknown.push(tag, data);
            }
        }
        // Keep them in the ascending order they are written in, so that a
        // section a peer sent out of order decodes to what re-encodes to it
        // (a stable sort: repeated tags keep their order; O(n log n), as the
        // count is bounded only by the frame size).
        unknown.0.sort_by_key(|(tag, _)| *tag);
        Ok(unknown)
    }

    /// Reads a tagged-field section keeping every field as unknown.
    pub fn unknown_tagged_fields(&mut self) -> Result<TaggedFields> {
        self.tagged_fields(|_, _| Ok(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_tags_read_out_of_order_are_kept_in_ascending_order() {
        // Three fields: tag 1008 (3 bytes), tag 0 (empty), tag 1008 again (1 byte).
        let section = [3, 0xf0, 0x07, 3, 1, 2, 3, 0, 0, 0xf0, 0x07, 1, 9];
        let mut r = Reader::new(Bytes::copy_from_slice(&section), true);
        let tags = r.unknown_tagged_fields().expect("decodes");
        let order: Vec<(u32, &[u8])> = tags.0.iter().map(|(t, d)| (*t, &d[..])).collect();
        assert_eq!(
            order,
            [(0, &[][..]), (1008, &[1, 2, 3][..]), (1008, &[9][..])]
        );
        assert_eq!(r.remaining(), 0);
    }
}
