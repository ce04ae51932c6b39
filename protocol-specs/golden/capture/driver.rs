//! Drives independent Kafka clients against the librdkafka mock cluster (and a
//! stub broker for APIs the mock lacks) so that `capture.sh` can record the
//! traffic on loopback. Not part of the library: it only generates golden frames.
//!
//! Usage: `cargo run --example golden_capture -- <workdir> <stub-addr>`
//!
//! Writes `<workdir>/brokers.txt` (one mock broker port per line) as soon as the
//! mock cluster is up, then runs, in order: librdkafka (this crate's bundled
//! 2.12) producers in every codec, a consumer group, offset look-ups; kcat
//! (Debian's librdkafka); kafka-python; and finally librdkafka's admin client
//! and a SASL/PLAIN connection against the stub broker at `<stub-addr>`.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaApiKey;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

type Res<T> = Result<T, Box<dyn Error>>;

const CODECS: [&str; 5] = ["none", "gzip", "lz4", "snappy", "zstd"];
const PEERS: [&str; 3] = ["rdkafka", "kcat", "python"];
/// Codecs the old-version pass produces (zstd needs Produce v7+).
const OLD_CODECS: [&str; 4] = ["none", "gzip", "lz4", "snappy"];
/// Version caps of the second mock cluster, so librdkafka negotiates classic versions.
const OLD_CAPS: [(RDKafkaApiKey, i16); 11] = [
    (RDKafkaApiKey::Produce, 3),
    (RDKafkaApiKey::Fetch, 4),
    (RDKafkaApiKey::ListOffsets, 1),
    (RDKafkaApiKey::Metadata, 4),
    (RDKafkaApiKey::OffsetCommit, 2),
    (RDKafkaApiKey::OffsetFetch, 1),
    (RDKafkaApiKey::FindCoordinator, 1),
    (RDKafkaApiKey::JoinGroup, 2),
    (RDKafkaApiKey::Heartbeat, 1),
    (RDKafkaApiKey::SyncGroup, 1),
    (RDKafkaApiKey::LeaveGroup, 1),
];
const TIMEOUT: Duration = Duration::from_secs(10);

/// The value of record `i` produced by `peer` in `codec` (also in README.md).
fn value(peer: &str, codec: &str, i: usize) -> String {
    format!("{peer}/{codec}/{i} {}", "abc".repeat(20))
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(workdir), Some(stub)) = (args.get(1), args.get(2)) else {
        return Err("usage: golden_capture <workdir> <stub-addr>".into());
    };
    let workdir = PathBuf::from(workdir);
    let script_dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("protocol-specs/golden/capture");

    let mock = MockCluster::new(3)?;
    let bootstrap = mock.bootstrap_servers();
    let old = MockCluster::new(1)?;
    for (key, max) in OLD_CAPS {
        old.apiversion(key, Some(0), Some(max))?;
    }
    let old_bootstrap = old.bootstrap_servers();
    let all = format!("{bootstrap},{old_bootstrap}");
    let ports: Vec<&str> = all
        .split(',')
        .filter_map(|a| a.rsplit(':').next())
        .collect();
    std::fs::write(workdir.join("brokers.txt"), ports.join("\n") + "\n")?;
    for codec in OLD_CODECS {
        old.create_topic(&format!("golden-rdkafka_old-{codec}"), 1, 1)?;
    }
    for peer in PEERS {
        for codec in CODECS {
            mock.create_topic(&format!("golden-{peer}-{codec}"), 1, 1)?;
        }
    }
    mock.create_topic("golden-python-legacy", 1, 1)?;
    // Let tcpdump settle on the new ports before the first connection.
    std::thread::sleep(Duration::from_millis(500));

    rdkafka_produce(&bootstrap, "rdkafka", &CODECS)?;
    rdkafka_group(&bootstrap, "rdkafka", &CODECS)?;
    rdkafka_produce(&old_bootstrap, "rdkafka_old", &OLD_CODECS)?;
    rdkafka_group(&old_bootstrap, "rdkafka_old", &OLD_CODECS)?;
    kcat(&bootstrap)?;
    python(&script_dir, &bootstrap, "mock")?;
    rdkafka_admin(stub)?;
    rdkafka_sasl(stub)?;
    python(&script_dir, stub, "stub")?;
    drop(mock);
    eprintln!("driver: done");
    Ok(())
}

