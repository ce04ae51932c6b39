//! A handle to one broker connection: typed, pipelined, version-negotiated requests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot, watch, RwLock};
use tracing::{debug, Instrument};

use super::io_task::{run, Outgoing, Reply};
use crate::config::ClientConfig;
use crate::error::{Error, Result};
use crate::metrics::BrokerStats;
use crate::protocol::frame::{decode_response, encode_request_chunks};
use crate::protocol::messages::api_versions::{ApiVersionsRequest, ApiVersionsResponse};
use crate::protocol::{ApiKey, ErrorCode, Message, Request, VersionRange};

/// A live connection to one broker.
///
/// Cheap to clone; every clone shares the socket task. Requests are
/// pipelined: many may be in flight, answered in order by the broker and
/// matched by correlation id. The connection negotiated API versions when it
/// was opened, and [`BrokerConnection::send`] uses the highest version both
/// sides support.
#[derive(Clone, Debug)]
pub struct BrokerConnection {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    addr: String,
    node_id: Option<i32>,
    client_id: String,
    request_timeout: std::time::Duration,
    tx: mpsc::Sender<Outgoing>,
    shutdown: watch::Sender<bool>,
    next_correlation_id: AtomicI32,
    versions: OnceLock<HashMap<i16, VersionRange>>,
    /// The cluster's finalized features from ApiVersions v3+ (name to level).
    features: OnceLock<HashMap<String, i16>>,
    /// Requests take it shared while they are queued; re-authentication
    /// takes it exclusively so nothing is sent in the middle of its exchange.
    gate: RwLock<()>,
    /// The broker's request counters (shared with the pool's metrics).
    stats: Arc<BrokerStats>,
}

