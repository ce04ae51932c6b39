//! A reference encoder driven only by the spec tables: builds values for a
//! message (spec defaults or random ones) and writes the bytes the spec says
//! they have at a version, independently of kafkit's codecs.

use crate::spec::{Field, Quirk, Ty};

/// A value of any spec type.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Bool(bool),
    Int(i64),
    Float(u64),
    Uuid([u8; 16]),
    Str(Option<String>),
    Bytes(Option<Vec<u8>>),
    Struct(StructVal),
    Array(Option<Vec<Val>>),
    /// A null nullable struct (flexible versions write the marker byte -1).
    NullStruct,
    /// The default of a field that is nullable at some version and has no
    /// explicit default: upstream's generated code uses empty, kafkit's
    /// `Option` fields use null. Both are accepted.
    Unset,
}

/// The fields of a struct (parallel to the spec's field list) plus unknown tags.
#[derive(Debug, Clone, PartialEq)]
pub struct StructVal {
    pub fields: Vec<Val>,
    pub unknown_tags: Vec<(u32, Vec<u8>)>,
}

/// A small deterministic PRNG (xorshift64*), so failures reproduce from the seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }

    fn bytes(&mut self, min: u64, max: u64) -> Vec<u8> {
        (0..min + self.below(max - min + 1))
            .map(|_| self.next() as u8)
            .collect()
    }

    fn ascii(&mut self, min: u64, max: u64) -> String {
        (0..min + self.below(max - min + 1))
            .map(|_| char::from(b'a' + self.below(26) as u8))
            .collect()
    }
}

fn parse_int(s: &str) -> i64 {
    match s.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).expect("hex default"),
        None => s.parse().expect("integer default"),
    }
}

/// The spec default of a field.
pub fn default_of(f: &Field) -> Val {
    if let Some(Quirk::ClientDefault(n)) = f.quirk {
        return Val::Int(n);
    }
    let d = f.default.as_deref();
    let either = f.nullable.is_some() && d.is_none();
    match &f.ty {
        Ty::String | Ty::Bytes | Ty::Records | Ty::Array(_) if either => Val::Unset,
        Ty::Bool => Val::Bool(d == Some("true")),
        Ty::Int8 | Ty::Int16 | Ty::Int32 | Ty::Int64 | Ty::Uint16 | Ty::Uint32 => {
            Val::Int(d.map_or(0, parse_int))
        }
        Ty::Float64 => Val::Float(0f64.to_bits()),
        Ty::Uuid => Val::Uuid([0; 16]),
        Ty::String => match d {
            Some("null") => Val::Str(None),
            Some(s) => Val::Str(Some(s.trim_matches('"').to_string())),
            None => Val::Str(Some(String::new())),
        },
        Ty::Bytes | Ty::Records => match d {
            Some("null") => Val::Bytes(None),
            _ => Val::Bytes(Some(Vec::new())),
        },
        Ty::Struct(_) if d == Some("null") => Val::NullStruct,
        Ty::Struct(children) => Val::Struct(default_struct(children)),
        Ty::Array(_) => match d {
            Some("null") => Val::Array(None),
            _ => Val::Array(Some(Vec::new())),
        },
    }
}

pub fn default_struct(fields: &[Field]) -> StructVal {
    StructVal {
        fields: fields.iter().map(default_of).collect(),
        unknown_tags: Vec::new(),
    }
}

