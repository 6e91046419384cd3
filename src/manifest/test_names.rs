//! dbt's names for generic data tests, so that `unique_id`s, `ls` output and compiled file
//! names match dbt's: `not_null_orders_id`, `accepted_values_orders_status__a__b`, and
//! for names of 64 characters or more, a 30-character prefix plus an MD5 of the full name.
//! Source: dbt-core `parser/generic_test_builders.py`, `synthesize_generic_test_names`.

use md5::{Digest, Md5};
use serde_json::{Map, Value};

/// `(short_name, full_name)` for test `test_type` on `target_name` with `kwargs`. The full
/// name is the node's name; the short name, under 64 characters, names its compiled file.
pub fn synthesize(test_type: &str, target_name: &str, kwargs: &Map<String, Value>) -> (String, String) {
    let mut keys: Vec<&String> = kwargs.keys().filter(|k| k.as_str() != "model").collect();
    keys.sort();
    let mut flat = Vec::new();
    for key in keys {
        match &kwargs[key] {
            Value::Object(m) => flat.extend(m.values().map(python_str)),
            Value::Array(items) => flat.extend(items.iter().map(python_str)),
            other => flat.push(python_str(other)),
        }
    }
    let clean: Vec<String> = flat.iter().map(|s| clean(s)).collect();
    let identifier = format!("{test_type}_{target_name}");
    let full = format!("{identifier}_{}", clean.join("__"));
    if full.len() >= 64 {
        let prefix: String = identifier.chars().take(30).collect();
        (format!("{prefix}_{}", md5_hex(&full)), full)
    } else {
        (full.clone(), full)
    }
}

/// The MD5 of `text`, as 32 lower-case hex digits.
pub fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// dbt's 10-character suffix of a generic test's `unique_id`: the last 10 hex digits of the
/// MD5 of the test's name followed by Python's `repr` of its `test_metadata` (`name`,
/// `kwargs` with `model`, `namespace`) with keys sorted and every leaf turned into `str()`.
/// Source: dbt-core `parser/schema_generic_tests.py`, `create_test_node`.
pub fn unique_id_hash(name: &str, metadata: &Value) -> String {
    let hex = md5_hex(&format!("{name}{}", hashable_repr(metadata)));
    hex[hex.len() - 10..].to_string()
}

/// `repr()` of dbt's `get_hashable_md(value)`.
fn hashable_repr(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}: {}", python_repr(k), hashable_repr(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(hashable_repr).collect::<Vec<_>>().join(", ")
        ),
        other => python_repr(&python_str(other)),
    }
}

/// Python's `repr()` of a string (see [`crate::templating::pyrepr::string_repr`]).
fn python_repr(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    crate::templating::pyrepr::string_repr(s, &mut out);
    out
}

/// Python's `str()` of a YAML value, which is what dbt puts in the name.
fn python_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

/// Runs of characters outside `[0-9a-zA-Z_]` become one `_`.
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_run = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_match_dbt() {
        let kw = json!({"column_name": "id"});
        assert_eq!(
            synthesize("not_null", "orders", kw.as_object().unwrap()).1,
            "not_null_orders_id"
        );
        let kw = json!({"column_name": "status", "values": ["placed", "shipped"]});
        assert_eq!(
            synthesize("accepted_values", "orders", kw.as_object().unwrap()).1,
            "accepted_values_orders_status__placed__shipped"
        );
        let kw = json!({"column_name": "customer_id", "to": "ref('customers')", "field": "id"});
        assert_eq!(
            synthesize("relationships", "orders", kw.as_object().unwrap()).1,
            "relationships_orders_customer_id__id__ref_customers_"
        );
    }

    #[test]
    fn long_names_are_shortened_with_a_hash() {
        let kw = json!({"column_name": "a_rather_long_column_name", "values": ["one", "two", "three"]});
        let (short, full) = synthesize("accepted_values", "a_long_model_name", kw.as_object().unwrap());
        assert!(full.len() >= 64);
        assert_eq!(
            short,
            format!("accepted_values_a_long_model_n_{}", md5_hex(&full))
        );
    }
}