impl BrokerConnection {
    pub(super) fn spawn<S>(
        stream: S,
        addr: &str,
        node_id: Option<i32>,
        config: &ClientConfig,
        stats: Arc<BrokerStats>,
    ) -> Self
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(config.max_queued_requests.max(1));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let socket = run(
            stream,
            addr.to_owned(),
            config.max_frame_size,
            rx,
            shutdown_rx,
        );
        let counters = stats.clone();
        tokio::spawn(async move {
            socket.await;
            counters.disconnected();
        });
        Self {
            inner: Arc::new(Inner {
                addr: addr.to_owned(),
                node_id,
                client_id: config.client_id.clone(),
                request_timeout: config.request_timeout,
                tx,
                shutdown,
                next_correlation_id: AtomicI32::new(1),
                versions: OnceLock::new(),
                features: OnceLock::new(),
                gate: RwLock::new(()),
                stats,
            }),
        }
    }

    pub(super) fn downgrade(&self) -> Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    pub(super) fn upgrade(weak: &Weak<Inner>) -> Option<Self> {
        weak.upgrade().map(|inner| Self { inner })
    }

    /// Fires when [`BrokerConnection::close`] is called.
    pub(super) fn closed_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    pub(super) fn gate(&self) -> &RwLock<()> {
        &self.inner.gate
    }

    /// Sends `req` at the negotiated version without passing the gate: for
    /// the authentication exchange itself.
    pub(super) async fn send_ungated<R: Request>(&self, req: &R) -> Result<R::Response> {
        let version = self.version_for::<R>()?;
        let (reply, rx) = oneshot::channel();
        let correlation_id = self
            .enqueue_now(req, version, Reply::Response(reply))
            .await?;
        PendingResponse::<R> {
            conn: self.clone(),
            rx,
            version,
            correlation_id,
            queued_at: tokio::time::Instant::now(),
            _request: std::marker::PhantomData,
        }
        .response()
        .await
    }

    /// ApiVersions at our newest version; on UNSUPPORTED_VERSION retry at the
    /// highest version the broker listed (KIP-511's downgrade dance). Returns
    /// the API ranges and the finalized feature levels.
    /// Keeps what ApiVersions negotiated (once, when the connection opens).
    pub(super) fn set_negotiated(
        &self,
        versions: HashMap<i16, VersionRange>,
        features: HashMap<String, i16>,
    ) {
        let _ = self.inner.versions.set(versions);
        let _ = self.inner.features.set(features);
    }

    pub(super) async fn negotiate_versions(
        &self,
    ) -> Result<(HashMap<i16, VersionRange>, HashMap<String, i16>)> {
        let request = ApiVersionsRequest {
            client_software_name: "kafkit".to_owned(),
            client_software_version: env!("CARGO_PKG_VERSION").to_owned(),
            ..Default::default()
        };
        let mut version = ApiVersionsRequest::VERSIONS.max;
        for _ in 0..3 {
            let resp: ApiVersionsResponse = match self.send_at(&request, version).await {
                // An error body we cannot read: every broker answers v0.
                Err(Error::BadResponse { source, .. }) if version > 0 => {
                    debug!(version, error = %source, "unreadable ApiVersions answer; retrying at v0");
                    version = 0;
                    continue;
                }
                other => other?,
            };
            if resp.error_code == ErrorCode::UNSUPPORTED_VERSION {
                let theirs = resp
                    .range_of(ApiKey::API_VERSIONS)
                    .unwrap_or(VersionRange::new(0, 0));
                version = ApiVersionsRequest::VERSIONS
                    .highest_common(&theirs)
                    .ok_or_else(|| self.unsupported(ApiKey::API_VERSIONS))?;
                debug!(version, "ApiVersions downgraded");
                continue;
            }
            if !resp.error_code.is_ok() {
                return Err(Error::Broker {
                    code: resp.error_code,
                    api: ApiKey::API_VERSIONS,
                    version: Some(version),
                    broker: Some(self.broker_ref()),
                    context: String::new(),
                });
            }
            let apis = resp
                .api_keys
                .iter()
                .map(|a| (a.api_key, VersionRange::new(a.min_version, a.max_version)))
                .collect();
            let features = resp
                .finalized_features
                .iter()
                .map(|f| (f.name.clone(), f.max_version))
                .collect();
            return Ok((apis, features));
        }
        Err(self.unsupported(ApiKey::API_VERSIONS))
    }

    fn unsupported(&self, api: ApiKey) -> Error {
        Error::UnsupportedApi {
            broker: self.inner.addr.clone(),
            api,
        }
    }

    /// The broker's node id and address, as errors name it.
    pub fn broker_ref(&self) -> crate::error::BrokerRef {
        crate::error::BrokerRef {
            node_id: self.inner.node_id,
            addr: self.inner.addr.clone(),
        }
    }

    /// The broker's address.
    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// The broker's node id, if known (bootstrap connections have none).
    pub fn node_id(&self) -> Option<i32> {
        self.inner.node_id
    }

    /// Whether the socket task has stopped.
    pub fn is_closed(&self) -> bool {
        self.inner.tx.is_closed()
    }

    /// Closes the connection; requests in flight fail with `Disconnected`.
    pub fn close(&self) {
        let _ = self.inner.shutdown.send(true);
    }

    /// The version range the broker advertised for `api`.
    pub fn broker_versions(&self, api: ApiKey) -> Option<VersionRange> {
        self.inner.versions.get()?.get(&api.0).copied()
    }

    /// The level of a finalized feature the broker reported in ApiVersions
    /// (v3+), such as `transaction.version` (KIP-890); `None` if not listed.
    pub fn finalized_feature(&self, name: &str) -> Option<i16> {
        self.inner.features.get()?.get(name).copied()
    }

    /// The highest version of `R` both kafkit and the broker support.
    pub fn version_for<R: Request>(&self) -> Result<i16> {
        self.broker_versions(R::API_KEY)
            .and_then(|theirs| R::VERSIONS.highest_common(&theirs))
            .ok_or_else(|| self.unsupported(R::API_KEY))
    }

    /// Sends `req` at the negotiated version and waits for its response.
    pub async fn send<R: Request>(&self, req: &R) -> Result<R::Response> {
        let version = self.version_for::<R>()?;
        self.send_at(req, version).await
    }

    /// Sends `req` at an explicit `version` and waits for its response.
    pub async fn send_at<R: Request>(&self, req: &R, version: i16) -> Result<R::Response> {
        self.start_at(req, version).await?.response().await
    }

    /// Like [`send_at`](Self::send_at), waiting up to `timeout` instead of
    /// the configured request timeout: for requests a broker may hold on
    /// purpose, such as a JoinGroup waiting for the group's other members
    /// (up to the rebalance timeout).
    pub async fn send_at_within<R: Request>(
        &self,
        req: &R,
        version: i16,
        timeout: std::time::Duration,
    ) -> Result<R::Response> {
        self.start_at(req, version)
            .await?
            .response_within(timeout)
            .await
    }

    /// Queues `req` at the negotiated version on the socket and returns a
    /// handle for its response. Requests started one after another on the
    /// same connection reach the broker in that order (the producer relies
    /// on it to keep several batches of a partition in flight).
    pub async fn start<R: Request>(&self, req: &R) -> Result<PendingResponse<R>> {
        let version = self.version_for::<R>()?;
        self.start_at(req, version).await
    }

    async fn start_at<R: Request>(&self, req: &R, version: i16) -> Result<PendingResponse<R>> {
        let (reply, rx) = oneshot::channel();
        let queued_at = tokio::time::Instant::now();
        let correlation_id = self.enqueue(req, version, Reply::Response(reply)).await?;
        Ok(PendingResponse {
            conn: self.clone(),
            rx,
            version,
            correlation_id,
            queued_at,
            _request: std::marker::PhantomData,
        })
    }

    /// Sends `req` at the negotiated version without waiting for a response
    /// (Produce with acks=0); resolves once the whole request was written to
    /// the socket (not merely queued: a connection closed right after would
    /// drop a queued one), or fails if the connection ended first.
    pub async fn send_oneway<R: Request>(&self, req: &R) -> Result<()> {
        let version = self.version_for::<R>()?;
        let (done, written) = oneshot::channel();
        self.enqueue(req, version, Reply::Written(done)).await?;
        let result = written.await.map_err(|_| Error::Disconnected {
            broker: self.inner.addr.clone(),
        })?;
        match &result {
            Ok(()) => self.inner.stats.written(R::API_KEY),
            Err(_) => self.inner.stats.failed(R::API_KEY),
        }
        result
    }

    async fn enqueue<R: Request>(&self, req: &R, version: i16, reply: Reply) -> Result<i32> {
        let _shared = self.inner.gate.read().await;
        self.enqueue_now(req, version, reply).await
    }

    async fn enqueue_now<R: Request>(&self, req: &R, version: i16, reply: Reply) -> Result<i32> {
        let correlation_id = self
            .inner
            .next_correlation_id
            .fetch_add(1, Ordering::Relaxed)
            & i32::MAX;
        // Chunks: large record batches are shared with `req`, not copied.
        let frame =
            encode_request_chunks(req, version, correlation_id, Some(&self.inner.client_id))
                .map_err(|source| Error::Protocol {
                    broker: self.inner.addr.clone(),
                    api: R::API_KEY,
                    source,
                })?;
        debug!(target: "kafkit::protocol", broker = %self.inner.addr, api = %R::API_KEY, version, correlation_id, "request");
        self.inner
            .tx
            .send(Outgoing {
                correlation_id,
                api: R::API_KEY,
                frame,
                reply,
            })
            .await
            .map_err(|_| Error::Disconnected {
                broker: self.inner.addr.clone(),
            })?;
        Ok(correlation_id)
    }
}

