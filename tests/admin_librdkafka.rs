//! librdkafka's admin client (2.12, through the `rdkafka` crate and its C API)
//! against the scripted cluster of tests/support/scripted.rs, for the APIs
//! no other peer here sends: DeleteGroups and DeleteConsumerGroupOffsets
//! (OffsetDelete). kafkit must decode and re-encode librdkafka's requests
//! byte for byte, and librdkafka must read kafkit's responses (the
//! per-group and per-partition errors arrive). With `KAFKIT_WRITE_GOLDEN=1`
//! the requests are written as golden frames (protocol-specs/golden/README.md).

mod support;

use std::time::Duration;

use bytes::BytesMut;
use support::scripted::cluster;

/// Decodes a request frame (header + body) with kafkit's typed codec and
/// re-encodes it: the bytes must not change.
fn reencodes<R: kafkit::protocol::Message + std::fmt::Debug>(
    frame: &bytes::Bytes,
    version: i16,
) -> R {
    let (header, body) = kafkit::protocol::frame::decode_request::<R>(frame.clone())
        .expect("librdkafka's request decodes");
    let mut again = BytesMut::new();
    kafkit::protocol::header::RequestHeader::encode(
        &header,
        &mut kafkit::protocol::Writer::new(&mut again, false, version),
        R::is_flexible(version),
    )
    .expect("header encodes");
    body.encode(version, &mut again).expect("body encodes");
    assert_eq!(
        &again[..],
        &frame[..],
        "{:?} v{version} re-encoded differently",
        R::API_KEY
    );
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_admin_reads_and_writes_delete_groups_and_offset_delete() {
    use kafkit::protocol::messages::delete_groups::DeleteGroupsRequest;
    use kafkit::protocol::messages::offset_delete::OffsetDeleteRequest;
    use rdkafka::admin::{AdminClient, AdminOptions};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::types::RDKafkaErrorCode;

    let (state, bootstrap) = cluster().await;
    state.lock().unwrap().coordinator_answers.clear();
    let client: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("client.id", "golden-rdkafka-admin")
        .create()
        .expect("librdkafka admin client");
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    let results = client
        .delete_groups(&["idle", "busy"], &options)
        .await
        .expect("DeleteGroups");
    assert_eq!(results[0], Ok("idle".to_owned()));
    assert_eq!(
        results[1],
        Err(("busy".to_owned(), RDKafkaErrorCode::NonEmptyGroup))
    );
    let partitions = tokio::task::spawn_blocking(move || delete_offsets_with_librdkafka(&client))
        .await
        .expect("librdkafka thread");
    assert_eq!(
        partitions,
        [
            ("t".to_owned(), 0, RDKafkaErrorCode::NoError),
            ("t".to_owned(), 1, RDKafkaErrorCode::GroupSubscribedToTopic),
        ]
    );

    let frames = state.lock().unwrap().frames.clone();
    let of = |key: i16| frames.iter().filter(move |(k, _, _)| *k == key);
    let mut checked = 0;
    for (_, version, frame) in of(42) {
        let req: DeleteGroupsRequest = reencodes(frame, *version);
        assert_eq!(
            req.groups_names.len(),
            1,
            "one request per group's coordinator"
        );
        checked += 1;
    }
    for (_, version, frame) in of(47) {
        let req: OffsetDeleteRequest = reencodes(frame, *version);
        assert_eq!(req.group_id, "g");
        assert_eq!(req.topics.len(), 1);
        assert_eq!(
            (req.topics[0].name.as_str(), &req.topics[0].partitions[..]),
            ("t", &[0, 1][..])
        );
        checked += 1;
    }
    if std::env::var_os("KAFKIT_WRITE_GOLDEN").is_some_and(|v| v == "1") {
        write_golden(&frames);
    }
    let versions: Vec<(i16, i16)> = frames.iter().map(|(k, v, _)| (*k, *v)).collect();
    eprintln!("librdkafka sent (api key, version): {versions:?}");
    assert!(
        checked >= 2,
        "DeleteGroups/OffsetDelete missing: {versions:?}"
    );
}

/// Writes librdkafka's first DeleteGroups and OffsetDelete request frames as
/// golden frames (protocol-specs/golden/README.md) and prints their INDEX lines.
fn write_golden(frames: &[(i16, i16, bytes::Bytes)]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol-specs/golden");
    for (number, key, name) in [(142, 42, "DeleteGroups"), (143, 47, "OffsetDelete")] {
        let (_, version, frame) = frames
            .iter()
            .find(|(k, _, _)| *k == key)
            .expect("frame to record");
        let file = format!("frames/{number:04}-librdkafka-{name}-v{version}-req.bin");
        let len = u32::try_from(frame.len()).expect("frame size");
        let bytes = [&len.to_be_bytes()[..], &frame[..]].concat();
        std::fs::write(dir.join(&file), bytes).expect("write golden frame");
        println!("{file} librdkafka-2.12.1 {key} {name} {version} request golden-rdkafka-admin");
    }
}

/// librdkafka's DeleteConsumerGroupOffsets (not wrapped by the rdkafka
/// crate) for group `g`, partitions t/0 and t/1: the per-partition errors.
fn delete_offsets_with_librdkafka(
    client: &rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext>,
) -> Vec<(String, i32, rdkafka::types::RDKafkaErrorCode)> {
    use rdkafka::bindings as rd;
    use rdkafka::TopicPartitionList;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition("t", 0);
    tpl.add_partition("t", 1);
    let rk = client.inner().native_ptr();
    let mut out = Vec::new();
    // SAFETY: every pointer comes from librdkafka and is destroyed once;
    // the result's lists are read before the event that owns them is freed.
    unsafe {
        let group = std::ffi::CString::new("g").expect("group name");
        let mut request = rd::rd_kafka_DeleteConsumerGroupOffsets_new(group.as_ptr(), tpl.ptr());
        let queue = rd::rd_kafka_queue_new(rk);
        rd::rd_kafka_DeleteConsumerGroupOffsets(rk, &mut request, 1, std::ptr::null(), queue);
        let event = rd::rd_kafka_queue_poll(queue, 15_000);
        assert!(!event.is_null(), "no DeleteConsumerGroupOffsets result");
        let result = rd::rd_kafka_event_DeleteConsumerGroupOffsets_result(event);
        assert!(!result.is_null(), "not a DeleteConsumerGroupOffsets result");
        let mut count = 0;
        let groups = rd::rd_kafka_DeleteConsumerGroupOffsets_result_groups(result, &mut count);
        assert_eq!(count, 1);
        let group_result = *groups;
        assert!(
            rd::rd_kafka_group_result_error(group_result).is_null(),
            "group-level error"
        );
        let list = &*rd::rd_kafka_group_result_partitions(group_result);
        let count = usize::try_from(list.cnt).expect("count");
        for p in std::slice::from_raw_parts(list.elems, count) {
            let topic = std::ffi::CStr::from_ptr(p.topic)
                .to_string_lossy()
                .into_owned();
            out.push((topic, p.partition, p.err.into()));
        }
        rd::rd_kafka_event_destroy(event);
        rd::rd_kafka_queue_destroy(queue);
        rd::rd_kafka_DeleteConsumerGroupOffsets_destroy(request);
    }
    out
}
