//! Column-level lineage (beyond dbt Core): for each column of each model, the upstream columns
//! it is computed from, and how, read from DuckDB's own parse of the compiled SQL
//! (`json_serialize_sql`), so it follows the SQL DuckDB runs. Written to `target/lineage.json`:
//!
//! ```json
//! {"metadata": {...},
//!  "nodes": {"model.p.m": {"columns": {"c": {
//!     "kind": "passed through" | "renamed" | "transformed" | "untraced",
//!     "from": [{"node": "model.p.up", "column": "x"}],
//!     "note": "why a column is untraced (absent otherwise)"}},
//!     "compiled_sql_md5": "md5 of the compiled SQL the entry was traced from"}},
//!  "catalog_columns_md5": "md5 of the catalog's relations and column names it was traced with"}
//! ```
//!
//! The two digests let the next `docs generate` reuse an entry whose SQL and catalog did not
//! change (see [`reusable`]) instead of asking DuckDB to parse that SQL again.
//!
//! A column is traced through CTEs, subqueries, joins, `union`s and `select *` (expanded with
//! the catalog's columns of the relation it reads). Where the parse does not say where a
//! column comes from (a `select *` over a relation the catalog does not have, a table
//! function, a statement DuckDB cannot parse), the column is `untraced` with the reason: the
//! lineage never guesses.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use rayon::prelude::*;
use serde_json::{json, Map, Value};

use super::Invocation;
use crate::adapter::Adapter;
use crate::manifest::{Manifest, ResourceType};

/// Where one output column of a query comes from.
#[derive(Debug, Clone, PartialEq)]
struct Traced {
    /// (node unique_id, column) pairs of base relations.
    from: Vec<(String, String)>,
    /// Whether some expression (not a bare column reference) computes it.
    transformed: bool,
    /// Why it could not be traced, if so.
    untraced: Option<String>,
}

impl Traced {
    fn untraced(why: String) -> Traced {
        Traced {
            from: Vec::new(),
            transformed: false,
            untraced: Some(why),
        }
    }
}

/// A query's output columns, in order.
type Columns = Vec<(String, Traced)>;

/// What the lineage of one compiled query reads.
struct Tracer<'a> {
    /// Relations by lower-cased (database, schema, identifier), (schema, identifier) and
    /// identifier: the node that builds them and their catalog columns.
    relations: &'a HashMap<String, (String, Vec<String>)>,
}

/// `key` of a relation as the tracer finds it: lower-cased parts joined by dots.
fn rel_key(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| p.to_lowercase())
        .collect::<Vec<_>>()
        .join(".")
}

