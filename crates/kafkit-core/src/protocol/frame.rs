//! Size-prefixed framing and whole request/response encoding.
//!
//! Every Kafka message travels as a big-endian `int32` size followed by that
//! many bytes. [`try_parse_frame`] checks the size against a limit *before*
//! reserving memory, so a hostile 2 GiB prefix costs nothing.
//!
//! Spec: <https://kafka.apache.org/protocol#protocol_common>

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::error::{ProtocolError, Result};
use super::header::{response_header_is_flexible, RequestHeader, ResponseHeader};
use super::message::{Message, Request};
use super::reader::Reader;
use super::writer::Writer;

/// Default largest frame accepted (100 MiB, as the Java client's `fetch.max.bytes` plus headroom).
pub const DEFAULT_MAX_FRAME_SIZE: usize = 100 * 1024 * 1024;

/// Splits one complete frame body off the front of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed (after reserving room for the
/// announced frame, which the limit bounds), or an error for a negative size
/// or one above `max_len`.
pub fn try_parse_frame(buf: &mut BytesMut, max_len: usize) -> Result<Option<Bytes>> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let size = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    let len = usize::try_from(size).map_err(|_| ProtocolError::InvalidLength(i64::from(size)))?;
    if len > max_len {
        return Err(ProtocolError::FrameTooLarge {
            size: i64::from(size),
            max: max_len,
        });
    }
    if buf.len() < 4 + len {
        buf.reserve(4 + len - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(len).freeze()))
}

/// Appends a whole request frame (size, header, body) to `out`.
pub fn encode_request<R: Request>(
    req: &R,
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    out: &mut BytesMut,
) -> Result<()> {
    let start = out.len();
    encode_request_parts(req, version, correlation_id, client_id, out, None)?;
    patch_size(out, start, 0)
}

/// Encodes a whole request frame as chunks to write one after the other:
/// the encoded fields, and between them the large record data of `req`
/// (see [`Writer::records`]), shared by reference count instead of copied.
/// Concatenated, the chunks are what [`encode_request`] writes.
pub fn encode_request_chunks<R: Request>(
    req: &R,
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
) -> Result<Vec<Bytes>> {
    let mut out = BytesMut::with_capacity(256);
    let mut shared = Vec::new();
    encode_request_parts(
        req,
        version,
        correlation_id,
        client_id,
        &mut out,
        Some(&mut shared),
    )?;
    patch_size(&mut out, 0, shared.iter().map(|(_, b)| b.len()).sum())?;
    let mut chunks = Vec::with_capacity(2 * shared.len() + 1);
    let mut taken = 0;
    for (at, data) in shared {
        let head = out.split_to(at.saturating_sub(taken)).freeze();
        taken = at;
        if !head.is_empty() {
            chunks.push(head);
        }
        chunks.push(data);
    }
    if !out.is_empty() {
        chunks.push(out.freeze());
    }
    Ok(chunks)
}

fn encode_request_parts<R: Request>(
    req: &R,
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    out: &mut BytesMut,
    shared: Option<&mut Vec<(usize, Bytes)>>,
) -> Result<()> {
    R::check_version(version)?;
    out.put_i32(0);
    let flexible = R::is_flexible(version);
    let header = RequestHeader {
        api_key: R::API_KEY,
        api_version: version,
        correlation_id,
        client_id: client_id.map(str::to_owned),
        unknown_tagged_fields: Default::default(),
    };
    let mut w = match shared {
        Some(shared) => Writer::sharing(out, false, version, shared),
        None => Writer::new(out, false, version),
    };
    header.encode(&mut w, flexible)?;
    w.set_flexible(flexible);
    req.encode_body(&mut w)
}

/// Appends a whole response frame (size, header, body) to `out`; used by tests and mock peers.
pub fn encode_response<M: Message>(
    resp: &M,
    version: i16,
    correlation_id: i32,
    out: &mut BytesMut,
) -> Result<()> {
    M::check_version(version)?;
    let start = out.len();
    out.put_i32(0);
    let flexible = M::is_flexible(version);
    let header = ResponseHeader {
        correlation_id,
        unknown_tagged_fields: Default::default(),
    };
    let mut w = Writer::new(out, false, version);
    header.encode(&mut w, response_header_is_flexible(M::API_KEY, flexible))?;
    w.set_flexible(flexible);
    resp.encode_body(&mut w)?;
    patch_size(out, start, 0)
}

/// Writes the size of the frame at `start`: the bytes after its size field,
/// plus `shared` bytes that are not in `out`.
fn patch_size(out: &mut BytesMut, start: usize, shared: usize) -> Result<()> {
    let size = out.len() - start - 4 + shared;
    let size = i32::try_from(size).map_err(|_| ProtocolError::ValueTooLarge("frame"))?;
    if let Some(slot) = out.get_mut(start..start + 4) {
        slot.copy_from_slice(&size.to_be_bytes());
    }
    Ok(())
}

/// Reads the correlation id at the front of a response frame body.
pub fn peek_correlation_id(frame: &[u8]) -> Result<i32> {
    match frame.get(..4) {
        Some(b) => Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(ProtocolError::UnexpectedEof {
            needed: 4,
            remaining: frame.len(),
        }),
    }
}

