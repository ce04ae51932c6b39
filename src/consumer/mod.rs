//! The consumer: fetching, offsets, and (with a group id) group membership.
//!
//! [`Consumer`] is a `Stream` of [`ConsumerRecord`]s. A background task
//! (`fetcher`) keeps one fetch in flight per broker for the assigned
//! partitions, with incremental fetch sessions ([`session`], KIP-227) and a
//! memory budget for records fetched ahead of the application.
//!
//! Spec: KIP-227 (fetch sessions), KIP-98 (read_committed), KIP-392 (rack id).

mod config;
mod control;
pub(crate) mod decode;
mod events;
mod fetcher;
mod group;
mod group848;
mod group848_io;
mod group848_offsets;
mod group_call;
mod group_report;
mod handle;
mod metrics;
mod offsets;
mod record;
pub use kafkit_core::fetch::session;
mod shared;

pub use config::{ConsumerConfig, GroupProtocol, IsolationLevel, OffsetReset};
pub use control::ConsumerControl;
pub use events::ConsumerEvent;
pub use handle::Consumer;
/// What a transactional producer sends with consumed offsets (KIP-447):
/// group id, generation, member id and group instance id, from
/// [`Consumer::group_metadata`].
pub use kafkit_core::producer::transaction::GroupMetadata as ConsumerGroupMetadata;
pub use metrics::{ConsumerMetrics, PartitionLag};
pub use record::ConsumerRecord;
