//! The replying side: one handler per request topic (NestJS's `@MessagePattern`).

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{CORRELATION_ID, NEST_ERR, NEST_IS_DISPOSED, REPLY_PARTITION, REPLY_TOPIC};
use crate::cluster::Client;
use crate::config::ClientConfig;
use crate::consumer::{Consumer, ConsumerConfig, ConsumerEvent, ConsumerRecord};
use crate::error::{Error, Result};
use crate::producer::{Producer, ProducerConfig, ProducerRecord, TopicPartition};

/// A request as a handler sees it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Request {
    /// The request record.
    pub record: ConsumerRecord,
    /// Its correlation id; `None` for an event (no reply is sent).
    pub correlation_id: Option<String>,
}

impl Request {
    /// The request's value.
    pub fn value(&self) -> Option<&Bytes> {
        self.record.value.as_ref()
    }

    /// Whether the caller waits for a reply.
    pub fn expects_reply(&self) -> bool {
        self.correlation_id.is_some() && self.record.header(REPLY_TOPIC).is_some()
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = std::result::Result<Bytes, String>> + Send>>;
type Handler = Arc<dyn Fn(Request) -> BoxFuture + Send + Sync>;

/// Builds a [`ReplyServer`].
pub struct ReplyServerBuilder {
    client: ClientConfig,
    consumer: ConsumerConfig,
    producer: ProducerConfig,
    handlers: HashMap<String, Handler>,
    retry_backoff: Duration,
}

impl std::fmt::Debug for ReplyServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyServerBuilder")
            .field("topics", &self.handlers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl ReplyServerBuilder {
    /// Registers the handler for requests on `topic`. Its `Ok` value is the
    /// reply's value; an `Err` is sent back as an error reply
    /// (`kafka_nest-err` carries its text), so the caller learns of it.
    pub fn handle<F, Fut, E>(mut self, topic: impl Into<String>, handler: F) -> Self
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<Bytes, E>> + Send + 'static,
        E: Display,
    {
        let handler = Arc::new(handler);
        let boxed: Handler = Arc::new(move |req| {
            let fut = handler(req);
            Box::pin(async move { fut.await.map_err(|e| e.to_string()) })
        });
        self.handlers.insert(topic.into(), boxed);
        self
    }

    /// Sets the producer settings used for replies.
    pub fn producer(mut self, config: ProducerConfig) -> Self {
        self.producer = config;
        self
    }

    /// Pause before a request whose reply could not be sent is handled again (default 500 ms).
    pub fn retry_backoff(mut self, t: Duration) -> Self {
        self.retry_backoff = t;
        self
    }

    /// Connects, joins the consumer group subscribed to every handler's
    /// topic and starts serving.
    pub async fn start(self) -> Result<ReplyServer> {
        if self.handlers.is_empty() {
            return Err(Error::Config("a reply server needs a handler".to_owned()));
        }
        let client = Client::connect(self.client).await?;
        let producer = Producer::with_client(client.clone(), self.producer);
        let mut consumer = Consumer::with_client(client.clone(), self.consumer);
        let topics: Vec<String> = self.handlers.keys().cloned().collect();
        consumer.subscribe(&topics)?;
        let events = consumer.events();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(
            consumer,
            producer.clone(),
            self.handlers,
            stopped,
            self.retry_backoff,
        ));
        Ok(ReplyServer {
            client,
            producer,
            stop: Some(stop),
            task: Some(task),
            events,
        })
    }
}

/// Serves requests until closed. Requests are handled one at a time in
/// order; a request's offset counts as processed (and is committed by the
/// group's auto-commit, on rebalance and on close) only once its reply was
/// acknowledged by the broker, so a restarted server answers whatever its
/// predecessor had not (callers drop duplicate replies by correlation id).
#[derive(Debug)]
pub struct ReplyServer {
    client: Client,
    producer: Producer,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<()>>>,
    events: Option<tokio::sync::mpsc::UnboundedReceiver<ConsumerEvent>>,
}

impl ReplyServer {
    /// A builder for a server in consumer group `consumer.group_id`.
    pub fn builder(client: ClientConfig, consumer: ConsumerConfig) -> ReplyServerBuilder {
        ReplyServerBuilder {
            client,
            consumer,
            producer: ProducerConfig::default(),
            handlers: HashMap::new(),
            retry_backoff: Duration::from_millis(500),
        }
    }

    /// The consumer's lifecycle events (taken once).
    pub fn events(&mut self) -> Option<tokio::sync::mpsc::UnboundedReceiver<ConsumerEvent>> {
        self.events.take()
    }

    /// Stops after the request in hand, commits what was answered, leaves
    /// the group and closes the connections, within `timeout` for the
    /// producer's flush.
    pub async fn close(mut self, timeout: Duration) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let served = match self.task.take() {
            Some(task) => task.await.unwrap_or(Err(Error::Closed)),
            None => Ok(()),
        };
        let flushed = self.producer.close(timeout).await;
        self.client.close();
        served.and(flushed)
    }
}

impl Drop for ReplyServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn serve(
    mut consumer: Consumer,
    producer: Producer,
    handlers: HashMap<String, Handler>,
    mut stopped: oneshot::Receiver<()>,
    retry_backoff: Duration,
) -> Result<()> {
    loop {
        let rec = tokio::select! {
            _ = &mut stopped => break,
            rec = consumer.recv() => rec,
        };
        let rec = match rec {
            None => break,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "reading requests");
                continue;
            }
            Some(Ok(rec)) => rec,
        };
        let Some(handler) = handlers.get(&*rec.topic) else {
            continue;
        };
        let (tp, offset) = (
            TopicPartition {
                topic: rec.topic.to_string(),
                partition: rec.partition,
            },
            rec.offset,
        );
        let answered = tokio::select! {
            _ = &mut stopped => {
                // Not answered: leave it uncommitted for the next server.
                consumer.seek(tp, offset)?;
                break;
            }
            r = handle_one(handler, &producer, rec) => r,
        };
        if let Err(e) = answered {
            tracing::warn!(error = %e, topic = %tp.topic, partition = tp.partition, offset,
                "could not send a reply; handling the request again");
            consumer.seek(tp, offset)?;
            tokio::time::sleep(retry_backoff).await;
        }
        // The next `recv` marks this record processed.
    }
    consumer.close().await
}