/// Decodes a response frame body (after the size) for request type `R` at `version`.
///
/// Bytes after the body are ignored, as the Java client and librdkafka do:
/// real brokers are not always exact (librdkafka's mock cluster writes the
/// top-level tag section of flexible Metadata responses twice). Use
/// [`decode_response_strict`] to insist on an exact body.
pub fn decode_response<R: Request>(
    frame: Bytes,
    version: i16,
) -> Result<(ResponseHeader, R::Response)> {
    decode_response_message::<R::Response>(frame, version)
}

/// Decodes a response frame body for message type `M` at `version`, ignoring trailing bytes.
pub fn decode_response_message<M: Message>(
    frame: Bytes,
    version: i16,
) -> Result<(ResponseHeader, M)> {
    decode_response_parts::<M>(frame, version).map(|(h, m, _)| (h, m))
}

/// Like [`decode_response_message`], but bytes left after the body are an error.
pub fn decode_response_strict<M: Message>(
    frame: Bytes,
    version: i16,
) -> Result<(ResponseHeader, M)> {
    let (header, body, trailing) = decode_response_parts::<M>(frame, version)?;
    match trailing {
        0 => Ok((header, body)),
        n => Err(ProtocolError::TrailingBytes(n)),
    }
}

fn decode_response_parts<M: Message>(
    frame: Bytes,
    version: i16,
) -> Result<(ResponseHeader, M, usize)> {
    M::check_version(version)?;
    let flexible = M::is_flexible(version);
    let mut r = Reader::new(frame, false);
    let header = ResponseHeader::decode(&mut r, response_header_is_flexible(M::API_KEY, flexible))?;
    r.set_flexible(flexible);
    let body = M::decode_body(&mut r, version)?;
    Ok((header, body, r.remaining()))
}

/// Decodes a request frame body (after the size) as message type `M`, checking the header's API key.
pub fn decode_request<M: Message>(frame: Bytes) -> Result<(RequestHeader, M)> {
    let mut r = Reader::new(frame, false);
    let header = RequestHeader::decode(&mut r, |k| {
        if k == M::API_KEY {
            M::FLEXIBLE_FROM
        } else {
            None
        }
    })?;
    if header.api_key != M::API_KEY {
        return Err(ProtocolError::InvalidValue {
            field: "api_key",
            value: i64::from(header.api_key.0),
        });
    }
    M::check_version(header.api_version)?;
    r.set_flexible(M::is_flexible(header.api_version));
    let body = M::decode_body(&mut r, header.api_version)?;
    r.finish()?;
    Ok((header, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::messages::produce::{
        PartitionProduceData, ProduceRequest, TopicProduceData,
    };

    #[test]
    fn chunks_share_large_records_and_concatenate_to_the_frame() {
        let big = Bytes::from(vec![7u8; 5000]);
        let small = Bytes::from_static(b"tiny");
        let partition = |index, records: &Bytes| PartitionProduceData {
            index,
            records: Some(records.clone()),
            ..Default::default()
        };
        let req = ProduceRequest {
            acks: -1,
            timeout_ms: 100,
            topic_data: vec![TopicProduceData {
                name: "t".into(),
                partition_data: vec![partition(0, &big), partition(1, &small), partition(2, &big)],
                ..Default::default()
            }],
            ..Default::default()
        };
        for version in [3, 9, 11] {
            let mut whole = BytesMut::new();
            encode_request(&req, version, 42, Some("c"), &mut whole).expect("encode");
            let chunks = encode_request_chunks(&req, version, 42, Some("c")).expect("chunks");
            assert_eq!(chunks.concat(), whole.to_vec(), "v{version}");
            let shared: Vec<&Bytes> = chunks
                .iter()
                .filter(|c| c.as_ptr() == big.as_ptr())
                .collect();
            assert_eq!(shared.len(), 2, "both large batches are shared, not copied");
            assert!(chunks.iter().all(|c| !c.is_empty()));
        }
    }

    #[test]
    fn frame_needs_more_then_splits() {
        let mut buf = BytesMut::from(&[0u8, 0, 0, 3, 1, 2][..]);
        assert_eq!(try_parse_frame(&mut buf, 10), Ok(None));
        buf.extend_from_slice(&[3, 9]);
        let frame = try_parse_frame(&mut buf, 10).ok().flatten();
        assert_eq!(frame.as_deref(), Some(&[1u8, 2, 3][..]));
        assert_eq!(&buf[..], &[9]);
    }

    #[test]
    fn frame_limits_are_checked_before_reserving() {
        let mut buf = BytesMut::from(&[0x7fu8, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            try_parse_frame(&mut buf, 1 << 20),
            Err(ProtocolError::FrameTooLarge { .. })
        ));
        assert!(buf.capacity() < 1 << 20);
        let mut neg = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xfe][..]);
        assert_eq!(
            try_parse_frame(&mut neg, 100),
            Err(ProtocolError::InvalidLength(-2))
        );
    }
}
