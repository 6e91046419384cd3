//! YAML reading shared by the project, profile and property files: parse to JSON values
//! with located errors, find the line of a key, and render `env_var()` in string values.

use serde_json::{Map, Value};

use crate::error::{yaml_error, Diagnostic, Location};

/// Parses `text` (the contents of `file`) as a YAML mapping, converted to JSON values.
/// An empty file is an empty mapping.
///
/// Errors: YAML syntax errors at their line and column; a document that is not a mapping;
/// values JSON cannot hold (non-string keys are turned into strings first, so only tags fail).
pub fn parse_mapping(file: &str, text: &str) -> Result<Map<String, Value>, Diagnostic> {
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

/// Renders every string value of `doc` that contains `{{` with a Jinja environment that
/// knows only `env_var(name, default)`, as dbt does for `dbt_project.yml` and
/// `profiles.yml`. Keys holding hooks (`pre-hook`, `post-hook`, `on-run-start`,
/// `on-run-end`) are left alone: they are rendered when they run.
///
/// Errors: a Jinja error or a missing environment variable, at the line of the value.
pub fn render_env_vars(
    file: &str,
    text: &str,
    doc: Map<String, Value>,
) -> Result<Map<String, Value>, Diagnostic> {
    let env = crate::templating::config_environment();
    let mut out = Map::new();
    for (k, v) in doc {
        let v = render_value(&env, file, text, &k, v)?;
        out.insert(k, v);
    }
    Ok(out)
}

fn render_value(
    env: &minijinja::Environment<'static>,
    file: &str,
    text: &str,
    key: &str,
    value: Value,
) -> Result<Value, Diagnostic> {
    const RUNTIME_KEYS: &[&str] = &[
        "pre-hook",
        "post-hook",
        "pre_hook",
        "post_hook",
        "on-run-start",
        "on-run-end",
    ];
    if RUNTIME_KEYS.contains(&key.trim_start_matches('+')) {
        return Ok(value);
    }
    Ok(match value {
        Value::String(s) if s.contains("{{") || s.contains("{%") => {
            let rendered = env.render_str(&s, ()).map_err(|e| {
                let loc = value_location(file, text, s.lines().next().unwrap_or(&s))
                    .unwrap_or_else(|| Location::in_source(file, text, 1, None));
                Diagnostic::new(format!(
                    "cannot render `{key}` in `{file}`: {}",
                    e.detail().unwrap_or(&e.to_string())
                ))
                .at(loc)
            })?;
            Value::String(rendered)
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| render_value(env, file, text, key, v))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let v = render_value(env, file, text, &k, v)?;
                out.insert(k, v);
            }
            Value::Object(out)
        }
        other => other,
    })
}
