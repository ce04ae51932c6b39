//! `-X key=value` properties, as kcat passes them to librdkafka.
//!
//! Keys are the Java client's names; where librdkafka (and so kcat) uses a
//! different name for the same setting, that alias is accepted too. Each
//! value is checked when the command line is parsed, so a typo fails before
//! anything connects. Keys kafkit does not implement are refused by name:
//! silently ignoring `acks` misspelled as `ack` would be worse than failing.

use std::time::Duration;

use kafkit::consumer::{ConsumerConfig, GroupProtocol};
use kafkit::producer::{Acks, ProducerConfig};
use kafkit::protocol::record::Compression;
use kafkit::security::{Secret, SECURITY_KEYS};
use kafkit::ClientConfig;

/// One recognised `-X` property with its parsed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// `bootstrap.servers` (librdkafka: `metadata.broker.list`).
    Bootstrap(String),
    /// `client.id`.
    ClientId(String),
    /// `request.timeout.ms`: client-side request timeout, also sent as the Produce timeout.
    RequestTimeout(Duration),
    /// `socket.connection.setup.timeout.ms`.
    ConnectTimeout(Duration),
    /// `reconnect.backoff.ms`.
    ReconnectBackoff(Duration),
    /// `reconnect.backoff.max.ms`.
    ReconnectBackoffMax(Duration),
    /// `metadata.max.age.ms`.
    MetadataMaxAge(Duration),
    /// `enable.metrics.push` (KIP-714).
    MetricsPush(bool),
    /// `linger.ms` (librdkafka: `queue.buffering.max.ms`).
    Linger(Duration),
    /// `batch.size`.
    BatchSize(usize),
    /// `buffer.memory`.
    BufferMemory(usize),
    /// `compression.type` (librdkafka: `compression.codec`).
    Compression(Compression),
    /// `acks` (librdkafka: `request.required.acks`).
    Acks(Acks),
    /// `enable.idempotence`.
    Idempotence(bool),
    /// `delivery.timeout.ms` (librdkafka: `message.timeout.ms`).
    DeliveryTimeout(Duration),
    /// `retry.backoff.ms`.
    RetryBackoff(Duration),
    /// `max.request.size`.
    MaxRequestSize(usize),
    /// `max.in.flight.requests.per.connection` (librdkafka: `max.in.flight`), 1 to 5.
    MaxInFlight(usize),
    /// `group.protocol`: `classic` (default) or `consumer` (KIP-848, Kafka 4.0+).
    GroupProtocol(GroupProtocol),
    /// `group.remote.assignor`: the coordinator's assignor with
    /// `group.protocol=consumer` (`uniform` or `range`).
    GroupRemoteAssignor(String),
    /// A TLS or SASL property (`security.protocol`, `ssl.*`, `sasl.*`, see
    /// `kafkit::security::SecurityConfig::set`). The value is kept as a
    /// [`Secret`] so that `Debug` never shows a password.
    Security {
        /// The property name.
        key: String,
        /// Its value.
        value: Secret,
    },
}

/// Every key [`parse_setting`] accepts, for the error message.
pub const SUPPORTED_KEYS: &[&str] = &[
    "bootstrap.servers",
    "client.id",
    "request.timeout.ms",
    "socket.connection.setup.timeout.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "metadata.max.age.ms",
    "enable.metrics.push",
    "linger.ms",
    "batch.size",
    "buffer.memory",
    "compression.type",
    "acks",
    "enable.idempotence",
    "delivery.timeout.ms",
    "retry.backoff.ms",
    "max.request.size",
    "max.in.flight.requests.per.connection",
    "group.protocol",
    "group.remote.assignor",
];

