//! DescribeLogDirs (key 35): a broker's log directories and the size of
//! every partition replica in them.
//!
//! Sent to each broker whose disks are wanted (every broker answers only
//! for itself). A null topic list asks for every partition. v2 is the first
//! flexible version; v3 adds a top-level error code, v4 each directory's
//! total and usable bytes.
//!
//! Spec: `DescribeLogDirsRequest.json` / `DescribeLogDirsResponse.json`,
//! KIP-113, KIP-827 (total and usable bytes).

use crate::protocol::{
    ApiKey, ErrorCode, Message, Reader, Request, Result, Route, TaggedFields, VersionRange, Writer,
};

const VERSIONS: VersionRange = VersionRange::new(0, 4);
const FLEXIBLE_FROM: Option<i16> = Some(2);

/// Asks a broker about its log directories.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeLogDirsRequest {
    /// The partitions to describe; `None` for all of them (v0+).
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::option::of(crate::protocol::testing::list())")
    )]
    pub topics: Option<Vec<DescribeLogDirsTopic>>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One topic of a [`DescribeLogDirsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeLogDirsTopic {
    /// Topic name (v0+).
    pub topic: String,
    /// Partition indexes (v0+).
    #[cfg_attr(
        test,
        proptest(strategy = "crate::protocol::testing::vec_of(proptest::prelude::any::<i32>())")
    )]
    pub partitions: Vec<i32>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// The broker's directories.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DescribeLogDirsResponse {
    /// Throttle time in ms (v0+).
    pub throttle_time_ms: i32,
    /// Error for the whole request, `NONE` on success (v3+).
    pub error_code: ErrorCode,
    /// One entry per log directory (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub results: Vec<LogDirResult>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One log directory.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct LogDirResult {
    /// Error for this directory (`KAFKA_STORAGE_ERROR` when offline) (v0+).
    pub error_code: ErrorCode,
    /// The directory's absolute path (v0+).
    pub log_dir: String,
    /// The partition replicas in it (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub topics: Vec<LogDirTopic>,
    /// The volume's size in bytes, -1 when unknown (v4+).
    pub total_bytes: i64,
    /// The volume's free bytes, -1 when unknown (v4+).
    pub usable_bytes: i64,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Default for LogDirResult {
    fn default() -> Self {
        Self {
            error_code: ErrorCode::NONE,
            log_dir: String::new(),
            topics: Vec::new(),
            total_bytes: -1,
            usable_bytes: -1,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }
}

/// One topic in a log directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct LogDirTopic {
    /// Topic name (v0+).
    pub name: String,
    /// Its partition replicas (v0+).
    #[cfg_attr(test, proptest(strategy = "crate::protocol::testing::list()"))]
    pub partitions: Vec<LogDirPartition>,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

/// One partition replica in a log directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct LogDirPartition {
    /// Partition index (v0+).
    pub partition_index: i32,
    /// The replica's size on disk in bytes (v0+).
    pub partition_size: i64,
    /// How far the replica's log end offset is behind the partition's high
    /// watermark (or, for a future replica, the current one's) (v0+).
    pub offset_lag: i64,
    /// Whether it is a future replica being moved here (v0+).
    pub is_future_key: bool,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: TaggedFields,
}

impl Message for DescribeLogDirsRequest {
    const API_KEY: ApiKey = ApiKey::DESCRIBE_LOG_DIRS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.nullable_array(self.topics.as_deref(), |w, t| {
            w.string(&t.topic)?;
            w.i32_array(&t.partitions)?;
            w.unknown_tagged_fields(&t.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, _version: i16) -> Result<Self> {
        Ok(Self {
            topics: r.nullable_array(|r| {
                Ok(DescribeLogDirsTopic {
                    topic: r.string()?,
                    partitions: r.i32_array()?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

impl Request for DescribeLogDirsRequest {
    type Response = DescribeLogDirsResponse;
    const ROUTE: Route = Route::AnyBroker;

    fn response_error(response: &Self::Response) -> ErrorCode {
        response.error_code
    }
}

impl Message for DescribeLogDirsResponse {
    const API_KEY: ApiKey = ApiKey::DESCRIBE_LOG_DIRS;
    const VERSIONS: VersionRange = VERSIONS;
    const FLEXIBLE_FROM: Option<i16> = FLEXIBLE_FROM;

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
        w.i32(self.throttle_time_ms);
        if w.version() >= 3 {
            w.i16(self.error_code.0);
        } else {
            w.absent("error_code", self.error_code.is_ok(), false)?;
        }
        w.array(&self.results, encode_dir)?;
        w.unknown_tagged_fields(&self.unknown_tagged_fields)
    }

    fn decode_body(r: &mut Reader, version: i16) -> Result<Self> {
        Ok(Self {
            throttle_time_ms: r.i32()?,
            error_code: if version >= 3 {
                ErrorCode(r.i16()?)
            } else {
                ErrorCode::NONE
            },
            results: r.array(|r| decode_dir(r, version))?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    }
}

fn encode_dir(w: &mut Writer<'_>, d: &LogDirResult) -> Result<()> {
    w.i16(d.error_code.0);
    w.string(&d.log_dir)?;
    w.array(&d.topics, |w, t| {
        w.string(&t.name)?;
        w.array(&t.partitions, |w, p| {
            w.i32(p.partition_index);
            w.i64(p.partition_size);
            w.i64(p.offset_lag);
            w.bool(p.is_future_key);
            w.unknown_tagged_fields(&p.unknown_tagged_fields)
        })?;
        w.unknown_tagged_fields(&t.unknown_tagged_fields)
    })?;
    if w.version() >= 4 {
        w.i64(d.total_bytes);
        w.i64(d.usable_bytes);
    } else {
        w.absent("total_bytes", d.total_bytes == -1, true)?;
        w.absent("usable_bytes", d.usable_bytes == -1, true)?;
    }
    w.unknown_tagged_fields(&d.unknown_tagged_fields)
}

fn decode_dir(r: &mut Reader, version: i16) -> Result<LogDirResult> {
    let error_code = ErrorCode(r.i16()?);
    let log_dir = r.string()?;
    let topics = r.array(|r| {
        Ok(LogDirTopic {
            name: r.string()?,
            partitions: r.array(|r| {
                Ok(LogDirPartition {
                    partition_index: r.i32()?,
                    partition_size: r.i64()?,
                    offset_lag: r.i64()?,
                    is_future_key: r.bool()?,
                    unknown_tagged_fields: r.unknown_tagged_fields()?,
                })
            })?,
            unknown_tagged_fields: r.unknown_tagged_fields()?,
        })
    })?;
    let (total_bytes, usable_bytes) = if version >= 4 {
        (r.i64()?, r.i64()?)
    } else {
        (-1, -1)
    };
    Ok(LogDirResult {
        error_code,
        log_dir,
        topics,
        total_bytes,
        usable_bytes,
        unknown_tagged_fields: r.unknown_tagged_fields()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::testing::{check_roundtrip, encoded};
    use crate::protocol::ProtocolError;
    use bytes::Bytes;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_roundtrip(m in any::<DescribeLogDirsRequest>(), v in 0i16..=4) {
            check_roundtrip(&m, v)?;
        }

        #[test]
        fn response_roundtrip(m in any::<DescribeLogDirsResponse>(), v in 0i16..=4) {
            check_roundtrip(&m, v)?;
        }

        /// Arbitrary bytes never panic the decoders.
        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64), v in 0i16..=4) {
            let _ = DescribeLogDirsRequest::decode(Bytes::from(b.clone()), v);
            let _ = DescribeLogDirsResponse::decode(Bytes::from(b), v);
        }
    }

    #[test]
    fn request_bytes_all_and_some() {
        // Null: every partition.
        assert_eq!(
            encoded(&DescribeLogDirsRequest::default(), 1),
            [0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(encoded(&DescribeLogDirsRequest::default(), 4), [0, 0]);
        let some = DescribeLogDirsRequest {
            topics: Some(vec![DescribeLogDirsTopic {
                topic: "t".into(),
                partitions: vec![2],
                ..Default::default()
            }]),
            ..Default::default()
        };
        let v4: &[u8] = &[2, 2, b't', 2, 0, 0, 0, 2, 0, 0];
        assert_eq!(encoded(&some, 4), v4);
        assert_eq!(
            DescribeLogDirsRequest::decode(Bytes::from_static(v4), 4),
            Ok(some)
        );
    }

    #[test]
    fn response_v4_carries_the_volume_sizes() {
        let r = DescribeLogDirsResponse {
            results: vec![LogDirResult {
                log_dir: "/d".into(),
                total_bytes: 100,
                usable_bytes: 40,
                ..Default::default()
            }],
            ..Default::default()
        };
        let back = DescribeLogDirsResponse::decode(Bytes::from(encoded(&r, 4)), 4);
        assert_eq!(back, Ok(r.clone()));
        // v3 cannot carry them: they read back as unknown (-1).
        let v3 = DescribeLogDirsResponse::decode(Bytes::from(encoded(&r, 3)), 3).ok();
        let dir = v3.as_ref().and_then(|r| r.results.first());
        assert_eq!(dir.map(|d| (d.total_bytes, d.usable_bytes)), Some((-1, -1)));
    }

    #[test]
    fn hostile_input_is_an_error() {
        // A result count of 2^31-1 with nothing behind it.
        let wire = Bytes::from_static(&[0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(
            DescribeLogDirsResponse::decode(wire, 1),
            Err(ProtocolError::LengthExceedsInput { .. })
        ));
        let full = encoded(
            &DescribeLogDirsResponse {
                results: vec![LogDirResult {
                    topics: vec![LogDirTopic {
                        partitions: vec![LogDirPartition::default()],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
            4,
        );
        for n in 0..full.len() {
            let cut = Bytes::copy_from_slice(&full[..n]);
            assert!(
                DescribeLogDirsResponse::decode(cut, 4).is_err(),
                "{n} bytes"
            );
        }
    }
}