impl Tracer<'_> {
    /// The output columns of a query node (`SELECT_NODE`, `SET_OPERATION_NODE`, ...) with
    /// the CTEs `ctes` in scope.
    fn query(&self, node: &Value, ctes: &HashMap<String, Columns>) -> Columns {
        let mut ctes = ctes.clone();
        for entry in node["cte_map"]["map"].as_array().into_iter().flatten() {
            if let Some(name) = entry["key"].as_str() {
                let cols = self.query(&entry["value"]["query"]["node"], &ctes);
                ctes.insert(name.to_lowercase(), cols);
            }
        }
        match node["type"].as_str() {
            Some("SELECT_NODE") => self.select(node, &ctes),
            Some("SET_OPERATION_NODE") => {
                let left = self.query(&node["left"], &ctes);
                let right = self.query(&node["right"], &ctes);
                left.into_iter()
                    .enumerate()
                    .map(|(i, (name, mut t))| {
                        if let Some((_, r)) = right.get(i) {
                            t.from.extend(r.from.iter().cloned());
                            t.transformed |= r.transformed;
                        }
                        (name, t)
                    })
                    .collect()
            }
            Some("CTE_NODE") => self.query(&node["child"], &ctes),
            other => vec![(
                String::new(),
                Traced::untraced(format!("a query of kind {}", other.unwrap_or("unknown"))),
            )],
        }
    }

    /// The sources a `FROM` clause brings into scope: (alias, output columns).
    fn from(&self, table: &Value, ctes: &HashMap<String, Columns>, out: &mut Vec<(String, Columns)>) {
        match table["type"].as_str() {
            Some("BASE_TABLE") => {
                let name = table["table_name"].as_str().unwrap_or("");
                let schema = table["schema_name"].as_str().unwrap_or("");
                let catalog = table["catalog_name"].as_str().unwrap_or("");
                let alias = table["alias"]
                    .as_str()
                    .filter(|a| !a.is_empty())
                    .unwrap_or(name)
                    .to_lowercase();
                let cols =
                    if schema.is_empty() && catalog.is_empty() && ctes.contains_key(&name.to_lowercase()) {
                        ctes[&name.to_lowercase()].clone()
                    } else {
                        match self.relations.get(&rel_key(&[catalog, schema, name])) {
                            Some((node, columns)) => columns
                                .iter()
                                .map(|c| {
                                    let t = Traced {
                                        from: vec![(node.clone(), c.clone())],
                                        transformed: false,
                                        untraced: None,
                                    };
                                    (c.clone(), t)
                                })
                                .collect(),
                            None => vec![(
                                "*".to_string(),
                                Traced::untraced(format!(
                                    "`{}` is not a relation of the project's catalog",
                                    rel_key(&[catalog, schema, name])
                                )),
                            )],
                        }
                    };
                out.push((alias, cols));
            }
            Some("SUBQUERY") => {
                let cols = self.query(&table["subquery"]["node"], ctes);
                out.push((table["alias"].as_str().unwrap_or("").to_lowercase(), cols));
            }
            Some("JOIN") => {
                self.from(&table["left"], ctes, out);
                self.from(&table["right"], ctes, out);
            }
            Some("EMPTY") | None => {}
            Some(other) => out.push((
                table["alias"].as_str().unwrap_or("").to_lowercase(),
                vec![("*".to_string(), Traced::untraced(format!("read from a {other}")))],
            )),
        }
    }

    /// What a column reference (`[column]` or `[alias, column]`) in scope `sources` reads.
    fn column_ref(&self, names: &[&str], sources: &[(String, Columns)]) -> Traced {
        let (alias, column) = match names {
            [column] => (None, column.to_lowercase()),
            [.., alias, column] => (Some(alias.to_lowercase()), column.to_lowercase()),
            [] => return Traced::untraced("an empty column reference".into()),
        };
        let mut found: Vec<&Traced> = Vec::new();
        let mut unknown: Option<&Traced> = None;
        for (a, cols) in sources {
            if alias.as_ref().is_some_and(|x| x != a) {
                continue;
            }
            for (name, t) in cols {
                if name.to_lowercase() == column {
                    found.push(t);
                } else if name == "*" {
                    unknown = Some(t);
                }
            }
        }
        match (found.first(), unknown) {
            // A column of a `using` join is in both sides: the left one is the column.
            (Some(t), _) => (*t).clone(),
            (None, Some(t)) => t.clone(),
            (None, None) => Traced::untraced(format!(
                "`{}` is in none of the relations it reads",
                names.join(".")
            )),
        }
    }

    /// The output columns of a `SELECT_NODE`.
    fn select(&self, node: &Value, ctes: &HashMap<String, Columns>) -> Columns {
        let mut sources = Vec::new();
        self.from(&node["from_table"], ctes, &mut sources);
        let mut out = Vec::new();
        for item in node["select_list"].as_array().into_iter().flatten() {
            let alias = item["alias"].as_str().unwrap_or("").to_string();
            match item["class"].as_str() {
                Some("STAR") if item["columns"] != Value::Bool(true) && item["expr"].is_null() => {
                    let relation = item["relation_name"].as_str().unwrap_or("").to_lowercase();
                    let excluded: Vec<String> = item["exclude_list"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|e| e.as_str().or_else(|| e["column_names"][0].as_str()))
                        .map(str::to_lowercase)
                        .collect();
                    for (a, cols) in &sources {
                        if !relation.is_empty() && *a != relation {
                            continue;
                        }
                        for (name, t) in cols {
                            if !excluded.contains(&name.to_lowercase())
                                && !out.iter().any(|(n, _): &(String, Traced)| n == name)
                            {
                                out.push((name.clone(), t.clone()));
                            }
                        }
                    }
                }
                Some("COLUMN_REF") => {
                    let names: Vec<&str> = item["column_names"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    let t = self.column_ref(&names, &sources);
                    let name = if alias.is_empty() {
                        names.last().copied().unwrap_or("").to_string()
                    } else {
                        alias
                    };
                    out.push((name, t));
                }
                _ => {
                    let mut refs = Vec::new();
                    column_refs(item, &mut refs);
                    let mut t = Traced {
                        from: Vec::new(),
                        transformed: true,
                        untraced: None,
                    };
                    for names in refs {
                        let names: Vec<&str> = names.iter().map(String::as_str).collect();
                        let r = self.column_ref(&names, &sources);
                        t.from.extend(r.from);
                    }
                    out.push((alias, t));
                }
            }
        }
        out
    }
}