/// A request queued on a connection, waiting for its response.
#[derive(Debug)]
pub struct PendingResponse<R: Request> {
    conn: BrokerConnection,
    rx: oneshot::Receiver<Result<bytes::Bytes>>,
    version: i16,
    correlation_id: i32,
    /// When the request was handed to the socket task (latency starts here).
    queued_at: tokio::time::Instant,
    _request: std::marker::PhantomData<fn() -> R>,
}

impl<R: Request> PendingResponse<R> {
    /// The version the request was encoded at.
    pub fn version(&self) -> i16 {
        self.version
    }

    /// Waits (up to the request timeout) for the response and decodes it.
    pub async fn response(self) -> Result<R::Response> {
        let timeout = self.conn.inner.request_timeout;
        self.response_within(timeout).await
    }

    /// Waits up to `timeout` for the response and decodes it; past it the
    /// connection is presumed stuck and closed.
    pub async fn response_within(self, timeout: std::time::Duration) -> Result<R::Response> {
        let inner = &self.conn.inner;
        let span = tracing::trace_span!("request", broker = %inner.addr, api = %R::API_KEY, version = self.version, correlation_id = self.correlation_id);
        let frame = async {
            match tokio::time::timeout(timeout, self.rx).await {
                Ok(Ok(result)) => result,
                Ok(Err(_)) => Err(Error::Disconnected {
                    broker: inner.addr.clone(),
                }),
                Err(_) => {
                    // A broker that does not answer in time is presumed stuck:
                    // drop the connection so the pool opens a fresh one.
                    self.conn.close();
                    Err(Error::Timeout {
                        broker: inner.addr.clone(),
                        api: R::API_KEY,
                        timeout,
                    })
                }
            }
        }
        .instrument(span)
        .await;
        let frame = match frame {
            Ok(frame) => {
                inner.stats.answered(R::API_KEY, self.queued_at.elapsed());
                debug!(target: "kafkit::protocol", broker = %inner.addr, api = %R::API_KEY, version = self.version, correlation_id = self.correlation_id, bytes = frame.len(), "response");
                frame
            }
            Err(e) => {
                inner.stats.failed(R::API_KEY);
                debug!(target: "kafkit::protocol", broker = %inner.addr, api = %R::API_KEY, version = self.version, correlation_id = self.correlation_id, error = %e, "no response");
                return Err(e);
            }
        };
        let (_, body) =
            decode_response::<R>(frame, self.version).map_err(|source| Error::BadResponse {
                broker: inner.addr.clone(),
                api: R::API_KEY,
                source,
            })?;
        Ok(body)
    }
}
