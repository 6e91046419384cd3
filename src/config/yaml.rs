//! YAML reading shared by the project, profile and property files: parse to JSON values
//! with located errors, find the line of a key, and read a rendered value as dbt's native
//! Jinja does (`native_value`).

use serde_json::{Map, Value};

use crate::error::{yaml_error, Diagnostic, Location};

/// Parses `text` (the contents of `file`) as a YAML mapping, converted to JSON values.
/// An empty file is an empty mapping. The trailing white space is dropped first, as dbt reads
/// files (`strip=True`): a block scalar ending the file (`description: >` as its last key)
/// then has no final newline, as in dbt's manifest.
///
/// Errors: YAML syntax errors at their line and column; a document that is not a mapping;
/// values JSON cannot hold (non-string keys are turned into strings first, so only tags fail).
pub fn parse_mapping(file: &str, text: &str) -> Result<Map<String, Value>, Diagnostic> {
    let text = text.trim_end();
    let doc: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| yaml_error(file, text, &e))?;
    let doc = match doc {
        serde_yaml::Value::Null => return Ok(Map::new()),
        other => other,
    };
    match to_json(doc) {
        Value::Object(map) => Ok(map),
        _ => Err(
            Diagnostic::new(format!("`{file}` must be a YAML mapping (`key: value` lines)"))
                .at(Location::in_source(file, text, 1, Some(1))),
        ),
    }
}

/// Converts YAML to JSON: non-string keys become their YAML text, tags are dropped.
fn to_json(value: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        other => serde_yaml::to_string(&other)
                            .map(|s| s.trim_end().to_string())
                            .unwrap_or_default(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => to_json(tagged.value),
    }
}

/// The location of the first line in `text` whose key is `key` (`key:` at any indent,
/// optionally as a list item `- key:`); line 1 when no such line exists.
pub fn key_location(file: &str, text: &str, key: &str) -> Location {
    find_line(text, |l| {
        let t = l.trim_start().trim_start_matches("- ");
        t.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with(':'))
            || t.strip_prefix(&format!("\"{key}\""))
                .is_some_and(|r| r.starts_with(':'))
    })
    .map(|(line, col)| Location::in_source(file, text, line, Some(col)))
    .unwrap_or_else(|| Location::in_source(file, text, 1, None))
}

/// The location of the first line of `text` that mentions `needle`; `None` when none does.
pub fn value_location(file: &str, text: &str, needle: &str) -> Option<Location> {
    find_line(text, |l| l.contains(needle)).map(|(line, _)| {
        let col = text
            .lines()
            .nth(line - 1)
            .and_then(|l| l.find(needle))
            .map(|c| c + 1);
        Location::in_source(file, text, line, col)
    })
}

fn find_line(text: &str, pred: impl Fn(&str) -> bool) -> Option<(usize, usize)> {
    text.lines().enumerate().find(|(_, l)| pred(l)).map(|(i, l)| {
        let indent = l.len() - l.trim_start().len();
        let dash = if l.trim_start().starts_with("- ") { 2 } else { 0 };
        (i + 1, indent + dash + 1)
    })
}

/// Writes `text` to `path` (a YAML file: packages.yml, profiles.yml) through a temporary file
/// beside it renamed over it, so that a reader never sees half a file.
///
/// Errors: the temporary file cannot be written or renamed (naming the file).
pub fn write_file(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    let tmp = path.with_extension(format!("yml.tmp-{}", std::process::id()));
    std::fs::write(&tmp, text).with_context(|| format!("cannot write `{}`", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write `{}`", path.display()))
}

/// What dbt's native Jinja rendering makes of a rendered string: Python's `True`, `False`,
/// `None`, an integer or float literal, or a list or dict literal become that value; anything
/// else (including a quoted string, which dbt keeps with its quotes) stays the string.
pub fn native_value(rendered: &str) -> Value {
    let t = rendered.trim();
    match t {
        "True" => return Value::Bool(true),
        "False" => return Value::Bool(false),
        "None" => return Value::Null,
        _ => {}
    }
    let numeric = t.strip_prefix('-').unwrap_or(t);
    let leading_zero =
        numeric.len() > 1 && numeric.starts_with('0') && numeric.as_bytes()[1].is_ascii_digit();
    if !leading_zero && numeric.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        if let Ok(i) = t.replace('_', "").parse::<i64>() {
            return Value::from(i);
        }
        if let Ok(f) = t.parse::<f64>() {
            if let Some(n) = serde_json::Number::from_f64(f) {
                return Value::Number(n);
            }
        }
    }
    let bracketed = (t.starts_with('[') && t.ends_with(']')) || (t.starts_with('{') && t.ends_with('}'));
    // Python's `ast.literal_eval`, which dbt uses, reads only literals: `[A-Z]` (a regular
    // expression) or `[a, b]` stays text, where YAML would read a list of words.
    if bracketed && only_literal_names(t) {
        let json_like = t
            .replace(": True", ": true")
            .replace(": False", ": false")
            .replace(": None", ": null");
        if let Ok(v) = serde_yaml::from_str::<serde_yaml::Value>(&json_like) {
            return to_json(v);
        }
    }
    Value::String(rendered.to_string())
}

/// Whether `text` could be a Python literal: every name outside quotes is `True`, `False` or
/// `None`, and no `+` or `-` stands between two operands (`[0-9]` is no literal).
fn only_literal_names(text: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut name = String::new();
    // Whether the last token ended an operand (a `-` after it would subtract).
    let mut after_operand = false;
    for c in text.chars().chain(std::iter::once(' ')) {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
                after_operand = true;
            }
            continue;
        }
        let is_number = name.starts_with(|d: char| d.is_ascii_digit());
        let exponent_sign = is_number && name.ends_with(['e', 'E']) && matches!(c, '+' | '-');
        if c.is_alphanumeric() || c == '_' || (is_number && c == '.') || exponent_sign {
            name.push(c);
            continue;
        }
        if !name.is_empty() {
            if !is_number && !matches!(name.as_str(), "True" | "False" | "None") {
                return false;
            }
            after_operand = true;
        }
        name.clear();
        match c {
            '\'' | '"' => quote = Some(c),
            '+' | '-' if after_operand => return false,
            ']' | '}' | ')' => after_operand = true,
            c if c.is_whitespace() => {}
            _ => after_operand = false,
        }
    }
    true
}

#[cfg(test)]
mod native_tests {
    use super::native_value;
    use serde_json::json;

    #[test]
    fn rendered_text_becomes_the_value_dbt_would_see() {
        assert_eq!(native_value("False"), json!(false));
        assert_eq!(native_value(" True "), json!(true));
        assert_eq!(native_value("None"), json!(null));
        assert_eq!(native_value("3"), json!(3));
        assert_eq!(native_value("-2.5"), json!(-2.5));
        assert_eq!(native_value("['x', 'y']"), json!(["x", "y"]));
        assert_eq!(native_value("{'a': True}"), json!({"a": true}));
        // Not Python literals: kept as written.
        assert_eq!(native_value("007"), json!("007"));
        assert_eq!(native_value("table"), json!("table"));
        assert_eq!(native_value("2024-01-01"), json!("2024-01-01"));
        assert_eq!(native_value("[A-Z]"), json!("[A-Z]"));
        assert_eq!(native_value("[0-9]"), json!("[0-9]"));
        assert_eq!(native_value("[1, -2, 1e-3]"), json!([1, -2, 0.001]));
        assert_eq!(native_value("[a, b]"), json!("[a, b]"));
        assert_eq!(native_value("{k: v}"), json!("{k: v}"));
    }
}
