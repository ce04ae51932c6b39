//! Handlers that take a typed value instead of raw bytes.
//!
//! [`typed`] wraps a handler of `(T, ConsumerRecord, Context)` into a
//! [`Handler`]: the record's value is decoded with a
//! [`Deserializer`](crate::payload::Deserializer) first. A value that does
//! not decode (or is null) is a [permanent](HandlerError::permanent)
//! handler error: the handler is not called, retrying could not help, and
//! the record goes to the dead-letter destination as any failed record
//! does (or is skipped without one). It never panics.
//!
//! ```no_run
//! # #[cfg(feature = "serde")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use kafkit::consumer::ConsumerConfig;
//! use kafkit::listener::{self, DeadLetter, Listener};
//! use kafkit::ClientConfig;
//!
//! #[derive(serde::Deserialize)]
//! struct Order { id: u64 }
//!
//! let listener = Listener::builder(
//!     ClientConfig::new(["localhost:9092"]),
//!     ConsumerConfig::group("billing"),
//! )
//! .topic("orders", listener::json(|order: Order, _record, _ctx| async move {
//!     println!("order {}", order.id);
//!     Ok(())
//! }))
//! .dead_letter(DeadLetter::default_topic()) // what does not parse lands in orders.dlt
//! .run()?;
//! listener.shutdown(Duration::from_secs(10)).await?;
//! # Ok(()) }
//! ```

use std::future::Future;

use super::handler::{Context, Handler, HandlerError, HandlerResult};
use crate::consumer::ConsumerRecord;
use crate::payload::Deserializer;

/// A handler given each record's value decoded by `de`.
pub fn typed<T, D, F, Fut>(de: D, f: F) -> impl Handler
where
    T: Send + 'static,
    D: Deserializer<T> + Send + Sync + 'static,
    F: Fn(T, ConsumerRecord, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send,
{
    move |record: ConsumerRecord, ctx: Context| {
        let call = match record.decode(&de) {
            Ok(value) => Ok(f(value, record, ctx)),
            Err(e) => Err(HandlerError::permanent(e)),
        };
        async move { call?.await }
    }
}

/// A handler given each record's value decoded from JSON (the `serde` feature).
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub fn json<T, F, Fut>(f: F) -> impl Handler
where
    T: serde::de::DeserializeOwned + Send + 'static,
    F: Fn(T, ConsumerRecord, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send,
{
    typed(crate::payload::Json, f)
}
