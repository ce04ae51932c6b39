//! The task that owns one broker socket.
//!
//! It multiplexes three things in one `select!` loop: queued requests are
//! registered in the correlation-id map and appended to a write buffer,
//! the write buffer is flushed as the socket accepts bytes, and response
//! frames are read and handed to whoever waits for their correlation id.
//! Frames arrive as chunks; the write queue copies small ones together and
//! writes large ones (record batches) as they are, with vectored writes.
//! Reads and writes progress independently, so a large request never blocks
//! the responses the broker is trying to send (which would deadlock a
//! pipelined connection). Callers only ever await a oneshot, so dropping a
//! caller's future can never leave a half-written frame on the stream.

use std::collections::{HashMap, VecDeque};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, trace, warn};

use super::write_queue::WriteQueue;
use crate::error::Error;
use crate::protocol::frame::{peek_correlation_id, try_parse_frame};
use crate::protocol::ApiKey;

/// Stop taking new requests while this much is waiting to be written.
const WRITE_HIGH_WATER: usize = 4 * 1024 * 1024;

/// One request handed to the socket task.
pub(crate) struct Outgoing {
    pub correlation_id: i32,
    pub api: ApiKey,
    /// The whole frame, size prefix included, as chunks to write in order.
    pub frame: Vec<Bytes>,
    /// Who is told what became of the request.
    pub reply: Reply,
}

/// Where a request's outcome goes.
pub(crate) enum Reply {
    /// The response frame.
    Response(oneshot::Sender<Result<Bytes, Error>>),
    /// No response is expected (Produce with acks=0): told once the whole
    /// frame was written to the socket, or why it was not. A request only
    /// queued is not sent: a connection shut down right after (a producer
    /// closing after its last acks=0 send) drops it.
    Written(oneshot::Sender<Result<(), Error>>),
}

struct Pending {
    api: ApiKey,
    reply: oneshot::Sender<Result<Bytes, Error>>,
}

/// What the task remembers about the requests it took.
#[derive(Default)]
struct Book {
    inflight: HashMap<i32, Pending>,
    /// Correlation ids in the order they were written: a broker answers in
    /// that order, so a broken frame is the answer to the oldest one.
    order: VecDeque<i32>,
    /// Requests without a response, by the stream position where their
    /// frame ends.
    unwritten: VecDeque<(u64, oneshot::Sender<Result<(), Error>>)>,
    /// Bytes queued and written so far on this connection.
    queued_bytes: u64,
    written_bytes: u64,
}

impl Book {
    /// Registers `out` and appends its frame to `wbuf`.
    fn queue(&mut self, out: Outgoing, wbuf: &mut WriteQueue, broker: &str) {
        let bytes: usize = out.frame.iter().map(Bytes::len).sum();
        trace!(broker = %broker, api = %out.api, correlation_id = out.correlation_id, bytes, "queue request");
        self.queued_bytes += bytes as u64;
        match out.reply {
            Reply::Response(reply) => {
                let pending = Pending {
                    api: out.api,
                    reply,
                };
                self.inflight.insert(out.correlation_id, pending);
                let inflight = &self.inflight;
                self.order.retain(|id| inflight.contains_key(id));
                self.order.push_back(out.correlation_id);
            }
            Reply::Written(done) => self.unwritten.push_back((self.queued_bytes, done)),
        }
        for chunk in out.frame {
            wbuf.push(chunk);
        }
    }

    /// Tells the requests without a response whose frames are now wholly
    /// written (and flushed).
    fn resolve_written(&mut self) {
        while let Some((end, _)) = self.unwritten.front() {
            if *end > self.written_bytes {
                break;
            }
            if let Some((_, done)) = self.unwritten.pop_front() {
                let _ = done.send(Ok(()));
            }
        }
    }

    /// Fails everything in flight, unwritten or still queued with `outcome`.
    fn fail_all(&mut self, outcome: &Error, requests: &mut mpsc::Receiver<Outgoing>) {
        for (_, p) in self.inflight.drain() {
            let _ = p.reply.send(Err(in_flight_error(outcome, p.api)));
        }
        for (_, done) in self.unwritten.drain(..) {
            let _ = done.send(Err(in_flight_error(outcome, ApiKey::PRODUCE)));
        }
        while let Ok(out) = requests.try_recv() {
            match out.reply {
                Reply::Response(reply) => {
                    let _ = reply.send(Err(in_flight_error(outcome, out.api)));
                }
                Reply::Written(done) => {
                    let _ = done.send(Err(in_flight_error(outcome, out.api)));
                }
            }
        }
    }
}

