//! What the library says, on stderr: kcat's `-d AREAS` and `-v`.
//!
//! Warnings and errors are always shown, one line each
//! (`kafkit: warning: MESSAGE (field=value, ...)`): a consumer that cannot
//! join its group says why. `-v` adds the library's `info` events (and the
//! progress lines of produce and consume), `-vv` its `debug`, `-vvv` its
//! `trace`. `-d` turns on `debug` for the areas named (`trace` with
//! `-vvv`); with `-d` or `-v` every line carries its time, level, target
//! and span fields.
//!
//! An area is a set of the library's tracing targets (its module paths,
//! plus `kafkit::protocol` for each request sent and response received and
//! the API versions negotiated with each broker). The names are
//! librdkafka's debug contexts where one matches, so kcat users' habits
//! work.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Each `-d` area and the tracing targets it switches on.
pub const AREAS: &[(&str, &[&str])] = &[
    // Connections: connect, reconnect, close, authentication, TLS.
    ("broker", &["kafkit::connection", "kafkit::cluster"]),
    // Each request and response (API, version, correlation id), and the
    // versions negotiated with each broker.
    (
        "protocol",
        &[
            "kafkit::protocol",
            "kafkit::connection::broker",
            "kafkit::connection::connect",
        ],
    ),
    ("metadata", &["kafkit::cluster"]),
    (
        "security",
        &["kafkit::connection::auth", "kafkit::connection::tls"],
    ),
    ("consumer", &["kafkit::consumer", "kafkit::listener"]),
    // The consumer group: coordinator, join, sync, heartbeats, commits.
    (
        "cgrp",
        &["kafkit::consumer::group", "kafkit::consumer::group_report"],
    ),
    ("fetch", &["kafkit::consumer::fetcher"]),
    ("producer", &["kafkit::producer"]),
    ("msg", &["kafkit::producer"]),
    ("eos", &["kafkit::producer::transaction"]),
    ("admin", &["kafkit::admin"]),
    ("rpc", &["kafkit::rpc"]),
    ("all", &["kafkit"]),
];

/// One `-d` area, checked against [`AREAS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area(pub &'static str);

impl Area {
    /// The targets this area switches on.
    pub fn targets(self) -> &'static [&'static str] {
        AREAS
            .iter()
            .find(|(name, _)| *name == self.0)
            .map_or(&[], |(_, targets)| targets)
    }
}

/// Parses one area name (clap splits the list at commas).
pub fn parse_area(s: &str) -> Result<Area, String> {
    let s = s.trim();
    match AREAS.iter().find(|(name, _)| *name == s) {
        Some((name, _)) => Ok(Area(name)),
        None => {
            let names: Vec<&str> = AREAS.iter().map(|(n, _)| *n).collect();
            Err(format!(
                "unknown debug area {s:?} (one of {})",
                names.join(", ")
            ))
        }
    }
}

/// The filter `-d` and `-v` ask for.
pub fn filter(areas: &[Area], verbose: u8) -> Targets {
    let base = match verbose {
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        2 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let area_level = if verbose >= 3 {
        LevelFilter::TRACE
    } else {
        LevelFilter::DEBUG
    };
    let mut targets = Targets::new().with_target("kafkit", base);
    for area in areas {
        for target in area.targets() {
            targets = targets.with_target(*target, area_level.max(base));
        }
    }
    targets
}

/// Installs the stderr subscriber for the process.
pub fn init(areas: &[Area], verbose: u8) {
    let filter = filter(areas, verbose);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let layer = if areas.is_empty() && verbose == 0 {
        layer.event_format(Terse).boxed()
    } else {
        layer.boxed()
    };
    // Only fails if a subscriber is already set, which nothing else does.
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init();
}

/// `kafkit: warning: MESSAGE (field=value, ...)`: the default line, for
/// warnings and errors, like the command's own messages.
struct Terse;

impl<S, N> FormatEvent<S, N> for Terse
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            Level::DEBUG => "debug",
            Level::TRACE => "trace",
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        write!(writer, "kafkit: {level}: {}", fields.message)?;
        if !fields.rest.is_empty() {
            write!(writer, " ({})", fields.rest.join(", "))?;
        }
        writeln!(writer)
    }
}

/// An event's message and its other fields as `name=value`.
#[derive(Default)]
struct Fields {
    message: String,
    rest: Vec<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.rest.push(format!("{}={value}", field.name()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.rest.push(format!("{}={value:?}", field.name()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(targets: &Targets, target: &str) -> bool {
        targets.would_enable(target, &Level::DEBUG)
    }

    #[test]
    fn areas_switch_on_their_targets_only() {
        let t = filter(&[parse_area("protocol").unwrap()], 0);
        assert!(level(&t, "kafkit::protocol"));
        assert!(level(&t, "kafkit::connection::broker"));
        assert!(level(&t, "kafkit::connection::connect"));
        assert!(!level(&t, "kafkit::consumer::group"));
        assert!(t.would_enable("kafkit::consumer::group", &Level::WARN));
        assert!(!t.would_enable("kafkit::consumer::group", &Level::INFO));
        let t = filter(&[parse_area("cgrp").unwrap()], 0);
        assert!(level(&t, "kafkit::consumer::group"));
        assert!(!level(&t, "kafkit::consumer::fetcher"));
        let t = filter(&[parse_area("all").unwrap()], 0);
        assert!(level(&t, "kafkit::producer::sender"));
        assert!(!t.would_enable("kafkit::producer::sender", &Level::TRACE));
        assert!(filter(&[parse_area("all").unwrap()], 3)
            .would_enable("kafkit::producer::sender", &Level::TRACE));
    }

    #[test]
    fn verbosity_raises_everything() {
        let t = filter(&[], 1);
        assert!(t.would_enable("kafkit::cluster", &Level::INFO));
        assert!(!t.would_enable("kafkit::cluster", &Level::DEBUG));
        assert!(filter(&[], 2).would_enable("kafkit::cluster", &Level::DEBUG));
        assert!(filter(&[], 3).would_enable("kafkit::cluster", &Level::TRACE));
        // Other crates stay silent.
        assert!(!filter(&[], 3).would_enable("rustls::conn", &Level::ERROR));
    }

    #[test]
    fn every_area_parses_and_unknown_ones_do_not() {
        for (name, targets) in AREAS {
            assert_eq!(parse_area(name).unwrap().targets(), *targets);
        }
        let err = parse_area("queue").unwrap_err();
        assert!(err.contains("queue") && err.contains("cgrp"), "{err}");
    }
}
