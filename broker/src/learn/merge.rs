//! Extending an existing policy file with learned rules, keeping the user's comments,
//! order and formatting: rules are appended with `toml_edit`, which rewrites nothing else.

use anyhow::{Context, Result};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};

use crate::learn::generate::Rule;

/// Appends `rules` to the policy text `original`; returns the new text.
pub fn append(original: &str, rules: &[Rule]) -> Result<String> {
    let mut doc: DocumentMut = original
        .parse()
        .context("the policy to merge into is not valid TOML")?;
    for rule in rules {
        let item = doc
            .entry(rule.family)
            .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()));
        let Some(array) = item.as_array_of_tables_mut() else {
            anyhow::bail!(
                "`{}` in the policy is not an array of tables ([[{}]])",
                rule.family,
                rule.family
            );
        };
        let mut table = Table::new();
        for (key, value) in &rule.fields {
            let v: toml_edit::Value = value
                .parse()
                .with_context(|| format!("learned value {value}"))?;
            table.insert(key, Item::Value(v));
        }
        table
            .decor_mut()
            .set_prefix(format!("\n# learned: {}\n", rule.comment));
        array.push(table);
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_order_survive_a_merge() {
        let original = "# my policy\nversion = 1\nextends = [\"runtime\"]\n\n# the project\n[[fs]]\npath = \"$PWD\"\nallow = \"rw\" # keep this\n";
        let rule = Rule {
            family: "fs",
            fields: vec![
                ("path", "\"/opt/data\"".into()),
                ("allow", "[\"read\"]".into()),
            ],
            comment: "needed by open".into(),
        };
        let merged = append(original, &[rule]).unwrap();
        assert!(merged.starts_with(original.trim_end()), "{merged}");
        assert!(
            merged.contains("# learned: needed by open\n[[fs]]\npath = \"/opt/data\""),
            "{merged}"
        );
    }
}
