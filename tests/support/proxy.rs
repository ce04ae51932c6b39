//! A hostile TCP proxy between kafkit and a mock broker.
//!
//! It forwards requests unchanged, remembers each request's API key and
//! version by correlation id, and forwards responses frame by frame. A test
//! arms a [`Fault`] for the next response of one API; the proxy applies it
//! once, to a connection whose client id is kafkit's (librdkafka's own
//! clients go through unharmed). Faults: responses trickled one byte at a
//! time, a connection cut mid-frame, a forged size prefix, random garbage,
//! or a rewritten response body. A request can be cut too: the proxy drops
//! it and the connection before the broker sees it ([`Proxy::arm_request`]).
//!
//! In front of a real broker, which advertises its own address, the proxy
//! rewrites every Metadata and FindCoordinator response so each broker
//! listed is the proxy itself ([`Proxy::advertise_self`]; meant for a
//! one-broker cluster).

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// Rewrites a response frame (after the size prefix): `(version, frame)`;
/// `None` leaves this response alone and keeps the fault armed.
pub type Rewrite = Arc<dyn Fn(i16, Bytes) -> Option<Bytes> + Send + Sync>;

/// What to do to one response.
#[derive(Clone)]
pub enum Fault {
    /// Write it one byte at a time, `delay` apart.
    Trickle(Duration),
    /// Write half of it, then close the connection.
    CutMidFrame,
    /// Replace its size prefix (the body follows unchanged).
    SizePrefix(i32),
    /// Write this many pseudo-random bytes instead.
    Garbage(usize),
    /// Replace the body (when the function returns one).
    Rewrite(Rewrite),
    /// A rewritten body, ready to send.
    Rewritten(Bytes),
}

impl std::fmt::Debug for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Trickle(d) => write!(f, "Trickle({d:?})"),
            Fault::CutMidFrame => write!(f, "CutMidFrame"),
            Fault::SizePrefix(n) => write!(f, "SizePrefix({n})"),
            Fault::Garbage(n) => write!(f, "Garbage({n})"),
            Fault::Rewrite(_) | Fault::Rewritten(_) => write!(f, "Rewrite"),
        }
    }
}

#[derive(Default)]
struct Shared {
    armed: Mutex<Vec<(i16, Fault)>>,
    /// APIs whose next kafkit request is dropped, with the connection.
    armed_requests: Mutex<Vec<i16>>,
    /// Rewrite Metadata responses to list this port for every broker.
    advertise: Mutex<Option<u16>>,
    applied: Mutex<Vec<(i16, String)>>,
    connections: AtomicUsize,
}

/// A running proxy.
pub struct Proxy {
    pub port: u16,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on 127.0.0.1 (any port) and forwards to `upstream`.
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                s.connections.fetch_add(1, Ordering::AcqRel);
                let (s, upstream) = (s.clone(), upstream.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        let _ = client.set_nodelay(true);
                        relay(client, server, s).await;
                    }
                });
            }
        });
        Self { port, shared, task }
    }

    /// Applies `fault` to the next kafkit response of `api`.
    pub fn arm(&self, api: i16, fault: Fault) {
        lock(&self.shared.armed).push((api, fault));
    }

    /// Drops the next kafkit request of `api` and cuts its connection: the
    /// broker never sees that request (applied as `(api, "CutRequest")`).
    pub fn arm_request(&self, api: i16) {
        lock(&self.shared.armed_requests).push(api);
    }

    /// From now on every Metadata response lists this proxy as each broker,
    /// and every FindCoordinator response names it as the coordinator.
    pub fn advertise_self(&self) {
        *lock(&self.shared.advertise) = Some(self.port);
    }

    /// Whether every armed fault was applied.
    pub fn all_applied(&self) -> bool {
        lock(&self.shared.armed).is_empty() && lock(&self.shared.armed_requests).is_empty()
    }

    /// Faults applied so far, as `(api, fault)`.
    pub fn applied(&self) -> Vec<(i16, String)> {
        lock(&self.shared.applied).clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::Acquire)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

