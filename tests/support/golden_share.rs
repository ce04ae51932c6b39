//! The KIP-932 share-group part of `tests/golden_kafka.rs` (a module of
//! that test binary): the checks of the share round recorded by
//! `tests/support/kafka_share.rs`.

use kafkit::protocol::messages::*;
use kafkit::protocol::record::{DecodeOptions, RecordSet};
use kafkit::protocol::{ErrorCode, Uuid};

use super::scenario::{self, RECORDS};
use super::Frames;

/// The share round (`tests/support/kafka_share.rs`): the member owns both
/// partitions, the session opens, the three records produced after it are
/// acquired with delivery count 1, accepted, the group described, the session
/// closed and the member gone.
pub fn check_share(f: &Frames, topic_id: Uuid) {
    use share_group_heartbeat::ShareGroupHeartbeatRequest as Sgh;
    let group = format!("{}-share", f.facts.get("group"));
    let join: Sgh = f.req("share-group-heartbeat-join");
    assert_eq!(join.group_id, group);
    let joined = f.resp::<Sgh>("share-group-heartbeat-join");
    assert_eq!(joined.error_code, ErrorCode::NONE, "{joined:?}");
    assert_eq!(joined.member_id.as_deref(), Some(join.member_id.as_str()));
    assert!(joined.member_epoch > 0 && joined.heartbeat_interval_ms > 0);
    let parts: Vec<_> = joined
        .assignment
        .iter()
        .flat_map(|a| &a.topic_partitions)
        .map(|tp| (tp.topic_id, tp.partitions.clone()))
        .collect();
    assert_eq!(parts, [(topic_id, vec![0, 1])]);

    let open: share_fetch::ShareFetchRequest = f.req("share-fetch-open");
    assert_eq!(open.share_session_epoch, 0);
    let opened = f.resp::<share_fetch::ShareFetchRequest>("share-fetch-open");
    assert_eq!(opened.error_code, ErrorCode::NONE, "{opened:?}");
    let _: produce::ProduceRequest = f.req("share-produce");
    let written = f.resp::<produce::ProduceRequest>("share-produce");
    let base = written.responses[0].partition_responses[0].base_offset;
    assert_eq!(base, RECORDS, "after the scenario's first batch");

    let fetch: share_fetch::ShareFetchRequest = f.req("share-fetch");
    assert!(fetch.share_session_epoch > 0);
    let fetched = f.resp::<share_fetch::ShareFetchRequest>("share-fetch");
    assert_eq!(fetched.error_code, ErrorCode::NONE, "{fetched:?}");
    assert!(fetched.acquisition_lock_timeout_ms > 0, "{fetched:?}");
    let p = &fetched.responses[0].partitions[0];
    assert_eq!(fetched.responses[0].topic_id, topic_id);
    assert_eq!((p.partition_index, p.error_code), (0, ErrorCode::NONE));
    let acquired: Vec<_> = p
        .acquired_records
        .iter()
        .map(|a| (a.first_offset, a.last_offset, a.delivery_count))
        .collect();
    assert_eq!(acquired, [(base, base + RECORDS - 1, 1)]);
    let set = RecordSet::decode(p.records.clone(), &DecodeOptions::default()).expect("records");
    let values: Vec<_> = set
        .batches
        .iter()
        .flat_map(|b| b.records())
        .map(|r| r.expect("record").value.expect("value"))
        .collect();
    let want: Vec<_> = (0..RECORDS).map(scenario::record_value).collect();
    assert_eq!(
        values,
        want.iter().map(|v| v.as_bytes()).collect::<Vec<_>>()
    );

    let ack: share_acknowledge::ShareAcknowledgeRequest = f.req("share-acknowledge");
    assert_eq!(ack.share_session_epoch, fetch.share_session_epoch + 1);
    let acked = f.resp::<share_acknowledge::ShareAcknowledgeRequest>("share-acknowledge");
    assert_eq!(acked.error_code, ErrorCode::NONE, "{acked:?}");
    assert_eq!(acked.responses[0].partitions[0].error_code, ErrorCode::NONE);

    let _: share_group_describe::ShareGroupDescribeRequest = f.req("share-group-describe");
    let described =
        f.resp::<share_group_describe::ShareGroupDescribeRequest>("share-group-describe");
    let g = &described.groups[0];
    assert_eq!(
        (g.error_code, g.group_id.as_str(), g.group_state.as_str()),
        (ErrorCode::NONE, group.as_str(), "Stable"),
        "{g:?}"
    );
    assert_eq!(g.members.len(), 1);
    assert_eq!(g.members[0].member_id, join.member_id);
    assert!(g.authorized_operations > 0, "{g:?}");

    let close: share_acknowledge::ShareAcknowledgeRequest = f.req("share-close");
    assert_eq!(close.share_session_epoch, -1);
    let closed = f.resp::<share_acknowledge::ShareAcknowledgeRequest>("share-close");
    assert_eq!(closed.error_code, ErrorCode::NONE, "{closed:?}");
    let leave: Sgh = f.req("share-group-heartbeat-leave");
    assert_eq!((leave.member_id, leave.member_epoch), (join.member_id, -1));
    let left = f.resp::<Sgh>("share-group-heartbeat-leave");
    assert_eq!((left.error_code, left.member_epoch), (ErrorCode::NONE, -1));
    check_share_offsets(f, &group, topic_id, base);
}

/// DescribeShareGroupOffsets, AlterShareGroupOffsets and
/// DeleteShareGroupOffsets on the emptied share group.
fn check_share_offsets(f: &Frames, group: &str, topic_id: Uuid, first: i64) {
    use alter_share_group_offsets::AlterShareGroupOffsetsRequest as Alter;
    use delete_share_group_offsets::DeleteShareGroupOffsetsRequest as Delete;
    use describe_share_group_offsets::DescribeShareGroupOffsetsRequest as Describe;
    let topic = f.facts.get("topic");
    let req: Describe = f.req("share-describe-offsets");
    assert_eq!(req.groups[0].group_id, group);
    let described = f.resp::<Describe>("share-describe-offsets");
    let g = &described.groups[0];
    assert_eq!(
        (g.group_id.as_str(), g.error_code),
        (group, ErrorCode::NONE)
    );
    let t = &g.topics[0];
    assert_eq!((t.topic_name.as_str(), t.topic_id), (topic, topic_id));
    let p = &t.partitions[0];
    assert_eq!((p.partition_index, p.error_code), (0, ErrorCode::NONE));
    // The start offset is persisted lazily: the first accepted record or past
    // the last; the lag (v1) says every record was accepted.
    assert!((first..=first + RECORDS).contains(&p.start_offset), "{p:?}");
    assert_eq!(p.lag, 0, "every record accepted: {p:?}");
    let alter: Alter = f.req("share-alter-offsets");
    assert_eq!(alter.topics[0].partitions[0].start_offset, 0);
    let altered = f.resp::<Alter>("share-alter-offsets");
    assert_eq!(altered.error_code, ErrorCode::NONE, "{altered:?}");
    let t = &altered.responses[0];
    assert_eq!((t.topic_name.as_str(), t.topic_id), (topic, topic_id));
    assert_eq!(t.partitions[0].error_code, ErrorCode::NONE);
    let _: Delete = f.req("share-delete-offsets");
    let deleted = f.resp::<Delete>("share-delete-offsets");
    assert_eq!(deleted.error_code, ErrorCode::NONE, "{deleted:?}");
    let t = &deleted.responses[0];
    assert_eq!(
        (t.topic_name.as_str(), t.topic_id, t.error_code),
        (topic, topic_id, ErrorCode::NONE)
    );
}
