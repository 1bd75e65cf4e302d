//! Rust source that builds a [`tree`](super::tree) — what `build.rs` writes for the
//! built-in profiles. Compiled by `build.rs` only (next to `tree.rs`), never into the crate.

use super::tree::{Item, Span, Table, Value};
use std::fmt::Write as _;

impl Table {
    /// Rust source of an expression that builds this table (in a module where `tree` names
    /// this module): what `build.rs` writes for the built-in profiles.
    pub fn rust(&self) -> String {
        let mut out = String::new();
        self.write_rust(&mut out);
        out
    }
}

impl Item {
    fn write_rust(&self, out: &mut String) {
        match self {
            Item::None => out.push_str("tree::Item::None"),
            Item::Value(v) => {
                out.push_str("tree::Item::Value(");
                v.write_rust(out);
                out.push(')');
            }
            Item::Table(t) => {
                out.push_str("tree::Item::Table(");
                t.write_rust(out);
                out.push(')');
            }
            Item::ArrayOfTables(a) => {
                out.push_str("tree::Item::ArrayOfTables(tree::Tables { tables: vec![");
                for t in &a.tables {
                    t.write_rust(out);
                    out.push(',');
                }
                let _ = write!(out, "], span: {} }})", span_rust(&a.span));
            }
        }
    }
}

fn span_rust(span: &Span) -> String {
    match span {
        Some(r) => format!("Some({}..{})", r.start, r.end),
        None => "None".to_owned(),
    }
}

impl Value {
    fn write_rust(&self, out: &mut String) {
        let scalar = |out: &mut String, variant: &str, value: String, span: &Span| {
            let _ = write!(
                out,
                "tree::Value::{variant}(tree::Scalar {{ value: {value}, span: {} }})",
                span_rust(span)
            );
        };
        match self {
            Value::String(s) => scalar(out, "String", format!("{:?}.to_owned()", s.value), &s.span),
            Value::Integer(s) => scalar(out, "Integer", format!("{}i64", s.value), &s.span),
            Value::Float(s) => scalar(out, "Float", "()".into(), &s.span),
            Value::Boolean(s) => scalar(out, "Boolean", s.value.to_string(), &s.span),
            Value::Datetime(s) => scalar(out, "Datetime", "()".into(), &s.span),
            Value::Array(a) => {
                out.push_str("tree::Value::Array(tree::Array { values: vec![");
                for v in &a.values {
                    v.write_rust(out);
                    out.push(',');
                }
                let _ = write!(out, "], span: {} }})", span_rust(&a.span));
            }
            Value::InlineTable(t) => {
                out.push_str("tree::Value::InlineTable(");
                t.write_rust(out);
                out.push(')');
            }
        }
    }
}

impl Table {
    fn write_rust(&self, out: &mut String) {
        out.push_str("tree::Table { entries: vec![");
        for (key, span, item) in &self.entries {
            let _ = write!(out, "({key:?}.to_owned(), {}, ", span_rust(span));
            item.write_rust(out);
            out.push_str("),");
        }
        let _ = write!(out, "], span: {} }}", span_rust(&self.span));
    }
}
