//! kcat's `-f FORMAT` for `kafkit consume`: the record's fields through a
//! format string. Tokens: `%s` value, `%S` value length, `%R` value length
//! as a 4-byte big-endian integer, `%k` key, `%K` key length (-1 for a null
//! key or value), `%t` topic, `%p` partition, `%o` offset, `%T` timestamp
//! (ms), `%h` headers (`name=value,...`, `NULL` for a null value), `%%`;
//! escapes `\n`, `\r`, `\t`, `\\` and `\xHH`. No newline is added.

use std::io::Write;

use super::printable::Printable;

/// One piece of a parsed format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Bytes written as they are.
    Text(Vec<u8>),
    /// A `%` token (the letter after `%`).
    Field(u8),
}

/// A parsed `-f` format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(pub Vec<Piece>);

/// Parses a `-f` format.
pub fn parse_format(s: &str) -> Result<Pattern, String> {
    let mut pieces = Vec::new();
    let mut text = Vec::new();
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => match bytes.next() {
                Some(b'%') => text.push(b'%'),
                Some(f @ (b's' | b'S' | b'R' | b'k' | b'K' | b't' | b'p' | b'o' | b'T' | b'h')) => {
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Field(f));
                }
                Some(other) => {
                    return Err(format!("unsupported formatter: %{}", char::from(other)))
                }
                None => return Err("the format ends with a lone %".to_owned()),
            },
            b'\\' => text.push(match bytes.next() {
                Some(b'n') => b'\n',
                Some(b'r') => b'\r',
                Some(b't') => b'\t',
                Some(b'\\') => b'\\',
                Some(b'x') => {
                    let hex: Vec<u8> = bytes.by_ref().take(2).collect();
                    std::str::from_utf8(&hex)
                        .ok()
                        .filter(|h| h.len() == 2)
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                        .ok_or_else(|| format!("bad \\x escape in {s:?}"))?
                }
                _ => return Err(format!("bad escape in {s:?} (\\n \\r \\t \\\\ \\xHH)")),
            }),
            _ => text.push(b),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(Pattern(pieces))
}

fn length(field: Option<&[u8]>) -> i64 {
    field.map_or(-1, |f| i64::try_from(f.len()).unwrap_or(i64::MAX))
}

/// Appends one record through `pieces` to `out`.
pub fn write(out: &mut Vec<u8>, pattern: &Pattern, r: &Printable<'_>) {
    for piece in &pattern.0 {
        // Writing to a Vec cannot fail.
        let _ = match piece {
            Piece::Text(t) => out.write_all(t),
            Piece::Field(b's') => out.write_all(r.value.unwrap_or_default()),
            Piece::Field(b'S') => write!(out, "{}", length(r.value)),
            Piece::Field(b'R') => {
                let n = i32::try_from(length(r.value)).unwrap_or(i32::MAX);
                out.write_all(&n.to_be_bytes())
            }
            Piece::Field(b'k') => out.write_all(r.key.unwrap_or_default()),
            Piece::Field(b'K') => write!(out, "{}", length(r.key)),
            Piece::Field(b't') => out.write_all(r.topic.as_bytes()),
            Piece::Field(b'p') => write!(out, "{}", r.partition),
            Piece::Field(b'o') => write!(out, "{}", r.offset),
            Piece::Field(b'T') => write!(out, "{}", r.timestamp),
            Piece::Field(b'h') => {
                for (i, (name, value)) in r.headers.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(name.as_bytes());
                    out.push(b'=');
                    out.extend_from_slice(value.as_deref().unwrap_or(b"NULL"));
                }
                Ok(())
            }
            Piece::Field(_) => Ok(()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kafkit::protocol::record::TimestampType;

    #[test]
    fn every_token_as_kcat_prints_it() {
        let r = Printable {
            topic: "t",
            partition: 1,
            offset: 7,
            timestamp_type: TimestampType::CreateTime,
            timestamp: 1700,
            broker: 1,
            headers: vec![("a", Some(Bytes::from_static(b"1"))), ("b", None)],
            key: None,
            value: Some(b"v1"),
        };
        let pieces =
            parse_format("T=%t P=%p O=%o K=%k S=%s KL=%K SL=%S H=%h TS=%T %% \\\\t|\\x41\\n")
                .unwrap();
        let mut out = Vec::new();
        write(&mut out, &pieces, &r);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "T=t P=1 O=7 K= S=v1 KL=-1 SL=2 H=a=1,b=NULL TS=1700 % \\t|A\n"
        );
        let mut out = Vec::new();
        write(&mut out, &parse_format("%R").unwrap(), &r);
        assert_eq!(out, [0, 0, 0, 2]);
        for bad in ["%u", "%", "\\q", "\\x4"] {
            assert!(parse_format(bad).is_err(), "{bad}");
        }
    }
}