fn rdkafka_produce(bootstrap: &str, peer: &str, codecs: &[&str]) -> Res<()> {
    for &codec in codecs {
        // Idempotence (InitProducerId, producer ids in the batch) on two codecs only.
        let idempotent = matches!(codec, "none" | "zstd");
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("client.id", format!("golden-{peer}-producer-{codec}"))
            .set("compression.codec", codec)
            .set("enable.idempotence", idempotent.to_string())
            .set("linger.ms", "100")
            .create()?;
        let topic = format!("golden-{peer}-{codec}");
        for i in 0..3 {
            let v = value(peer, codec, i);
            let key = format!("k{i}");
            let mut rec = BaseRecord::<String, String>::to(&topic).payload(&v);
            if i < 2 {
                rec = rec.key(&key);
            }
            let headers = match i {
                0 => OwnedHeaders::new().insert(Header {
                    key: "h0",
                    value: Some("v0"),
                }),
                1 => OwnedHeaders::new()
                    .insert(Header {
                        key: "h1",
                        value: Some("v1"),
                    })
                    .insert(Header {
                        key: "h1b",
                        value: Some(""),
                    }),
                _ => OwnedHeaders::new(),
            };
            if headers.count() > 0 {
                rec = rec.headers(headers);
            }
            producer.send(rec).map_err(|(e, _)| e)?;
        }
        producer.flush(TIMEOUT)?;
    }
    Ok(())
}

fn rdkafka_group(bootstrap: &str, peer: &str, codecs: &[&str]) -> Res<()> {
    let expect = codecs.len() * 3;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("client.id", format!("golden-{peer}-consumer"))
        .set("group.id", format!("golden-{peer}-group"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("heartbeat.interval.ms", "200")
        .set("session.timeout.ms", "6000")
        .create()?;
    let topics: Vec<String> = codecs
        .iter()
        .map(|c| format!("golden-{peer}-{c}"))
        .collect();
    let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topic_refs)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got = 0;
    while got < expect && Instant::now() < deadline {
        if let Some(msg) = consumer.poll(Duration::from_millis(200)) {
            let msg = msg?;
            eprintln!(
                "rdkafka consumed {}:{} {:?}",
                msg.topic(),
                msg.offset(),
                msg.key()
            );
            got += 1;
        }
    }
    if got < expect {
        return Err(format!("{peer} consumer got {got} of {expect} records").into());
    }
    consumer.commit_consumer_state(CommitMode::Sync)?;
    // Stay a few heartbeats in the group; poll serves the rebalance callbacks.
    let idle = Instant::now() + Duration::from_millis(800);
    while Instant::now() < idle {
        consumer.poll(Duration::from_millis(100));
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(&format!("golden-{peer}-gzip"), 0);
    eprintln!("committed: {:?}", consumer.committed_offsets(tpl, TIMEOUT)?);
    eprintln!(
        "watermarks: {:?}",
        consumer.fetch_watermarks(&format!("golden-{peer}-lz4"), 0, TIMEOUT)?
    );
    let mut times = TopicPartitionList::new();
    times.add_partition_offset(&format!("golden-{peer}-snappy"), 0, Offset::Offset(0))?;
    eprintln!(
        "offsets_for_times: {:?}",
        consumer.offsets_for_times(times, TIMEOUT)?
    );
    consumer.unsubscribe();
    drop(consumer);
    Ok(())
}

fn run(cmd: &mut Command, stdin: Option<&str>) -> Res<()> {
    use std::io::Write;
    use std::process::Stdio;
    eprintln!("driver: {cmd:?}");
    // `cargo run` points LD_LIBRARY_PATH at the bundled librdkafka build; kcat must use its own.
    cmd.env_remove("LD_LIBRARY_PATH");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn()?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())?;
    }
    let status = child.wait()?;
    if !status.success() {
        return Err(format!("{cmd:?} failed: {status}").into());
    }
    Ok(())
}

