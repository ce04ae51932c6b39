//! Records inside a v2 batch: the owned [`Record`] that is encoded, and the
//! decoded [`RecordView`] whose key, value and header values are zero-copy
//! slices of the batch.
//!
//! ```text
//! length: varint              attributes: int8
//! timestamp_delta: varlong    offset_delta: varint
//! key_length: varint (-1 = null)    key: bytes
//! value_length: varint (-1 = null)  value: bytes
//! header_count: varint
//!   header_key_length: varint   header_key: utf-8 bytes
//!   header_value_length: varint (-1 = null)  header_value: bytes
//! ```
//!
//! Spec: KIP-98 (record format v2), KIP-82 (headers),
//! <https://kafka.apache.org/documentation/#record>.

use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};

use super::cursor::{len_i32, put_uvarint, uvarint_len, zigzag32, zigzag64, Cursor, Gather};
use crate::protocol::error::{ProtocolError, Result};

/// The smallest encoded record: seven one-byte fields (length, attributes,
/// two deltas, null key, null value, zero headers).
pub(crate) const MIN_RECORD_LEN: usize = 7;

/// A record header: a string key and a nullable value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct RecordHeader {
    /// Header key.
    pub key: String,
    /// Header value; `None` is null.
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::opt_bytes()"))]
    pub value: Option<Bytes>,
}

/// One record of a v2 batch as it is encoded, with offsets and timestamps
/// relative to the batch header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct Record {
    /// Record attributes; no bit is defined yet, producers write 0.
    pub attributes: i8,
    /// Timestamp minus the batch's base timestamp.
    pub timestamp_delta: i64,
    /// Offset minus the batch's base offset.
    pub offset_delta: i32,
    /// Key; `None` is null.
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::opt_bytes()"))]
    pub key: Option<Bytes>,
    /// Value; `None` is null (a tombstone on compacted topics).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::opt_bytes()"))]
    pub value: Option<Bytes>,
    /// Headers, in order.
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub headers: Vec<RecordHeader>,
}

fn nullable_len(b: Option<&[u8]>, what: &'static str) -> Result<usize> {
    match b {
        None => Ok(1),
        Some(b) => Ok(uvarint_len(zigzag32(len_i32(b.len(), what)?)) + b.len()),
    }
}

/// The length varint of a nullable field (-1 for null).
fn gather_len<const N: usize>(g: &mut Gather<N>, b: Option<&[u8]>) -> Result<()> {
    let len = match b {
        None => -1,
        Some(b) => len_i32(b.len(), "record field")?,
    };
    g.uvarint(zigzag32(len));
    Ok(())
}

fn put_nullable(buf: &mut BytesMut, b: Option<&[u8]>, what: &'static str) -> Result<()> {
    match b {
        None => put_uvarint(buf, zigzag32(-1)),
        Some(b) => {
            put_uvarint(buf, zigzag32(len_i32(b.len(), what)?));
            buf.put_slice(b);
        }
    }
    Ok(())
}

impl Record {
    /// Appends the record, length prefix included.
    pub(crate) fn encode(&self, buf: &mut BytesMut) -> Result<()> {
        encode_record(
            buf,
            RecordFields {
                attributes: self.attributes,
                timestamp_delta: self.timestamp_delta,
                offset_delta: self.offset_delta,
                key: self.key.as_deref(),
                value: self.value.as_deref(),
            },
            self.headers
                .iter()
                .map(|h| (h.key.as_str(), h.value.as_deref())),
        )
        .map(|_| ())
    }
}

/// The fields of one record to encode, borrowed (see [`encode_record`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordFields<'a> {
    /// Record attributes; producers write 0.
    pub attributes: i8,
    /// Timestamp minus the batch's base timestamp.
    pub timestamp_delta: i64,
    /// Offset minus the batch's base offset.
    pub offset_delta: i32,
    /// Key; `None` is null.
    pub key: Option<&'a [u8]>,
    /// Value; `None` is null.
    pub value: Option<&'a [u8]>,
}

