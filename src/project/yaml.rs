//! Rendering the Jinja in YAML values (`dbt_project.yml`, `profiles.yml`, `packages.yml`):
//! `env_var()`, `var()` and `target` over the values, as dbt renders them.

use serde_json::{Map, Value};

use crate::config::yaml::{native_value, value_location};
use crate::error::{Diagnostic, Location};

/// Renders every string value of `doc` that contains `{{` or `{%` with a Jinja environment
/// that knows `env_var(name, default)`, `var(name, default)` (over `ctx.vars`) and `target`,
/// as dbt does for `dbt_project.yml` and `profiles.yml` (but `vars:`, rendered when `var()` is
/// called). Like dbt's native
/// rendering, a result that reads as a Python literal becomes that value (`False` a boolean,
/// `3` a number, `['a', 'b']` a list; see [`native_value`]). Keys holding hooks (`pre-hook`,
/// `post-hook`, `on-run-start`, `on-run-end`) are left alone: they are rendered when they run.
///
/// Errors: a Jinja error, a missing environment variable or var, at the line of the value.
pub fn render_config_values(
    file: &str,
    text: &str,
    doc: Map<String, Value>,
    ctx: &crate::config::ConfigContext,
) -> Result<Map<String, Value>, Diagnostic> {
    // dbt reads secret variables only in profiles.yml and packages.yml.
    let name = std::path::Path::new(file)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(file);
    let env = if matches!(name, "profiles.yml" | "packages.yml" | "dependencies.yml") {
        crate::templating::secrets_config_environment(ctx)
    } else {
        crate::templating::config_environment(ctx)
    };
    let mut out = Map::new();
    for (k, v) in doc {
        let v = render_value(&env, file, text, &k, v)?;
        out.insert(k, v);
    }
    Ok(out)
}

fn render_value(
    env: &minijinja::Environment<'static>,
    file: &str,
    text: &str,
    key: &str,
    value: Value,
) -> Result<Value, Diagnostic> {
    const RUNTIME_KEYS: &[&str] = &[
        "pre-hook",
        "post-hook",
        "pre_hook",
        "post_hook",
        "on-run-start",
        "on-run-end",
        // Project vars: dbt renders a var's Jinja when `var()` is called, in the calling
        // node's context (see `templating::functions::var_fn`).
        "vars",
    ];
    if RUNTIME_KEYS.contains(&key.trim_start_matches('+')) {
        return Ok(value);
    }
    Ok(match value {
        Value::String(s) if s.contains("{{") || s.contains("{%") => {
            let rendered = env.render_str(&s, ()).map_err(|e| {
                let loc = value_location(file, text, s.lines().next().unwrap_or(&s))
                    .unwrap_or_else(|| Location::in_source(file, text, 1, None));
                Diagnostic::new(format!(
                    "cannot render `{key}` in `{file}`: {}",
                    e.detail().unwrap_or(&e.to_string())
                ))
                .at(loc)
            })?;
            native_value(&rendered)
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| render_value(env, file, text, key, v))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let v = render_value(env, file, text, &k, v)?;
                out.insert(k, v);
            }
            Value::Object(out)
        }
        other => other,
    })
}