fn kcat(bootstrap: &str) -> Res<()> {
    for codec in CODECS {
        let topic = format!("golden-kcat-{codec}");
        let input = format!(
            "k0\t{}\nk1\t{}\n{}\n",
            value("kcat", codec, 0),
            value("kcat", codec, 1),
            value("kcat", codec, 2)
        );
        // Idempotence (InitProducerId) on one codec.
        let idempotent = format!("enable.idempotence={}", codec == "zstd");
        run(
            Command::new("kcat")
                .args(["-P", "-b", bootstrap, "-t", &topic, "-z", codec, "-K", "\t"])
                .args(["-X", &idempotent])
                .args(["-H", "h=kcat", "-X", "linger.ms=100"])
                .args(["-X", &format!("client.id=golden-kcat-producer-{codec}")]),
            Some(&input),
        )?;
    }
    let mut consume = Command::new("kcat");
    consume
        .args([
            "-b",
            bootstrap,
            "-G",
            "golden-kcat-group",
            "-c",
            "15",
            "-e",
            "-q",
        ])
        .args([
            "-X",
            "client.id=golden-kcat-consumer",
            "-X",
            "auto.offset.reset=earliest",
        ])
        .args(["-X", "heartbeat.interval.ms=200"]);
    for codec in CODECS {
        consume.arg(format!("golden-kcat-{codec}"));
    }
    run(&mut consume, None)?;
    run(
        Command::new("kcat").args([
            "-L",
            "-b",
            bootstrap,
            "-X",
            "client.id=golden-kcat-metadata",
        ]),
        None,
    )?;
    run(
        Command::new("kcat")
            .args(["-Q", "-b", bootstrap, "-t", "golden-kcat-gzip:0:-1"])
            .args(["-X", "client.id=golden-kcat-query"]),
        None,
    )?;
    Ok(())
}

fn python(script_dir: &Path, addr: &str, mode: &str) -> Res<()> {
    run(
        Command::new("/usr/bin/python3")
            .arg(script_dir.join("kafka_python_peer.py"))
            .args([mode, addr]),
        None,
    )
}

fn rdkafka_admin(stub: &str) -> Res<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", stub)
        .set("client.id", "golden-rdkafka-admin")
        .create()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5)));
    let created = rt.block_on(
        admin.create_topics(
            &[
                NewTopic::new("golden-admin-a", 3, TopicReplication::Fixed(1)),
                NewTopic::new("golden-admin-b", 1, TopicReplication::Fixed(1))
                    .set("cleanup.policy", "compact"),
            ],
            &opts,
        ),
    )?;
    eprintln!("create_topics: {created:?}");
    let deleted = rt.block_on(admin.delete_topics(&["golden-admin-a", "golden-admin-b"], &opts))?;
    eprintln!("delete_topics: {deleted:?}");
    // rd_kafka_list_groups: ListGroups to every broker, then DescribeGroups.
    match admin.inner().fetch_group_list(None, TIMEOUT) {
        Ok(list) => eprintln!("groups: {}", list.groups().len()),
        Err(e) => eprintln!("fetch_group_list: {e}"),
    }
    match admin
        .inner()
        .fetch_group_list(Some("golden-stub-group"), TIMEOUT)
    {
        Ok(list) => eprintln!("group: {}", list.groups().len()),
        Err(e) => eprintln!("fetch_group_list(one): {e}"),
    }
    Ok(())
}

fn rdkafka_sasl(stub: &str) -> Res<()> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", stub)
        .set("client.id", "golden-rdkafka-sasl")
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", "PLAIN")
        .set("sasl.username", "golden-user")
        .set("sasl.password", "golden-secret")
        .create()?;
    let md = consumer.fetch_metadata(None, TIMEOUT)?;
    eprintln!("sasl metadata: {} brokers", md.brokers().len());
    Ok(())
}
