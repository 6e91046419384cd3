//! The SQL of dbt-duckdb's profile entries, as its `credentials.py` (`Attachment.to_sql`) and
//! `secrets.py` (`Secret.to_sql`) write it: `SET`, `CREATE SECRET`, `ATTACH`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::{Map, Value};

use super::{is_motherduck, literal, motherduck_error, scalar, Locator};
use crate::config::connection::SetupStep;
use crate::error::{did_you_mean, Diagnostic};

/// `SET key = value` for an entry of `settings` or `config_options`.
pub(super) fn setting(
    key: &str,
    value: &Value,
    section: &str,
    target_name: &str,
    at: &Locator,
) -> Result<SetupStep> {
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Diagnostic::new(format!(
            "target `{target_name}`: `{key}` is not a DuckDB setting name"
        ))
        .at(at.at(key))
        .into());
    }
    let value = match value {
        Value::String(s) => literal(s),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        other => {
            return Err(Diagnostic::new(format!(
                "target `{target_name}`: setting `{key}` must be a string, number or boolean, not `{other}`"
            ))
            .at(at.at(key))
            .into())
        }
    };
    Ok(SetupStep::Statement {
        sql: format!("set {key} = {value}"),
        what: format!("`{section}: {key}`"),
        at: at.at(key),
        hidden: Vec::new(),
    })
}

/// dbt-duckdb's `CREATE SECRET` for secret #`index` (0-based): named `_dbt_secret_<n>` unless
/// it has a `name`, `OR REPLACE` always, `PERSISTENT` when asked; `type` and `provider`
/// unquoted, maps and lists as DuckDB's `map {...}` and `array [...]`, every other value a
/// string. The values are hidden from messages.
pub(super) fn secret(
    m: &Map<String, Value>,
    index: usize,
    target_name: &str,
    at: &Locator,
) -> Result<SetupStep> {
    let Some(kind) = m.get("type").and_then(scalar) else {
        return Err(Diagnostic::new(format!("target `{target_name}`: secret #{} has no `type`", index + 1))
            .at(at.at("secrets"))
            .help("add the secret's type, e.g. `type: s3` (DuckDB's secret types: s3, gcs, r2, azure, huggingface, http, ...)")
            .into());
    };
    let name = m
        .get("name")
        .and_then(scalar)
        .unwrap_or_else(|| format!("_dbt_secret_{}", index + 1));
    let persistent = m.get("persistent").and_then(Value::as_bool) == Some(true);
    let mut params = vec![format!("type {kind}")];
    let mut hidden = Vec::new();
    let mut scopes = Vec::new();
    for (key, value) in m {
        match key.as_str() {
            "type" | "name" | "persistent" => {}
            "scope" => match value {
                Value::Array(items) => scopes.extend(items.iter().filter_map(scalar)),
                v => scopes.extend(scalar(v)),
            },
            _ => {
                let text = match value {
                    Value::Object(map) => {
                        let items: Vec<String> = map
                            .iter()
                            .map(|(k, v)| {
                                let v = scalar(v).unwrap_or_default();
                                hidden.push(v.clone());
                                format!("{}: {}", literal(k), literal(&v))
                            })
                            .collect();
                        format!("{key} map {{{}}}", items.join(", "))
                    }
                    Value::Array(items) => {
                        let items: Vec<String> = items
                            .iter()
                            .map(|v| {
                                let v = scalar(v).unwrap_or_default();
                                hidden.push(v.clone());
                                literal(&v)
                            })
                            .collect();
                        format!("{key} array [{}]", items.join(", "))
                    }
                    v if key == "provider" => format!("{key} {}", scalar(v).unwrap_or_default()),
                    v => {
                        let v = scalar(v).unwrap_or_default();
                        hidden.push(v.clone());
                        format!("{key} {}", literal(&v))
                    }
                };
                params.push(text);
            }
        }
    }
    params.extend(scopes.iter().map(|s| format!("scope {}", literal(s))));
    Ok(SetupStep::Statement {
        sql: format!(
            "CREATE OR REPLACE{} SECRET {name} (\n    {}\n)",
            if persistent { " PERSISTENT" } else { "" },
            params.join(",\n    ")
        ),
        what: format!("secret `{name}` (type {kind})"),
        at: at.at("secrets"),
        hidden,
    })
}

