//! One task per broker that sends Produce requests in the order the sender
//! drained them, so batches of a partition reach the broker in sequence order.

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::sender::{Dispatch, Event};
use crate::cluster::Client;

/// Sends one broker's requests in the order they were drained, so batches
/// of one partition reach the broker in sequence order.
pub(crate) async fn run_dispatcher(
    client: Client,
    node: i32,
    mut rx: mpsc::UnboundedReceiver<Dispatch>,
    events: mpsc::UnboundedSender<Event>,
    fire_and_forget: bool,
) {
    let mut waiters = JoinSet::new();
    loop {
        tokio::select! {
            d = rx.recv() => {
                let Some(Dispatch { batches, request }) = d else { break };
                let conn = match client.broker(node).await {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = events.send(Event::Produced { batches, result: Err(e) });
                        continue;
                    }
                };
                if fire_and_forget {
                    let result = conn.send_oneway(&request).await.map(|()| None);
                    let _ = events.send(Event::Produced { batches, result });
                    continue;
                }
                match conn.start(&request).await {
                    Ok(pending) => {
                        let events = events.clone();
                        waiters.spawn(async move {
                            let result = pending.response().await.map(Some);
                            let _ = events.send(Event::Produced { batches, result });
                        });
                    }
                    Err(e) => {
                        let _ = events.send(Event::Produced { batches, result: Err(e) });
                    }
                }
            }
            Some(_) = waiters.join_next(), if !waiters.is_empty() => {}
        }
    }
    while waiters.join_next().await.is_some() {}
}
