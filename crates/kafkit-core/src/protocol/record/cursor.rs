//! Varints and lengths over a borrowed slice: the record decoding hot path.
//!
//! [`Cursor`] works on `&[u8]` with a position instead of consuming a
//! `Bytes`, so parsing a record costs no reference-count traffic; fields that
//! end up in a record are returned as ranges and sliced out of the owning
//! `Bytes` once. The varint helpers for encoding live here too.
//!
//! Spec: <https://kafka.apache.org/documentation/#record> (zigzag varints as
//! in protobuf).

use std::ops::Range;

use bytes::BufMut;

use crate::protocol::error::{ProtocolError, Result};

/// A forward-only reader over a slice; positions index the slice.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// Reads `buf` from `pos`.
    #[inline]
    pub(crate) fn new(buf: &'a [u8], pos: usize) -> Self {
        Self { buf, pos }
    }

    /// The current position.
    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left after the current position.
    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// A cursor over the next `len` bytes only, advancing this one past them.
    #[inline]
    pub(crate) fn sub(&mut self, len: usize) -> Result<Cursor<'a>> {
        let range = self.range(len)?;
        let buf = self
            .buf
            .get(..range.end)
            .ok_or(ProtocolError::UnexpectedEof {
                needed: len,
                remaining: 0,
            })?;
        Ok(Cursor {
            buf,
            pos: range.start,
        })
    }

    /// Reads one byte.
    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8> {
        let byte = *self.buf.get(self.pos).ok_or(ProtocolError::UnexpectedEof {
            needed: 1,
            remaining: 0,
        })?;
        self.pos += 1;
        Ok(byte)
    }

    /// Reads `N` bytes.
    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let range = self.range(N)?;
        let bytes = self.slice(range)?;
        <[u8; N]>::try_from(bytes).map_err(|_| ProtocolError::UnexpectedEof {
            needed: N,
            remaining: bytes.len(),
        })
    }

    /// Reads a big-endian `int16`.
    #[inline]
    pub(crate) fn i16(&mut self) -> Result<i16> {
        self.array().map(i16::from_be_bytes)
    }

    /// Reads a big-endian `int32`.
    #[inline]
    pub(crate) fn i32(&mut self) -> Result<i32> {
        self.array().map(i32::from_be_bytes)
    }

    /// Reads a big-endian `int64`.
    #[inline]
    pub(crate) fn i64(&mut self) -> Result<i64> {
        self.array().map(i64::from_be_bytes)
    }

    /// Reads an unsigned LEB128 varint of at most `max_bytes` bytes.
    ///
    /// One- and two-byte varints (every length and delta of a typical
    /// record) take the inline path.
    #[inline(always)]
    fn uvarint(&mut self, max_bytes: u32) -> Result<u64> {
        match self.buf.get(self.pos..) {
            Some([b0, ..]) if *b0 < 0x80 => {
                self.pos += 1;
                Ok(u64::from(*b0))
            }
            Some([b0, b1, ..]) if *b1 < 0x80 => {
                self.pos += 2;
                Ok(u64::from(*b0 & 0x7f) | (u64::from(*b1) << 7))
            }
            _ => self.uvarint_slow(max_bytes),
        }
    }

    #[cold]
    #[inline(never)]
    fn uvarint_slow(&mut self, max_bytes: u32) -> Result<u64> {
        let mut value = 0u64;
        for i in 0..max_bytes {
            let byte = self.u8()?;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(ProtocolError::VarintOverflow)
    }

    /// Reads a zigzag `varint` (at most 5 bytes, 32 bits).
    #[inline(always)]
    pub(crate) fn varint(&mut self) -> Result<i32> {
        let raw = u32::try_from(self.uvarint(5)?).map_err(|_| ProtocolError::VarintOverflow)?;
        Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
    }

    /// Reads a zigzag `varlong` (at most 10 bytes).
    #[inline(always)]
    pub(crate) fn varlong(&mut self) -> Result<i64> {
        let raw = self.uvarint(10)?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    /// Reads a non-negative varint length or count.
    #[inline]
    pub(crate) fn length(&mut self) -> Result<usize> {
        let len = self.varint()?;
        usize::try_from(len).map_err(|_| ProtocolError::InvalidLength(i64::from(len)))
    }

    /// Checks that `len` bytes remain and returns their range, advancing past them.
    #[inline]
    pub(crate) fn range(&mut self, len: usize) -> Result<Range<usize>> {
        if len > self.remaining() {
            return Err(ProtocolError::LengthExceedsInput {
                len,
                remaining: self.remaining(),
            });
        }
        let start = self.pos;
        self.pos += len;
        Ok(start..self.pos)
    }

    /// Reads varint-length-prefixed bytes where -1 means null; returns their range.
    #[inline]
    pub(crate) fn nullable_range(&mut self) -> Result<Option<Range<usize>>> {
        match self.varint()? {
            -1 => Ok(None),
            len => {
                let len = usize::try_from(len)
                    .map_err(|_| ProtocolError::InvalidLength(i64::from(len)))?;
                self.range(len).map(Some)
            }
        }
    }

    /// The bytes of a range previously returned by this cursor.
    #[inline]
    pub(crate) fn slice(&self, range: Range<usize>) -> Result<&'a [u8]> {
        let len = range.len();
        self.buf.get(range).ok_or(ProtocolError::UnexpectedEof {
            needed: len,
            remaining: 0,
        })
    }
}

