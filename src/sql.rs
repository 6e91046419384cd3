//! SQL text that more than one layer composes: ephemeral models injected as CTEs (compiled
//! models, data tests and unit tests all take them), and string literals.

/// `text` as a SQL string literal: in single quotes, each quote inside doubled
/// (`it's` -> `'it''s'`).
pub fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `sql` with `ctes` (name, SQL) in front, as dbt injects ephemeral models: after the `with` of
/// a statement that starts with one (`with a as (...)` becomes `with __dbt__cte__x as (...), a
/// as (...)`), otherwise in a `with` clause of their own. Leading comments are kept in front.
/// Returns `sql` unchanged for no CTEs.
pub fn inject_ctes(sql: &str, ctes: &[(String, String)]) -> String {
    if ctes.is_empty() {
        return sql.to_string();
    }
    let list = ctes
        .iter()
        .map(|(name, body)| format!("{name} as (\n{body}\n)"))
        .collect::<Vec<_>>()
        .join(", ");
    let start = first_token_start(sql);
    let rest = &sql[start..];
    let starts_with_with = rest.len() >= 4
        && rest[..4].eq_ignore_ascii_case("with")
        && rest[4..].starts_with(|c: char| c.is_whitespace());
    if starts_with_with {
        format!("{}with {list}, {}", &sql[..start], rest[4..].trim_start())
    } else {
        format!("{}with {list}\n{rest}", &sql[..start])
    }
}

/// The byte offset of the first SQL token, after whitespace and `--` or `/* */` comments.
fn first_token_start(sql: &str) -> usize {
    let mut i = 0;
    loop {
        let rest = &sql[i..];
        let trimmed = rest.trim_start();
        i += rest.len() - trimmed.len();
        if let Some(after) = trimmed.strip_prefix("--") {
            i += 2 + after.find('\n').map_or(after.len(), |n| n + 1);
        } else if let Some(after) = trimmed.strip_prefix("/*") {
            i += 2 + after.find("*/").map_or(after.len(), |n| n + 2);
        } else {
            return i;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctes_go_after_an_existing_with_or_in_a_new_one() {
        let ctes = vec![("__dbt__cte__a".to_string(), "select 1 as id".to_string())];
        assert_eq!(
            inject_ctes("-- note\nwith b as (select 2)\nselect * from b", &ctes),
            "-- note\nwith __dbt__cte__a as (\nselect 1 as id\n), b as (select 2)\nselect * from b"
        );
        assert_eq!(
            inject_ctes("\nselect * from __dbt__cte__a", &ctes),
            "\nwith __dbt__cte__a as (\nselect 1 as id\n)\nselect * from __dbt__cte__a"
        );
        assert_eq!(inject_ctes("select 1 as within", &[]), "select 1 as within");
        assert_eq!(
            inject_ctes("withdrawals as w", &ctes),
            "with __dbt__cte__a as (\nselect 1 as id\n)\nwithdrawals as w"
        );
    }
}