/// Runs the connection until the socket fails, every handle is dropped or
/// `shutdown` fires; then fails everything in flight.
pub(crate) async fn run<S>(
    stream: S,
    broker: String,
    max_frame: usize,
    mut requests: mpsc::Receiver<Outgoing>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut book = Book::default();
    let mut rbuf = BytesMut::with_capacity(64 * 1024);
    let mut wbuf = WriteQueue::default();
    let mut accepting = true;
    let outcome: Error = loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => break Error::Disconnected { broker: broker.clone() },
            read = rd.read_buf(&mut rbuf) => match read {
                Ok(0) => break Error::Io {
                    broker: broker.clone(),
                    kind: std::io::ErrorKind::UnexpectedEof,
                    message: "connection closed by the broker".to_owned(),
                },
                Ok(_) => {
                    if let Err(source) = dispatch_frames(&mut rbuf, max_frame, &mut book.inflight, &broker) {
                        break broken_frame(&broker, source, &mut book.inflight, &mut book.order);
                    }
                }
                Err(e) => break Error::io(&broker, &e),
            },
            written = wr.write_buf(&mut wbuf), if !wbuf.is_empty() => {
                match written {
                    Ok(n) => book.written_bytes += n as u64,
                    Err(e) => break Error::io(&broker, &e),
                }
                if wbuf.is_empty() {
                    if let Err(e) = wr.flush().await {
                        break Error::io(&broker, &e);
                    }
                }
                book.resolve_written();
            }
            cmd = requests.recv(), if accepting && wbuf.len() < WRITE_HIGH_WATER => match cmd {
                Some(out) => book.queue(out, &mut wbuf, &broker),
                // Every handle is gone: finish what is in flight, then stop.
                None => accepting = false,
            },
        }
        if !accepting && book.inflight.is_empty() && wbuf.is_empty() {
            break Error::Closed;
        }
    };
    // Refuse new requests first: a caller that sees its request fail below
    // and retries must find this connection closed, not queue on it again.
    requests.close();
    debug!(broker = %broker, in_flight = book.inflight.len(), reason = %outcome, "connection closed");
    let _ = wr.shutdown().await;
    book.fail_all(&outcome, &mut requests);
}

/// The error for a request that was in flight or queued when the
/// connection ended: a socket error names the request it cut off.
fn in_flight_error(outcome: &Error, api: ApiKey) -> Error {
    match outcome {
        Error::Io {
            broker,
            kind,
            message,
        } => Error::Io {
            broker: broker.clone(),
            kind: *kind,
            message: format!("{message}; the {api} request got no response"),
        },
        other => other.clone(),
    }
}

/// Fails the oldest request in flight, whose response the broken frame
/// was, with `BadResponse` naming its API; the others on the dropped
/// connection fail with `Disconnected` (the returned outcome).
fn broken_frame(
    broker: &str,
    source: crate::protocol::ProtocolError,
    inflight: &mut HashMap<i32, Pending>,
    order: &mut VecDeque<i32>,
) -> Error {
    let head = order.iter().find_map(|id| inflight.remove(id));
    let api = head.as_ref().map_or(ApiKey(-1), |p| p.api);
    warn!(broker, api = %api, error = %source, "unreadable frame from broker; dropping the connection");
    let error = Error::BadResponse {
        broker: broker.to_owned(),
        api,
        source,
    };
    match head {
        Some(p) => {
            let _ = p.reply.send(Err(error));
            Error::Disconnected {
                broker: broker.to_owned(),
            }
        }
        None => error,
    }
}

/// Hands every complete frame in `rbuf` to its waiter; an error means the
/// stream cannot be read any further.
fn dispatch_frames(
    rbuf: &mut BytesMut,
    max_frame: usize,
    inflight: &mut HashMap<i32, Pending>,
    broker: &str,
) -> Result<(), crate::protocol::ProtocolError> {
    loop {
        let Some(frame) = try_parse_frame(rbuf, max_frame)? else {
            return Ok(());
        };
        let correlation_id = peek_correlation_id(&frame)?;
        match inflight.remove(&correlation_id) {
            Some(p) => {
                trace!(broker, api = %p.api, correlation_id, bytes = frame.len(), "response");
                // The waiter may have given up (timeout, dropped future): that is fine.
                let _ = p.reply.send(Ok(frame));
            }
            None => {
                return Err(crate::protocol::ProtocolError::InvalidValue {
                    field: "correlation_id",
                    value: i64::from(correlation_id),
                });
            }
        }
    }
}