/// Parses one `-X` argument (`key=value`). Error messages name the key and
/// never repeat a credential.
pub fn parse_setting(arg: &str) -> Result<Setting, String> {
    let (key, value) = arg
        .split_once('=')
        .ok_or_else(|| "expected KEY=VALUE (the argument has no `=`)".to_owned())?;
    let (key, value) = (key.trim(), value.trim());
    let setting = match key {
        "bootstrap.servers" | "metadata.broker.list" => {
            if value.is_empty() {
                return Err(format!("{key}: empty broker list"));
            }
            Setting::Bootstrap(value.to_owned())
        }
        "client.id" => Setting::ClientId(value.to_owned()),
        "request.timeout.ms" => Setting::RequestTimeout(millis(key, value)?),
        "socket.connection.setup.timeout.ms" => Setting::ConnectTimeout(millis(key, value)?),
        "reconnect.backoff.ms" => Setting::ReconnectBackoff(millis(key, value)?),
        "reconnect.backoff.max.ms" => Setting::ReconnectBackoffMax(millis(key, value)?),
        "metadata.max.age.ms" => Setting::MetadataMaxAge(millis(key, value)?),
        "enable.metrics.push" => Setting::MetricsPush(boolean(key, value)?),
        "linger.ms" | "queue.buffering.max.ms" => Setting::Linger(millis(key, value)?),
        "batch.size" => Setting::BatchSize(size(key, value)?),
        "buffer.memory" => Setting::BufferMemory(size(key, value)?),
        "compression.type" | "compression.codec" => {
            Setting::Compression(parse_compression(value).map_err(|e| format!("{key}: {e}"))?)
        }
        "acks" | "request.required.acks" => {
            Setting::Acks(parse_acks(value).map_err(|e| format!("{key}: {e}"))?)
        }
        "enable.idempotence" => Setting::Idempotence(boolean(key, value)?),
        "delivery.timeout.ms" | "message.timeout.ms" => {
            Setting::DeliveryTimeout(millis(key, value)?)
        }
        "retry.backoff.ms" => Setting::RetryBackoff(millis(key, value)?),
        "max.request.size" => Setting::MaxRequestSize(size(key, value)?),
        "max.in.flight.requests.per.connection" | "max.in.flight" => {
            let n = size(key, value)?;
            if n > 5 {
                return Err(format!(
                    "{key}: kafkit keeps at most 5 requests in flight, got {n}"
                ));
            }
            Setting::MaxInFlight(n)
        }
        "group.protocol" => Setting::GroupProtocol(match value.to_ascii_lowercase().as_str() {
            "classic" => GroupProtocol::Classic,
            "consumer" => GroupProtocol::Consumer,
            _ => {
                return Err(format!(
                    "{key}: expected classic or consumer, got {value:?}"
                ))
            }
        }),
        "group.remote.assignor" => match value {
            "uniform" | "range" => Setting::GroupRemoteAssignor(value.to_owned()),
            _ => return Err(format!("{key}: expected uniform or range, got {value:?}")),
        },
        k if SECURITY_KEYS.contains(&k) || k.starts_with("sasl.") || k.starts_with("ssl.") => {
            // The library checks the value (and refuses unsupported keys by name).
            ClientConfig::default()
                .set(k, value)
                .map_err(|e| e.to_string())?;
            Setting::Security {
                key: k.to_owned(),
                value: Secret::new(value),
            }
        }
        k => {
            return Err(format!(
                "unknown property `{k}`; supported: {}; security: {}",
                SUPPORTED_KEYS.join(", "),
                SECURITY_KEYS.join(", ")
            ))
        }
    };
    Ok(setting)
}

/// Parses an acks level: `0`, `1`, `-1` or `all`.
pub fn parse_acks(s: &str) -> Result<Acks, String> {
    match s.trim() {
        "0" => Ok(Acks::None),
        "1" => Ok(Acks::Leader),
        "-1" | "all" | "ALL" => Ok(Acks::All),
        other => Err(format!("acks must be 0, 1, -1 or all, got {other:?}")),
    }
}

/// Parses a codec name (`none`, `gzip`, `snappy`, `lz4`, `zstd`).
pub fn parse_compression(s: &str) -> Result<Compression, String> {
    let codec = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ]
    .into_iter()
    .find(|c| c.name().eq_ignore_ascii_case(s.trim()))
    .ok_or_else(|| format!("unknown codec {s:?} (none, gzip, snappy, lz4, zstd)"))?;
    if !codec.is_enabled() {
        return Err(format!(
            "codec {} is not enabled in this build",
            codec.name()
        ));
    }
    Ok(codec)
}

fn millis(key: &str, value: &str) -> Result<Duration, String> {
    value
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| format!("{key}: expected milliseconds, got {value:?}"))
}

fn size(key: &str, value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{key}: expected a positive number, got {value:?}")),
    }
}

fn boolean(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("{key}: expected true or false, got {value:?}")),
    }
}