/// Appends one v2 record, length prefix included, from borrowed parts, and
/// returns the bytes written. A producer encodes records straight into its
/// batch buffer with this, without building an owned [`Record`].
///
/// `headers` is iterated twice (size, then bytes). On error nothing is written.
pub fn encode_record<'h, H>(
    buf: &mut BytesMut,
    fields: RecordFields<'_>,
    headers: H,
) -> Result<usize>
where
    H: Iterator<Item = (&'h str, Option<&'h [u8]>)> + Clone,
{
    let header_count = headers.clone().count();
    let mut body = 1
        + uvarint_len(zigzag64(fields.timestamp_delta))
        + uvarint_len(zigzag32(fields.offset_delta))
        + nullable_len(fields.key, "record key")?
        + nullable_len(fields.value, "record value")?
        + uvarint_len(zigzag32(len_i32(header_count, "header count")?));
    for (key, value) in headers.clone() {
        body += nullable_len(Some(key.as_bytes()), "header key")?;
        body += nullable_len(value, "header value")?;
    }
    let start = buf.len();
    buf.reserve(body + 5);
    // Fixed fields go through stack buffers: one copy each instead of one
    // per byte. Lengths were checked above; the sizes are the worst cases.
    let mut head = Gather::<32>::new();
    head.uvarint(zigzag32(len_i32(body, "record")?)); // 5
    head.u8(fields.attributes.to_be_bytes()[0]); // 1
    head.uvarint(zigzag64(fields.timestamp_delta)); // 10
    head.uvarint(zigzag32(fields.offset_delta)); // 5
    gather_len(&mut head, fields.key)?; // 5
    buf.put_slice(head.as_slice());
    if let Some(key) = fields.key {
        buf.put_slice(key);
    }
    let mut mid = Gather::<5>::new();
    gather_len(&mut mid, fields.value)?;
    buf.put_slice(mid.as_slice());
    if let Some(value) = fields.value {
        buf.put_slice(value);
    }
    let mut count = Gather::<5>::new();
    count.uvarint(zigzag32(len_i32(header_count, "header count")?));
    buf.put_slice(count.as_slice());
    for (key, value) in headers {
        put_nullable(buf, Some(key.as_bytes()), "header key")?;
        put_nullable(buf, value, "header value")?;
    }
    Ok(buf.len() - start)
}

/// A decoded record: absolute offset and timestamp, and zero-copy slices.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordView {
    /// Absolute offset (base offset + offset delta).
    pub offset: i64,
    /// Timestamp: base timestamp + delta for create-time batches, the batch's
    /// max timestamp for log-append-time batches (as the Java client does).
    pub timestamp: i64,
    /// Offset delta as encoded.
    pub offset_delta: i32,
    /// Timestamp delta as encoded.
    pub timestamp_delta: i64,
    /// Record attributes as encoded.
    pub attributes: i8,
    /// Key; `None` is null.
    pub key: Option<Bytes>,
    /// Value; `None` is null.
    pub value: Option<Bytes>,
    /// Headers, validated but not split up until iterated.
    pub headers: HeaderBlock,
}

impl RecordView {
    /// The record in its owned, encodable form (allocates the headers).
    pub fn to_record(&self) -> Result<Record> {
        Ok(Record {
            attributes: self.attributes,
            timestamp_delta: self.timestamp_delta,
            offset_delta: self.offset_delta,
            key: self.key.clone(),
            value: self.value.clone(),
            headers: self.headers.to_vec()?,
        })
    }
}

/// The headers of a decoded record, kept as one slice and split on demand,
/// so decoding a record never allocates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeaderBlock {
    count: usize,
    /// `None` when there are no headers (so dropping it costs nothing).
    raw: Option<Bytes>,
}

/// A header borrowed from a [`HeaderBlock`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderView<'a> {
    /// Header key.
    pub key: &'a str,
    /// Header value (a zero-copy slice); `None` is null.
    pub value: Option<Bytes>,
}

