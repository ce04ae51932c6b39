//! Tagged fields of flexible versions (KIP-482).
//!
//! Fields a decoder does not know are kept as raw bytes and written back
//! unchanged, so a message read from a newer peer re-encodes faithfully.
//! The tagged-field methods of [`Writer`] live here too, so this module
//! builds on the writer and the writer knows nothing of tagged fields.
//!
//! Spec: KIP-482, <https://cwiki.apache.org/confluence/display/KAFKA/KIP-482>

use bytes::{Bytes, BytesMut};

use super::error::Result;
use super::writer::Writer;

/// Tagged fields a decoder did not recognise, in the order read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaggedFields(pub Vec<(u32, Bytes)>);

impl TaggedFields {
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keeps one raw field.
    pub fn push(&mut self, tag: u32, data: Bytes) {
        self.0.push((tag, data));
    }
}

/// Collects the tagged fields of one struct, known and unknown, and writes
/// them in ascending tag order as the protocol requires.
#[derive(Debug)]
pub struct TagWriter {
    fields: Vec<(u32, Bytes)>,
    version: i16,
    strict: bool,
}

impl TagWriter {
    /// Starts a section that will also carry the given unknown fields.
    pub fn new(unknown: &TaggedFields, w: &Writer<'_>) -> Self {
        Self {
            fields: unknown.0.clone(),
            version: w.version(),
            strict: w.is_strict(),
        }
    }

    /// Adds a known field whose body `body` encodes (always in flexible form).
    pub fn field(
        &mut self,
        tag: u32,
        body: impl FnOnce(&mut Writer<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut buf = BytesMut::new();
        let mut w = if self.strict {
            Writer::new(&mut buf, true, self.version)
        } else {
            Writer::lenient(&mut buf, true, self.version)
        };
        body(&mut w)?;
        self.fields.push((tag, buf.freeze()));
        Ok(())
    }

    /// Writes the section; does nothing for a non-flexible writer.
    ///
    /// Unknown fields given to a non-flexible writer cannot be carried: a
    /// strict writer fails, a lenient one drops them.
    pub fn finish(mut self, w: &mut Writer<'_>) -> Result<()> {
        if !w.is_flexible() {
            return w.absent("tagged fields", self.fields.is_empty(), false);
        }
        self.fields.sort_by_key(|(tag, _)| *tag);
        w.uvarint(len_u32(self.fields.len())?);
        for (tag, data) in &self.fields {
            w.uvarint(*tag);
            w.uvarint(len_u32(data.len())?);
            w.raw(data);
        }
        Ok(())
    }
}

impl Writer<'_> {
    /// Writes a tagged-field section holding only `unknown` fields (no-op when not flexible).
    pub fn unknown_tagged_fields(&mut self, unknown: &TaggedFields) -> Result<()> {
        TagWriter::new(unknown, self).finish(self)
    }
}

fn len_u32(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| super::error::ProtocolError::ValueTooLarge("tagged field"))
}
