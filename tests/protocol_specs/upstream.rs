//! The tables against Apache Kafka's JSON message definitions.
//!
//! The definitions are not part of the repository; they are looked up at
//! `$KAFKIT_UPSTREAM_SPECS`, else at `shared/kafka-message-specs` next to the
//! repository (or next to its parent, for git worktrees). When they are
//! absent the check is skipped with a loud notice on stderr, unless
//! `KAFKIT_REQUIRE_UPSTREAM` is set, which turns the absence into a failure.
//! A table implementing versions newer than those definitions (TxnOffsetCommit
//! v5), or missing from them (DescribeShareGroupOffsets), is checked against
//! the pinned broker's `kafka-clients-4.4.0.jar` from scripts/kafka.sh's cache
//! instead, read with `unzip -p`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::spec::{Field, Kind, MessageSpec, Ty, Versions};

fn upstream_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("KAFKIT_UPSTREAM_SPECS") {
        return Some(PathBuf::from(dir)).filter(|d| d.is_dir());
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    root.ancestors()
        .skip(1)
        .take(2)
        .map(|a| a.join("shared/kafka-message-specs"))
        .find(|d| d.is_dir())
}

/// Removes `//` comments (outside string literals) so the text is JSON.
pub fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut in_string = false;
        let mut escaped = false;
        let mut cut = line.len();
        let bytes = line.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                _ if escaped => escaped = false,
                b'\\' if in_string => escaped = true,
                b'"' => in_string = !in_string,
                b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => {
                    cut = i;
                    break;
                }
                _ => {}
            }
        }
        out.push_str(&line[..cut]);
        out.push('\n');
    }
    out
}

fn load(dir: &Path, name: &str) -> Result<Value, String> {
    let path = dir.join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&strip_comments(&text)).map_err(|e| format!("{}: {e}", path.display()))
}

/// The pinned broker's client jar, which bundles the definitions of the
/// newest versions (`common/message/*.json`), if scripts/kafka.sh cached it.
fn pinned_jar() -> Option<PathBuf> {
    let cache = std::env::var_os("KAFKIT_KAFKA_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/kafkit/kafka")))?;
    Some(cache.join("4.4.0/libs/kafka-clients-4.4.0.jar")).filter(|j| j.is_file())
}

/// `name`'s definition from the pinned broker's jar, for messages whose
/// implemented versions are newer than the shared definitions.
fn load_pinned(name: &str) -> Option<Value> {
    let jar = pinned_jar()?;
    let out = std::process::Command::new("unzip")
        .arg("-p")
        .arg(&jar)
        .arg(format!("common/message/{name}.json"))
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    serde_json::from_str(&strip_comments(&String::from_utf8_lossy(&out.stdout))).ok()
}

fn versions(v: &Value, key: &str) -> Result<Option<Versions>, String> {
    match v.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Versions::parse(s),
        Some(other) => Err(format!("{key} is not a string: {other}")),
    }
}

