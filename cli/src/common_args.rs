//! The options and value parsers several subcommands share: the
//! connection (`-b`, `-X`), delimiters with backslash escapes and
//! `TOPIC[:P,..]` partition lists.

use bytes::Bytes;
use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::Args;

use crate::settings::{parse_setting, Setting};

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub struct Connection {
    /// Bootstrap brokers, comma-separated HOST:PORT.
    #[arg(short = 'b', long = "brokers", value_name = "BROKERS")]
    pub brokers: Option<String>,
    /// Client property KEY=VALUE (Java names, librdkafka aliases, TLS and
    /// SASL: security.protocol, ssl.*, sasl.*); repeatable.
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = SettingParser)]
    pub settings: Vec<Setting>,
}

/// `-X` through [`parse_setting`], with errors that do not repeat the
/// argument (clap's own message would, and it may hold a password).
#[derive(Debug, Clone, Copy)]
pub struct SettingParser;

impl TypedValueParser for SettingParser {
    type Value = Setting;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Setting, clap::Error> {
        let fail = |kind, message: String| {
            clap::Error::raw(kind, format!("-X: {message}\n")).with_cmd(cmd)
        };
        let text = value
            .to_str()
            .ok_or_else(|| fail(ErrorKind::InvalidUtf8, "not UTF-8".to_owned()))?;
        parse_setting(text).map_err(|e| fail(ErrorKind::ValueValidation, e))
    }
}

/// Parses a delimiter with backslash escapes: `\t`, `\n`, `\r`, `\0`, `\\`, `\xHH`.
pub fn parse_delimiter(s: &str) -> Result<Bytes, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let escaped = match bytes.next() {
            Some(b't') => b'\t',
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b'0') => 0,
            Some(b'\\') => b'\\',
            Some(b'x') => {
                let hex: Vec<u8> = bytes.by_ref().take(2).collect();
                std::str::from_utf8(&hex)
                    .ok()
                    .filter(|h| h.len() == 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad \\x escape in {s:?}"))?
            }
            _ => return Err(format!("bad escape in {s:?} (\\t \\n \\r \\0 \\\\ \\xHH)")),
        };
        out.push(escaped);
    }
    if out.is_empty() {
        return Err("empty delimiter".to_owned());
    }
    if out.contains(&b'\n') {
        return Err("the key delimiter cannot contain a newline (records are lines)".to_owned());
    }
    Ok(Bytes::from(out))
}

/// `TOPIC` or `TOPIC:0,2`: the topic and its partitions (empty: all).
pub fn parse_topic_partitions(s: &str) -> Result<(String, Vec<i32>), String> {
    let (topic, parts) = match s.rsplit_once(':') {
        Some((t, p)) => (t, Some(p)),
        None => (s, None),
    };
    if topic.is_empty() {
        return Err(format!("{s:?} names no topic"));
    }
    let partitions = match parts {
        None => Vec::new(),
        Some(p) => p
            .split(',')
            .map(|n| {
                n.trim()
                    .parse::<i32>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| format!("{n:?} in {s:?} is not a partition"))
            })
            .collect::<Result<_, _>>()?,
    };
    Ok((topic.to_owned(), partitions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_take_escapes() {
        assert_eq!(parse_delimiter(":").unwrap(), &b":"[..]);
        assert_eq!(parse_delimiter("\\t").unwrap(), &b"\t"[..]);
        assert_eq!(parse_delimiter("::").unwrap(), &b"::"[..]);
        assert_eq!(parse_delimiter("a\\x1fb\\\\").unwrap(), &b"a\x1fb\\"[..]);
        assert_eq!(parse_delimiter("\\0").unwrap(), &b"\0"[..]);
        for bad in ["", "\\q", "\\x1", "\\xzz", "\\n", "\\"] {
            assert!(parse_delimiter(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn topic_partitions_parse() {
        assert_eq!(parse_topic_partitions("t"), Ok(("t".into(), vec![])));
        assert_eq!(
            parse_topic_partitions("a:b:0,2"),
            Ok(("a:b".into(), vec![0, 2]))
        );
        assert!(parse_topic_partitions("t:x").is_err());
        assert!(parse_topic_partitions(":1").is_err());
    }
}
