//! Share-group read throughput: N kafkit share consumers (implicit
//! acknowledgement) in one share group read RECORDS records, and the time
//! from the first record to the last is printed.
//!
//! The group must start at the records: set its `share.auto.offset.reset`
//! to `earliest` first (`kafka-configs.sh --alter --entity-type groups`),
//! or produce after the consumers joined.
//!
//! ```text
//! cargo run --release --bin bench-share-kafkit -- BOOTSTRAP TOPIC GROUP CONSUMERS RECORDS
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafkit::share::{ShareConsumer, ShareConsumerConfig};
use kafkit::ClientConfig;

#[tokio::main]
async fn main() -> kafkit::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [bootstrap, topic, group, consumers, records] = args.as_slice() else {
        eprintln!("usage: bench-share-kafkit BOOTSTRAP TOPIC GROUP CONSUMERS RECORDS");
        std::process::exit(2);
    };
    let consumers: usize = consumers.parse().expect("CONSUMERS is a number");
    let records: usize = records.parse().expect("RECORDS is a number");
    let total = Arc::new(AtomicUsize::new(0));
    let first = Arc::new(std::sync::OnceLock::<Instant>::new());
    let mut tasks = Vec::new();
    for _ in 0..consumers {
        let mut c = ShareConsumer::connect(
            ClientConfig::new([bootstrap.as_str()]),
            ShareConsumerConfig::new(group.as_str()),
        )
        .await?;
        c.subscribe([topic.as_str()]);
        let (total, first) = (total.clone(), first.clone());
        tasks.push(tokio::spawn(async move {
            let give_up = Instant::now() + Duration::from_secs(120);
            while total.load(Ordering::Relaxed) < records && Instant::now() < give_up {
                let got = c.poll(Duration::from_millis(200)).await?.len();
                if got > 0 {
                    first.get_or_init(Instant::now);
                    total.fetch_add(got, Ordering::Relaxed);
                }
            }
            c.close().await.map(|_| ())
        }));
    }
    for t in tasks {
        t.await.expect("consumer task")?;
    }
    let got = total.load(Ordering::Relaxed);
    let secs = first.get().map_or(0.0, |f| f.elapsed().as_secs_f64());
    println!(
        "kafkit share consumers={consumers} records={got} seconds={secs:.2} rate={:.0}/s",
        got as f64 / secs.max(1e-9)
    );
    Ok(())
}
