//! Parser for kafkit's own message tables, `protocol-specs/messages/*.kspec`
//! (format described in `protocol-specs/messages/README.md`).

use std::fmt;
use std::path::{Path, PathBuf};

/// An inclusive version range; `hi == None` means open-ended (`N+`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    pub lo: i16,
    pub hi: Option<i16>,
}

impl Versions {
    pub fn contains(&self, v: i16) -> bool {
        self.lo <= v && self.hi.is_none_or(|hi| v <= hi)
    }

    /// Whether the range shares a version with `lo..=hi`.
    pub fn overlaps(&self, lo: i16, hi: i16) -> bool {
        self.lo <= hi && self.hi.is_none_or(|h| h >= lo)
    }

    /// Parses `N+`, `N-M` or `N` (a leading `v` is accepted); `None` for `none`.
    pub fn parse(s: &str) -> Result<Option<Self>, String> {
        let s = s.strip_prefix('v').unwrap_or(s);
        if s == "none" {
            return Ok(None);
        }
        let num = |t: &str| {
            t.parse::<i16>()
                .map_err(|e| format!("bad version {t:?}: {e}"))
        };
        let range = if let Some(lo) = s.strip_suffix('+') {
            Versions {
                lo: num(lo)?,
                hi: None,
            }
        } else if let Some((lo, hi)) = s.split_once('-') {
            Versions {
                lo: num(lo)?,
                hi: Some(num(hi)?),
            }
        } else {
            let v = num(s)?;
            Versions { lo: v, hi: Some(v) }
        };
        Ok(Some(range))
    }
}

impl fmt::Display for Versions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.hi {
            None => write!(f, "{}+", self.lo),
            Some(hi) if hi == self.lo => write!(f, "{hi}"),
            Some(hi) => write!(f, "{}-{hi}", self.lo),
        }
    }
}

/// A field's wire type.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint16,
    Uint32,
    Float64,
    Uuid,
    String,
    Bytes,
    Records,
    /// A struct with its fields.
    Struct(Vec<Field>),
    Array(Box<Ty>),
}

impl Ty {
    fn primitive(name: &str) -> Option<Ty> {
        Some(match name {
            "bool" => Ty::Bool,
            "int8" => Ty::Int8,
            "int16" => Ty::Int16,
            "int32" => Ty::Int32,
            "int64" => Ty::Int64,
            "uint16" => Ty::Uint16,
            "uint32" => Ty::Uint32,
            "float64" => Ty::Float64,
            "uuid" => Ty::Uuid,
            "string" => Ty::String,
            "bytes" => Ty::Bytes,
            "records" => Ty::Records,
            _ => return None,
        })
    }

    /// Builds the type named `name` (`[]T` or `T`), with `children` as the
    /// struct fields when it is not primitive.
    pub fn from_name(name: &str, children: Vec<Field>) -> Result<Ty, String> {
        let (array, inner) = match name.strip_prefix("[]") {
            Some(inner) => (true, inner),
            None => (false, name),
        };
        let ty = match Ty::primitive(inner) {
            Some(p) if children.is_empty() => p,
            Some(_) => return Err(format!("primitive {inner} cannot have fields")),
            None if children.is_empty() => return Err(format!("struct {inner} has no fields")),
            None => Ty::Struct(children),
        };
        Ok(if array { Ty::Array(Box::new(ty)) } else { ty })
    }
}

/// One field of a message or struct.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    /// The type as written (`[]FetchTopic`, `int32`).
    pub type_name: String,
    pub ty: Ty,
    pub versions: Versions,
    pub nullable: Option<Versions>,
    pub tag: Option<u32>,
    pub tagged: Option<Versions>,
    /// The default as written, when not zero/empty.
    pub default: Option<String>,
    pub ignorable: bool,
    /// A kafkit-specific mapping the tests must know about (not in the files).
    pub quirk: Option<Quirk>,
}

/// Codec behaviour beyond the wire layout, declared by the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quirk {
    /// At versions where the field is not nullable, null travels as an empty
    /// array (and an empty array reads back as null); a non-null empty value
    /// has no form there and must be refused. MetadataRequest.Topics at v0,
    /// where an empty list means "all topics".
    NullIsEmptyWhereNotNullable,
    /// The codec's `Default` gives this integer instead of the table's
    /// default, because it is what a client sends (ListOffsets replica id -1).
    ClientDefault(i64),
}

