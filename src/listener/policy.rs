//! What the listener does when a handler fails or the consumer crashes.

use std::time::Duration;

/// How often a record is handed to its handler before the listener gives
/// up on it, and how long it waits between tries.
///
/// The wait doubles after every failed try, from `backoff` up to
/// `max_backoff`. While a partition waits, it is paused and seeked back to
/// the failed record; other partitions keep flowing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Deliveries of one record, the first included (default 3; 1 = no retry).
    pub max_attempts: u32,
    /// Wait before the second delivery (default 200 ms).
    pub backoff: Duration,
    /// Longest wait between deliveries (default 10 s).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// `max_attempts` deliveries, the first retry after `backoff`.
    pub fn new(max_attempts: u32, backoff: Duration) -> Self {
        Self {
            max_attempts,
            backoff,
            ..Self::default()
        }
    }

    /// Sets the longest wait between deliveries.
    pub fn with_max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// The wait after the `failed`-th failed delivery (1-based).
    pub fn delay(&self, failed: u32) -> Duration {
        doubling(self.backoff, self.max_backoff, failed)
    }
}

/// What happens to a record its handler failed `max_attempts` times (or
/// failed with [`HandlerError::permanent`](super::HandlerError::permanent)).
///
/// Either way the listener then marks the record processed and goes on with
/// the next one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DeadLetter {
    /// Report it ([`ListenerEvent::DeadLettered`](super::ListenerEvent)
    /// with no destination) and skip it.
    #[default]
    Skip,
    /// Produce it to `<topic><suffix>`, e.g. `orders.dlt` with
    /// [`DeadLetter::default_topic`].
    Suffix(String),
    /// Produce it to this one topic, whatever topic it came from.
    Topic(String),
}

impl DeadLetter {
    /// The default dead-letter topic: `<topic>.dlt`.
    pub fn default_topic() -> Self {
        DeadLetter::Suffix(".dlt".to_owned())
    }

    /// The topic a failed record of `topic` goes to (`None` for `Skip`).
    pub fn destination(&self, topic: &str) -> Option<String> {
        match self {
            DeadLetter::Skip => None,
            DeadLetter::Suffix(s) => Some(format!("{topic}{s}")),
            DeadLetter::Topic(t) => Some(t.clone()),
        }
    }
}

/// What the listener does when its consumer crashes (a group member that
/// failed, a non-retriable consumer error, a consumer that could not start).
///
/// The listener closes the crashed consumer, waits (doubling from `backoff`
/// up to `max_backoff`) and starts a new one, at most `max_restarts` times;
/// after that it stops with the last error. A consumer that ran for
/// `reset_after` before crashing resets the count, so rare crashes over a
/// long life do not add up to the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestartPolicy {
    /// Restarts allowed in a row (default 10; 0 = stop at the first crash).
    pub max_restarts: u32,
    /// Wait before the first restart (default 1 s).
    pub backoff: Duration,
    /// Longest wait between restarts (default 30 s).
    pub max_backoff: Duration,
    /// A consumer that ran this long before crashing resets the count (default 5 min).
    pub reset_after: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            max_restarts: 10,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            reset_after: Duration::from_secs(300),
        }
    }
}

impl RestartPolicy {
    /// At most `max_restarts` restarts in a row, the first after `backoff`.
    pub fn new(max_restarts: u32, backoff: Duration) -> Self {
        Self {
            max_restarts,
            backoff,
            ..Self::default()
        }
    }

    /// Never restarts: the first crash stops the listener.
    pub fn never() -> Self {
        Self::new(0, Duration::ZERO)
    }

    /// Sets the longest wait between restarts.
    pub fn with_max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// Sets how long a consumer must run for its crash to reset the count.
    pub fn with_reset_after(mut self, t: Duration) -> Self {
        self.reset_after = t;
        self
    }

    /// The wait before the `restart`-th restart in a row (1-based).
    pub fn delay(&self, restart: u32) -> Duration {
        doubling(self.backoff, self.max_backoff, restart)
    }
}

/// Restart bookkeeping: the pure part of the restart loop.
#[derive(Debug, Default)]
pub(crate) struct RestartCounter {
    in_a_row: u32,
}

impl RestartCounter {
    /// After a crash of a consumer that ran `ran` long: the wait before the
    /// next restart and its number, or `None` when the limit is reached.
    pub fn on_crash(&mut self, policy: &RestartPolicy, ran: Duration) -> Option<(u32, Duration)> {
        if ran >= policy.reset_after {
            self.in_a_row = 0;
        }
        if self.in_a_row >= policy.max_restarts {
            return None;
        }
        self.in_a_row += 1;
        Some((self.in_a_row, policy.delay(self.in_a_row)))
    }
}

/// `first`, doubled `n - 1` times, capped at `max`.
fn doubling(first: Duration, max: Duration, n: u32) -> Duration {
    let shift = n.saturating_sub(1).min(20);
    first.saturating_mul(1u32 << shift).min(max.max(first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_up_to_the_cap() {
        let p = RetryPolicy::new(5, Duration::from_millis(100))
            .with_max_backoff(Duration::from_millis(350));
        let d: Vec<u128> = (1..=4).map(|n| p.delay(n).as_millis()).collect();
        assert_eq!(d, vec![100, 200, 350, 350]);
        assert_eq!(p.delay(u32::MAX), Duration::from_millis(350));
    }

    #[test]
    fn dead_letter_destinations() {
        assert_eq!(DeadLetter::Skip.destination("orders"), None);
        assert_eq!(
            DeadLetter::default_topic().destination("orders").as_deref(),
            Some("orders.dlt")
        );
        assert_eq!(
            DeadLetter::Topic("all.dlt".into())
                .destination("orders")
                .as_deref(),
            Some("all.dlt")
        );
    }

    #[test]
    fn restarts_stop_at_the_limit_and_reset_after_a_long_run() {
        let p =
            RestartPolicy::new(2, Duration::from_secs(1)).with_reset_after(Duration::from_secs(60));
        let mut c = RestartCounter::default();
        let quick = Duration::from_millis(10);
        assert_eq!(c.on_crash(&p, quick), Some((1, Duration::from_secs(1))));
        assert_eq!(c.on_crash(&p, quick), Some((2, Duration::from_secs(2))));
        assert_eq!(c.on_crash(&p, quick), None, "limit reached");
        // A consumer that ran long enough starts the count over.
        assert_eq!(
            c.on_crash(&p, Duration::from_secs(61)),
            Some((1, Duration::from_secs(1)))
        );
        assert_eq!(
            RestartCounter::default().on_crash(&RestartPolicy::never(), quick),
            None
        );
    }
}
