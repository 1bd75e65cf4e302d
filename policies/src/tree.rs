//! A policy's TOML as a plain tree with source spans: what [`crate::syntax`] walks.
//!
//! The tree holds what the policy walker reads of a `toml_edit` document — each key, its
//! value and their spans — and nothing else. A policy file's tree comes from `toml_edit`
//! ([`from_toml`]); a built-in profile's is made at build time: `build.rs` (which compiles
//! this module too) parses each file under `profiles/` with [`from_toml`] and writes Rust
//! that builds the same tree (`tree_rust.rs`, compiled by `build.rs` only), so `arbiter run` never parses the built-in
//! TOML (`crate::profiles::tree`). The test `built_profile_trees_are_the_runtime_parse` holds
//! the two equal for every built-in profile, and cargo runs `build.rs` again whenever a
//! profile or this file changes.
//!
//! The names follow `toml_edit`'s (`Item`, `Value`, `Table`), so the walker reads as before.

use std::ops::Range;

/// A byte range of the source text, where the parser knew one.
pub type Span = Option<Range<usize>>;

/// A table's entry or a document's root (`toml_edit::Item`).
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// Nothing (never in a parsed document).
    None,
    /// A value: a string, a number, an array, an inline table …
    Value(Value),
    /// A `[table]`.
    Table(Table),
    /// An array of `[[tables]]`.
    ArrayOfTables(Tables),
}

/// An array of `[[tables]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tables {
    /// The tables in order.
    pub tables: Vec<Table>,
    /// Where it was written.
    pub span: Span,
}

/// A value (`toml_edit::Value`).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string, as decoded.
    String(Scalar<String>),
    /// An integer.
    Integer(Scalar<i64>),
    /// A float (the walker only names its type).
    Float(Scalar<()>),
    /// `true` or `false`.
    Boolean(Scalar<bool>),
    /// A date or time (the walker only names its type).
    Datetime(Scalar<()>),
    /// `[…]`.
    Array(Array),
    /// `{ … }`.
    InlineTable(Table),
}

/// A scalar value and its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

/// An array of values.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// The values in order.
    pub values: Vec<Value>,
    /// Where it was written.
    pub span: Span,
}

/// A table: its entries in order, each with its key's span.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// `(key, the key's span, the entry)`, in the order written.
    pub entries: Vec<(String, Span, Item)>,
    /// Where it was written.
    pub span: Span,
}

impl Item {
    /// Where it was written.
    pub fn span(&self) -> Span {
        match self {
            Item::None => None,
            Item::Value(v) => v.span(),
            Item::Table(t) => t.span.clone(),
            Item::ArrayOfTables(a) => a.span.clone(),
        }
    }

    /// The value, if it is one.
    pub fn as_value(&self) -> Option<&Value> {
        match self {
            Item::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The boolean, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self.as_value()? {
            Value::Boolean(b) => Some(b.value),
            _ => None,
        }
    }

    /// The integer, if it is one.
    pub fn as_integer(&self) -> Option<i64> {
        match self.as_value()? {
            Value::Integer(n) => Some(n.value),
            _ => None,
        }
    }

    /// The array, if it is an inline one.
    pub fn as_array(&self) -> Option<&Array> {
        match self.as_value()? {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The table, `[table]` or inline.
    pub fn as_table_like(&self) -> Option<&Table> {
        match self {
            Item::Table(t) | Item::Value(Value::InlineTable(t)) => Some(t),
            _ => None,
        }
    }

    /// Whether it is a string.
    pub fn is_str(&self) -> bool {
        matches!(self, Item::Value(Value::String(_)))
    }
}

impl Value {
    /// Where it was written.
    pub fn span(&self) -> Span {
        match self {
            Value::String(s) => s.span.clone(),
            Value::Integer(s) => s.span.clone(),
            Value::Float(s) | Value::Datetime(s) => s.span.clone(),
            Value::Boolean(s) => s.span.clone(),
            Value::Array(a) => a.span.clone(),
            Value::InlineTable(t) => t.span.clone(),
        }
    }
}

impl Array {
    /// The values in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Value> {
        self.values.iter()
    }
}

impl Table {
    /// `(key, the key's span, the entry)` in the order written.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Span, &Item)> {
        self.entries.iter().map(|(k, s, i)| (k.as_str(), s, i))
    }
}

/// The tree of a parsed document: its root table.
pub fn from_toml(doc: &toml_edit::ImDocument<&str>) -> Table {
    table(doc.as_table(), doc.as_table().span())
}

fn table(t: &dyn toml_edit::TableLike, span: Span) -> Table {
    Table {
        entries: t
            .iter()
            .map(|(key, item)| {
                let key_span = t.get_key_value(key).and_then(|(k, _)| k.span());
                (key.to_owned(), key_span, self::item(item))
            })
            .collect(),
        span,
    }
}

fn item(i: &toml_edit::Item) -> Item {
    match i {
        toml_edit::Item::None => Item::None,
        toml_edit::Item::Value(v) => Item::Value(value(v)),
        toml_edit::Item::Table(t) => Item::Table(table(t, t.span())),
        toml_edit::Item::ArrayOfTables(a) => Item::ArrayOfTables(Tables {
            tables: a.iter().map(|t| table(t, t.span())).collect(),
            span: a.span(),
        }),
    }
}

fn value(v: &toml_edit::Value) -> Value {
    let span = v.span();
    match v {
        toml_edit::Value::String(f) => Value::String(Scalar {
            value: f.value().clone(),
            span,
        }),
        toml_edit::Value::Integer(f) => Value::Integer(Scalar {
            value: *f.value(),
            span,
        }),
        toml_edit::Value::Float(_) => Value::Float(Scalar { value: (), span }),
        toml_edit::Value::Boolean(f) => Value::Boolean(Scalar {
            value: *f.value(),
            span,
        }),
        toml_edit::Value::Datetime(_) => Value::Datetime(Scalar { value: (), span }),
        toml_edit::Value::Array(a) => Value::Array(Array {
            values: a.iter().map(value).collect(),
            span,
        }),
        toml_edit::Value::InlineTable(t) => Value::InlineTable(table(t, t.span())),
    }
}
