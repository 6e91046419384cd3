//! Sources: each table of a `sources:` entry becomes a manifest source, with dbt's fields.

use anyhow::Result;
use serde_json::{json, Map, Value};

use super::{folders_of, Parser};
use crate::error::{Diagnostic, Location};
use crate::manifest::Source;
use crate::project::properties::Properties;
use crate::relation::Relation;
use crate::templating::{self};

impl Parser<'_> {
    /// Renders a source's `database`, `schema` or `identifier` that holds Jinja, as dbt does
    /// for property YAML: `var`, `env_var` and `target`.
    ///
    /// Errors: a Jinja error, at the file of the source.
    pub(super) fn render_source_field(&self, text: &str, file: &str, location: &Location) -> Result<String> {
        if !text.contains("{{") && !text.contains("{%") {
            return Ok(text.to_string());
        }
        let ctx = crate::config::ConfigContext {
            vars: (*self.vars).clone(),
            target: self.target.jinja_value(),
        };
        let env = templating::config_environment(&ctx);
        Ok(env
            .render_str(text, ())
            .map_err(|e| {
                Diagnostic::new(format!(
                    "cannot render `{text}` in `{file}`: {}",
                    e.detail().unwrap_or(&e.to_string())
                ))
                .at(location.clone())
            })?
            .trim()
            .to_string())
    }

    pub(super) fn sources(&mut self, props: &Properties) -> Result<()> {
        for s in &props.sources {
            for t in &s.tables {
                let unique_id = format!("source.{}.{}.{}", self.project.name, s.name, t.name);
                if self.manifest.sources.contains_key(&unique_id) {
                    return Err(Diagnostic::new(format!(
                        "source table `{}.{}` is declared twice",
                        s.name, t.name
                    ))
                    .at(t.location.clone())
                    .into());
                }
                let database = match s.database.as_deref() {
                    Some(d) => self.render_source_field(d, &s.file, &t.location)?,
                    None => self.target.database.clone(),
                };
                let schema = self.render_source_field(&s.schema, &s.file, &t.location)?;
                let identifier = self.render_source_field(&t.identifier, &s.file, &t.location)?;
                let properties = source_properties(&s.raw, &t.raw);
                let mut relation = Relation::new(&database, &schema, &identifier);
                if let Some(expression) = external_location(&t.name, &relation, &properties).map_err(|e| {
                    Diagnostic::new(format!("source `{}.{}`: {e}", s.name, t.name)).at(t.location.clone())
                })? {
                    relation = relation.reading(expression);
                }
                let mut fqn = vec![self.project.name.clone()];
                fqn.extend(folders_of(&s.file));
                fqn.extend([s.name.clone(), t.name.clone()]);
                self.manifest.sources.insert(
                    unique_id.clone(),
                    Source {
                        unique_id,
                        source_name: s.name.clone(),
                        name: t.name.clone(),
                        package_name: self.project.name.clone(),
                        original_file_path: s.file.clone(),
                        fqn,
                        description: t.description.clone(),
                        columns: self.columns(&t.columns)?,
                        relation,
                        properties,
                    },
                );
            }
        }
        Ok(())
    }
}

/// The source config keys dbt itself knows; any other stays in the config as written.
const KNOWN_SOURCE_CONFIG: &[&str] = &[
    "enabled",
    "event_time",
    "freshness",
    "loaded_at_field",
    "loaded_at_query",
    "meta",
    "tags",
    "quoting",
];