/// Every column reference inside expression `v` (not inside a nested query's own scope).
fn column_refs(v: &Value, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(m) => {
            if m.get("class").and_then(Value::as_str) == Some("COLUMN_REF") {
                out.push(
                    m.get("column_names")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|n| n.as_str().map(str::to_string))
                        .collect(),
                );
                return;
            }
            if m.get("class").and_then(Value::as_str) == Some("SUBQUERY") {
                return;
            }
            for (_, child) in m {
                column_refs(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| column_refs(i, out)),
        _ => {}
    }
}

/// One column's entry in `lineage.json`.
fn column_json(name: &str, t: &Traced) -> Value {
    if let Some(why) = &t.untraced {
        return json!({"kind": "untraced", "from": [], "note": why});
    }
    let mut from: Vec<(String, String)> = t.from.clone();
    from.sort();
    from.dedup();
    let kind = match (t.transformed, from.as_slice()) {
        (false, [(_, c)]) if c.eq_ignore_ascii_case(name) => "passed through",
        (false, [_]) => "renamed",
        _ => "transformed",
    };
    let from: Vec<Value> = from
        .iter()
        .map(|(n, c)| json!({"node": n, "column": c}))
        .collect();
    json!({"kind": kind, "from": from})
}

/// DuckDB's parse (`json_serialize_sql`, an AST as JSON text; see
/// [`Adapter::parse_to_json`]) of the compiled SQL of every model of `manifest` in `compiled`
/// (by unique_id): `(unique_id, AST)` pairs. The parse needs no database, so any connection
/// does it, beside other work.
///
/// Errors: the engine's (a statement DuckDB cannot parse is not one: its AST says so).
pub fn parse(
    manifest: &Manifest,
    compiled: &Map<String, Value>,
    adapter: &Adapter,
) -> Result<Vec<(String, String)>> {
    let models: Vec<(&str, &str)> = manifest
        .nodes
        .values()
        .filter(|n| n.resource_type == ResourceType::Model)
        .filter_map(|n| Some((n.unique_id.as_str(), compiled.get(&n.unique_id)?.as_str()?)))
        .collect();
    let queries: Vec<&str> = models
        .iter()
        .map(|(_, sql)| sql.trim().trim_end_matches(';'))
        .collect();
    let parsed = adapter.parse_to_json(&queries)?;
    Ok(models.iter().map(|(id, _)| id.to_string()).zip(parsed).collect())
}

