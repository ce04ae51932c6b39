//! How `kafkit consume` prints a record: kcat's default (`[key DELIM]value`
//! and a newline) or, with `-J`, kcat's JSON envelope, one object a line:
//!
//! ```text
//! {"topic":"t","partition":0,"offset":5,"tstype":"create","ts":1700000000000,"broker":1,"headers":["name","value","flag",null],"key":"k","payload":"v"}
//! ```
//!
//! Field order, names and types are kcat's (`fmt_msg_output_json`):
//! `headers` (names and values alternating, a null value as `null`) only
//! when the record has headers; a null key or payload is `null`. Strings are
//! escaped as yajl escapes them (`"`, `\`, `\b \f \n \r \t`, other control
//! characters as `\u00XX`) and otherwise written as they are, so non-UTF-8
//! bytes pass through unchanged, as with kcat. `broker` is the leader the
//! partition is fetched from (kafkit always fetches from the leader).

use bytes::Bytes;
use kafkit::protocol::record::TimestampType;

use super::printable::Printable;

/// The output format.
#[derive(Debug, Clone)]
pub enum Format {
    /// kcat's `-J`.
    Json,
    /// kcat's `-f`.
    Custom(super::format::Pattern),
    /// The value, preceded by the key and this delimiter when given.
    Plain {
        /// `-K`.
        key_delimiter: Option<Bytes>,
    },
}

impl Format {
    /// Appends one record (and its trailing newline) to `out`.
    pub fn write(&self, out: &mut Vec<u8>, record: &Printable<'_>) {
        match self {
            Format::Json => write_json(out, record),
            Format::Custom(pieces) => super::format::write(out, pieces, record),
            Format::Plain { key_delimiter } => {
                if let Some(delim) = key_delimiter {
                    out.extend_from_slice(record.key.unwrap_or_default());
                    out.extend_from_slice(delim);
                }
                out.extend_from_slice(record.value.unwrap_or_default());
                out.push(b'\n');
            }
        }
    }
}

/// kcat's JSON envelope for one record, and a newline.
pub fn write_json(out: &mut Vec<u8>, r: &Printable<'_>) {
    use std::io::Write;
    out.extend_from_slice(b"{\"topic\":");
    string(out, r.topic.as_bytes());
    let tstype = match r.timestamp_type {
        TimestampType::CreateTime => "create",
        TimestampType::LogAppendTime => "logappend",
    };
    // Writing to a Vec cannot fail.
    let _ = write!(
        out,
        ",\"partition\":{},\"offset\":{},\"tstype\":\"{tstype}\",\"ts\":{},\"broker\":{}",
        r.partition, r.offset, r.timestamp, r.broker
    );
    if !r.headers.is_empty() {
        out.extend_from_slice(b",\"headers\":[");
        for (i, (name, value)) in r.headers.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, name.as_bytes());
            out.push(b',');
            nullable(out, value.as_deref());
        }
        out.push(b']');
    }
    out.extend_from_slice(b",\"key\":");
    nullable(out, r.key);
    out.extend_from_slice(b",\"payload\":");
    nullable(out, r.value);
    out.extend_from_slice(b"}\n");
}

fn nullable(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// A JSON string as yajl writes it: the bytes as they are, but for quotes,
/// backslashes and control characters.
fn string(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..0x20 => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        string(&mut out, s);
        out
    }

    #[test]
    fn strings_are_escaped_like_yajl() {
        // What kcat (Debian, librdkafka 2.x) prints for these bytes.
        assert_eq!(
            escaped(b"x\x1f\x7f/\x08\x0c\r<>&\xe2\x80\xa8"),
            b"\"x\\u001F\x7f/\\b\\f\\r<>&\xe2\x80\xa8\""
        );
        assert_eq!(escaped(b"\"q\"\tt\\"), b"\"\\\"q\\\"\\tt\\\\\"");
        assert_eq!(escaped(b"a\x01\xff\xfeb"), b"\"a\\u0001\xff\xfeb\"");
        assert_eq!(escaped("ü€".as_bytes()), "\"ü€\"".as_bytes());
    }

    fn records() -> [Printable<'static>; 2] {
        let first = Printable {
            topic: "t",
            partition: 3,
            offset: 7,
            timestamp_type: TimestampType::CreateTime,
            timestamp: 1_700_000_000_000,
            broker: 2,
            headers: vec![("h1", Some(Bytes::from_static(b"x"))), ("flag", None)],
            key: Some(b"k"),
            value: Some(b"v"),
        };
        let second = Printable {
            offset: 8,
            timestamp_type: TimestampType::LogAppendTime,
            timestamp: 1_700_000_000_001,
            headers: Vec::new(),
            key: None,
            value: None,
            ..first.clone()
        };
        [first, second]
    }

    #[test]
    fn plain_output_is_key_delimiter_value() {
        let f = Format::Plain {
            key_delimiter: Some(Bytes::from_static(b"::")),
        };
        let mut out = Vec::new();
        for r in &records() {
            f.write(&mut out, r);
        }
        assert_eq!(out, b"k::v\n::\n");
        let mut out = Vec::new();
        Format::Plain {
            key_delimiter: None,
        }
        .write(&mut out, &records()[0]);
        assert_eq!(out, b"v\n");
    }

    #[test]
    fn json_has_kcats_fields_in_kcats_order() {
        let mut out = Vec::new();
        for r in &records() {
            Format::Json.write(&mut out, r);
        }
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                r#"{"topic":"t","partition":3,"offset":7,"tstype":"create","ts":1700000000000,"broker":2,"headers":["h1","x","flag",null],"key":"k","payload":"v"}"#,
                r#"{"topic":"t","partition":3,"offset":8,"tstype":"logappend","ts":1700000000001,"broker":2,"key":null,"payload":null}"#,
            ]
        );
    }
}