/// Runs the handler and, for a request, sends and awaits its reply.
async fn handle_one(handler: &Handler, producer: &Producer, rec: ConsumerRecord) -> Result<()> {
    let correlation_id = rec
        .header(CORRELATION_ID)
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let reply_topic = rec
        .header(REPLY_TOPIC)
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let reply_partition = rec
        .header(REPLY_PARTITION)
        .and_then(|b| std::str::from_utf8(&b).ok()?.trim().parse::<i32>().ok())
        .filter(|p| *p >= 0);
    let (topic, partition, offset) = (rec.topic.clone(), rec.partition, rec.offset);
    let request = Request {
        record: rec,
        correlation_id: correlation_id.clone(),
    };
    let outcome = handler(request).await;
    let (Some(id), Some(reply_topic)) = (correlation_id, reply_topic) else {
        if let Err(e) = outcome {
            tracing::warn!(error = %e, topic = %topic, partition, offset, "event handler failed");
        }
        return Ok(());
    };
    let mut reply = ProducerRecord::new(reply_topic).header(CORRELATION_ID, id);
    if let Some(p) = reply_partition {
        reply = reply.partition(p);
    }
    reply = match outcome {
        Ok(value) => reply.value(value),
        Err(message) => {
            tracing::debug!(topic = %topic, partition, offset, error = %message, "handler failed; sending an error reply");
            reply.header(NEST_ERR, message)
        }
    };
    // NestJS marks a request's last reply with this header (a zero byte).
    reply = reply.header(NEST_IS_DISPOSED, Bytes::from_static(&[0]));
    producer.send(reply).await.map(|_| ())
}
