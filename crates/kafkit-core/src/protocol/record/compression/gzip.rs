//! Gzip (codec 1), as Java's `GZIPOutputStream` writes it.

use std::io::Write;

use bytes::{BufMut, BytesMut};
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::{compression_error, read_capped, size_hint};
use crate::protocol::error::Result;

const CODEC: &str = "gzip";

pub(super) fn compress(input: &[u8], out: &mut BytesMut) -> Result<()> {
    let mut encoder = GzEncoder::new(out.writer(), flate2::Compression::default());
    encoder
        .write_all(input)
        .map_err(|e| compression_error(CODEC, e))?;
    encoder.finish().map_err(|e| compression_error(CODEC, e))?;
    Ok(())
}

/// Streams the members of a gzip file; flate2 keeps only its 32 KiB window.
pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>> {
    read_capped(
        MultiGzDecoder::new(input),
        limit,
        size_hint(input.len()),
        CODEC,
    )
}