/// The client configuration: brokers from `-b` (which wins) or
/// `-X bootstrap.servers`, then every client-level `-X` setting.
pub fn client_config(brokers: Option<&str>, settings: &[Setting]) -> Result<ClientConfig, String> {
    let from_x = settings.iter().rev().find_map(|s| match s {
        Setting::Bootstrap(b) => Some(b.as_str()),
        _ => None,
    });
    let bootstrap = brokers
        .or(from_x)
        .ok_or("no brokers: give -b HOST:PORT[,...] or -X bootstrap.servers=...")?;
    let mut config = ClientConfig::new([bootstrap]);
    if config.bootstrap.is_empty() {
        return Err(format!("no brokers in {bootstrap:?}"));
    }
    let (mut backoff, mut backoff_max) = (config.reconnect_backoff, config.reconnect_backoff_max);
    for s in settings {
        match s {
            Setting::ClientId(id) => config = config.with_client_id(id.clone()),
            Setting::RequestTimeout(t) => config = config.with_request_timeout(*t),
            Setting::ConnectTimeout(t) => config = config.with_connect_timeout(*t),
            Setting::ReconnectBackoff(t) => backoff = *t,
            Setting::ReconnectBackoffMax(t) => backoff_max = *t,
            Setting::MetadataMaxAge(t) => config = config.with_metadata_max_age(*t),
            Setting::MetricsPush(on) => config = config.with_metrics_push(*on),
            Setting::Security { key, value } => {
                config.set(key, value.expose()).map_err(|e| e.to_string())?;
            }
            _ => {}
        }
    }
    config.security.validate().map_err(|e| e.to_string())?;
    Ok(config.with_reconnect_backoff(backoff, backoff_max.max(backoff)))
}

/// The producer configuration from the producer-level `-X` settings.
pub fn producer_config(settings: &[Setting]) -> ProducerConfig {
    let mut config = ProducerConfig::default();
    for s in settings {
        config = match s {
            Setting::RequestTimeout(t) => {
                let mut c = config;
                c.ack_timeout = *t;
                c
            }
            Setting::Linger(t) => config.with_linger(*t),
            Setting::BatchSize(n) => config.with_batch_size(*n),
            Setting::BufferMemory(n) => config.with_buffer_memory(*n),
            Setting::Compression(c) => config.with_compression(*c),
            Setting::Acks(a) => config.with_acks(*a),
            Setting::Idempotence(on) => config.with_idempotence(*on),
            Setting::DeliveryTimeout(t) => config.with_delivery_timeout(*t),
            Setting::RetryBackoff(t) => config.with_retry_backoff(*t),
            Setting::MaxRequestSize(n) => config.with_max_request_size(*n),
            Setting::MaxInFlight(n) => config.with_max_in_flight(*n),
            _ => config,
        };
    }
    config
}

