//! Data tests: the SQL of dbt's four generic tests, and the wrapper that turns any test's
//! failing rows into `(failures, should_warn, should_error)`.
//!
//! Source: dbt-core's `include/global_project/macros/generic_test_sql/*.sql` and
//! `materializations/tests/helpers.sql` (`get_test_sql`).

pub mod unit;

use serde_json::{Map, Value};

use crate::adapter::RelationKind;
use crate::config::{FailuresKept, NodeConfig};
use crate::error::Diagnostic;

/// The kind of relation a data test keeps its failing rows in (see
/// [`NodeConfig::stores_failures_as`]), or `None` when it keeps none.
///
/// Errors: a `store_failures_as` other than `table`, `view` or `ephemeral`.
pub fn store_failures_as(config: &NodeConfig) -> Result<Option<RelationKind>, Diagnostic> {
    Ok(config.stores_failures_as()?.map(|kept| match kept {
        FailuresKept::InTable => RelationKind::Table,
        FailuresKept::InView => RelationKind::View,
    }))
}

/// The SQL of generic test `name` that returns the failing rows of `model` (a relation, or
/// a `(select ...) dbt_subquery` when the test has a `where`). `to` is the rendered relation
/// of a relationships test's parent; with `store_failures` a failing row is kept whole where
/// dbt's test keeps it so. Returns `None` for an unknown test name.
pub fn generic_test_sql(
    name: &str,
    kwargs: &Map<String, Value>,
    model: &str,
    to: Option<&str>,
    store_failures: bool,
) -> Option<String> {
    let column = kwargs.get("column_name").and_then(Value::as_str).unwrap_or("");
    Some(match name {
        // A stored failure keeps the whole row, as dbt's `test_not_null` does.
        "not_null" => format!(
            "select {}\nfrom {model}\nwhere {column} is null",
            if store_failures { "*" } else { column }
        ),
        "unique" => format!(
            "select\n    {column} as unique_field,\n    count(*) as n_records\n\nfrom {model}\nwhere {column} is not null\ngroup by {column}\nhaving count(*) > 1"
        ),
        "accepted_values" => {
            let quote = kwargs.get("quote").and_then(Value::as_bool).unwrap_or(true);
            let values: Vec<String> = kwargs
                .get("values")
                .and_then(Value::as_array)
                .map(|vs| vs.iter().map(|v| literal(v, quote)).collect())
                .unwrap_or_default();
            format!(
                "with all_values as (\n    select\n        {column} as value_field,\n        count(*) as n_records\n    from {model}\n    group by {column}\n)\n\nselect *\nfrom all_values\nwhere value_field not in (\n    {}\n)",
                values.join(", ")
            )
        }
        "relationships" => {
            let field = kwargs.get("field").and_then(Value::as_str).unwrap_or("");
            format!(
                "with child as (\n    select {column} as from_field\n    from {model}\n    where {column} is not null\n),\n\nparent as (\n    select {field} as to_field\n    from {}\n)\n\nselect\n    from_field\n\nfrom child\nleft join parent\n    on child.from_field = parent.to_field\n\nwhere parent.to_field is null",
                to.unwrap_or("")
            )
        }
        _ => return None,
    })
}

/// A value of `accepted_values` as SQL: quoted as a string when `quote`, as written otherwise.
fn literal(v: &Value, quote: bool) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if quote {
        crate::sql::string_literal(&text)
    } else {
        text
    }
}

/// `relation`, or `(select * from relation where <where>) dbt_subquery` when the test's
/// config has a `where`, as dbt substitutes the tested model.
pub fn model_with_where(relation: &str, config: &NodeConfig) -> String {
    match config.get_str("where") {
        Some(w) if !w.trim().is_empty() => format!("(select * from {relation} where {w}) dbt_subquery"),
        _ => relation.to_string(),
    }
}

/// Wraps a test's failing-rows SQL into one row of `(failures, should_warn, should_error)`,
/// with the config's `fail_calc` (default `count(*)`), `warn_if` and `error_if` (default
/// `!= 0`) and `limit`.
pub fn wrap_test_sql(sql: &str, config: &NodeConfig) -> String {
    let fail_calc = config.get_str("fail_calc").unwrap_or("count(*)");
    let warn_if = config.get_str("warn_if").unwrap_or("!= 0");
    let error_if = config.get_str("error_if").unwrap_or("!= 0");
    let limit = config
        .0
        .get("limit")
        .and_then(Value::as_u64)
        .map(|l| format!("\n    limit {l}"))
        .unwrap_or_default();
    let body = sql.trim_end().trim_end_matches(';');
    format!(
        "select\n    {fail_calc} as failures,\n    ({fail_calc}) {warn_if} as should_warn,\n    ({fail_calc}) {error_if} as should_error\nfrom (\n{body}{limit}\n) dbt_internal_test"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn store_failures_as_wins_over_store_failures() {
        let config = |v: serde_json::Value| NodeConfig(v.as_object().unwrap().clone());
        assert_eq!(store_failures_as(&config(json!({}))).unwrap(), None);
        assert_eq!(
            store_failures_as(&config(json!({"store_failures": true}))).unwrap(),
            Some(RelationKind::Table)
        );
        assert_eq!(
            store_failures_as(&config(
                json!({"store_failures": false, "store_failures_as": "view"})
            ))
            .unwrap(),
            Some(RelationKind::View)
        );
        assert_eq!(
            store_failures_as(&config(
                json!({"store_failures": true, "store_failures_as": "ephemeral"})
            ))
            .unwrap(),
            None
        );
        let err = store_failures_as(&config(json!({"store_failures_as": "tabel"}))).unwrap_err();
        assert!(
            err.message.contains("`store_failures_as: tabel`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn accepted_values_quotes_unless_told_not_to() {
        let kw = json!({"column_name": "s", "values": ["a", "o'k"]});
        let sql = generic_test_sql("accepted_values", kw.as_object().unwrap(), "t", None, false).unwrap();
        assert!(sql.contains("'a', 'o''k'"), "{sql}");
        let kw = json!({"column_name": "n", "values": [1, 2], "quote": false});
        let sql = generic_test_sql("accepted_values", kw.as_object().unwrap(), "t", None, false).unwrap();
        assert!(sql.contains("not in (\n    1, 2\n)"), "{sql}");
    }

    #[test]
    fn where_wraps_the_model() {
        let mut c = NodeConfig::default();
        c.merge(json!({"where": "x > 1"}).as_object().unwrap());
        assert_eq!(
            model_with_where("t", &c),
            "(select * from t where x > 1) dbt_subquery"
        );
        assert_eq!(model_with_where("t", &NodeConfig::default()), "t");
    }
}
