//! One round of share requests: a ShareFetch (or, with nothing to fetch, a
//! ShareAcknowledge) to every leader with a share session, sent
//! concurrently, and the acquired records decoded into [`ShareRecord`]s.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;
use tracing::{debug, debug_span, Instrument};

use super::record::ShareRecord;
use crate::cluster::Client;
use crate::consumer::decode::decode_partition;
use crate::error::{Error, Result};
use crate::protocol::messages::share_acknowledge::{
    ShareAcknowledgeRequest, ShareAcknowledgeResponse,
};
use crate::protocol::messages::share_fetch::{ShareFetchRequest, ShareFetchResponse};
use crate::protocol::record::DecodeOptions;
use crate::protocol::{ApiKey, Request, Uuid};
use kafkit_core::share::{AcquiredData, ShareOutcome, ShareSession};

/// A request built by a session, to send to its broker.
pub(crate) enum Outgoing {
    Fetch(ShareFetchRequest),
    Acknowledge(ShareAcknowledgeRequest),
}

/// A broker's answer (or failure), with where it came from.
pub(crate) struct Reply {
    pub node: i32,
    pub broker: String,
    pub version: i16,
    pub api: ApiKey,
    pub body: Result<Body>,
}

pub(crate) enum Body {
    Fetch(ShareFetchResponse),
    Acknowledge(ShareAcknowledgeResponse),
}

/// Sends every request concurrently, each to its broker, and collects the replies.
pub(crate) async fn send_all(client: &Client, outgoing: Vec<(i32, Outgoing)>) -> Vec<Reply> {
    let mut set = JoinSet::new();
    for (node, req) in outgoing {
        let client = client.clone();
        let span = debug_span!("share_request", broker = node);
        set.spawn(async move { send_one(&client, node, req).await }.instrument(span));
    }
    let mut replies = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok(reply) = r {
            replies.push(reply);
        }
    }
    replies
}

async fn exchange<R: Request>(
    client: &Client,
    node: i32,
    req: &R,
) -> (String, i16, Result<R::Response>) {
    let conn = match client.broker(node).await {
        Ok(c) => c,
        Err(e) => return (format!("node {node}"), 0, Err(e)),
    };
    let version = conn.version_for::<R>().unwrap_or(0);
    (conn.addr().to_owned(), version, conn.send(req).await)
}

async fn send_one(client: &Client, node: i32, req: Outgoing) -> Reply {
    match req {
        Outgoing::Fetch(r) => {
            let (broker, version, res) = exchange(client, node, &r).await;
            debug!(
                epoch = r.share_session_epoch,
                ok = res.is_ok(),
                "ShareFetch"
            );
            Reply {
                node,
                broker,
                version,
                api: ApiKey::SHARE_FETCH,
                body: res.map(Body::Fetch),
            }
        }
        Outgoing::Acknowledge(r) => {
            let (broker, version, res) = exchange(client, node, &r).await;
            debug!(
                epoch = r.share_session_epoch,
                ok = res.is_ok(),
                "ShareAcknowledge"
            );
            Reply {
                node,
                broker,
                version,
                api: ApiKey::SHARE_ACKNOWLEDGE,
                body: res.map(Body::Acknowledge),
            }
        }
    }
}

/// A reply that failed: the error, and what the session made of it (the
/// acknowledgements it carried, failed with the error's code, for the
/// consumer's results).
pub(crate) type Failed = Box<(Error, ShareOutcome)>;

/// Applies a reply to its session.
pub(crate) fn apply(
    session: &mut ShareSession,
    group: &str,
    reply: Reply,
) -> std::result::Result<ShareOutcome, Failed> {
    let refused = |source| {
        let e = Error::ShareSession {
            group: group.to_owned(),
            broker: reply.broker.clone(),
            api: reply.api,
            source,
        };
        Box::new((e, ShareOutcome::default()))
    };
    match reply.body {
        Ok(Body::Fetch(r)) => session
            .on_fetch_response(Instant::now(), r)
            .map_err(refused),
        Ok(Body::Acknowledge(r)) => {
            debug!(response = ?r, "ShareAcknowledge response");
            session
                .on_acknowledge_response(Instant::now(), r)
                .map_err(refused)
        }
        Err(e) => {
            let code = e
                .code()
                .unwrap_or(crate::protocol::ErrorCode::NETWORK_EXCEPTION);
            let failed = session.on_failure(code);
            Err(Box::new((e, failed)))
        }
    }
}

/// Decodes the acquired records of one partition: only records inside an
/// acquired range are this member's; returns them and their offsets.
pub(crate) fn decode_acquired(
    data: &AcquiredData,
    topic: &Arc<str>,
    options: &DecodeOptions,
) -> std::result::Result<Vec<ShareRecord>, crate::protocol::ProtocolError> {
    let Some(first) = data.acquired.iter().map(|a| a.first_offset).min() else {
        return Ok(Vec::new());
    };
    let decoded = decode_partition(
        topic,
        data.partition.partition,
        first,
        data.records.clone(),
        None,
        options,
    )?;
    let mut out = Vec::new();
    for record in decoded.records {
        let count = data
            .acquired
            .iter()
            .find(|a| a.first_offset <= record.offset && record.offset <= a.last_offset)
            .map(|a| a.delivery_count);
        if let Some(delivery_count) = count {
            out.push(ShareRecord {
                record,
                delivery_count,
                topic_id: data.partition.topic_id,
            });
        }
    }
    Ok(out)
}

/// Topic names by id, from the client's metadata.
pub(crate) fn topic_names(client: &Client) -> HashMap<Uuid, Arc<str>> {
    client
        .metadata()
        .topics
        .values()
        .map(|t| (t.id, Arc::from(t.name.as_str())))
        .collect()
}
