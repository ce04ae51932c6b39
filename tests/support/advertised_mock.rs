//! A one-broker librdkafka mock cluster whose broker can be re-advertised at
//! another address (`rd_kafka_mock_broker_set_host_port`), so that a TLS
//! terminator or SASL front in front of it also serves the connections the
//! client opens after reading Metadata. Used with `#[path]` by
//! tests/tls_stunnel.rs and tests/sasl_scramp.rs.

use std::ffi::{CStr, CString};

use rdkafka::bindings as rd;
use rdkafka::producer::BaseProducer;

/// The mock; destroyed on drop.
pub struct Mock {
    mcluster: *mut rd::rd_kafka_mock_cluster_t,
    /// The mock's own plaintext listener (`host:port`).
    pub listener: String,
    _handle: BaseProducer,
}

impl Mock {
    /// A mock with one broker (id 1), advertised at its own listener.
    pub fn new() -> Self {
        let handle: BaseProducer = rdkafka::ClientConfig::new()
            .create()
            .expect("librdkafka handle");
        let native = rdkafka::producer::Producer::client(&handle).native_ptr();
        // SAFETY: the handle outlives the cluster (destroyed first in Drop).
        let mcluster = unsafe { rd::rd_kafka_mock_cluster_new(native, 1) };
        assert!(!mcluster.is_null(), "mock cluster");
        // SAFETY: the cluster is live; the string is copied at once.
        let listener = unsafe { CStr::from_ptr(rd::rd_kafka_mock_cluster_bootstraps(mcluster)) }
            .to_string_lossy()
            .into_owned();
        Self {
            mcluster,
            listener,
            _handle: handle,
        }
    }

    /// Advertises broker 1 at `host:port` in Metadata from now on.
    pub fn advertise(&self, host: &str, port: u16) {
        let host = CString::new(host).expect("host");
        // SAFETY: the cluster is live; librdkafka copies the host.
        unsafe {
            rd::rd_kafka_mock_broker_set_host_port(self.mcluster, 1, host.as_ptr(), port.into())
        };
    }

    /// Creates a one-partition topic.
    pub fn create_topic(&self, topic: &str) {
        let name = CString::new(topic).expect("topic");
        // SAFETY: the cluster is live; librdkafka copies the name.
        let err = unsafe { rd::rd_kafka_mock_topic_create(self.mcluster, name.as_ptr(), 1, 1) };
        assert_eq!(err, rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR);
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        // SAFETY: created in `new`, destroyed once, before the handle.
        unsafe { rd::rd_kafka_mock_cluster_destroy(self.mcluster) };
    }
}