/// Zigzag-encodes a 32-bit value.
#[inline]
pub(crate) fn zigzag32(v: i32) -> u64 {
    u64::from(((v << 1) ^ (v >> 31)) as u32)
}

/// Zigzag-encodes a 64-bit value.
#[inline]
pub(crate) fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Encoded size of an unsigned varint.
#[inline]
pub(crate) fn uvarint_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros();
    bits.div_ceil(7) as usize
}

/// Writes an unsigned varint.
#[inline]
pub(crate) fn put_uvarint(buf: &mut impl BufMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Small fields gathered on the stack so they reach a `BytesMut` in one
/// copy: `put_u8` on a `BytesMut` is a call to `memcpy` per byte.
/// `N` must hold everything pushed (callers size it for the worst case);
/// bytes beyond it would be dropped.
#[derive(Debug)]
pub(crate) struct Gather<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Gather<N> {
    #[inline]
    pub(crate) fn new() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
        }
    }

    #[inline]
    pub(crate) fn u8(&mut self, b: u8) {
        debug_assert!(self.len < N, "Gather<{N}> overflow");
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    /// An unsigned varint (at most 10 bytes).
    #[inline]
    pub(crate) fn uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.u8((v as u8) | 0x80);
            v >>= 7;
        }
        self.u8(v as u8);
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// Converts a length to the `i32` a record field carries.
#[inline]
pub(crate) fn len_i32(len: usize, what: &'static str) -> Result<i32> {
    i32::try_from(len).map_err(|_| ProtocolError::ValueTooLarge(what))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Reader, Writer};
    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varints_agree_with_reader_and_writer(a in any::<i32>(), b in any::<i64>()) {
            let mut buf = BytesMut::new();
            put_uvarint(&mut buf, zigzag32(a));
            put_uvarint(&mut buf, zigzag64(b));
            prop_assert_eq!(buf.len(), uvarint_len(zigzag32(a)) + uvarint_len(zigzag64(b)));
            let mut expected = BytesMut::new();
            let mut w = Writer::new(&mut expected, false, 0);
            w.varint(a);
            w.varlong(b);
            prop_assert_eq!(&buf[..], &expected[..]);
            let mut c = Cursor::new(&buf, 0);
            prop_assert_eq!(c.varint().unwrap(), a);
            prop_assert_eq!(c.varlong().unwrap(), b);
            prop_assert_eq!(c.remaining(), 0);
            let mut r = Reader::new(Bytes::from(buf.to_vec()), false);
            prop_assert_eq!(r.varint().unwrap(), a);
        }
    }

    #[test]
    fn overlong_and_truncated_varints_fail() {
        let overlong = [0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(
            Cursor::new(&overlong, 0).varint(),
            Err(ProtocolError::VarintOverflow)
        );
        // Five bytes carrying more than 32 bits.
        let wide = [0xff, 0xff, 0xff, 0xff, 0x7f];
        assert_eq!(
            Cursor::new(&wide, 0).varint(),
            Err(ProtocolError::VarintOverflow)
        );
        assert!(matches!(
            Cursor::new(&[0x80], 0).varlong(),
            Err(ProtocolError::UnexpectedEof { .. })
        ));
        assert_eq!(uvarint_len(0), 1);
        assert_eq!(uvarint_len(127), 1);
        assert_eq!(uvarint_len(128), 2);
        assert_eq!(uvarint_len(u64::MAX), 10);
    }

    #[test]
    fn lengths_are_checked_against_the_input() {
        // varint 3 (zigzag 6), then only two bytes.
        let mut c = Cursor::new(&[6, 1, 2], 0);
        assert_eq!(
            c.nullable_range(),
            Err(ProtocolError::LengthExceedsInput {
                len: 3,
                remaining: 2
            })
        );
        // -2 (zigzag 3) is not a valid length.
        assert_eq!(
            Cursor::new(&[3], 0).nullable_range(),
            Err(ProtocolError::InvalidLength(-2))
        );
        assert_eq!(Cursor::new(&[1], 0).nullable_range(), Ok(None));
    }
}