/// Random values for the fields present at `v` (spec defaults elsewhere).
/// Tagged fields are either default (not on the wire) or clearly non-default.
pub fn random_struct(
    fields: &[Field],
    v: i16,
    flexible: bool,
    rng: &mut Rng,
    depth: u32,
) -> StructVal {
    let mut out = default_struct(fields);
    for (f, slot) in fields.iter().zip(out.fields.iter_mut()) {
        if !f.present_at(v) {
            continue;
        }
        if f.tagged_at(v) {
            if rng.chance(2) {
                continue;
            }
            let default = default_of(f);
            for _ in 0..16 {
                let val = random_val(&f.ty, f.nullable_at(v), v, flexible, rng, depth, true);
                if val != default {
                    *slot = val;
                    break;
                }
            }
        } else {
            *slot = random_val(&f.ty, f.nullable_at(v), v, flexible, rng, depth, false);
            if f.quirk == Some(Quirk::NullIsEmptyWhereNotNullable)
                && !f.nullable_at(v)
                && *slot == Val::Array(Some(Vec::new()))
            {
                *slot = Val::Array(None);
            }
        }
    }
    if flexible && rng.chance(5) {
        let first = 1000 + rng.below(50) as u32;
        out.unknown_tags.push((first, rng.bytes(0, 6)));
        if rng.chance(2) {
            out.unknown_tags
                .push((first + 1 + rng.below(50) as u32, rng.bytes(0, 6)));
        }
    }
    out
}

fn random_val(
    ty: &Ty,
    nullable: bool,
    v: i16,
    flexible: bool,
    rng: &mut Rng,
    depth: u32,
    non_empty: bool,
) -> Val {
    let null = nullable && !non_empty && rng.chance(4);
    match ty {
        Ty::Bool => Val::Bool(rng.chance(2)),
        // int8 fields are small enumerations (isolation level, key type).
        Ty::Int8 => Val::Int(rng.below(2) as i64),
        Ty::Int16 => Val::Int(i64::from(rng.next() as i16)),
        Ty::Int32 => Val::Int(i64::from(rng.next() as i32)),
        Ty::Int64 => Val::Int(rng.next() as i64),
        Ty::Uint16 => Val::Int(i64::from(rng.next() as u16)),
        Ty::Uint32 => Val::Int(i64::from(rng.next() as u32)),
        Ty::Float64 => Val::Float((rng.below(1 << 20) as f64 / 8.0).to_bits()),
        Ty::Uuid => Val::Uuid(std::array::from_fn(|_| rng.next() as u8)),
        Ty::String if null => Val::Str(None),
        Ty::String => Val::Str(Some(rng.ascii(u64::from(non_empty), 8))),
        // Record data stays raw bytes in the message codecs.
        Ty::Bytes | Ty::Records if null => Val::Bytes(None),
        Ty::Bytes | Ty::Records => Val::Bytes(Some(rng.bytes(u64::from(non_empty), 8))),
        Ty::Struct(_) if null => Val::NullStruct,
        Ty::Struct(children) => Val::Struct(random_struct(children, v, flexible, rng, depth + 1)),
        Ty::Array(_) if null => Val::Array(None),
        Ty::Array(inner) => {
            let max = if depth > 2 { 1 } else { 3 };
            let n = if non_empty {
                1 + rng.below(max)
            } else {
                rng.below(max + 1)
            };
            let items = (0..n)
                .map(|_| random_val(inner, false, v, flexible, rng, depth + 1, false))
                .collect();
            Val::Array(Some(items))
        }
    }
}

/// What the spec says a strict encoder produces for a struct at a version.
///
/// `pattern` holds, per byte, the two values allowed there: they differ only
/// in the length prefix of an [`Val::Unset`] field (null or empty). `reject`
/// is the first reason a strict encoder must refuse the value (a non-default,
/// non-ignorable value in a field the version lacks, or a null the version
/// does not allow); `maybe_reject` a reason it may refuse it, which depends
/// on whether the codec's default for the field is null or empty.
pub struct Encoded {
    pub pattern: Vec<(u8, u8)>,
    pub reject: Option<String>,
    pub maybe_reject: Option<String>,
}

impl Encoded {
    /// The bytes with every `Unset` field written as empty.
    pub fn concrete(&self) -> Vec<u8> {
        self.pattern.iter().map(|p| p.0).collect()
    }

    pub fn matches(&self, bytes: &[u8]) -> bool {
        bytes.len() == self.pattern.len()
            && bytes
                .iter()
                .zip(&self.pattern)
                .all(|(b, (x, y))| b == x || b == y)
    }
}

