//! `kafkit consume --share-group NAME`: read records as a member of a share
//! group (KIP-932): the brokers hand each record to one member at a time.
//!
//! Every record printed is accepted (explicit acknowledgement, committed
//! after each poll); records delivered but not printed (past `-c`) are
//! released on exit, so other members get them. `-e` stops at the first
//! poll (1 s) that returns nothing once the share sessions are open. The
//! group starts where its `share.auto.offset.reset` says (the latest offset
//! by default).

use std::time::Duration;

use kafkit::share::{
    AcknowledgeType, AcknowledgementMode, ShareConsumer, ShareConsumerConfig, ShareRecord,
};
use kafkit::ClientConfig;

use super::output::Format;
use super::printable::Printable;
use super::{ConsumeArgs, FLUSH_BYTES};

/// Runs the share-group reader: `Ok(true)` on a clean stop.
pub async fn run(
    client: ClientConfig,
    args: &ConsumeArgs,
    group: &str,
    format: Format,
) -> Result<bool, String> {
    let config = ShareConsumerConfig::new(group)
        .with_acknowledgement_mode(AcknowledgementMode::Explicit)
        .with_max_records(500);
    let mut consumer = ShareConsumer::connect(client, config)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    consumer.subscribe(args.all_topics());
    let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
    let mut out = Vec::with_capacity(FLUSH_BYTES * 2);
    let mut printed = 0u64;
    let mut announced = false;
    let (mut failed, mut why) = (false, "interrupted");
    'poll: loop {
        let polled = tokio::select! {
            _ = &mut interrupt => break,
            r = consumer.poll(Duration::from_secs(1)) => r,
        };
        let records = match polled {
            Ok(r) => r,
            Err(e) => {
                eprintln!("kafkit: {e}");
                (failed, why) = (true, "stopped on an error");
                break;
            }
        };
        if !announced && consumer.is_fetching() {
            announced = true;
            if !args.quiet {
                eprintln!("kafkit: share group {group}: fetching");
            }
        }
        if records.is_empty() && announced && args.exit_at_end {
            why = "nothing more to read";
            break;
        }
        let (skipped, ack_failed) = print_and_accept(
            &mut consumer,
            &records,
            args,
            &format,
            &mut out,
            &mut printed,
        );
        if skipped {
            why = "count reached";
        }
        failed |= ack_failed;
        if !flush(&mut out) {
            break 'poll;
        }
        failed |= !commit_acknowledgements(&mut consumer).await;
        if args.count.is_some_and(|c| printed >= c) {
            why = "count reached";
            break;
        }
    }
    flush(&mut out);
    if let Err(e) = consumer.close().await {
        eprintln!("kafkit: close: {e}");
    }
    if !args.quiet {
        eprintln!("kafkit: {printed} records consumed ({why})");
    }
    Ok(!failed)
}

/// Prints `records` into `out` and accepts each printed one, up to `-c`
/// in all; those past it are left to be released by close, for the other
/// members. Whether any was left, and whether an acknowledgement failed.
fn print_and_accept(
    consumer: &mut ShareConsumer,
    records: &[ShareRecord],
    args: &ConsumeArgs,
    format: &Format,
    out: &mut Vec<u8>,
    printed: &mut u64,
) -> (bool, bool) {
    let (mut skipped, mut failed) = (false, false);
    for r in records {
        if args.count.is_some_and(|c| *printed >= c) {
            skipped = true;
            continue;
        }
        format.write(out, &Printable::of(&r.record, -1));
        *printed += 1;
        if let Err(e) = consumer.acknowledge(r, AcknowledgeType::Accept) {
            eprintln!("kafkit: {e}");
            failed = true;
        }
    }
    (skipped, failed)
}

/// Commits the acknowledgements of the last poll: `false` when any failed.
async fn commit_acknowledgements(consumer: &mut ShareConsumer) -> bool {
    match consumer.commit_sync().await {
        Ok(results) => {
            let mut ok = true;
            for (tp, r) in results {
                if let Err(e) = r {
                    eprintln!("kafkit: acknowledging {}[{}]: {e}", tp.topic, tp.partition);
                    ok = false;
                }
            }
            ok
        }
        Err(e) => {
            eprintln!("kafkit: {e}");
            false
        }
    }
}

fn flush(out: &mut Vec<u8>) -> bool {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let r = stdout.write_all(out).and_then(|()| stdout.flush());
    out.clear();
    match r {
        Ok(()) => true,
        Err(e) => {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("kafkit: writing to stdout: {e}");
            }
            false
        }
    }
}
