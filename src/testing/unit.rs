//! Unit tests (dbt 1.8's `unit_tests:`): the tested model's SQL runs on the rows given for
//! its inputs, in DuckDB, without building anything upstream, and its output must equal the
//! expected rows as a multiset, compared on the columns `expect` names (as dbt compares).
//!
//! Fixture values are cast to the input's column types where Mallard can learn them without
//! building anything: from the input's relation if it already exists in the database, from the
//! CSV of a seed input; otherwise DuckDB types the literals itself (a quoted date stays text, so
//! give `format: sql` rows, or build the inputs first, when types matter). Expected values are
//! cast to the types of the model's output columns.

use std::path::Path;

use anyhow::{anyhow, Result};
use serde_json::{Map, Value};

use crate::adapter::{Adapter, Column};
use crate::manifest::{FixtureInput, FixtureRows, Manifest, ResourceType, UnitTestSpec};
use crate::materialization::{Hooks, SeedLoad};
use crate::relation::quote;
use crate::sql::inject_ctes;

/// The result of a unit test: how many rows differ, and a report of (up to 20 of) them.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitOutcome {
    pub differences: usize,
    pub report: String,
}

/// Runs unit test `spec` whose rendered model SQL (inputs read from `__dbt__cte__...` CTEs) is
/// `sql`. Returns the differences between the output and `expect` (none when it passes).
///
/// Errors: a fixture that cannot be turned into SQL (a column the input does not have, no rows
/// and no known columns), `expect` naming a column the output lacks, or DuckDB's error on the
/// model's SQL.
pub fn run(
    adapter: &Adapter,
    manifest: &Manifest,
    spec: &UnitTestSpec,
    sql: &str,
    project_root: &Path,
) -> Result<UnitOutcome> {
    let mut ctes = Vec::new();
    for g in &spec.given {
        let types = input_columns(adapter, manifest, spec, &g.input, project_root)?;
        let fixture = fixture_sql(
            &g.rows,
            types.as_ref().map(|(t, complete)| (t.as_slice(), *complete)),
        )
        .map_err(|m| anyhow!("given {}: {m}", g.input.shown()))?;
        ctes.push((g.input.cte().identifier, fixture));
    }
    let model_sql = inject_ctes(sql, &ctes);
    let model_sql = model_sql.trim().trim_end_matches(';');
    let output = adapter.columns(&format!("select * from (\n{model_sql}\n) as t"))?;
    let expected_names = fixture_columns(&spec.expect, adapter)?;
    let mut typed = Vec::new();
    for name in &expected_names {
        let column = output
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                anyhow!(
                    "`expect` names column `{name}`, which the model's output does not have (it has: {})",
                    output
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        typed.push(column.clone());
    }
    // `expect: {rows: []}`: the model must return no rows, whatever its columns (as in dbt).
    let expected_sql = if expected_names.is_empty() {
        typed = output.clone();
        let nulls: Vec<String> = typed
            .iter()
            .map(|c| format!("cast(null as {}) as {}", c.data_type, quote(&c.name)))
            .collect();
        format!("select {} limit 0", nulls.join(", "))
    } else {
        fixture_sql(&spec.expect, Some((&typed, true))).map_err(|m| anyhow!("expect: {m}"))?
    };
    let cols = typed
        .iter()
        .map(|c| quote(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let diff_sql = format!(
        "with dbt_internal_unit_test_actual as (\n    select {cols} from (\n{model_sql}\n    ) as t\n),\n\
         dbt_internal_unit_test_expected as (\n    select {cols} from (\n{expected_sql}\n    ) as e\n)\n\
         select 'expected, not in output' as difference, * from (select * from dbt_internal_unit_test_expected except all select * from dbt_internal_unit_test_actual)\n\
         union all\n\
         select 'in output, not expected', * from (select * from dbt_internal_unit_test_actual except all select * from dbt_internal_unit_test_expected)\n\
         order by all"
    );
    let (names, rows) = adapter.query_rows(&diff_sql)?;
    let mut report = String::new();
    for row in rows.iter().take(20) {
        let cells: Vec<String> = names
            .iter()
            .zip(row)
            .skip(1)
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        report.push_str(&format!("{}: {}\n", row[0], cells.join(", ")));
    }
    if rows.len() > 20 {
        report.push_str(&format!("... and {} more\n", rows.len() - 20));
    }
    Ok(UnitOutcome {
        differences: rows.len(),
        report,
    })
}

/// The columns (with types) of the relation a fixture stands in for, when they can be known
/// without building anything: the relation exists, or it is a seed (read from its CSV), or
/// its property YAML gives columns a `data_type`; with whether they are all of its columns
/// (not so for YAML, which may document some). `None` when nothing is known.
fn input_columns(
    adapter: &Adapter,
    manifest: &Manifest,
    spec: &UnitTestSpec,
    input: &FixtureInput,
    project_root: &Path,
) -> Result<Option<(Vec<Column>, bool)>> {
    let node = match input {
        FixtureInput::This => manifest.nodes.get(&spec.model),
        FixtureInput::Ref(name) => manifest
            .nodes
            .values()
            .find(|n| &n.name == name && n.relation.is_some() && n.resource_type != ResourceType::UnitTest),
        FixtureInput::Source(..) => None,
    };
    let source = match input {
        FixtureInput::Source(s, t) => manifest
            .sources
            .values()
            .find(|src| &src.source_name == s && &src.name == t),
        _ => None,
    };
    let relation = match source {
        Some(src) => Some(src.relation.clone()),
        None => node.and_then(|n| n.relation.clone()),
    };
    if let Some(relation) = relation.filter(|r| !r.is_cte()) {
        if adapter.relation_kind(&relation)?.is_some() {
            return Ok(Some((adapter.columns(&relation.to_string())?, true)));
        }
    }
    if let Some(seed) = node.filter(|n| n.resource_type == ResourceType::Seed) {
        let hooks = Hooks::default();
        let load = SeedLoad::for_node(manifest, seed, project_root, &hooks);
        return Ok(Some((adapter.columns(&load.select_sql()?)?, true)));
    }
    // Not built yet: the `data_type`s its property YAML documents. (dbt 1.11 stops here with
    // "Not able to get columns for unit test"; typing from YAML lets `mallard test` run
    // before anything is built.)
    let documented = match source {
        Some(src) => Some(src.columns.as_slice()),
        None => node.map(|n| n.columns.as_slice()),
    };
    let typed: Vec<Column> = documented
        .unwrap_or_default()
        .iter()
        .filter_map(|c| {
            c.data_type.as_ref().map(|t| Column {
                name: c.name.clone(),
                data_type: t.clone(),
            })
        })
        .collect();
    Ok((!typed.is_empty()).then_some((typed, false)))
}

/// The column names `rows` gives, in order of first appearance.
fn fixture_columns(rows: &FixtureRows, adapter: &Adapter) -> Result<Vec<String>> {
    Ok(match rows {
        FixtureRows::Dict(rows) => dict_columns(rows),
        FixtureRows::Csv(text) => csv_rows(text)?.0,
        FixtureRows::Sql(sql) => adapter
            .columns(&format!("select * from ({sql}) as f"))?
            .into_iter()
            .map(|c| c.name)
            .collect(),
    })
}

fn dict_columns(rows: &[Map<String, Value>]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for row in rows {
        for key in row.keys() {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(key)) {
                names.push(key.clone());
            }
        }
    }
    names
}

/// Fixture rows in dbt's `dict` shape: column to value.
type Rows = Vec<Map<String, Value>>;

/// A CSV fixture's header and rows; an empty field is NULL.
fn csv_rows(text: &str) -> Result<(Vec<String>, Rows)> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.trim().as_bytes());
    let header: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record?;
        rows.push(
            header
                .iter()
                .zip(record.iter())
                .map(|(h, v)| (h.clone(), if v.is_empty() { Value::Null } else { Value::from(v) }))
                .collect(),
        );
    }
    Ok((header, rows))
}