type Requests = Arc<Mutex<HashMap<i32, (i16, i16)>>>;

async fn relay(client: TcpStream, server: TcpStream, shared: Arc<Shared>) {
    let (client_rd, client_wr) = client.into_split();
    let (server_rd, server_wr) = server.into_split();
    let requests: Requests = Arc::default();
    let is_kafkit = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut up = tokio::spawn(forward_requests(
        client_rd,
        server_wr,
        requests.clone(),
        is_kafkit.clone(),
        shared.clone(),
    ));
    let down = forward_responses(server_rd, client_wr, requests, is_kafkit, shared);
    tokio::pin!(down);
    tokio::select! {
        () = &mut down => up.abort(),
        cut = &mut up => {
            // A cut request: dropping `down` closes the client's side now.
            if !matches!(cut, Ok(true)) {
                down.await;
            }
        }
    }
}

/// Splits one size-prefixed frame (prefix included) off `buf`.
fn take_frame(buf: &mut BytesMut) -> Option<Bytes> {
    let len = usize::try_from(i32::from_be_bytes(buf.get(..4)?.try_into().ok()?)).ok()?;
    if buf.len() < 4 + len {
        return None;
    }
    Some(buf.split_to(4 + len).freeze())
}

/// Forwards requests until either side closes (false) or an armed request
/// is dropped (true: the caller cuts the connection).
async fn forward_requests(
    mut rd: OwnedReadHalf,
    mut wr: OwnedWriteHalf,
    requests: Requests,
    is_kafkit: Arc<std::sync::atomic::AtomicBool>,
    shared: Arc<Shared>,
) -> bool {
    let mut buf = BytesMut::new();
    loop {
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        while let Some(frame) = take_frame(&mut buf) {
            let mut h = frame.slice(4..);
            if h.remaining() >= 10 {
                let (api, version, correlation_id) = (h.get_i16(), h.get_i16(), h.get_i32());
                let id_len = usize::try_from(h.get_i16()).unwrap_or(0);
                if h.get(..id_len) == Some(b"kafkit".as_slice()) {
                    is_kafkit.store(true, Ordering::Release);
                }
                lock(&requests).insert(correlation_id, (api, version));
                if is_kafkit.load(Ordering::Acquire) && take_armed_request(&shared, api) {
                    lock(&shared.applied).push((api, "CutRequest".to_owned()));
                    return true;
                }
            }
            if wr.write_all(&frame).await.is_err() {
                return false;
            }
        }
    }
    let _ = wr.shutdown().await;
    false
}

fn take_armed_request(shared: &Shared, api: i16) -> bool {
    let mut armed = lock(&shared.armed_requests);
    match armed.iter().position(|a| *a == api) {
        Some(i) => {
            armed.remove(i);
            true
        }
        None => false,
    }
}

/// A Metadata response (after the size prefix) listing `port` on loopback
/// for every broker; `None` when it does not decode.
fn advertise_in(version: i16, frame: Bytes, port: u16) -> Option<Bytes> {
    use kafkit::protocol::frame::{decode_response_message, encode_response};
    use kafkit::protocol::messages::metadata::MetadataResponse;
    let (header, mut resp) = decode_response_message::<MetadataResponse>(frame, version).ok()?;
    for b in &mut resp.brokers {
        b.host = "127.0.0.1".to_owned();
        b.port = i32::from(port);
    }
    let mut out = BytesMut::new();
    encode_response(&resp, version, header.correlation_id, &mut out).ok()?;
    Some(out.freeze().slice(4..))
}

