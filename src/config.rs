//! Configuration shared by every client (connections, metadata).
//!
//! Spec: the Java client's configuration names
//! (<https://kafka.apache.org/documentation/#producerconfigs>,
//! `#consumerconfigs`), quoted in each field's doc where kafkit follows them.

use std::time::Duration;

use crate::protocol::frame::DEFAULT_MAX_FRAME_SIZE;

/// Settings for connections and cluster metadata.
///
/// Build with [`ClientConfig::new`] and the `with_*` setters; every field
/// has a default that matches the Java client's where one exists.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Bootstrap brokers as `host:port` (resolved again whenever every known broker fails).
    pub bootstrap: Vec<String>,
    /// Sent in every request header (`client.id`).
    pub client_id: String,
    /// How long a request may wait for its response (`request.timeout.ms`, default 30 s).
    pub request_timeout: Duration,
    /// How long a TCP connect may take (default 10 s).
    pub connect_timeout: Duration,
    /// Largest response frame accepted (default 100 MiB).
    pub max_frame_size: usize,
    /// First reconnect backoff (`reconnect.backoff.ms`, default 50 ms); doubles per failure with jitter.
    pub reconnect_backoff: Duration,
    /// Largest reconnect backoff (`reconnect.backoff.max.ms`, default 1 s).
    pub reconnect_backoff_max: Duration,
    /// Metadata is refreshed at least this often (`metadata.max.age.ms`, default 5 min).
    pub metadata_max_age: Duration,
    /// Requests queued per connection before senders wait (default 1024).
    pub max_queued_requests: usize,
}

impl ClientConfig {
    /// Defaults with the given bootstrap list (comma-separated `host:port`s are split).
    pub fn new<I, S>(bootstrap: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let bootstrap = bootstrap
            .into_iter()
            .flat_map(|s| {
                s.as_ref()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        Self {
            bootstrap,
            ..Self::default()
        }
    }

    /// Sets the client id.
    pub fn with_client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// Sets the request timeout.
    pub fn with_request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = t;
        self
    }

    /// Sets the connect timeout.
    pub fn with_connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Sets the maximum response frame size.
    pub fn with_max_frame_size(mut self, n: usize) -> Self {
        self.max_frame_size = n;
        self
    }

    /// Sets the reconnect backoff range.
    pub fn with_reconnect_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.reconnect_backoff = first;
        self.reconnect_backoff_max = max;
        self
    }

    /// Sets the metadata refresh interval.
    pub fn with_metadata_max_age(mut self, t: Duration) -> Self {
        self.metadata_max_age = t;
        self
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            bootstrap: Vec::new(),
            client_id: "kafkit".to_owned(),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_secs(1),
            metadata_max_age: Duration::from_secs(300),
            max_queued_requests: 1024,
        }
    }
}