/// The group-level `-X` settings applied to a consumer configuration.
pub fn consumer_config(mut config: ConsumerConfig, settings: &[Setting]) -> ConsumerConfig {
    for s in settings {
        match s {
            Setting::GroupProtocol(p) => config = config.with_group_protocol(*p),
            Setting::GroupRemoteAssignor(a) => config = config.with_group_remote_assignor(a),
            _ => {}
        }
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_key_parses_and_aliases_agree() {
        let cases = [
            ("client.id=cli", Setting::ClientId("cli".into())),
            ("linger.ms=7", Setting::Linger(Duration::from_millis(7))),
            (
                "queue.buffering.max.ms=7",
                Setting::Linger(Duration::from_millis(7)),
            ),
            ("batch.size=1000", Setting::BatchSize(1000)),
            ("buffer.memory=2048", Setting::BufferMemory(2048)),
            (
                "compression.type=zstd",
                Setting::Compression(Compression::Zstd),
            ),
            (
                "compression.codec=GZIP",
                Setting::Compression(Compression::Gzip),
            ),
            ("acks=all", Setting::Acks(Acks::All)),
            ("request.required.acks=0", Setting::Acks(Acks::None)),
            ("enable.idempotence=false", Setting::Idempotence(false)),
            ("enable.metrics.push=false", Setting::MetricsPush(false)),
            (
                "message.timeout.ms=900",
                Setting::DeliveryTimeout(Duration::from_millis(900)),
            ),
            ("max.in.flight=1", Setting::MaxInFlight(1)),
            (
                "group.protocol=consumer",
                Setting::GroupProtocol(GroupProtocol::Consumer),
            ),
            (
                "group.protocol=classic",
                Setting::GroupProtocol(GroupProtocol::Classic),
            ),
            (
                "group.remote.assignor=range",
                Setting::GroupRemoteAssignor("range".into()),
            ),
            (
                "security.protocol=PLAINTEXT",
                Setting::Security {
                    key: "security.protocol".into(),
                    value: Secret::new("PLAINTEXT"),
                },
            ),
            ("metadata.broker.list=h:1", Setting::Bootstrap("h:1".into())),
        ];
        for (arg, want) in cases {
            assert_eq!(parse_setting(arg), Ok(want), "{arg}");
        }
        for key in SUPPORTED_KEYS {
            let err = parse_setting(&format!("{key}=not a value"));
            let ok_for_strings = matches!(*key, "client.id" | "bootstrap.servers");
            assert_eq!(err.is_ok(), ok_for_strings, "{key}: {err:?}");
        }
    }

    #[test]
    fn unknown_and_unsupported_keys_are_refused_by_name() {
        let err = parse_setting("ack=1").unwrap_err();
        assert!(err.contains("unknown property `ack`"), "{err}");
        assert!(err.contains("linger.ms"), "lists the supported keys: {err}");
        let err = parse_setting("security.protocol=TLS").unwrap_err();
        assert!(err.contains("SASL_SSL"), "lists the protocols: {err}");
        let err = parse_setting("sasl.mechanism=GSSAPI").unwrap_err();
        assert!(err.contains("sasl.mechanism"), "{err}");
        let err = parse_setting("ssl.keystore.location=/k.p12").unwrap_err();
        assert!(err.contains("ssl.keystore.location"), "{err}");
        assert!(parse_setting("linger.ms")
            .unwrap_err()
            .contains("KEY=VALUE"));
        assert!(parse_setting("max.in.flight=6").is_err());
        assert!(parse_setting("batch.size=0").is_err());
        assert!(parse_setting("acks=2").is_err());
        assert!(parse_setting("compression.type=brotli").is_err());
    }

    #[test]
    fn settings_land_in_the_configs() {
        let settings: Vec<Setting> = [
            "client.id=me",
            "request.timeout.ms=1500",
            "reconnect.backoff.ms=10",
            "reconnect.backoff.max.ms=20",
            "linger.ms=0",
            "acks=1",
            "compression.type=lz4",
            "enable.idempotence=false",
            "delivery.timeout.ms=3000",
            "max.request.size=4096",
            "enable.metrics.push=false",
        ]
        .iter()
        .map(|s| parse_setting(s).unwrap())
        .collect();
        let client = client_config(Some("a:1, b:2"), &settings).unwrap();
        assert_eq!(client.bootstrap, vec!["a:1", "b:2"]);
        assert_eq!(client.client_id, "me");
        assert_eq!(client.request_timeout, Duration::from_millis(1500));
        assert_eq!(client.reconnect_backoff, Duration::from_millis(10));
        assert_eq!(client.reconnect_backoff_max, Duration::from_millis(20));
        assert!(!client.enable_metrics_push);
        let producer = producer_config(&settings);
        assert_eq!(producer.acks, Acks::Leader);
        assert_eq!(producer.compression, Compression::Lz4);
        assert_eq!(producer.linger, Duration::ZERO);
        assert!(!producer.idempotence);
        assert_eq!(producer.delivery_timeout, Duration::from_secs(3));
        assert_eq!(producer.ack_timeout, Duration::from_millis(1500));
        assert_eq!(producer.max_request_size, 4096);
    }

    #[test]
    fn security_settings_reach_the_client_config_and_hide_the_password() {
        let settings: Vec<Setting> = [
            "security.protocol=SASL_SSL",
            "sasl.mechanism=SCRAM-SHA-512",
            "sasl.username=alice",
            "sasl.password=hunter2",
            "ssl.ca.location=/etc/kafka/ca.pem",
            "ssl.endpoint.identification.algorithm=none",
        ]
        .iter()
        .map(|s| parse_setting(s).unwrap())
        .collect();
        assert!(!format!("{settings:?}").contains("hunter2"));
        let client = client_config(Some("b:1"), &settings).unwrap();
        let sec = &client.security;
        assert_eq!(sec.protocol, kafkit::security::SecurityProtocol::SaslSsl);
        assert_eq!(
            sec.sasl.mechanism,
            Some(kafkit::security::SaslMechanism::ScramSha512)
        );
        assert_eq!(
            (sec.sasl.username.as_str(), sec.sasl.password.expose()),
            ("alice", "hunter2")
        );
        assert_eq!(
            sec.tls.verification,
            kafkit::security::CertificateVerification::DangerNoHostname
        );
        // SASL without a mechanism is refused before anything connects.
        let half = [parse_setting("security.protocol=SASL_PLAINTEXT").unwrap()];
        assert!(client_config(Some("b:1"), &half)
            .unwrap_err()
            .contains("sasl.mechanism"));
    }

    #[test]
    fn brokers_come_from_b_first_then_x() {
        let x = [Setting::Bootstrap("x:9".into())];
        assert_eq!(client_config(Some("b:1"), &x).unwrap().bootstrap, ["b:1"]);
        assert_eq!(client_config(None, &x).unwrap().bootstrap, ["x:9"]);
        assert!(client_config(None, &[]).unwrap_err().contains("-b"));
        assert!(client_config(Some(" , "), &[]).is_err());
    }
}
