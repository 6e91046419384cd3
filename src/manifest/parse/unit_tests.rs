//! Unit tests (`unit_tests:` in property YAML): each becomes a node that runs its model's code
//! on the given rows.

use anyhow::Result;
use serde_json::{json, Map, Value};

use super::{sha256_hex, Parser};
use crate::config::NodeConfig;
use crate::error::{did_you_mean, Diagnostic};
use crate::manifest::{Fixture, FixtureInput, FixtureRows, Node, ResourceType, UnitTestSpec};
use crate::project::properties::UnitTestDef;

impl Parser<'_> {
    /// Adds a unit test: the tested model's code, with rows for every `ref` and `source` it
    /// reads (and `this`, for an incremental model tested as an increment).
    ///
    /// Errors, at the entry: the model does not exist; an input is not `ref(...)`,
    /// `source(...)` or `this`; a `ref`/`source` of the model has no rows given; a malformed
    /// `rows`/`format`; an override Mallard does not support.
    pub(super) fn unit_test(&mut self, def: &UnitTestDef) -> Result<()> {
        let at = |msg: String| Diagnostic::new(msg).at(def.location.clone());
        let key = (self.project.name.clone(), def.model.clone());
        let model_id = match self.names.get(&key) {
            Some((id, _)) if id.starts_with("model.") => id.clone(),
            _ => {
                let models = self.names.keys().map(|(_, n)| n.as_str());
                let mut d = at(format!(
                    "unit test `{}` tests `{}`, which is not a model of this project",
                    def.name, def.model
                ));
                if let Some(s) = did_you_mean(&def.model, models) {
                    d = d.help(format!("did you mean `{s}`?"));
                }
                return Err(d.into());
            }
        };
        let model = self.manifest.nodes[&model_id].clone();
        let mut given = Vec::new();
        for g in &def.given {
            let input = g.get("input").and_then(Value::as_str).unwrap_or_default();
            let input = parse_fixture_input(input).ok_or_else(|| {
                at(format!(
                    "unit test `{}`: `input: {input}` is not `ref('...')`, `source('...', '...')` or `this`",
                    def.name
                ))
            })?;
            let rows = fixture_rows(&self.with_fixture_file(g))
                .map_err(|m| at(format!("unit test `{}`, input {}: {m}", def.name, input.shown())))?;
            given.push(Fixture { input, rows });
        }
        check_all_inputs_given(def, &model, &given)?;
        let expect = fixture_rows(&self.with_fixture_file(&def.expect))
            .map_err(|m| at(format!("unit test `{}`, expect: {m}", def.name)))?;
        let (vars, is_incremental, macros) = overrides(def)?;
        let mut config = NodeConfig::default();
        config.merge(json!({"materialized": "unit"}).as_object().expect("object"));
        config.merge(&self.rendered_config(&def.config, &def.file)?);
        if !config.enabled() {
            return Ok(());
        }
        let mut fqn = model.fqn.clone();
        fqn.push(def.name.clone());
        let unique_id = format!("unit_test.{}.{}.{}", self.project.name, model.name, def.name);
        self.add(Node {
            path: format!("{}/{}.sql", model.name, def.name),
            original_file_path: def.file.clone(),
            fqn,
            raw_code: model.raw_code.clone(),
            config,
            description: def.description.clone(),
            attached_node: Some(model_id.clone()),
            checksum: sha256_hex(format!("{:?}{:?}{:?}", def.given, def.expect, def.overrides).as_bytes()),
            unit_test: Some(UnitTestSpec {
                model: model_id,
                given,
                expect,
                vars,
                is_incremental,
                macros,
            }),
            ..Node::new(
                ResourceType::UnitTest,
                unique_id,
                def.name.clone(),
                self.project.name.clone(),
            )
        });
        Ok(())
    }
}

/// A unit test's `overrides`: `(vars, is_incremental, macros)`.
type Overrides = (Map<String, Value>, bool, Map<String, Value>);

/// A unit test's `overrides`: `(vars, is_incremental, macros)`, `macros.is_incremental` a
/// boolean of its own. Errors on an override other than `vars` and `macros`.
fn overrides(def: &UnitTestDef) -> Result<Overrides> {
    let at = |msg: String| Diagnostic::new(msg).at(def.location.clone());
    let mut vars = Map::new();
    let mut is_incremental = false;
    let mut macros = Map::new();
    for (key, value) in &def.overrides {
        match (key.as_str(), value) {
            ("vars", Value::Object(v)) => vars = v.clone(),
            ("macros", Value::Object(m)) => {
                for (name, v) in m {
                    match (name.as_str(), v.as_bool()) {
                        ("is_incremental", Some(b)) => is_incremental = b,
                        _ => {
                            macros.insert(name.clone(), v.clone());
                        }
                    }
                }
            }
            _ => {
                return Err(at(format!(
                    "unit test `{}`: `overrides: {key}` is not supported (use `vars` or `macros`)",
                    def.name
                ))
                .into())
            }
        }
    }
    Ok((vars, is_incremental, macros))
}

