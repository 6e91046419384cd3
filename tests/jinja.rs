//! Jinja2 as dbt configures it, differentially: every case of `tests/jinja/cases.jsonl` (a
//! template and what dbt-core 1.11's own Jinja2 environment renders for it, recorded by
//! `scripts/jinja_parity/record.py`: printing of every value type, every filter and test dbt
//! users use on each value, operators between pairs of values, whitespace control, loops, `do`,
//! `set` blocks, namespaces, macros with defaults, varargs, kwargs and `caller`) is rendered with
//! Mallard's environment and compared. A case that raises is `!error` on either side (which
//! error is not compared). A case that begins with macro definitions is rendered as dbt renders
//! a node calling the macros of a macro file: the definitions become `macros/case.sql`, the rest
//! is the node's text.
//!
//! The differences still open are listed in `tests/jinja/known_differences.jsonl`, one per line
//! as `{"template": ..., "reason": ...}`: why Mallard's output differs (most are minijinja's
//! operators, which Mallard cannot change: ordering values of different kinds, division by zero,
//! `in` of a non-string in a string, all of which dbt answers with an error). The test fails
//! when a case differs that is not listed (a regression) and when a listed one no longer differs
//! (progress: shorten the list); `MALLARD_JINJA_BLESS=1` rewrites the list from this run,
//! `MALLARD_JINJA_DUMP=FILE` writes each differing case with both outputs, one JSON array per
//! line. It prints the count: `jinja: N of M cases differ from dbt`.

mod common;

use std::path::Path;
use std::sync::Arc;

use mallard::templating::{environment, render, NodeContext, RenderInput};

#[derive(serde::Deserialize)]
struct Case {
    template: String,
    output: String,
}

/// What Mallard renders for `template`, `!error` when it raises (with the error's message when
/// `MALLARD_JINJA_ERRORS` is set, to see why).
fn mallard_render(env: &minijinja::Environment<'static>, template: &str) -> String {
    let input = RenderInput {
        file: "models/case.sql",
        source: template,
        this: None,
        model: serde_json::json!({}),
        extra: None,
    };
    let node = NodeContext::parse_phase(Arc::new(serde_json::Map::new()), "main", "db");
    match render(env, &input, node) {
        Ok((out, _)) => out,
        Err(e) if std::env::var_os("MALLARD_JINJA_ERRORS").is_some() => format!("!error {}", e.message),
        Err(_) => "!error".to_string(),
    }
}

/// `(definitions, rest)` of a case that begins with `{% macro`, split after its last
/// `{% endmacro %}`; `None` for other cases.
fn split_macros(template: &str) -> Option<(&str, &str)> {
    if !template.starts_with("{% macro") {
        return None;
    }
    let end = template.rfind("endmacro")?;
    let close = end + template[end..].find("%}")? + 2;
    Some(template.split_at(close))
}

#[test]
fn jinja2_as_dbt_configures_it() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/jinja");
    let cases: Vec<Case> = common::known::read_jsonl(&dir.join("cases.jsonl"));
    assert!(
        cases.len() > 1000,
        "tests/jinja/cases.jsonl holds the recorded cases"
    );
    let env = environment(&[], serde_json::json!({})).expect("environment");
    let mut differing = Vec::new();
    for case in &cases {
        let got = match split_macros(&case.template) {
            Some((definitions, rest)) => {
                let macros = [("macros/case.sql".to_string(), definitions.to_string())];
                match environment(&macros, serde_json::json!({})) {
                    Ok(env) => mallard_render(&env, rest),
                    Err(_) => "!error".to_string(),
                }
            }
            None => mallard_render(&env, &case.template),
        };
        let both_raise = got.starts_with("!error") && case.output == "!error";
        if got != case.output && !both_raise {
            differing.push((case.template.clone(), got, case.output.clone()));
        }
    }
    eprintln!(
        "jinja: {} of {} cases differ from dbt",
        differing.len(),
        cases.len()
    );
    if let Some(path) = std::env::var_os("MALLARD_JINJA_DUMP") {
        let text: String = differing
            .iter()
            .map(|d| serde_json::to_string(d).unwrap() + "\n")
            .collect();
        std::fs::write(path, text).unwrap();
    }
    let shown: Vec<(String, String)> = differing
        .iter()
        .map(|(t, got, want)| (t.clone(), format!("{t:?}: Mallard {got:?}, dbt {want:?}")))
        .collect();
    common::known::check(
        &dir.join("known_differences.jsonl"),
        "template",
        &shown,
        "MALLARD_JINJA_BLESS",
        "Jinja differences from dbt",
    );
}
