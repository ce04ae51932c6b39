//! kafkit and kafkajs consumers in one group, as during a service's move
//! from Node to Rust: both offer kafkajs's `RoundRobinAssigner`
//! (`KafkajsRoundRobinAssignor` on the kafkit side) on librdkafka's mock
//! cluster (3 brokers, 6 partitions).
//!
//! First a kafkit member leads and hands the kafkajs member its partitions
//! (kafkajs decodes kafkit's assignment); then the kafkit member leaves, the
//! kafkajs member leads, and it hands a new kafkit member its share (kafkit
//! decodes kafkajs's). In each shared generation every record produced is
//! read exactly once, by the member owning its partition
//! (`support::child_member::migration_scenario`).
//!
//! The kafkajs side is `tests/interop/nest/kafkajs_member.js` (kafkajs 2.2.4
//! from the NestJS interop's npm packages, `scripts/nest_deps.sh`).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use kafkit::group::KafkajsRoundRobinAssignor;

mod support;
use support::child_member::{migration_scenario, ChildMember, CHILD};

#[test]
fn kafkit_and_kafkajs_share_a_group_both_ways() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/nest");
    assert!(
        dir.join("node_modules/kafkajs").is_dir(),
        "kafkajs is not installed for the interop tests: run scripts/nest_deps.sh (needs node and npm)"
    );
    // One retry, on a fresh mock cluster: librdkafka's mock answers a
    // follower SyncGroup that arrives after the leader's with INVALID_REQUEST,
    // kafkajs then restarts its consumer, and the kafkit member can be left
    // out of the generation that follows (seen in about 1 run in 5 here; not
    // seen on Apache Kafka, see tests/java_groups.rs for the same scenario
    // with the Java client). Both attempts run every check; a second failure
    // fails the test.
    if attempt(dir.clone()).is_err() {
        eprintln!("first attempt failed (librdkafka mock quirk, see above); retrying once");
        if let Err(panic) = attempt(dir) {
            std::panic::resume_unwind(panic);
        }
    }
}

/// One run of the scenario on a runtime of its own, in a thread of its own
/// (the mock cluster handle is not `Send`): `Err` carries its panic.
fn attempt(dir: PathBuf) -> std::thread::Result<()> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(scenario(dir));
    })
    .join()
}

async fn scenario(dir: PathBuf) {
    let (topic, group) = ("migrating-js", "g-migrating-js");
    migration_scenario(
        topic,
        group,
        vec![Arc::new(KafkajsRoundRobinAssignor)],
        "RoundRobinAssigner",
        true,
        move |bootstrap, log| {
            let mut node = Command::new("node");
            node.args(["kafkajs_member.js", bootstrap, topic, group])
                .current_dir(dir);
            ChildMember::spawn(node, CHILD, log)
        },
    )
    .await;
}
