//! Prometheus text exposition (format 0.0.4): families with `# HELP` and
//! `# TYPE` lines, then their samples, each family written once.

use std::fmt::Write;

use super::latency::LatencyStats;

/// The Prometheus type of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Summary,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Summary => "summary",
        }
    }
}

#[derive(Debug)]
struct Family {
    name: String,
    help: &'static str,
    kind: Kind,
    /// (name suffix, rendered labels, value)
    samples: Vec<(&'static str, String, String)>,
}

/// Families in the order they were first added.
#[derive(Debug, Default)]
pub(crate) struct Exposition {
    families: Vec<Family>,
}

/// Labels as `name="value"` pairs, escaped.
pub(crate) fn labels(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out
}

impl Exposition {
    fn family(&mut self, name: &str, help: &'static str, kind: Kind) -> &mut Family {
        let i = match self.families.iter().position(|f| f.name == name) {
            Some(i) => i,
            None => {
                self.families.push(Family {
                    name: name.to_owned(),
                    help,
                    kind,
                    samples: Vec::new(),
                });
                self.families.len() - 1
            }
        };
        &mut self.families[i]
    }

    /// One sample of a counter or gauge.
    pub fn sample(&mut self, name: &str, help: &'static str, kind: Kind, labels: &str, value: f64) {
        let f = self.family(name, help, kind);
        f.samples.push(("", labels.to_owned(), number(value)));
    }

    /// A latency as Java names it (`<name>_avg`, `<name>_max` in
    /// milliseconds) and as a Prometheus summary in seconds
    /// (`<name>_seconds_sum`, `<name>_seconds_count`).
    pub fn latency(&mut self, name: &str, help: &'static str, labels: &str, s: &LatencyStats) {
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        self.sample(
            &format!("{name}_avg"),
            help,
            Kind::Gauge,
            labels,
            ms(s.avg()),
        );
        self.sample(&format!("{name}_max"), help, Kind::Gauge, labels, ms(s.max));
        let f = self.family(&format!("{name}_seconds"), help, Kind::Summary);
        f.samples
            .push(("_sum", labels.to_owned(), number(s.sum.as_secs_f64())));
        f.samples
            .push(("_count", labels.to_owned(), number(s.count as f64)));
    }

    /// The text: per family `# HELP`, `# TYPE`, then its samples.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.families {
            let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
            let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.as_str());
            for (suffix, labels, value) in &f.samples {
                if labels.is_empty() {
                    let _ = writeln!(out, "{}{suffix} {value}", f.name);
                } else {
                    let _ = writeln!(out, "{}{suffix}{{{labels}}} {value}", f.name);
                }
            }
        }
        out
    }
}

/// Whole numbers without a fraction; others to six decimals (microseconds
/// of a millisecond value), trailing zeros dropped.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let text = format!("{v:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn families_are_written_once_with_help_and_type() {
        let mut e = Exposition::default();
        let a = labels(&[("client_id", "a\"b"), ("topic", "t")]);
        e.sample("x_total", "Things.", Kind::Counter, &a, 3.0);
        e.sample("x_total", "Things.", Kind::Counter, "", 4.0);
        let s = LatencyStats {
            count: 2,
            sum: Duration::from_millis(3),
            max: Duration::from_millis(2),
        };
        e.latency("lat", "Latency.", "", &s);
        let text = e.render();
        assert_eq!(text.matches("# TYPE x_total counter").count(), 1);
        assert!(text.contains("x_total{client_id=\"a\\\"b\",topic=\"t\"} 3\n"));
        assert!(text.contains("x_total 4\n"));
        assert!(text.contains("lat_avg 1.5\n"), "{text}");
        assert_eq!(number(1.2730000000000001), "1.273");
        assert_eq!(number(0.0000001), "0");
        assert!(text.contains("lat_max 2\n"));
        assert!(text
            .contains("# TYPE lat_seconds summary\nlat_seconds_sum 0.003\nlat_seconds_count 2\n"));
    }
}