fn default_text(v: &Value) -> Option<String> {
    match v.get("default")? {
        Value::String(s) if s.is_empty() => Some("\"\"".into()),
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Upstream fields that exist in `lo..=hi`, in the tables' model.
/// `common` holds the message's `commonStructs`: a field of such a type
/// without fields of its own takes the common struct's.
fn fields(list: &Value, common: &Value, lo: i16, hi: i16) -> Result<Vec<Field>, String> {
    let mut out = Vec::new();
    for f in list.as_array().ok_or("fields is not an array")? {
        let name = f["name"]
            .as_str()
            .ok_or("field without a name")?
            .to_string();
        let in_range = versions(f, "versions")?.ok_or_else(|| format!("{name}: no versions"))?;
        if !in_range.overlaps(lo, hi) {
            continue;
        }
        let type_name = f["type"]
            .as_str()
            .ok_or("field without a type")?
            .to_string();
        let shared = common.as_array().and_then(|structs| {
            let bare = type_name.trim_start_matches("[]");
            structs.iter().find(|c| c["name"].as_str() == Some(bare))
        });
        let children = match (f.get("fields"), shared) {
            (Some(list), _) => fields(list, common, lo, hi)?,
            (None, Some(c)) => fields(&c["fields"], common, lo, hi)?,
            (None, None) => Vec::new(),
        };
        let tagged = versions(f, "taggedVersions")?.filter(|t| *t != in_range);
        out.push(Field {
            ty: Ty::from_name(&type_name, children).map_err(|e| format!("{name}: {e}"))?,
            name,
            type_name,
            versions: in_range,
            nullable: versions(f, "nullableVersions")?,
            tag: f.get("tag").and_then(Value::as_u64).map(|t| t as u32),
            tagged,
            default: default_text(f),
            ignorable: f.get("ignorable").and_then(Value::as_bool) == Some(true),
            quirk: None,
        });
    }
    Ok(out)
}

fn compare(path: &str, ours: &[Field], theirs: &[Field], failures: &mut Vec<String>) {
    let names = |fs: &[Field]| fs.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
    if names(ours) != names(theirs) {
        failures.push(format!(
            "{path}: fields {:?}, upstream has {:?}",
            names(ours),
            names(theirs)
        ));
        return;
    }
    for (a, b) in ours.iter().zip(theirs) {
        let here = format!("{path}.{}", a.name);
        let facts = |f: &Field| {
            format!(
                "type {} versions {} nullable {:?} tag {:?} tagged {:?} default {:?} ignorable {}",
                f.type_name,
                f.versions,
                f.nullable.map(|n| n.to_string()),
                f.tag,
                f.tagged.map(|t| t.to_string()),
                f.default,
                f.ignorable
            )
        };
        if facts(a) != facts(b) {
            failures.push(format!(
                "{here}:\n    ours     {}\n    upstream {}",
                facts(a),
                facts(b)
            ));
        }
        compare(&here, a.children(), b.children(), failures);
    }
}

fn check_message(dir: &Path, m: &MessageSpec, api_key: Option<i16>, failures: &mut Vec<String>) {
    // Messages newer than the shared definitions (the KIP-932 admin APIs of
    // 4.1+) are read from the pinned broker's jar.
    let mut json = match load(dir, &m.name) {
        Ok(j) => j,
        Err(e) => match load_pinned(&m.name) {
            Some(j) => j,
            None => return failures.push(e),
        },
    };
    let (lo, hi) = m.versions;
    let covered = |j: &Value| versions(j, "validVersions").ok().flatten();
    if covered(&json).is_some_and(|v| !v.contains(hi)) {
        // Implemented up to a version newer than the shared definitions:
        // check against the pinned broker's (when cached), else fail below.
        if let Some(newer) = load_pinned(&m.name) {
            json = newer;
        }
    }
    if api_key.is_some() && json.get("apiKey").and_then(Value::as_i64) != api_key.map(i64::from) {
        failures.push(format!("{}: api key differs from upstream", m.name));
    }
    let kind = match m.kind {
        Kind::Request => "request",
        Kind::Response => "response",
        Kind::Data => "data",
    };
    if json["type"].as_str() != Some(kind) {
        failures.push(format!("{}: upstream type is {}", m.name, json["type"]));
    }
    match versions(&json, "validVersions") {
        Ok(Some(valid)) if valid.contains(lo) && valid.contains(hi) => {}
        other => failures.push(format!(
            "{}: implemented {lo}-{hi} is not within upstream validVersions {other:?}",
            m.name
        )),
    }
    let flexible = versions(&json, "flexibleVersions").map(|f| f.map(|f| f.lo));
    if flexible != Ok(m.flexible_from) {
        failures.push(format!(
            "{}: flexible from {:?}, upstream {flexible:?}",
            m.name, m.flexible_from
        ));
    }
    match fields(&json["fields"], &json["commonStructs"], lo, hi) {
        Ok(theirs) => compare(&m.name, &m.fields, &theirs, failures),
        Err(e) => failures.push(format!("{}: {e}", m.name)),
    }
}

#[test]
fn tables_agree_with_upstream_definitions() {
    let Some(dir) = upstream_dir() else {
        let msg = "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
                   !! protocol_specs: upstream Kafka message definitions NOT FOUND        !!\n\
                   !! (looked for ../shared/kafka-message-specs and $KAFKIT_UPSTREAM_SPECS)\n\
                   !! The tables were NOT checked against upstream; codec checks still ran.\n\
                   !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n";
        // Straight to the stderr handle: libtest captures print!/eprint! only.
        let _ = std::io::stderr().write_all(msg.as_bytes());
        assert!(
            std::env::var_os("KAFKIT_REQUIRE_UPSTREAM").is_none(),
            "KAFKIT_REQUIRE_UPSTREAM is set but the upstream definitions are missing"
        );
        return;
    };
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in crate::load_specs() {
        for m in &file.messages {
            check_message(&dir, m, file.api.as_ref().map(|a| a.key), &mut failures);
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} messages checked");
    crate::report("tables vs upstream", &failures);
}

#[test]
fn comments_are_stripped_outside_strings() {
    let text = "// header\n{ \"a\": \"x//y\", // note\n \"b\": 1 }\n";
    let v: Value = serde_json::from_str(&strip_comments(text)).expect("json");
    assert_eq!(v["a"], "x//y");
    assert_eq!(v["b"], 1);
}

#[test]
fn a_wrong_table_is_caught() {
    let Some(dir) = upstream_dir() else { return };
    let specs = crate::load_specs();
    let file = specs
        .iter()
        .find(|f| f.path.ends_with("api_versions.kspec"))
        .expect("table");
    let mut m = file.message(Kind::Response).expect("response").clone();
    m.fields[2].versions = Versions { lo: 0, hi: None };
    let mut failures = Vec::new();
    check_message(&dir, &m, Some(18), &mut failures);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("ThrottleTimeMs"), "{failures:?}");
}