/// A FindCoordinator response (after the size prefix) naming `port` on
/// loopback for every coordinator found; `None` when it does not decode.
fn coordinator_in(version: i16, frame: Bytes, port: u16) -> Option<Bytes> {
    use kafkit::protocol::frame::{decode_response_message, encode_response};
    use kafkit::protocol::messages::find_coordinator::FindCoordinatorResponse;
    let (header, mut resp) =
        decode_response_message::<FindCoordinatorResponse>(frame, version).ok()?;
    // v0-v3 answer one key in top-level fields, v4+ a list.
    if version < 4 && resp.node_id >= 0 {
        resp.host = "127.0.0.1".to_owned();
        resp.port = i32::from(port);
    }
    for c in resp.coordinators.iter_mut().filter(|c| c.node_id >= 0) {
        c.host = "127.0.0.1".to_owned();
        c.port = i32::from(port);
    }
    let mut out = BytesMut::new();
    encode_response(&resp, version, header.correlation_id, &mut out).ok()?;
    Some(out.freeze().slice(4..))
}

async fn forward_responses(
    mut rd: OwnedReadHalf,
    mut wr: OwnedWriteHalf,
    requests: Requests,
    is_kafkit: Arc<std::sync::atomic::AtomicBool>,
    shared: Arc<Shared>,
) {
    let mut buf = BytesMut::new();
    loop {
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        while let Some(frame) = take_frame(&mut buf) {
            let correlation_id = frame.slice(4..).get_i32();
            let (api, version) = lock(&requests).remove(&correlation_id).unwrap_or((-1, -1));
            let advertise = *lock(&shared.advertise);
            let frame = match advertise {
                Some(port) if api == 3 || api == 10 => {
                    let body = if api == 3 {
                        advertise_in(version, frame.slice(4..), port)
                            .expect("a Metadata response kafkit can decode")
                    } else {
                        coordinator_in(version, frame.slice(4..), port)
                            .expect("a FindCoordinator response kafkit can decode")
                    };
                    let mut out = BytesMut::with_capacity(body.len() + 4);
                    out.put_i32(i32::try_from(body.len()).expect("size"));
                    out.extend_from_slice(&body);
                    out.freeze()
                }
                _ => frame,
            };
            let fault = if is_kafkit.load(Ordering::Acquire) {
                let mut armed = lock(&shared.armed);
                match armed.iter().position(|(a, _)| *a == api) {
                    Some(i) => match &armed[i].1 {
                        Fault::Rewrite(f) => f(version, frame.slice(4..)).map(|body| {
                            armed.remove(i);
                            Fault::Rewritten(body)
                        }),
                        _ => Some(armed.remove(i).1),
                    },
                    None => None,
                }
            } else {
                None
            };
            let Some(fault) = fault else {
                if wr.write_all(&frame).await.is_err() {
                    return;
                }
                continue;
            };
            lock(&shared.applied).push((api, format!("{fault:?}")));
            if !apply(fault, frame, &mut wr).await {
                return;
            }
        }
    }
}

/// Writes `frame` as `fault` says; false when the connection is to be cut.
async fn apply(fault: Fault, frame: Bytes, wr: &mut OwnedWriteHalf) -> bool {
    match fault {
        Fault::Trickle(delay) => {
            for b in frame.iter() {
                if wr.write_all(&[*b]).await.is_err() {
                    return false;
                }
                let _ = wr.flush().await;
                tokio::time::sleep(delay).await;
            }
            true
        }
        Fault::CutMidFrame => {
            let _ = wr.write_all(&frame[..frame.len() / 2]).await;
            let _ = wr.shutdown().await;
            false
        }
        Fault::SizePrefix(n) => {
            let mut out = BytesMut::with_capacity(frame.len());
            out.put_i32(n);
            out.extend_from_slice(&frame[4..]);
            wr.write_all(&out).await.is_ok()
        }
        Fault::Garbage(n) => {
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            let bytes: Vec<u8> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x.to_le_bytes()[0]
                })
                .collect();
            wr.write_all(&bytes).await.is_ok()
        }
        Fault::Rewrite(_) => wr.write_all(&frame).await.is_ok(),
        Fault::Rewritten(body) => {
            let mut out = BytesMut::with_capacity(body.len() + 4);
            out.put_i32(i32::try_from(body.len()).expect("size"));
            out.extend_from_slice(&body);
            wr.write_all(&out).await.is_ok()
        }
    }
}
