//! Request header v1/v2 and response header v0/v1.
//!
//! Header versions follow the body: a flexible body travels with request
//! header v2 and response header v1 (which add tagged fields). ApiVersions
//! responses always use response header v0, so that a client can read the
//! error of a version the broker does not know. The request header's
//! `client_id` stays a classic nullable string even in v2.
//!
//! Spec: KIP-482 and <https://kafka.apache.org/protocol#protocol_messages>

use super::api_key::ApiKey;
use super::error::Result;
use super::reader::Reader;
use super::tagged::TaggedFields;
use super::writer::Writer;

/// The header that precedes every request body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestHeader {
    /// API of the body.
    pub api_key: ApiKey,
    /// Version of the body.
    pub api_version: i16,
    /// Echoed by the broker in the response header.
    pub correlation_id: i32,
    /// Client identifier for broker logs and quotas.
    pub client_id: Option<String>,
    /// Tagged fields (v2) this client does not interpret.
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for ApiKey {
    fn default() -> Self {
        ApiKey(-1)
    }
}

impl RequestHeader {
    /// Writes the header; `flexible` selects v2 (tagged fields) over v1.
    pub fn encode(&self, w: &mut Writer<'_>, flexible: bool) -> Result<()> {
        w.set_flexible(false);
        w.i16(self.api_key.0);
        w.i16(self.api_version);
        w.i32(self.correlation_id);
        w.nullable_string(self.client_id.as_deref())?;
        w.set_flexible(flexible);
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    /// Reads the header; `flexible_from` maps the read (api key, version) to
    /// the first flexible version of that API, deciding v1 or v2.
    pub fn decode(r: &mut Reader, flexible_from: impl Fn(ApiKey) -> Option<i16>) -> Result<Self> {
        r.set_flexible(false);
        let api_key = ApiKey(r.i16()?);
        let api_version = r.i16()?;
        let correlation_id = r.i32()?;
        let client_id = r.nullable_string()?;
        let flexible = flexible_from(api_key).is_some_and(|f| api_version >= f);
        r.set_flexible(flexible);
        let unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(Self {
            api_key,
            api_version,
            correlation_id,
            client_id,
            unknown_tagged_fields,
        })
    }
}

/// The header that precedes every response body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseHeader {
    /// The request's correlation id.
    pub correlation_id: i32,
    /// Tagged fields (v1) this client does not interpret.
    pub unknown_tagged_fields: TaggedFields,
}

/// Whether the response header for this API and body flexibility is v1.
pub fn response_header_is_flexible(api_key: ApiKey, body_flexible: bool) -> bool {
    body_flexible && api_key != ApiKey::API_VERSIONS
}

impl ResponseHeader {
    /// Writes the header; `flexible` selects v1 over v0.
    pub fn encode(&self, w: &mut Writer<'_>, flexible: bool) -> Result<()> {
        w.i32(self.correlation_id);
        w.set_flexible(flexible);
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    /// Reads the header; `flexible` selects v1 over v0.
    pub fn decode(r: &mut Reader, flexible: bool) -> Result<Self> {
        let correlation_id = r.i32()?;
        r.set_flexible(flexible);
        let unknown_tagged_fields = r.unknown_tagged_fields()?;
        Ok(Self {
            correlation_id,
            unknown_tagged_fields,
        })
    }
}
