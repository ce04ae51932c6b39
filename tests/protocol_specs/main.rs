//! The codecs against kafkit's own message tables (`protocol-specs/messages/`),
//! and those tables against the upstream Kafka definitions when available.
//!
//! What is checked, for every implemented message at every implemented version:
//! - `API_KEY`, `VERSIONS` and `FLEXIBLE_FROM` equal the table's;
//! - the default message encodes to exactly the size the table gives its
//!   default field values (a field written at a version that lacks it, or
//!   missing where the version has it, changes the size);
//! - bytes built from the table alone (random values, nulls where nullable,
//!   known and unknown tagged fields) decode, and re-encode byte for byte;
//! - a message decoded at one version and encoded at every other one either
//!   gives exactly the table's bytes for that version (ignorable fields the
//!   version lacks dropped) or fails, exactly when the table says a strict
//!   encoder must refuse (a non-ignorable field set where the version lacks
//!   it, or a null where the version does not allow one).

mod codecs;
mod spec;
mod upstream;
mod wire;

use std::path::PathBuf;

use codecs::{all_codecs, Codec};
use spec::SpecFile;
use wire::{default_struct, encode_struct, random_struct, Rng};

/// The message modules kafkit implements, each with a table.
const MODULES: &[&str] = &[
    "add_offsets_to_txn",
    "add_partitions_to_txn",
    "alter_share_group_offsets",
    "api_versions",
    "consumer_group_describe",
    "consumer_group_heartbeat",
    "consumer_protocol",
    "create_topics",
    "delete_groups",
    "delete_share_group_offsets",
    "delete_topics",
    "describe_groups",
    "describe_share_group_offsets",
    "end_txn",
    "fetch",
    "find_coordinator",
    "heartbeat",
    "init_producer_id",
    "join_group",
    "leave_group",
    "list_groups",
    "list_offsets",
    "metadata",
    "offset_commit",
    "offset_delete",
    "offset_fetch",
    "produce",
    "sasl_authenticate",
    "sasl_handshake",
    "share_acknowledge",
    "share_fetch",
    "share_group_describe",
    "share_group_heartbeat",
    "sync_group",
    "txn_offset_commit",
];

/// Random messages generated per message and version.
const ROUNDS: u64 = 48;

pub fn spec_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("protocol-specs/messages")
}

pub fn load_specs() -> Vec<SpecFile> {
    spec::load_dir(&spec_dir())
}

/// Panics listing every failure (at most 40 shown) if there are any.
fn report(what: &str, failures: &[String]) {
    if failures.is_empty() {
        return;
    }
    let shown: Vec<&str> = failures.iter().take(40).map(String::as_str).collect();
    panic!(
        "{what}: {} failures\n  {}",
        failures.len(),
        shown.join("\n  ")
    );
}

#[test]
fn every_module_has_a_parsable_table() {
    let specs = load_specs();
    let names: Vec<String> = specs
        .iter()
        .map(|s| s.path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, MODULES, "one .kspec per message module");
    for s in &specs {
        if let Some(api) = &s.api {
            assert_eq!(
                kafkit::protocol::ApiKey(api.key).name(),
                Some(api.name.as_str()),
                "{}: api key and name disagree",
                s.path.display()
            );
            assert_eq!(s.messages.len(), 2, "{}", s.path.display());
        }
        assert!(!s.messages.is_empty(), "{}", s.path.display());
    }
}

#[test]
fn codec_constants_match_the_table() {
    let (codecs, missing) = all_codecs(&load_specs());
    let mut failures: Vec<String> = missing
        .iter()
        .map(|m| format!("{m} has a table but no codec in `any`"))
        .collect();
    for c in &codecs {
        let declared = c.declared();
        let spec = (c.spec.versions, c.spec.flexible_from);
        if declared != spec {
            failures.push(format!(
                "{}: codec declares versions/flexible {declared:?}, table says {spec:?}",
                c.label
            ));
        }
    }
    // Every API the dispatcher knows has a table.
    for api in kafkit::protocol::messages::any::APIS {
        if !codecs.iter().any(|c| c.api_key() == Some(api.api_key)) {
            failures.push(format!("{} is implemented but has no table", api.name));
        }
    }
    report("codec constants", &failures);
}

