//! The owned broker of the share-group tests (`share_consumer_real`,
//! `share_renew_real`): Apache Kafka 4.4.0 with a 3 s acquisition lock and
//! 500 ms share heartbeats (the broker's minimums lowered) so that the
//! scenarios take seconds. `KAFKIT_SHARE_KAFKA` names an already running
//! one started with [`SETTINGS`].

use std::sync::OnceLock;
use std::time::Duration;

use super::kafka;

/// The lock duration the broker is started with.
pub const LOCK: Duration = Duration::from_secs(3);

/// The broker settings (`--set` values) that make share groups quick.
pub const SETTINGS: [&str; 6] = [
    "group.share.min.record.lock.duration.ms=1000",
    "group.share.record.lock.duration.ms=3000",
    "group.share.min.heartbeat.interval.ms=500",
    "group.share.heartbeat.interval.ms=500",
    "group.share.min.session.timeout.ms=6000",
    "group.share.session.timeout.ms=6000",
];

/// The broker (see the module doc), started once per test process, or `None` to skip.
pub fn broker() -> Option<String> {
    static CELL: OnceLock<Option<String>> = OnceLock::new();
    CELL.get_or_init(|| {
        if let Ok(b) = std::env::var("KAFKIT_SHARE_KAFKA") {
            return Some(b);
        }
        if !kafka::can_start() {
            return None;
        }
        let options: Vec<&str> = SETTINGS.iter().flat_map(|s| ["--set", s]).collect();
        let c = kafka::Cluster::start(1, &options);
        let b = c.bootstrap.clone();
        // Stopped by the watcher when this process exits.
        std::mem::forget(c);
        Some(b)
    })
    .clone()
}