/// dbt-duckdb's `ATTACH IF NOT EXISTS` for attachment #`index`, and the local DuckDB file it
/// attaches (absolute), if it is one. A relative local path is taken relative to
/// `project_root`.
pub(super) fn attachment(
    m: &Map<String, Value>,
    index: usize,
    target_name: &str,
    at: &Locator,
    project_root: &Path,
) -> Result<(String, Option<PathBuf>)> {
    let fail = |message: String, help: &str| -> anyhow::Error {
        Diagnostic::new(format!(
            "target `{target_name}`: attachment #{}: {message}",
            index + 1
        ))
        .at(at.at("attach"))
        .help(help.to_string())
        .into()
    };
    let Some(path) = m.get("path").and_then(scalar) else {
        return Err(fail(
            "no `path`".into(),
            "give the database to attach, e.g. `path: other.duckdb`",
        ));
    };
    check_attach_keys(m, &fail)?;
    if is_motherduck(&path) {
        return Err(motherduck_error(&path).at(at.at("attach")).into());
    }
    let kind = m.get("type").and_then(scalar);
    let options = m.get("options").and_then(Value::as_object);
    let is_file_type = matches!(kind.as_deref(), None | Some("duckdb") | Some("sqlite"))
        && !options.is_some_and(|o| o.contains_key("type"));
    let is_local = !path.contains("://") && path != ":memory:";
    let file = (is_file_type && is_local).then(|| project_root.join(&path));
    if let Some(f) = &file {
        if let Some(dir) = f.parent().filter(|d| !d.is_dir()) {
            return Err(fail(
                format!("`{path}` is in folder `{}`, which does not exist", dir.display()),
                "create the folder, or correct the attachment's `path`",
            ));
        }
    }
    let shown_path = file
        .as_ref()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_else(|| path.clone());
    let mut sql = format!("ATTACH IF NOT EXISTS {}", literal(&shown_path));
    if let Some(alias) = m.get("alias").and_then(scalar) {
        sql.push_str(&format!(" AS {alias}"));
    }
    let opts = attach_options(m, &fail)?;
    if !opts.is_empty() {
        sql.push_str(&format!(" ({})", opts.join(", ")));
    }
    // A read-only attachment is not written, so it is not locked.
    let file = file.filter(|_| matches!(kind.as_deref(), None | Some("duckdb")));
    Ok((sql, file))
}

/// Errors on a key an attachment does not have (with a did-you-mean).
fn check_attach_keys(m: &Map<String, Value>, fail: &dyn Fn(String, &str) -> anyhow::Error) -> Result<()> {
    for key in m.keys() {
        if ![
            "path",
            "type",
            "alias",
            "secret",
            "read_only",
            "options",
            "is_ducklake",
        ]
        .contains(&key.as_str())
        {
            let help = did_you_mean(key, ["path", "type", "alias", "secret", "read_only", "options"])
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| {
                    "an attachment has path, type, alias, secret, read_only and options".into()
                });
            return Err(fail(format!("unknown key `{key}`"), &help));
        }
    }
    Ok(())
}

/// The options of `ATTACH ... (...)`: `type`, `secret` and `read_only` given directly or in
/// `options`, then the other `options` (a `true` flag as its name, a text quoted unless it
/// is already). Errors on an option given both ways.
fn attach_options(
    m: &Map<String, Value>,
    fail: &dyn Fn(String, &str) -> anyhow::Error,
) -> Result<Vec<String>> {
    let options = m.get("options").and_then(Value::as_object);
    let mut opts = Vec::new();
    for key in ["type", "secret", "read_only"] {
        if m.contains_key(key) && options.is_some_and(|o| o.contains_key(key)) {
            return Err(fail(
                format!("`{key}` is given both directly and in `options`"),
                "give each option in one place",
            ));
        }
    }
    let get = |key: &str| m.get(key).or_else(|| options.and_then(|o| o.get(key)));
    if let Some(t) = get("type").and_then(scalar) {
        opts.push(format!("TYPE {t}"));
    }
    if let Some(s) = get("secret").and_then(scalar) {
        opts.push(format!("SECRET {s}"));
    }
    if get("read_only").and_then(Value::as_bool) == Some(true) {
        opts.push("READ_ONLY".to_string());
    }
    for (key, value) in options.into_iter().flatten() {
        if ["type", "secret", "read_only"].contains(&key.as_str()) {
            continue;
        }
        match value {
            Value::Bool(true) => opts.push(key.to_uppercase()),
            Value::Bool(false) | Value::Null => {}
            Value::String(s) => {
                let t = s.trim();
                let quoted = t.len() >= 2
                    && ((t.starts_with('\'') && t.ends_with('\''))
                        || (t.starts_with('"') && t.ends_with('"')));
                opts.push(if quoted {
                    format!("{} {s}", key.to_uppercase())
                } else {
                    format!("{} {}", key.to_uppercase(), literal(s))
                });
            }
            v => opts.push(format!("{} {v}", key.to_uppercase())),
        }
    }
    Ok(opts)
}