/// dbt-duckdb's reading of a source from files: when the source's merged `meta` or its config
/// has `external_location`, the location with the source's fields filled in (`{name}`,
/// `{identifier}`, `{schema}`, `{database}`, `{tags}` and every meta and config key), in the
/// syntax `formatter` names (`newstyle`, the default: `{name}`; `oldstyle`: `%(name)s`;
/// `template`: `$name`). A location that is not a function call (`read_csv(...)`) and not
/// already quoted becomes a string literal, which DuckDB reads as a file (its format from
/// the extension). `None` when there is no `external_location`.
///
/// Errors: an unknown `formatter`; a placeholder the source has no value for.
fn external_location(
    name: &str,
    relation: &Relation,
    properties: &Map<String, Value>,
) -> Result<Option<String>, String> {
    let mut fields = Map::new();
    fields.insert("name".into(), json!(name));
    fields.insert("identifier".into(), json!(relation.identifier));
    fields.insert("schema".into(), json!(relation.schema));
    fields.insert("database".into(), json!(relation.database));
    fields.insert(
        "tags".into(),
        properties.get("tags").cloned().unwrap_or(json!([])),
    );
    if let Some(Value::Object(meta)) = properties.get("meta") {
        fields.extend(meta.clone());
    }
    if let Some(Value::Object(config)) = properties.get("config") {
        for (k, v) in config {
            if !KNOWN_SOURCE_CONFIG.contains(&k.as_str()) && k != "static_analysis" {
                fields.insert(k.clone(), v.clone());
            }
        }
    }
    let Some(template) = fields
        .get("external_location")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Ok(None);
    };
    let value = |key: &str| -> Result<String, String> {
        match fields.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Array(items)) => Ok(format!(
                "[{}]",
                items
                    .iter()
                    .map(|i| match i {
                        Value::String(s) => format!("'{s}'"),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Some(other) => Ok(other.to_string()),
            None => {
                let mut known: Vec<&str> = fields.keys().map(String::as_str).collect();
                known.sort();
                Err(format!(
                    "`external_location` `{template}` names `{key}`, which the source has no value for (it has: {})",
                    known.join(", ")
                ))
            }
        }
    };
    let formatter = fields
        .get("formatter")
        .and_then(Value::as_str)
        .unwrap_or("newstyle");
    let location = match formatter {
        "newstyle" => fill(&template, "{", "}", Some(("{{", "{")), Some(("}}", "}")), &value)?,
        "oldstyle" => fill(&template, "%(", ")s", Some(("%%", "%")), None, &value)?,
        "template" => {
            let braced = fill(&template, "${", "}", Some(("$$", "\u{0}")), None, &value)?;
            fill_bare_dollars(&braced, &value)?.replace('\u{0}', "$")
        }
        other => {
            return Err(format!(
                "formatter `{other}` is not one dbt-duckdb knows: use newstyle, oldstyle or template"
            ))
        }
    };
    Ok(Some(if location.contains('(') || location.starts_with('\'') {
        location
    } else {
        crate::sql::string_literal(&location)
    }))
}

/// `template` with each `<open>key<close>` replaced by `value(key)`; `escape_open` and
/// `escape_close` are (written, meant) pairs taken literally.
fn fill(
    template: &str,
    open: &str,
    close: &str,
    escape_open: Option<(&str, &str)>,
    escape_close: Option<(&str, &str)>,
    value: &dyn Fn(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while !rest.is_empty() {
        if let Some((written, meant)) = escape_open.filter(|(w, _)| rest.starts_with(w)) {
            out.push_str(meant);
            rest = &rest[written.len()..];
        } else if let Some((written, meant)) = escape_close.filter(|(w, _)| rest.starts_with(w)) {
            out.push_str(meant);
            rest = &rest[written.len()..];
        } else if let Some(after) = rest.strip_prefix(open) {
            let Some(end) = after.find(close) else {
                return Err(format!(
                    "`external_location` `{template}` has an unclosed `{open}`"
                ));
            };
            out.push_str(&value(&after[..end])?);
            rest = &after[end + close.len()..];
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    Ok(out)
}

/// Python `string.Template`'s bare `$name` placeholders in `text`.
fn fill_bare_dollars(text: &str, value: &dyn Fn(&str) -> Result<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let name: String = text[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            out.push(c);
            continue;
        }
        out.push_str(&value(&name)?);
        for _ in 0..name.chars().count() {
            chars.next();
        }
    }
    Ok(out)
}

/// dbt's fields of a source table beyond its name and relation, from the source entry
/// `source` and the table entry `table` as written: the table's setting wins over the
/// source's (`freshness: null` on a table turns the source's off), a freshness names both
/// thresholds (`count`/`period` null when unset), tags are the source's then the table's.
fn source_properties(source: &Map<String, Value>, table: &Map<String, Value>) -> Map<String, Value> {
    let either = |key: &str| setting(table, key).or_else(|| setting(source, key));
    let freshness = freshness_of(either("freshness"));
    let loaded_at_field = either("loaded_at_field").cloned().unwrap_or(Value::Null);
    let loaded_at_query = either("loaded_at_query").cloned().unwrap_or(Value::Null);
    // dbt's `meta` of a source table is the source's, updated with the table's.
    let source_meta = setting(source, "meta").cloned().unwrap_or_else(|| json!({}));
    let mut meta = source_meta.as_object().cloned().unwrap_or_default();
    if let Some(Value::Object(table_meta)) = setting(table, "meta") {
        meta.extend(table_meta.clone());
    }
    let meta = Value::Object(meta);
    // Config keys dbt does not know (dbt-duckdb's `external_location`, `formatter`, `plugin`)
    // stay in the source's config, the table's over the source's.
    let mut extra = Map::new();
    for entry in [source, table] {
        if let Some(config) = entry.get("config").and_then(Value::as_object) {
            for (k, v) in config {
                if !KNOWN_SOURCE_CONFIG.contains(&k.as_str()) {
                    extra.insert(k.clone(), v.clone());
                }
            }
        }
    }
    let tags = tags_of(source, table);
    let quoting = quoting_of(source, table);
    let mut unrendered = Map::new();
    if either("freshness").is_some() {
        unrendered.insert("freshness".into(), freshness.clone());
    }
    unrendered.insert("loaded_at_field".into(), loaded_at_field.clone());
    unrendered.insert("loaded_at_query".into(), loaded_at_query.clone());
    unrendered.insert("meta".into(), meta.clone());
    unrendered.insert("tags".into(), Value::Array(tags.clone()));
    unrendered.extend(extra.clone());
    let enabled = either("enabled").and_then(Value::as_bool).unwrap_or(true);
    let text = |entry: &Map<String, Value>, key: &str| {
        entry.get(key).and_then(Value::as_str).unwrap_or("").to_string()
    };
    let mut out = Map::new();
    out.insert("source_description".into(), json!(text(source, "description")));
    out.insert("loader".into(), json!(text(source, "loader")));
    out.insert("loaded_at_field".into(), loaded_at_field.clone());
    out.insert("loaded_at_query".into(), loaded_at_query.clone());
    out.insert("freshness".into(), freshness.clone());
    out.insert(
        "external".into(),
        table.get("external").cloned().unwrap_or(Value::Null),
    );
    out.insert("quoting".into(), Value::Object(quoting));
    out.insert("meta".into(), meta.clone());
    out.insert("source_meta".into(), source_meta);
    out.insert("tags".into(), Value::Array(tags.clone()));
    let mut config = json!({
        "enabled": enabled, "event_time": either("event_time").cloned().unwrap_or(Value::Null),
        "freshness": freshness, "loaded_at_field": loaded_at_field,
        "loaded_at_query": loaded_at_query, "meta": meta, "tags": tags,
        "static_analysis": null,
    });
    config.as_object_mut().expect("an object").extend(extra);
    out.insert("config".into(), config);
    out.insert("unrendered_config".into(), Value::Object(unrendered));
    out.insert("patch_path".into(), Value::Null);
    out.insert(
        "unrendered_database".into(),
        source.get("database").cloned().unwrap_or(Value::Null),
    );
    out.insert(
        "unrendered_schema".into(),
        source.get("schema").cloned().unwrap_or(Value::Null),
    );
    out
}

/// `key` of a source or table `entry`: under its `config:`, else beside it.
fn setting<'a>(entry: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    entry
        .get("config")
        .and_then(|c| c.as_object())
        .and_then(|c| c.get(key))
        .or_else(|| entry.get(key))
}

/// A source table's `freshness` as dbt writes it: both thresholds named (`count`/`period`
/// null when unset) and its `filter`; null when set to null, all unset when not set.
fn freshness_of(set: Option<&Value>) -> Value {
    let threshold = |f: &Value, key: &str| {
        let t = f.get(key).and_then(Value::as_object);
        json!({
            "count": t.and_then(|t| t.get("count")).cloned().unwrap_or(Value::Null),
            "period": t.and_then(|t| t.get("period")).cloned().unwrap_or(Value::Null),
        })
    };
    match set {
        Some(Value::Null) => Value::Null,
        set => {
            let f = set.cloned().unwrap_or(Value::Null);
            json!({
                "warn_after": threshold(&f, "warn_after"),
                "error_after": threshold(&f, "error_after"),
                "filter": f.get("filter").cloned().unwrap_or(Value::Null),
            })
        }
    }
}

/// A source table's tags: the source's, then the table's, each once.
fn tags_of(source: &Map<String, Value>, table: &Map<String, Value>) -> Vec<Value> {
    let mut tags: Vec<Value> = Vec::new();
    for entry in [source, table] {
        for tag in setting(entry, "tags")
            .map(crate::config::as_string_list)
            .unwrap_or_default()
        {
            if !tags.contains(&Value::String(tag.clone())) {
                tags.push(Value::String(tag));
            }
        }
    }
    tags
}

/// A source table's `quoting` of database, schema, identifier and column: the table's, else
/// the source's, else null.
fn quoting_of(source: &Map<String, Value>, table: &Map<String, Value>) -> Map<String, Value> {
    let of = |entry: &Map<String, Value>, key: &str| entry.get("quoting").and_then(|q| q.get(key)).cloned();
    ["database", "schema", "identifier", "column"]
        .into_iter()
        .map(|k| {
            let v = of(table, k).or_else(|| of(source, k)).unwrap_or(Value::Null);
            (k.to_string(), v)
        })
        .collect()
}
