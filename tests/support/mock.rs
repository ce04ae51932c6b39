//! librdkafka's mock cluster with the two knobs `rdkafka::mocking` does not
//! expose: the group's initial rebalance delay (3 s by default, which would
//! dominate every short scenario) and a broker's advertised address (so a
//! proxy can sit in front of it).
//!
//! The cluster belongs to a librdkafka client created with
//! `test.mock.num.brokers`; [`Mock::cluster`] borrows rdkafka's safe wrapper
//! for everything else.

#![allow(dead_code)]

use std::ffi::CString;

use rdkafka::bindings as rd;
use rdkafka::config::ClientConfig as RdConfig;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, DeliveryResult, Producer as _, ProducerContext};
use rdkafka::ClientContext;

/// Prints the mock's own log lines (with `MOCK_DEBUG=mock`) to stderr.
pub struct MockLog;

impl ClientContext for MockLog {
    fn log(&self, _level: RDKafkaLogLevel, fac: &str, message: &str) {
        eprintln!("librdkafka {fac}: {message}");
    }
}

impl ProducerContext for MockLog {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &DeliveryResult<'_>, _: ()) {}
}

/// A mock cluster owned by a (idle) librdkafka producer.
pub struct Mock {
    owner: BaseProducer<MockLog>,
    bootstrap: String,
}

impl Mock {
    /// A cluster of `brokers` brokers (ids 1..=brokers), with the group
    /// versions capped (see [`crate::support::cap_mock_group_versions`]) and a short
    /// initial rebalance delay.
    pub fn new(brokers: i32) -> Self {
        let mut cfg = RdConfig::new();
        cfg.set("test.mock.num.brokers", brokers.to_string());
        if let Ok(debug) = std::env::var("MOCK_DEBUG") {
            cfg.set("debug", debug)
                .set_log_level(RDKafkaLogLevel::Debug);
        }
        let owner: BaseProducer<MockLog> = cfg.create_with_context(MockLog).expect("mock owner");
        let bootstrap = owner
            .client()
            .mock_cluster()
            .expect("mock cluster")
            .bootstrap_servers();
        let mock = Self { owner, bootstrap };
        crate::support::cap_mock_group_versions(&mock.cluster());
        mock.set_initial_rebalance_delay(200);
        mock
    }

    /// rdkafka's wrapper for the usual operations.
    pub fn cluster(&self) -> MockCluster<'_, MockLog> {
        self.owner.client().mock_cluster().expect("mock cluster")
    }

    /// The brokers' real addresses (unaffected by [`Mock::advertise`]).
    pub fn bootstrap_servers(&self) -> String {
        self.bootstrap.clone()
    }

    /// The real address of broker `id` (1-based).
    pub fn broker_addr(&self, id: i32) -> String {
        let i = usize::try_from(id - 1).expect("broker id");
        self.bootstrap
            .split(',')
            .nth(i)
            .expect("broker in bootstrap")
            .to_owned()
    }

    fn raw(&self) -> *mut rd::rd_kafka_mock_cluster_t {
        // SAFETY: the handle is valid while `owner` lives; the call only reads it.
        let raw = unsafe { rd::rd_kafka_handle_mock_cluster(self.owner.client().native_ptr()) };
        assert!(!raw.is_null(), "client has a mock cluster");
        raw
    }

    /// How long the coordinator waits for more members when a group forms.
    pub fn set_initial_rebalance_delay(&self, ms: i32) {
        // SAFETY: `raw()` is a live cluster owned by `self`.
        unsafe { rd::rd_kafka_mock_group_initial_rebalance_delay_ms(self.raw(), ms) }
    }

    /// Starts recording the requests the brokers receive (clears the record).
    pub fn start_request_tracking(&self) {
        // SAFETY: `raw()` is a live cluster owned by `self`.
        unsafe { rd::rd_kafka_mock_start_request_tracking(self.raw()) }
    }

    /// The requests received since [`Mock::start_request_tracking`], in
    /// arrival order: (broker id, API key).
    pub fn requests(&self) -> Vec<(i32, i16)> {
        let mut n = 0usize;
        // SAFETY: `raw()` is live; the mock returns `n` copies it allocated
        // (or null when `n` is 0), freed below with its own destructor.
        unsafe {
            let list = rd::rd_kafka_mock_get_requests(self.raw(), &mut n);
            if list.is_null() {
                return Vec::new();
            }
            let out = (0..n)
                .map(|i| {
                    let r = *list.add(i);
                    (
                        rd::rd_kafka_mock_request_id(r),
                        rd::rd_kafka_mock_request_api_key(r),
                    )
                })
                .collect();
            rd::rd_kafka_mock_request_destroy_array(list, n);
            out
        }
    }

    /// Makes broker `id` advertise `host:port` in Metadata and FindCoordinator
    /// answers (its listener stays where it is).
    pub fn advertise(&self, id: i32, host: &str, port: u16) {
        let host = CString::new(host).expect("host");
        // SAFETY: `raw()` is live; the mock copies `host` before returning.
        unsafe {
            rd::rd_kafka_mock_broker_set_host_port(self.raw(), id, host.as_ptr(), i32::from(port))
        }
    }
}
