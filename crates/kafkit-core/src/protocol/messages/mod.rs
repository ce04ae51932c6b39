//! One module per API key: request and response structs, their codecs and tests.
//!
//! Field docs say which versions carry each field. Fields a version lacks
//! keep their default on decode; encoding a non-default value there is an
//! error unless the spec marks the field ignorable.
//!
//! Spec: <https://kafka.apache.org/protocol#protocol_messages>; the field
//! layouts follow the upstream JSON message definitions; KIP-482 (flexible
//! versions, tagged fields).

pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod alter_share_group_offsets;
pub mod alter_user_scram_credentials;
pub mod any;
pub mod api_versions;
pub mod consumer_group_describe;
pub mod consumer_group_heartbeat;
pub mod consumer_protocol;
pub mod create_acls;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_acls;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_share_group_offsets;
pub mod delete_topics;
pub mod describe_acls;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_log_dirs;
pub mod describe_producers;
pub mod describe_share_group_offsets;
pub mod describe_transactions;
pub mod describe_user_scram_credentials;
pub mod elect_leaders;
pub mod end_txn;
pub mod fetch;
pub mod find_coordinator;
pub mod get_telemetry_subscriptions;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leader_discovery;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod list_transactions;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod produce;
pub mod push_telemetry;
pub mod sasl_authenticate;
pub mod sasl_handshake;
pub mod share_acknowledge;
pub mod share_fetch;
pub mod share_group_describe;
pub mod share_group_heartbeat;
pub mod sync_group;
pub mod txn_offset_commit;

#[cfg(test)]
mod interop_kafka_protocol;
#[cfg(test)]
mod kafka_protocol_oracle;