/// The column lineage of the models whose ASTs `parsed` holds (from [`parse`]), with the
/// catalog's columns (`catalog`, as written to catalog.json) to expand `select *` and to name
/// the models' columns. Returns the `lineage.json` value; a model whose SQL DuckDB cannot
/// parse gets every column `untraced` with DuckDB's message. Empty `parsed`: no nodes.
pub fn lineage(parsed: &[(String, String)], catalog: &Value, inv: &Invocation) -> Value {
    let mut relations: HashMap<String, (String, Vec<String>)> = HashMap::new();
    let entries = catalog["nodes"]
        .as_object()
        .into_iter()
        .flatten()
        .chain(catalog["sources"].as_object().into_iter().flatten());
    for (id, e) in entries {
        let m = &e["metadata"];
        let (db, schema, name) = (
            m["database"].as_str().unwrap_or(""),
            m["schema"].as_str().unwrap_or(""),
            m["name"].as_str().unwrap_or(""),
        );
        let cols: Vec<String> = e["columns"]
            .as_object()
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        for key in [rel_key(&[db, schema, name]), rel_key(&[schema, name])] {
            relations.entry(key).or_insert_with(|| (id.clone(), cols.clone()));
        }
    }
    let tracer = Tracer {
        relations: &relations,
    };
    let trace = |(id, ast): &(String, String)| -> (String, Value) {
        let names: Vec<String> = catalog["nodes"][id.as_str()]["columns"]
            .as_object()
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        let parsed: Value = serde_json::from_str(ast).unwrap_or(Value::Null);
        let columns: Columns = if parsed["error"] == Value::Bool(true) || parsed.is_null() {
            let why = format!(
                "DuckDB cannot parse the compiled SQL: {}",
                parsed["error_message"].as_str().unwrap_or("no message")
            );
            names
                .iter()
                .map(|c| (c.clone(), Traced::untraced(why.clone())))
                .collect()
        } else {
            tracer.query(&parsed["statements"][0]["node"], &HashMap::new())
        };
        // The catalog's names win where the parse gives none (an expression without alias).
        let mut out = Map::new();
        for (i, (name, t)) in columns.iter().enumerate() {
            let name = if name.is_empty() || name == "*" {
                match names.get(i) {
                    Some(n) => n.clone(),
                    None => continue,
                }
            } else {
                name.clone()
            };
            out.insert(name.clone(), column_json(&name, t));
        }
        (id.to_string(), json!({"columns": out}))
    };
    // On every core for a large project; a few dozen models are traced faster than the
    // threads start.
    let nodes: BTreeMap<String, Value> = if parsed.len() > 200 {
        parsed.par_iter().map(trace).collect()
    } else {
        parsed.iter().map(trace).collect()
    };
    json!({"metadata": inv.metadata("mallard/lineage/v1.json"), "nodes": nodes})
}

/// The md5 of what `catalog` says the lineage depends on: every relation's id, database,
/// schema, name and column names, in order (row counts and comments left out).
pub fn catalog_columns_md5(catalog: &Value) -> String {
    let mut text = String::new();
    for part in ["nodes", "sources"] {
        for (id, e) in catalog[part].as_object().into_iter().flatten() {
            let m = &e["metadata"];
            text.push_str(&format!("{id}|{}|{}|{}|", m["database"], m["schema"], m["name"]));
            for c in e["columns"].as_object().into_iter().flatten().map(|(c, _)| c) {
                text.push_str(c);
                text.push(',');
            }
            text.push('\n');
        }
    }
    crate::manifest::md5_hex(&text)
}

/// What [`reusable`] finds: the entries of the last `lineage.json` that still hold, the
/// models' SQL that must be parsed again, and the md5 of every model's compiled SQL.
pub struct Reuse {
    pub reused: Map<String, Value>,
    /// Compiled SQL by unique_id, for [`parse`].
    pub to_parse: Map<String, Value>,
    pub sql_md5: HashMap<String, String>,
}

/// Splits the models of `manifest` with SQL in `compiled` (SQL by unique_id) into the entries
/// of `previous` (the last `lineage.json`, or `Null`) that still hold, because both the
/// model's SQL and the catalog (`catalog_md5`, from [`catalog_columns_md5`]) are unchanged,
/// and the SQL that must be parsed again. With no previous lineage nothing is reused.
pub fn reusable(
    manifest: &Manifest,
    previous: &Value,
    catalog_md5: &str,
    compiled: &Map<String, Value>,
) -> Reuse {
    let same_catalog = previous["catalog_columns_md5"].as_str() == Some(catalog_md5);
    let mut reuse = Reuse {
        reused: Map::new(),
        to_parse: Map::new(),
        sql_md5: HashMap::new(),
    };
    let models = manifest
        .nodes
        .values()
        .filter(|n| n.resource_type == ResourceType::Model);
    for (id, sql) in models.filter_map(|n| Some((&n.unique_id, compiled.get(&n.unique_id)?))) {
        let md5 = crate::manifest::md5_hex(sql.as_str().unwrap_or_default());
        let old = &previous["nodes"][id.as_str()];
        if same_catalog && old["compiled_sql_md5"].as_str() == Some(md5.as_str()) {
            reuse.reused.insert(id.clone(), old.clone());
        } else {
            reuse.to_parse.insert(id.clone(), sql.clone());
        }
        reuse.sql_md5.insert(id.clone(), md5);
    }
    reuse
}