#[test]
fn default_messages_have_the_table_size() {
    let (codecs, _) = all_codecs(&load_specs());
    let mut failures = Vec::new();
    for c in &codecs {
        let defaults = default_struct(&c.spec.fields);
        for v in c.versions() {
            let flexible = c.spec.is_flexible(v);
            let expected = encode_struct(&c.spec.fields, &defaults, v, flexible);
            let msg = c.default_message();
            let fail = |what: String| format!("{} v{v}: {what}", c.label);
            match c.encode(&msg, v) {
                Err(e) => failures.push(fail(format!("default does not encode: {e}"))),
                Ok(bytes) if bytes.len() != expected.pattern.len() => failures.push(fail(format!(
                    "default encodes to {} bytes, table says {}\n    codec {bytes:02x?}\n    table {:02x?}",
                    bytes.len(),
                    expected.pattern.len(),
                    expected.concrete()
                ))),
                Ok(bytes) if !expected.matches(&bytes) => failures.push(fail(format!(
                    "default values differ from the table's\n    codec {bytes:02x?}\n    table {:02x?}",
                    expected.concrete()
                ))),
                Ok(bytes) => match c.decode(v, bytes.into()) {
                    Ok(back) if back == msg => {}
                    other => failures.push(fail(format!("default does not decode back: {other:?}"))),
                },
            }
        }
    }
    report("default messages", &failures);
}

/// Decodes table-built bytes at each version, re-encodes at every version,
/// and compares with the table (see the module doc).
#[test]
fn table_built_bodies_decode_and_encode_at_every_version() {
    let (codecs, _) = all_codecs(&load_specs());
    let mut failures = Vec::new();
    for c in &codecs {
        for v in c.versions() {
            for round in 0..ROUNDS {
                let seed = (u64::from(c.seed_key()) << 32) ^ ((v as u64) << 16) ^ round;
                if let Err(e) = check_one(c, v, seed) {
                    failures.push(e);
                    break;
                }
            }
        }
    }
    report("table-built round trips", &failures);
}

fn check_one(c: &Codec, v: i16, seed: u64) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let flexible = c.spec.is_flexible(v);
    let val = random_struct(&c.spec.fields, v, flexible, &mut rng, 0);
    let wire = encode_struct(&c.spec.fields, &val, v, flexible);
    let ctx = |what: String| format!("{} v{v} seed {seed:#x}: {what}", c.label);
    if let Some(why) = &wire.reject {
        return Err(ctx(format!("generator built an invalid message: {why}")));
    }
    let bytes = wire.concrete();
    let msg = c
        .decode(v, bytes.clone().into())
        .map_err(|e| ctx(format!("table bytes do not decode: {e}\n    {bytes:02x?}")))?;
    let again = c.encode(&msg, v).map_err(|e| {
        ctx(format!(
            "decoded message does not re-encode: {e}\n    {msg:?}"
        ))
    })?;
    if again != bytes {
        return Err(ctx(format!(
            "re-encoding differs\n    table {bytes:02x?}\n    codec {again:02x?}\n    {msg:?}"
        )));
    }
    for other in c.versions().filter(|&o| o != v) {
        let expected = encode_struct(&c.spec.fields, &val, other, c.spec.is_flexible(other));
        let at = |what: String| ctx(format!("encoded at v{other}: {what}\n    {msg:?}"));
        match (
            &expected.reject,
            &expected.maybe_reject,
            c.encode(&msg, other),
        ) {
            (Some(_), _, Err(_)) | (None, Some(_), Err(_)) => {}
            (Some(why), _, Ok(got)) => {
                return Err(at(format!("must fail ({why}) but gave {got:02x?}")))
            }
            (None, None, Err(e)) => return Err(at(format!("must succeed but failed: {e}"))),
            (None, _, Ok(got)) if !expected.matches(&got) => {
                return Err(at(format!(
                    "bytes differ\n    table {:02x?}\n    codec {got:02x?}",
                    expected.concrete()
                )))
            }
            (None, _, Ok(_)) => {}
        }
    }
    Ok(())
}

