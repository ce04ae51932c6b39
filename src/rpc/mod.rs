//! Request-reply over Kafka topics, compatible with NestJS's Kafka transport.
//!
//! A [`RequestClient`] sends a request record to a topic and waits for the
//! record that answers it on the reply topic (`<topic>.reply` by default). A
//! [`ReplyServer`] consumes request topics in a consumer group, runs one
//! handler per topic and produces each handler's result to the reply topic
//! and partition named in the request.
//!
//! The headers are the ones `@nestjs/microservices` (`ClientKafka` and
//! `ServerKafka`) use, so a kafkit client can call a NestJS
//! `@MessagePattern` handler and a NestJS client can call a kafkit server:
//!
//! | header                   | on       | meaning                                       |
//! |--------------------------|----------|-----------------------------------------------|
//! | `kafka_correlationId`    | both     | matches a reply to its request                |
//! | `kafka_replyTopic`       | request  | where the server sends the reply              |
//! | `kafka_replyPartition`   | request  | the reply partition (decimal text)            |
//! | `kafka_nest-err`         | reply    | the handler failed; the value is the message  |
//! | `kafka_nest-is-disposed` | reply    | the last reply for this correlation id        |
//!
//! Unlike NestJS's client, which takes its reply partition from a consumer
//! group assignment (so a member leaving the group can move another
//! instance's reply partition and its replies with it), each
//! [`RequestClient`] reads its reply partition by **manual assignment**: no
//! rebalance can take it away. Replies are matched by correlation id; a
//! reply whose id is unknown (a duplicate after a server restart, a reply
//! that arrived after its request timed out, or one meant for another
//! client sharing the partition) is dropped with a `tracing` event.
//!
//! Records without a correlation id or reply topic are *events*: the server
//! runs the handler and sends nothing back ([`RequestClient::emit`]).
//!
//! Spec: kafkit's reading of `@nestjs/microservices`' Kafka transport
//! (<https://docs.nestjs.com/microservices/kafka>); Kafka itself has no
//! request-reply protocol.

mod client;
mod error;
pub(crate) mod ids;
mod server;

pub use client::{Reply, RequestClient, RpcConfig};
pub use error::RpcError;
pub use server::{ReplyServer, ReplyServerBuilder, Request};

/// Header carrying the correlation id (request and reply).
pub const CORRELATION_ID: &str = "kafka_correlationId";
/// Header naming the reply topic (request).
pub const REPLY_TOPIC: &str = "kafka_replyTopic";
/// Header naming the reply partition as decimal text (request).
pub const REPLY_PARTITION: &str = "kafka_replyPartition";
/// Header marking a failed request; its value is the error message (reply).
pub const NEST_ERR: &str = "kafka_nest-err";
/// Header marking the final reply for a correlation id (reply).
pub const NEST_IS_DISPOSED: &str = "kafka_nest-is-disposed";