/// `traced` (from [`lineage`]) with the entries `reuse` kept added, each entry stamped with
/// the md5 of its compiled SQL and the whole with `catalog_md5`; the nodes in unique_id
/// order, so the file is the same whether or not entries were reused.
pub fn with_reused(mut traced: Value, reuse: Reuse, catalog_md5: &str) -> Value {
    let mut nodes: BTreeMap<String, Value> = match traced["nodes"].take() {
        Value::Object(m) => m.into_iter().collect(),
        _ => BTreeMap::new(),
    };
    nodes.extend(reuse.reused);
    for (id, node) in nodes.iter_mut() {
        if let Some(md5) = reuse.sql_md5.get(id) {
            node["compiled_sql_md5"] = Value::String(md5.clone());
        }
    }
    traced["nodes"] = json!(nodes);
    traced["catalog_columns_md5"] = Value::String(catalog_md5.to_string());
    traced
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(sql_ast: Value, relations: &[(&str, &str, &[&str])]) -> Columns {
        let map: HashMap<String, (String, Vec<String>)> = relations
            .iter()
            .map(|(key, id, cols)| {
                (
                    key.to_string(),
                    (id.to_string(), cols.iter().map(|c| c.to_string()).collect()),
                )
            })
            .collect();
        Tracer { relations: &map }.query(&sql_ast, &HashMap::new())
    }

    #[test]
    fn columns_are_traced_through_ctes_stars_and_expressions() {
        let adapter = Adapter::open(None).unwrap();
        let sql = "with a as (select id, amount * 2 as dbl from main.orders o) \
                   select a.id as order_id, dbl, upper(c.name) as nm, c.* exclude (name) from a join db.main.customers c using (id)";
        let (_, rows) = adapter
            .query_rows(&format!(
                "select json_serialize_sql('{}')",
                sql.replace('\'', "''")
            ))
            .unwrap();
        let ast: Value = serde_json::from_str(&rows[0][0].to_string()).unwrap();
        let cols = trace(
            ast["statements"][0]["node"].clone(),
            &[
                ("main.orders", "model.p.orders", &["id", "amount"]),
                ("db.main.customers", "seed.p.customers", &["id", "name", "city"]),
            ],
        );
        let shown: Vec<(String, Value)> = cols.iter().map(|(n, t)| (n.clone(), column_json(n, t))).collect();
        assert_eq!(
            shown[0],
            (
                "order_id".into(),
                json!({"kind": "renamed", "from": [{"node": "model.p.orders", "column": "id"}]})
            )
        );
        assert_eq!(
            shown[1],
            (
                "dbl".into(),
                json!({"kind": "transformed", "from": [{"node": "model.p.orders", "column": "amount"}]})
            )
        );
        assert_eq!(
            shown[2],
            (
                "nm".into(),
                json!({"kind": "transformed", "from": [{"node": "seed.p.customers", "column": "name"}]})
            )
        );
        assert_eq!(shown[3].0, "id");
        assert_eq!(
            shown[4],
            (
                "city".into(),
                json!({"kind": "passed through", "from": [{"node": "seed.p.customers", "column": "city"}]})
            )
        );
        assert_eq!(shown.len(), 5, "{shown:?}");
        let unknown = trace(
            serde_json::from_str::<Value>(
                &adapter
                    .query_rows("select json_serialize_sql('select * from elsewhere.t')")
                    .unwrap()
                    .1[0][0]
                    .to_string(),
            )
            .unwrap()["statements"][0]["node"]
                .clone(),
            &[],
        );
        assert_eq!(
            unknown[0].1.untraced.as_deref(),
            Some("`elsewhere.t` is not a relation of the project's catalog")
        );
    }
}