pub fn encode_struct(fields: &[Field], val: &StructVal, v: i16, flexible: bool) -> Encoded {
    let mut e = Encoder {
        v,
        flexible,
        out: Vec::new(),
        reject: None,
        maybe_reject: None,
    };
    e.strukt(fields, val, "");
    Encoded {
        pattern: e.out,
        reject: e.reject,
        maybe_reject: e.maybe_reject,
    }
}

struct Encoder {
    v: i16,
    flexible: bool,
    out: Vec<(u8, u8)>,
    reject: Option<String>,
    maybe_reject: Option<String>,
}

fn is_null_or_empty(x: &Val) -> bool {
    match x {
        Val::Str(s) => s.as_deref().is_none_or(str::is_empty),
        Val::Bytes(b) => b.as_deref().is_none_or(<[u8]>::is_empty),
        Val::Array(a) => a.as_deref().is_none_or(<[Val]>::is_empty),
        _ => false,
    }
}

impl Encoder {
    fn refuse(&mut self, why: String) {
        self.reject.get_or_insert(why);
    }

    fn exact(&mut self, bytes: &[u8]) {
        self.out.extend(bytes.iter().map(|&b| (b, b)));
    }

    fn uvarint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.exact(&[(n as u8) | 0x80]);
            n >>= 7;
        }
        self.exact(&[n as u8]);
    }

    /// A length prefix: compact varint (n+1, 0 = null) or classic int16/int32 (-1 = null).
    fn len_bytes(&self, n: Option<usize>, classic_width: usize) -> Vec<u8> {
        if self.flexible {
            let mut e = Encoder {
                v: self.v,
                flexible: true,
                out: Vec::new(),
                reject: None,
                maybe_reject: None,
            };
            e.uvarint(n.map_or(0, |n| n as u64 + 1));
            e.out.iter().map(|p| p.0).collect()
        } else {
            let raw = n.map_or(-1, |n| n as i64);
            raw.to_be_bytes()[8 - classic_width..].to_vec()
        }
    }

    fn len(&mut self, n: Option<usize>, classic_width: usize) {
        let b = self.len_bytes(n, classic_width);
        self.exact(&b);
    }

    fn strukt(&mut self, fields: &[Field], val: &StructVal, path: &str) {
        let mut tagged: Vec<(u32, Vec<(u8, u8)>)> = val
            .unknown_tags
            .iter()
            .map(|(t, d)| (*t, d.iter().map(|&b| (b, b)).collect()))
            .collect();
        for (f, x) in fields.iter().zip(&val.fields) {
            let name = format!("{path}{}", f.name);
            let default = default_of(f);
            if !f.present_at(self.v) {
                if f.ignorable || *x == default {
                } else if default == Val::Unset && is_null_or_empty(x) {
                    self.maybe_reject.get_or_insert(format!(
                        "{name} is absent at v{} and null or empty",
                        self.v
                    ));
                } else {
                    self.refuse(format!("{name} is absent at v{} but set", self.v));
                }
                continue;
            }
            if f.tagged_at(self.v) {
                if *x != default {
                    let body = std::mem::take(&mut self.out);
                    self.val(f, &f.ty, x, f.nullable_at(self.v), &name);
                    let data = std::mem::replace(&mut self.out, body);
                    tagged.push((f.tag.expect("tagged field has a tag"), data));
                }
                continue;
            }
            self.val(f, &f.ty, x, f.nullable_at(self.v), &name);
        }
        if !self.flexible {
            if !tagged.is_empty() {
                self.refuse(format!("{path}: tagged fields in a non-flexible version"));
            }
            return;
        }
        tagged.sort_by_key(|(tag, _)| *tag);
        self.uvarint(tagged.len() as u64);
        for (tag, data) in tagged {
            self.uvarint(u64::from(tag));
            self.uvarint(data.len() as u64);
            self.out.extend(data);
        }
    }

    /// Writes a length-prefixed value: null, or `n` elements/bytes.
    /// Returns whether the caller must write the content.
    fn prefix(
        &mut self,
        f: &Field,
        x: &Val,
        n: Option<usize>,
        width: usize,
        nullable: bool,
        name: &str,
    ) -> bool {
        if *x == Val::Unset {
            let null = self.len_bytes(None, width);
            let empty = self.len_bytes(Some(0), width);
            if nullable {
                self.out.extend(empty.into_iter().zip(null));
            } else {
                self.exact(&empty);
            }
            return false;
        }
        match n {
            Some(n) => {
                let quirky = f.quirk == Some(Quirk::NullIsEmptyWhereNotNullable);
                if quirky && !nullable && n == 0 {
                    self.refuse(format!("{name}: empty has no form at v{}", self.v));
                }
                self.len(Some(n), width);
                true
            }
            None if nullable => {
                self.len(None, width);
                false
            }
            None if f.quirk == Some(Quirk::NullIsEmptyWhereNotNullable) => {
                self.len(Some(0), width);
                false
            }
            None => {
                self.refuse(format!(
                    "{name} is null at v{} where it is not nullable",
                    self.v
                ));
                self.len(Some(0), width);
                false
            }
        }
    }

    fn val(&mut self, f: &Field, ty: &Ty, x: &Val, nullable: bool, name: &str) {
        match (ty, x) {
            (Ty::Bool, Val::Bool(b)) => self.exact(&[u8::from(*b)]),
            (Ty::Int8, Val::Int(n)) => self.exact(&(*n as i8).to_be_bytes()),
            (Ty::Int16, Val::Int(n)) => self.exact(&(*n as i16).to_be_bytes()),
            (Ty::Uint16, Val::Int(n)) => self.exact(&(*n as u16).to_be_bytes()),
            (Ty::Int32, Val::Int(n)) => self.exact(&(*n as i32).to_be_bytes()),
            (Ty::Uint32, Val::Int(n)) => self.exact(&(*n as u32).to_be_bytes()),
            (Ty::Int64, Val::Int(n)) => self.exact(&n.to_be_bytes()),
            (Ty::Float64, Val::Float(bits)) => self.exact(&bits.to_be_bytes()),
            (Ty::Uuid, Val::Uuid(u)) => self.exact(u),
            (Ty::String, Val::Str(_) | Val::Unset) => {
                let s = match x {
                    Val::Str(s) => s.as_deref(),
                    _ => None,
                };
                if self.prefix(f, x, s.map(str::len), 2, nullable, name) {
                    self.exact(s.unwrap_or("").as_bytes());
                }
            }
            (Ty::Bytes | Ty::Records, Val::Bytes(_) | Val::Unset) => {
                let b = match x {
                    Val::Bytes(b) => b.as_deref(),
                    _ => None,
                };
                if self.prefix(f, x, b.map(<[u8]>::len), 4, nullable, name) {
                    self.exact(b.unwrap_or(&[]));
                }
            }
            // A nullable struct: a marker byte, -1 for null, 1 before the struct.
            (Ty::Struct(_), Val::NullStruct) if nullable => self.exact(&[0xff]),
            (Ty::Struct(_), Val::NullStruct) => self.refuse(format!(
                "{name} is null at v{} where it is not nullable",
                self.v
            )),
            (Ty::Struct(children), Val::Struct(s)) => {
                if nullable {
                    self.exact(&[1]);
                }
                self.strukt(children, s, &format!("{name}."))
            }
            (Ty::Array(inner), Val::Array(_) | Val::Unset) => {
                let items = match x {
                    Val::Array(items) => items.as_deref(),
                    _ => None,
                };
                if self.prefix(f, x, items.map(<[Val]>::len), 4, nullable, name) {
                    for item in items.unwrap_or(&[]) {
                        self.val(f, inner, item, false, &format!("{name}[]"));
                    }
                }
            }
            (ty, x) => panic!("{name}: value {x:?} does not fit type {ty:?}"),
        }
    }
}
