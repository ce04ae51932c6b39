//! `-v`'s progress line for produce and consume, on stderr every few
//! seconds (`--progress-interval`): the count so far and the rate, over the
//! last interval and overall.
//!
//! ```text
//! kafkit: progress: 120000 records consumed, 40210/s now, 39876/s overall
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

/// Prints progress until dropped.
pub struct Progress {
    task: JoinHandle<()>,
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts printing `count` every `every` when `every` is given; `what`
/// says what is counted ("consumed", "delivered").
pub fn start(
    every: Option<Duration>,
    count: Arc<AtomicU64>,
    what: &'static str,
) -> Option<Progress> {
    let every = every?;
    let task = tokio::spawn(async move {
        let started = Instant::now();
        let mut last = (started, 0u64);
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            ticks.tick().await;
            let now = Instant::now();
            let n = count.load(Ordering::Relaxed);
            eprintln!(
                "kafkit: progress: {}",
                line(n, what, n - last.1.min(n), now - last.0, now - started)
            );
            last = (now, n);
        }
    });
    Some(Progress { task })
}

/// One progress line's text.
fn line(total: u64, what: &str, recent: u64, over: Duration, since_start: Duration) -> String {
    let rate = |n: u64, d: Duration| {
        let secs = d.as_secs_f64();
        if secs > 0.0 {
            format!("{:.0}", n as f64 / secs)
        } else {
            "-".to_owned()
        }
    };
    format!(
        "{total} records {what}, {}/s now, {}/s overall",
        rate(recent, over),
        rate(total, since_start)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_has_the_count_and_both_rates() {
        assert_eq!(
            line(
                3000,
                "consumed",
                1000,
                Duration::from_secs(2),
                Duration::from_secs(5)
            ),
            "3000 records consumed, 500/s now, 600/s overall"
        );
        assert_eq!(
            line(0, "delivered", 0, Duration::ZERO, Duration::ZERO),
            "0 records delivered, -/s now, -/s overall"
        );
    }
}