/// Declares the codec behaviours the tables cannot express (see [`spec::Quirk`]).
pub fn apply_quirks(spec: &mut spec::MessageSpec) {
    use spec::Quirk::*;
    const QUIRKS: &[(&str, &str, spec::Quirk)] = &[
        ("MetadataRequest", "Topics", NullIsEmptyWhereNotNullable),
        ("ListOffsetsRequest", "ReplicaId", ClientDefault(-1)),
    ];
    for (message, field, quirk) in QUIRKS {
        if spec.name == *message {
            let f = spec.fields.iter_mut().find(|f| f.name == *field);
            f.expect("quirk names a field").quirk = Some(*quirk);
        }
    }
}

/// Writes the committed fuzz seed corpus, `fuzz/seeds/<target>/`, from
/// table-built messages; checks them, or rewrites them with `KAFKIT_WRITE_SEEDS=1`.
#[test]
fn write_fuzz_seeds() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let (codecs, _) = all_codecs(&load_specs());
    let mut written = 0;
    for c in &codecs {
        let target = match c.api_key() {
            Some(_) if c.spec.kind == spec::Kind::Request => "request",
            Some(_) => "frame_response",
            None => "consumer_protocol",
        };
        let dir = root.join(target);
        for v in c.versions() {
            let flexible = c.spec.is_flexible(v);
            let mut rng = Rng::new(u64::from(c.seed_key()) << 16 ^ v as u64);
            let val = random_struct(&c.spec.fields, v, flexible, &mut rng, 0);
            let wire = encode_struct(&c.spec.fields, &val, v, flexible);
            assert!(wire.reject.is_none(), "{} v{v}", c.label);
            let body = wire.concrete();
            let mut seed = Vec::new();
            match (target, c.api_key()) {
                ("request", Some(key)) => {
                    seed.extend_from_slice(&key.0.to_be_bytes());
                    seed.extend_from_slice(&v.to_be_bytes());
                    seed.extend_from_slice(&7i32.to_be_bytes());
                    seed.extend_from_slice(&[0, 4]);
                    seed.extend_from_slice(b"seed");
                    if flexible {
                        seed.push(0);
                    }
                }
                ("frame_response", Some(key)) => {
                    seed.extend_from_slice(&[key.0 as u8, v as u8, 0]);
                    seed.extend_from_slice(&7i32.to_be_bytes());
                    if flexible && key != kafkit::protocol::ApiKey::API_VERSIONS {
                        seed.push(0);
                    }
                }
                _ => {
                    seed.push(u8::from(c.label.ends_with("Assignment")));
                    seed.extend_from_slice(&v.to_be_bytes());
                }
            }
            seed.extend_from_slice(&body);
            let name = format!("{}-v{v}", c.label);
            emit_seed(&dir.join(name), &seed);
            written += 1;
        }
    }
    println!("wrote {written} seeds under {}", root.display());
}

/// Writes a fuzz seed when `KAFKIT_WRITE_SEEDS=1`; otherwise checks that the
/// committed seed is exactly what the generator produces now.
fn emit_seed(path: &std::path::Path, bytes: &[u8]) {
    if std::env::var_os("KAFKIT_WRITE_SEEDS").is_some_and(|v| v == "1") {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create seed dir");
        }
        std::fs::write(path, bytes).expect("write seed");
    } else {
        let committed = std::fs::read(path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (regenerate with KAFKIT_WRITE_SEEDS=1)",
                path.display()
            )
        });
        assert!(
            committed == bytes,
            "{} is stale: regenerate with KAFKIT_WRITE_SEEDS=1",
            path.display()
        );
    }
}