impl Field {
    pub fn present_at(&self, v: i16) -> bool {
        self.versions.contains(v)
    }

    pub fn nullable_at(&self, v: i16) -> bool {
        self.nullable.is_some_and(|n| n.contains(v))
    }

    /// Whether the field travels in the tagged section at version `v`.
    pub fn tagged_at(&self, v: i16) -> bool {
        self.tag.is_some() && self.tagged.unwrap_or(self.versions).contains(v)
    }

    /// Fields of the struct (or array of structs) this field holds.
    pub fn children(&self) -> &[Field] {
        match &self.ty {
            Ty::Struct(f) => f,
            Ty::Array(inner) => match inner.as_ref() {
                Ty::Struct(f) => f,
                _ => &[],
            },
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request,
    Response,
    Data,
}

/// A request, response or versioned data payload.
#[derive(Debug, Clone)]
pub struct MessageSpec {
    pub kind: Kind,
    pub name: String,
    pub versions: (i16, i16),
    pub flexible_from: Option<i16>,
    pub fields: Vec<Field>,
}

impl MessageSpec {
    pub fn is_flexible(&self, v: i16) -> bool {
        self.flexible_from.is_some_and(|f| v >= f)
    }
}

/// The `api` line of a file.
#[derive(Debug, Clone)]
pub struct ApiLine {
    pub name: String,
    pub key: i16,
    pub versions: (i16, i16),
    pub flexible_from: Option<i16>,
}

/// One `.kspec` file.
#[derive(Debug, Clone)]
pub struct SpecFile {
    pub path: PathBuf,
    pub api: Option<ApiLine>,
    pub messages: Vec<MessageSpec>,
}

impl SpecFile {
    pub fn message(&self, kind: Kind) -> Option<&MessageSpec> {
        self.messages.iter().find(|m| m.kind == kind)
    }
}

/// Reads every `.kspec` file in `dir`, sorted by name.
pub fn load_dir(dir: &Path) -> Vec<SpecFile> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "kspec"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read spec");
            parse(&p, &text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

fn key_value<'a>(word: &'a str, key: &str) -> Result<&'a str, String> {
    word.strip_prefix(key)
        .and_then(|r| r.strip_prefix('='))
        .ok_or_else(|| format!("expected {key}=..., found {word:?}"))
}

fn range(word: &str) -> Result<(i16, i16), String> {
    match Versions::parse(word)? {
        Some(Versions { lo, hi: Some(hi) }) if lo <= hi => Ok((lo, hi)),
        _ => Err(format!("expected a bounded range, found {word:?}")),
    }
}

fn flexible(word: &str) -> Result<Option<i16>, String> {
    match Versions::parse(word)? {
        None => Ok(None),
        Some(Versions { lo, hi: None }) => Ok(Some(lo)),
        Some(_) => Err(format!("flexible must be N+ or none, found {word:?}")),
    }
}

/// A field line before its children are attached.
struct Pending {
    depth: usize,
    field: Field,
    children: Vec<Field>,
}

fn parse_field(words: &[&str]) -> Result<Field, String> {
    let [name, type_name, versions, attrs @ ..] = words else {
        return Err(format!(
            "field line needs name, type and versions: {words:?}"
        ));
    };
    let versions = Versions::parse(versions)?.ok_or("a field needs versions")?;
    let mut field = Field {
        name: name.to_string(),
        type_name: type_name.to_string(),
        ty: Ty::Bool,
        versions,
        nullable: None,
        tag: None,
        tagged: None,
        default: None,
        ignorable: false,
        quirk: None,
    };
    for attr in attrs {
        match attr.split_once('=') {
            Some(("null", v)) => field.nullable = Versions::parse(v)?,
            Some(("tag", v)) => field.tag = Some(v.parse().map_err(|e| format!("tag: {e}"))?),
            Some(("tagged", v)) => field.tagged = Versions::parse(v)?,
            Some(("default", v)) => field.default = Some(v.to_string()),
            None if *attr == "ignorable" => field.ignorable = true,
            _ => return Err(format!("unknown attribute {attr:?}")),
        }
    }
    Ok(field)
}

/// Pops finished fields off the stack down to `depth`, attaching each to its parent.
fn close(stack: &mut Vec<Pending>, top: &mut Vec<Field>, depth: usize) -> Result<(), String> {
    while stack.last().is_some_and(|p| p.depth >= depth) {
        let p = stack.pop().ok_or("empty stack")?;
        let mut field = p.field;
        field.ty = Ty::from_name(&field.type_name, p.children)
            .map_err(|e| format!("{}: {e}", field.name))?;
        match stack.last_mut() {
            Some(parent) => parent.children.push(field),
            None => top.push(field),
        }
    }
    Ok(())
}

pub fn parse(path: &Path, text: &str) -> Result<SpecFile, String> {
    let mut file = SpecFile {
        path: path.to_path_buf(),
        api: None,
        messages: Vec::new(),
    };
    let mut stack: Vec<Pending> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("");
        if line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = |e: String| format!("line {}: {e}", n + 1);
        if indent == 0 {
            if let Some(m) = file.messages.last_mut() {
                close(&mut stack, &mut m.fields, 0).map_err(at)?;
            }
            start_block(&mut file, &words).map_err(at)?;
            continue;
        }
        if indent % 2 != 0 {
            return Err(at("indentation must be a multiple of two".into()));
        }
        let depth = indent / 2;
        let m = file
            .messages
            .last_mut()
            .ok_or_else(|| at("field outside a block".into()))?;
        if depth > stack.len() + 1 {
            return Err(at("indented too deep".into()));
        }
        close(&mut stack, &mut m.fields, depth).map_err(at)?;
        let field = parse_field(&words).map_err(at)?;
        stack.push(Pending {
            depth,
            field,
            children: Vec::new(),
        });
    }
    if let Some(m) = file.messages.last_mut() {
        close(&mut stack, &mut m.fields, 0)?;
    }
    Ok(file)
}

