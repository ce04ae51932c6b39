//! ACLs administered by kafkit on real Apache Kafka with the KRaft
//! `StandardAuthorizer` (ANONYMOUS, the PLAINTEXT principal, is a super
//! user so the test and the controller may do anything): create literal
//! and prefixed bindings (one malformed binding fails alone), find them
//! with filters, delete one by filter.
//!
//! Peer: an owned single node (`kafka::Cluster::start`) with the authorizer.

use std::time::Duration;

use kafkit::admin::{AclBinding, AclBindingFilter};

mod support;
use support::kafka;
use support::real::{admin, init_tracing};

fn binding(kind: &str, name: &str, pattern: &str, who: &str, op: &str) -> AclBinding {
    AclBinding::parse(kind, name, pattern, who, "*", op, "allow").expect("known names")
}

/// Describes `filter` until `ok` holds on the answer (changes reach the
/// broker's authorizer through the metadata log), returning the answer.
async fn until(
    admin: &kafkit::admin::Admin,
    filter: &AclBindingFilter,
    ok: impl Fn(&[AclBinding]) -> bool,
) -> Vec<AclBinding> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let found = admin.describe_acls(filter).await.expect("describe acls");
        if ok(&found) || tokio::time::Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_created_listed_and_deleted_with_the_standard_authorizer() {
    init_tracing();
    if !kafka::can_start() {
        return;
    }
    let cluster = kafka::Cluster::start(
        1,
        &[
            "--set",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "--set",
            "super.users=User:ANONYMOUS",
        ],
    );
    let admin = admin(&cluster.bootstrap).await;
    let topic = kafka::unique("acl");
    let read = binding("topic", &topic, "literal", "User:alice", "read");
    let write = binding(
        "topic",
        &format!("{topic}-"),
        "prefixed",
        "User:bob",
        "write",
    );
    let malformed = binding("topic", &topic, "literal", "alice-without-type", "read");

    let created = admin
        .create_acls(&[read.clone(), malformed.clone(), write.clone()])
        .await
        .expect("create acls");
    assert_eq!(created.len(), 3);
    assert_eq!(created[0], (read.clone(), Ok(())));
    assert!(
        created[1].1.is_err(),
        "a principal without a type: {created:?}"
    );
    assert_eq!(created[2], (write.clone(), Ok(())));

    // alice's bindings: only the literal one.
    let alice = AclBindingFilter {
        principal: Some("User:alice".to_owned()),
        ..Default::default()
    };
    let found = until(&admin, &alice, |f| !f.is_empty()).await;
    assert_eq!(found, std::slice::from_ref(&read));
    // MATCH on a name under the prefix finds the prefixed binding.
    let matching = AclBindingFilter {
        resource_type: read.resource_type,
        resource_name: Some(format!("{topic}-orders")),
        pattern_type: 2,
        ..Default::default()
    };
    assert_eq!(
        admin.describe_acls(&matching).await.expect("match"),
        std::slice::from_ref(&write)
    );
    let all = admin
        .describe_acls(&AclBindingFilter::default())
        .await
        .expect("all");
    assert!(all.contains(&read) && all.contains(&write), "{all:?}");

    let deleted = admin
        .delete_acls(&[read.as_filter()])
        .await
        .expect("delete");
    assert_eq!(deleted, [(read.as_filter(), Ok(vec![read.clone()]))]);
    let after = until(&admin, &alice, <[AclBinding]>::is_empty).await;
    assert!(after.is_empty(), "{after:?}");
    let all = admin
        .describe_acls(&AclBindingFilter::default())
        .await
        .expect("all");
    assert!(all.contains(&write) && !all.contains(&read), "{all:?}");
    admin.close();
}
