//! Model contracts (`contract: {enforced: true}`): before a model is built, the columns its
//! query gives (names and DuckDB types) must be exactly the columns its property YAML declares
//! with a `data_type`, as dbt's `assert_columns_equivalent` checks them. Declared types are
//! normalised by DuckDB itself (`int` is `INTEGER`, `decimal(10, 2)` is `DECIMAL(10,2)`), as
//! dbt compares them after asking the database for an empty query's schema.
//!
//! Source: dbt-core `macros/relations/column/columns_spec_ddl.sql` and `ContractError`.

use crate::adapter::{Adapter, Column};
use crate::error::Diagnostic;
use crate::manifest::Node;
use crate::relation::quote;

/// Whether `node` has an enforced contract.
pub fn enforced(node: &Node) -> bool {
    node.config
        .0
        .get("contract")
        .and_then(|c| c.get("enforced"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

/// The column definitions of a table built under `node`'s enforced contract: each declared
/// column with its `data_type` and the constraints DuckDB enforces (`not_null`, `unique`,
/// `primary_key`, `check`), as dbt-duckdb writes them; with the column names, in order, for
/// the insert. Other constraints (`foreign_key`, `custom`) are recorded in the manifest only.
pub fn table_definition(node: &Node) -> (String, Vec<String>) {
    let mut defs = Vec::new();
    let mut names = Vec::new();
    for c in &node.columns {
        let mut def = format!(
            "{} {}",
            quote(&c.name),
            c.data_type.as_deref().unwrap_or("varchar")
        );
        for con in c
            .properties
            .get("constraints")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
        {
            match con.get("type").and_then(serde_json::Value::as_str) {
                Some("not_null") => def.push_str(" not null"),
                Some("unique") => def.push_str(" unique"),
                Some("primary_key") => def.push_str(" primary key"),
                Some("check") => {
                    if let Some(expr) = con.get("expression").and_then(serde_json::Value::as_str) {
                        def.push_str(&format!(" check ({expr})"));
                    }
                }
                _ => {}
            }
        }
        defs.push(def);
        names.push(quote(&c.name));
    }
    (defs.join(",\n    "), names)
}

/// Checks `sql` (the compiled model) against `node`'s declared columns.
///
/// Errors: dbt's contract error: no columns declared; a declared column without a
/// `data_type`, or one DuckDB does not know; and, with a table of each mismatch (a column
/// missing in the definition or in the contract, or of another type), any difference.
pub fn check(adapter: &Adapter, node: &Node, sql: &str) -> Result<(), Diagnostic> {
    if node.columns.is_empty() {
        return Err(Diagnostic::new(
            "This model has an enforced contract, and its 'columns' specification is missing",
        ));
    }
    let mut casts = Vec::with_capacity(node.columns.len());
    for c in &node.columns {
        let Some(data_type) = c.data_type.as_deref().filter(|t| !t.trim().is_empty()) else {
            return Err(Diagnostic::new(format!(
                "column `{}` of the enforced contract has no `data_type`",
                c.name
            ))
            .help("give every column of a model with an enforced contract its `data_type`"));
        };
        casts.push(format!("cast(null as {data_type}) as {}", quote(&c.name)));
    }
    let declared = adapter
        .columns(&format!("select {}", casts.join(", ")))
        .map_err(|e| Diagnostic::new(format!("the contract's data types are not all DuckDB types: {e}")))?;
    let body = sql.trim_end().trim_end_matches(';');
    let defined = adapter
        .columns(&format!("select * from (\n{body}\n) as dbt_contract_query"))
        .map_err(|e| {
            Diagnostic::new(format!(
                "cannot read the model's columns to check its contract: {e}"
            ))
        })?;
    let mismatches = mismatches(&defined, &declared);
    if mismatches.is_empty() {
        return Ok(());
    }
    Err(Diagnostic::new(format!(
        "This model has an enforced contract that failed.\nPlease ensure the name, data_type, and number of columns in your contract match the columns in your model's definition.\n\n{}",
        table(&mismatches)
    )))
}

/// dbt's mismatch rows `(column_name, definition_type, contract_type, mismatch_reason)`,
/// sorted by column name; empty when the columns agree in number, names and types.
fn mismatches(defined: &[Column], declared: &[Column]) -> Vec<[String; 4]> {
    let same = defined.len() == declared.len()
        && defined.iter().all(|d| {
            declared
                .iter()
                .any(|c| c.name == d.name && c.data_type == d.data_type)
        });
    if same {
        return Vec::new();
    }
    let mut rows = Vec::new();
    for d in defined {
        match declared.iter().find(|c| c.name == d.name) {
            Some(c) if c.data_type == d.data_type => {}
            Some(c) => rows.push([
                d.name.clone(),
                d.data_type.clone(),
                c.data_type.clone(),
                "data type mismatch".into(),
            ]),
            None => rows.push([
                d.name.clone(),
                d.data_type.clone(),
                String::new(),
                "missing in contract".into(),
            ]),
        }
    }
    for c in declared {
        if !defined.iter().any(|d| d.name == c.name) {
            rows.push([
                c.name.clone(),
                String::new(),
                c.data_type.clone(),
                "missing in definition".into(),
            ]);
        }
    }
    rows.sort_by(|a, b| a[0].cmp(&b[0]));
    rows
}

/// The rows as agate prints a table: `| a | b |` with a dashed line under the header.
fn table(rows: &[[String; 4]]) -> String {
    let header = [
        "column_name",
        "definition_type",
        "contract_type",
        "mismatch_reason",
    ]
    .map(String::from);
    crate::log::text_table(&header, rows.iter().map(|r| r.to_vec()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, data_type: &str) -> Column {
        Column {
            name: name.into(),
            data_type: data_type.into(),
        }
    }

    #[test]
    fn mismatches_are_listed_as_dbt_lists_them() {
        let defined = [col("id", "INTEGER"), col("name", "VARCHAR"), col("extra", "DATE")];
        let declared = [
            col("id", "BIGINT"),
            col("name", "VARCHAR"),
            col("amount", "DOUBLE"),
        ];
        let rows = mismatches(&defined, &declared);
        assert_eq!(
            table(&rows),
            "| column_name | definition_type | contract_type | mismatch_reason       |\n\
             | ----------- | --------------- | ------------- | --------------------- |\n\
             | amount      |                 | DOUBLE        | missing in definition |\n\
             | extra       | DATE            |               | missing in contract   |\n\
             | id          | INTEGER         | BIGINT        | data type mismatch    |"
        );
        assert!(mismatches(&defined[..2], &[col("name", "VARCHAR"), col("id", "INTEGER")]).is_empty());
    }
}