impl HeaderBlock {
    /// Number of headers.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Iterates over the headers in order.
    pub fn iter(&self) -> HeaderIter<'_> {
        HeaderIter {
            block: self,
            pos: 0,
            remaining: self.count,
        }
    }

    /// The headers in their owned form.
    pub fn to_vec(&self) -> Result<Vec<RecordHeader>> {
        self.iter()
            .map(|h| {
                h.map(|h| RecordHeader {
                    key: h.key.to_owned(),
                    value: h.value,
                })
            })
            .collect()
    }
}

impl<'a> IntoIterator for &'a HeaderBlock {
    type Item = Result<HeaderView<'a>>;
    type IntoIter = HeaderIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over a [`HeaderBlock`]. The block was validated when the record
/// was decoded, so items are errors only if that validation was bypassed.
#[derive(Debug, Clone)]
pub struct HeaderIter<'a> {
    block: &'a HeaderBlock,
    pos: usize,
    remaining: usize,
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = Result<HeaderView<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let raw = self.block.raw.as_ref()?;
        let mut cur = Cursor::new(raw, self.pos);
        let item = parse_header(&mut cur).map(|(key, value)| HeaderView {
            key,
            value: value.map(|r| raw.slice(r)),
        });
        self.pos = cur.pos();
        if item.is_err() {
            self.remaining = 0;
        }
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

/// Parses one header: its key, checked to be UTF-8, and its value's range.
fn parse_header<'a>(cur: &mut Cursor<'a>) -> Result<(&'a str, Option<Range<usize>>)> {
    let key_len = cur.length()?;
    let key = cur.range(key_len)?;
    let key = std::str::from_utf8(cur.slice(key)?).map_err(|_| ProtocolError::InvalidUtf8)?;
    let value = cur.nullable_range()?;
    Ok((key, value))
}

/// What a record needs from its batch header to become a [`RecordView`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordContext {
    pub(crate) base_offset: i64,
    pub(crate) base_timestamp: i64,
    /// `Some(max_timestamp)` for log-append-time batches.
    pub(crate) log_append_time: Option<i64>,
}

/// Parses the record at `*pos` of `data` (a batch's records section).
#[inline]
pub(crate) fn parse_record(
    data: &Bytes,
    pos: &mut usize,
    ctx: &RecordContext,
) -> Result<RecordView> {
    let mut outer = Cursor::new(data, *pos);
    let len = outer.length()?;
    let mut cur = outer.sub(len)?;
    let attributes = i8::from_be_bytes([cur.u8()?]);
    let timestamp_delta = cur.varlong()?;
    let offset_delta = cur.varint()?;
    let key = cur.nullable_range()?;
    let value = cur.nullable_range()?;
    let count = cur.length()?;
    let headers = if count == 0 {
        HeaderBlock::default()
    } else {
        // Every header takes at least two bytes.
        if count > cur.remaining() / 2 {
            return Err(ProtocolError::LengthExceedsInput {
                len: count,
                remaining: cur.remaining(),
            });
        }
        let start = cur.pos();
        for _ in 0..count {
            parse_header(&mut cur)?;
        }
        HeaderBlock {
            count,
            raw: Some(data.slice(start..cur.pos())),
        }
    };
    if cur.remaining() != 0 {
        return Err(ProtocolError::CorruptRecords(
            "record length does not match its fields",
        ));
    }
    *pos = outer.pos();
    Ok(RecordView {
        offset: ctx.base_offset.wrapping_add(i64::from(offset_delta)),
        timestamp: match ctx.log_append_time {
            Some(max_timestamp) => max_timestamp,
            None => ctx.base_timestamp.wrapping_add(timestamp_delta),
        },
        offset_delta,
        timestamp_delta,
        attributes,
        key: key.map(|r| data.slice(r)),
        value: value.map(|r| data.slice(r)),
        headers,
    })
}