/// A `select` giving `rows`, each value cast to its column's type when `types` are known (then
/// every one of those columns is present, NULL where a row leaves it out). `types` are the
/// input's columns, and whether they are all of them: a row's other columns are then an
/// error, else they come untyped.
///
/// Errors: a row names a column complete `types` lack; no rows and no known columns.
fn fixture_sql(rows: &FixtureRows, types: Option<(&[Column], bool)>) -> Result<String, String> {
    let rows = match rows {
        FixtureRows::Sql(sql) => return Ok(sql.trim().trim_end_matches(';').to_string()),
        FixtureRows::Csv(text) => {
            csv_rows(text)
                .map_err(|e| format!("cannot read the CSV rows: {e}"))?
                .1
        }
        FixtureRows::Dict(rows) => rows.clone(),
    };
    let columns: Vec<(String, Option<String>)> = match types {
        Some((types, false)) => {
            let mut columns: Vec<(String, Option<String>)> = types
                .iter()
                .map(|c| (c.name.clone(), Some(c.data_type.clone())))
                .collect();
            for name in dict_columns(&rows) {
                if !columns.iter().any(|(c, _)| c.eq_ignore_ascii_case(&name)) {
                    columns.push((name, None));
                }
            }
            columns
        }
        Some((types, true)) => {
            for name in dict_columns(&rows) {
                if !types.iter().any(|c| c.name.eq_ignore_ascii_case(&name)) {
                    return Err(format!(
                        "column `{name}` is not one of the input's columns ({})",
                        types
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            types
                .iter()
                .map(|c| (c.name.clone(), Some(c.data_type.clone())))
                .collect()
        }
        None => dict_columns(&rows).into_iter().map(|n| (n, None)).collect(),
    };
    if columns.is_empty() {
        return Err("give at least one row (its columns are not known before the input is built)".into());
    }
    let select = |row: Option<&Map<String, Value>>| -> String {
        let cells: Vec<String> = columns
            .iter()
            .map(|(name, ty)| {
                let value = row
                    .and_then(|r| r.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                    .map(|(_, v)| literal(v))
                    .unwrap_or_else(|| "null".to_string());
                match ty {
                    Some(ty) => format!("cast({value} as {ty}) as {}", quote(name)),
                    None => format!("{value} as {}", quote(name)),
                }
            })
            .collect();
        format!("select {}", cells.join(", "))
    };
    if rows.is_empty() {
        return Ok(format!("{} where false", select(None)));
    }
    Ok(rows
        .iter()
        .map(|r| select(Some(r)))
        .collect::<Vec<_>>()
        .join("\nunion all\n"))
}

/// A YAML value as a SQL literal: strings quoted, numbers and booleans as written.
fn literal(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        other => format!("'{}'", other.to_string().replace('\'', "''")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dict(rows: serde_json::Value) -> FixtureRows {
        FixtureRows::Dict(
            rows.as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_object().unwrap().clone())
                .collect(),
        )
    }

    #[test]
    fn fixtures_become_selects_typed_when_known() {
        let rows = dict(json!([{"id": 1, "name": "o'neil"}, {"id": 2}]));
        assert_eq!(
            fixture_sql(&rows, None).unwrap(),
            "select 1 as \"id\", 'o''neil' as \"name\"\nunion all\nselect 2 as \"id\", null as \"name\""
        );
        let types = vec![
            Column {
                name: "id".into(),
                data_type: "INTEGER".into(),
            },
            Column {
                name: "name".into(),
                data_type: "VARCHAR".into(),
            },
            Column {
                name: "day".into(),
                data_type: "DATE".into(),
            },
        ];
        let typed = fixture_sql(&dict(json!([{"id": 1}])), Some((&types, true))).unwrap();
        assert_eq!(
            typed,
            "select cast(1 as INTEGER) as \"id\", cast(null as VARCHAR) as \"name\", cast(null as DATE) as \"day\""
        );
        assert!(fixture_sql(&dict(json!([{"nope": 1}])), Some((&types, true)))
            .unwrap_err()
            .contains("`nope`"));
        assert!(fixture_sql(&dict(json!([])), None).is_err());
        assert!(fixture_sql(&dict(json!([])), Some((&types, true)))
            .unwrap()
            .ends_with("where false"));
        let csv = FixtureRows::Csv("id,name\n1,a\n2,\n".into());
        assert_eq!(
            fixture_sql(&csv, None).unwrap(),
            "select '1' as \"id\", 'a' as \"name\"\nunion all\nselect '2' as \"id\", null as \"name\""
        );
    }
}
