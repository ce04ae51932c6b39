//! Pairs each table with the codec that implements it, through the dynamic
//! dispatch in `kafkit::protocol::messages::any`.

use bytes::{Bytes, BytesMut};
use kafkit::protocol::messages::any::{api_info, AnyRequest, AnyResponse};
use kafkit::protocol::messages::consumer_protocol::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription,
};
use kafkit::protocol::{ApiKey, ProtocolError};

use crate::spec::{Kind, MessageSpec, SpecFile};

#[derive(Debug, Clone, Copy)]
enum Which {
    Request(ApiKey),
    Response(ApiKey),
    Subscription,
    Assignment,
}

/// A decoded message of any kind.
#[derive(Debug, PartialEq)]
pub enum Msg {
    Request(AnyRequest),
    Response(AnyResponse),
    Subscription(ConsumerProtocolSubscription),
    Assignment(ConsumerProtocolAssignment),
}

/// One message type with its table.
pub struct Codec {
    pub label: String,
    pub spec: MessageSpec,
    which: Which,
}

impl Codec {
    pub fn versions(&self) -> impl Iterator<Item = i16> {
        self.spec.versions.0..=self.spec.versions.1
    }

    pub fn api_key(&self) -> Option<ApiKey> {
        match self.which {
            Which::Request(k) | Which::Response(k) => Some(k),
            Which::Subscription | Which::Assignment => None,
        }
    }

    /// A number that tells codecs apart in random seeds.
    pub fn seed_key(&self) -> u32 {
        match self.which {
            Which::Request(k) => 2 * k.0 as u32,
            Which::Response(k) => 2 * k.0 as u32 + 1,
            Which::Subscription => 1000,
            Which::Assignment => 1001,
        }
    }

    /// `(VERSIONS, FLEXIBLE_FROM)` as the codec declares them.
    pub fn declared(&self) -> ((i16, i16), Option<i16>) {
        let info = || self.api_key().and_then(api_info).expect("implemented");
        let (range, flexible) = match self.which {
            Which::Request(_) => (info().request_versions, info().request_flexible_from),
            Which::Response(_) => (info().response_versions, info().response_flexible_from),
            // Never flexible: the payloads are classic bodies after an int16 version.
            Which::Subscription => (ConsumerProtocolSubscription::VERSIONS, None),
            Which::Assignment => (ConsumerProtocolAssignment::VERSIONS, None),
        };
        ((range.min, range.max), flexible)
    }

    pub fn default_message(&self) -> Msg {
        match self.which {
            Which::Request(k) => Msg::Request(AnyRequest::default_for(k).expect("implemented")),
            Which::Response(k) => Msg::Response(AnyResponse::default_for(k).expect("implemented")),
            Which::Subscription => Msg::Subscription(Default::default()),
            Which::Assignment => Msg::Assignment(Default::default()),
        }
    }

    pub fn decode(&self, v: i16, body: Bytes) -> Result<Msg, ProtocolError> {
        match self.which {
            Which::Request(k) => AnyRequest::decode(k, v, body).map(Msg::Request),
            Which::Response(k) => AnyResponse::decode(k, v, body).map(Msg::Response),
            Which::Subscription => {
                ConsumerProtocolSubscription::decode(versioned(v, &body)).map(Msg::Subscription)
            }
            Which::Assignment => {
                ConsumerProtocolAssignment::decode(versioned(v, &body)).map(Msg::Assignment)
            }
        }
    }

    pub fn encode(&self, msg: &Msg, v: i16) -> Result<Vec<u8>, ProtocolError> {
        let mut buf = BytesMut::new();
        match msg {
            Msg::Request(m) => m.encode(v, &mut buf)?,
            Msg::Response(m) => m.encode(v, &mut buf)?,
            Msg::Subscription(m) => return unversioned(v, &m.encode(v)?),
            Msg::Assignment(m) => return unversioned(v, &m.encode(v)?),
        }
        Ok(buf.to_vec())
    }
}

/// A consumer-protocol payload: the int16 version, then the body.
fn versioned(v: i16, body: &[u8]) -> Bytes {
    [&v.to_be_bytes()[..], body].concat().into()
}

/// The body of a payload, after checking its version prefix.
fn unversioned(v: i16, payload: &[u8]) -> Result<Vec<u8>, ProtocolError> {
    match payload.split_at_checked(2) {
        Some((prefix, body)) if prefix == v.to_be_bytes() => Ok(body.to_vec()),
        _ => panic!("payload {payload:02x?} does not start with version {v}"),
    }
}

/// The codecs for every table whose API is implemented, and the names of
/// the tables that have no codec yet.
pub fn all_codecs(specs: &[SpecFile]) -> (Vec<Codec>, Vec<String>) {
    let mut codecs = Vec::new();
    let mut missing = Vec::new();
    for file in specs {
        let Some(api) = &file.api else {
            for m in &file.messages {
                let which = match m.name.as_str() {
                    "ConsumerProtocolSubscription" => Which::Subscription,
                    "ConsumerProtocolAssignment" => Which::Assignment,
                    other => panic!("no codec known for data payload {other}"),
                };
                codecs.push(Codec {
                    label: m.name.clone(),
                    spec: m.clone(),
                    which,
                });
            }
            continue;
        };
        let key = ApiKey(api.key);
        if api_info(key).is_none() {
            missing.push(api.name.clone());
            continue;
        }
        for m in &file.messages {
            let which = match m.kind {
                Kind::Request => Which::Request(key),
                Kind::Response => Which::Response(key),
                Kind::Data => continue,
            };
            let mut spec = m.clone();
            crate::apply_quirks(&mut spec);
            codecs.push(Codec {
                label: m.name.clone(),
                spec,
                which,
            });
        }
    }
    (codecs, missing)
}