fn start_block(file: &mut SpecFile, words: &[&str]) -> Result<(), String> {
    match words {
        ["api", name, key, versions, flex] => {
            file.api = Some(ApiLine {
                name: name.to_string(),
                key: key_value(key, "key")?
                    .parse()
                    .map_err(|e| format!("key: {e}"))?,
                versions: range(key_value(versions, "versions")?)?,
                flexible_from: flexible(key_value(flex, "flexible")?)?,
            });
        }
        [kind @ ("request" | "response"), name] => {
            let api = file
                .api
                .as_ref()
                .ok_or("request/response before the api line")?;
            file.messages.push(MessageSpec {
                kind: if *kind == "request" {
                    Kind::Request
                } else {
                    Kind::Response
                },
                name: name.to_string(),
                versions: api.versions,
                flexible_from: api.flexible_from,
                fields: Vec::new(),
            });
        }
        ["data", name, versions, flex] => file.messages.push(MessageSpec {
            kind: Kind::Data,
            name: name.to_string(),
            versions: range(key_value(versions, "versions")?)?,
            flexible_from: flexible(key_value(flex, "flexible")?)?,
            fields: Vec::new(),
        }),
        _ => return Err(format!("unknown block line {words:?}")),
    }
    Ok(())
}

#[test]
fn parser_reads_nesting_and_attributes() {
    let text = "api X key=7 versions=0-3 flexible=2+\n\
                request XRequest\n\
                \x20 A []S v1+ null=2+ ignorable\n\
                \x20   B int32 v1-2 default=-1\n\
                \x20   C []int32 v1+\n\
                \x20 D string v2+ tag=4 default=null\n\
                response XResponse\n\
                \x20 E int16 v0+\n";
    let f = parse(Path::new("x.kspec"), text).expect("parses");
    let req = f.message(Kind::Request).expect("request");
    assert_eq!(req.fields.len(), 2);
    let a = &req.fields[0];
    assert!(a.ignorable && a.nullable_at(2) && !a.nullable_at(1) && !a.present_at(0));
    assert_eq!(a.children().len(), 2);
    assert_eq!(a.children()[0].versions, Versions { lo: 1, hi: Some(2) });
    assert_eq!(a.children()[1].ty, Ty::Array(Box::new(Ty::Int32)));
    assert!(req.fields[1].tagged_at(3) && !req.fields[1].tagged_at(1));
    assert_eq!(f.message(Kind::Response).map(|m| m.fields.len()), Some(1));
    assert!(parse(
        Path::new("y"),
        "api X key=1 versions=0-1 flexible=none\nrequest R\n  A Foo v0+\n"
    )
    .is_err());
}