/// Errors when unit test `def` gives no rows for a ref or source that `model` reads.
fn check_all_inputs_given(def: &UnitTestDef, model: &Node, given: &[Fixture]) -> Result<()> {
    let at = |msg: String| Diagnostic::new(msg).at(def.location.clone());
    let needed = model
        .refs
        .iter()
        .map(|r| FixtureInput::Ref(r.value.name.clone()))
        .chain(
            model
                .sources
                .iter()
                .map(|s| FixtureInput::Source(s.value.0.clone(), s.value.1.clone())),
        );
    for input in needed {
        if !given.iter().any(|g| g.input == input) {
            return Err(at(format!(
                "unit test `{}` gives no rows for {}, which model `{}` reads",
                def.name,
                input.shown(),
                model.name
            ))
            .help(format!(
                "add `- input: {}` with its `rows:` under `given:`",
                input.shown()
            ))
            .into());
        }
    }
    Ok(())
}

/// A unit test's `input:`: `ref('m')` (or `ref('pkg', 'm')`), `source('s', 't')`, or `this`;
/// `None` for anything else.
impl Parser<'_> {
    /// A `given` or `expect` entry with `fixture: name` given its `rows` from the file
    /// `fixtures/<name>.csv` (`format: csv`) or `.sql` (`format: sql`) under a test path, as in
    /// dbt. Left as it is when there is no `fixture:` or no such file (then `rows` is missing).
    fn with_fixture_file(&self, entry: &Map<String, Value>) -> Map<String, Value> {
        let Some(name) = entry.get("fixture").and_then(Value::as_str) else {
            return entry.clone();
        };
        let ext = match entry.get("format").and_then(Value::as_str).unwrap_or("dict") {
            "sql" => "sql",
            _ => "csv",
        };
        let mut out = entry.clone();
        if let Some(f) = self
            .project
            .unit_test_fixtures
            .iter()
            .find(|f| f.stem() == name && f.path.ends_with(&format!(".{ext}")))
        {
            out.insert("rows".into(), Value::from(f.contents.clone()));
            if !out.contains_key("format") {
                out.insert("format".into(), Value::from("csv"));
            }
        }
        out
    }
}

fn parse_fixture_input(text: &str) -> Option<FixtureInput> {
    let text = text.trim();
    if text == "this" {
        return Some(FixtureInput::This);
    }
    let (func, rest) = text.split_once('(')?;
    let args: Vec<String> = rest
        .strip_suffix(')')?
        .split(',')
        .map(|a| a.trim().trim_matches(|c| c == '\'' || c == '"').to_string())
        .collect();
    match (func.trim(), args.as_slice()) {
        ("ref", [name]) | ("ref", [_, name]) => Some(FixtureInput::Ref(name.clone())),
        ("source", [s, t]) => Some(FixtureInput::Source(s.clone(), t.clone())),
        _ => None,
    }
}

/// The rows of a `given:` entry or of `expect:`: `format` (`dict`, the default, `csv` or `sql`)
/// and `rows`. Errors with what is wrong.
fn fixture_rows(entry: &Map<String, Value>) -> Result<FixtureRows, String> {
    let rows = entry.get("rows").cloned().unwrap_or(Value::Null);
    match entry.get("format").and_then(Value::as_str).unwrap_or("dict") {
        "dict" => match rows {
            Value::Null => Ok(FixtureRows::Dict(Vec::new())),
            Value::Array(items) => items
                .into_iter()
                .map(|r| match r {
                    Value::Object(m) => Ok(m),
                    other => Err(format!(
                        "each row must be a mapping of column to value, not `{other}`"
                    )),
                })
                .collect::<Result<_, _>>()
                .map(FixtureRows::Dict),
            _ => Err("`rows` must be a list of mappings (or give `format: csv` / `format: sql`)".into()),
        },
        "csv" => match rows {
            Value::String(s) => Ok(FixtureRows::Csv(s)),
            _ => Err("with `format: csv`, `rows` is the CSV text (`rows: |` and a header line)".into()),
        },
        "sql" => match rows {
            Value::String(s) => Ok(FixtureRows::Sql(s)),
            _ => Err("with `format: sql`, `rows` is a query".into()),
        },
        other => Err(format!("`format: {other}` is not `dict`, `csv` or `sql`")),
    }
}
