//! dbt's context functions beyond `ref`/`source`/`config`: `flags`, `invocation_id`, `zip`,
//! `set`, `set_strict`, `tojson`, `fromjson`, `toyaml`, `fromyaml`, `local_md5`, `print`,
//! `load_relation`, `api`, `invocation_args_dict`, `dbt_metadata_envs`, and the `builtins` object
//! with `is_incremental()` (dbt-core's `context/base.py` and `providers.py` name them).

use std::sync::{Arc, OnceLock};

use minijinja::value::{Kwargs, Object, Rest, Value};
use minijinja::{Environment, Error, ErrorKind, State};

use super::mutable::MutableList;
use crate::config::run::RunSettings;

/// A random id for this process's invocation, in UUID 4 form (dbt's `invocation_id`).
pub fn invocation_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        use rand::{RngCore, SeedableRng};
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ (u64::from(std::process::id()) << 32);
        let mut b = [0u8; 16];
        rand_chacha::ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    })
}

/// `flags`: dbt's invocation flags, upper-case attributes.
#[derive(Debug)]
struct FlagsObject(Arc<RunSettings>);

impl Object for FlagsObject {
    /// Truthy, as every Python object of its kind is.
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    /// The invocation's settings in upper case (`flags.FULL_REFRESH`, see [`setting`]), and
    /// dbt's other flags with the values of a default invocation.
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        let upper = !key.chars().any(char::is_lowercase);
        if let Some(v) = setting(&self.0, &key.to_lowercase()).filter(|_| upper) {
            return Some(v);
        }
        Some(match key {
            "STORE_FAILURES"
            | "WARN_ERROR"
            | "DEBUG"
            | "USE_COLORS"
            | "PARTIAL_PARSE"
            | "STATIC_PARSER"
            | "WRITE_JSON"
            | "INTROSPECT"
            | "SEND_ANONYMOUS_USAGE_STATS"
            | "PRINTER_WIDTH" => Value::from(false),
            "LOG_FORMAT" => Value::from("default"),
            _ => return None,
        })
    }
}

/// The invocation's setting `key` (`which`, `full_refresh`, `fail_fast`, `empty`,
/// `invocation_command`, as `invocation_args_dict` names them); `None` for other keys.
fn setting(f: &RunSettings, key: &str) -> Option<Value> {
    Some(match key {
        "which" => Value::from(f.which.as_str()),
        "full_refresh" => Value::from(f.full_refresh),
        "fail_fast" => Value::from(f.fail_fast),
        "empty" => Value::from(f.empty),
        "invocation_command" => Value::from(format!("dbt {}", f.which)),
        _ => return None,
    })
}

/// `invocation_args_dict`: dbt's arguments of this invocation as a dict (`which`,
/// `full_refresh`, `fail_fast`, `empty`, `invocation_command`), read when used.
#[derive(Debug)]
struct InvocationArgs(Arc<RunSettings>);

impl InvocationArgs {
    const KEYS: &'static [&'static str] = &[
        "which",
        "full_refresh",
        "fail_fast",
        "empty",
        "invocation_command",
    ];
}

impl Object for InvocationArgs {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        setting(&self.0, key.as_str()?)
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Str(Self::KEYS)
    }
}

/// Sets `flags` and `invocation_args_dict` of `env` to report `settings`.
pub fn add_flags(env: &mut Environment<'static>, settings: Arc<RunSettings>) {
    env.add_global("flags", Value::from_object(FlagsObject(settings.clone())));
    env.add_global(
        "invocation_args_dict",
        Value::from_object(InvocationArgs(settings)),
    );
}

/// Adds the functions and globals of this module to `env` (`flags` of a command without
/// flags, until [`add_flags`] sets the invocation's).
pub fn add_to(env: &mut Environment<'static>) {
    add_flags(env, Arc::default());
    // dbt's `dbt_metadata_envs`: each `DBT_ENV_CUSTOM_ENV_<NAME>` variable as `NAME: value`.
    let custom_envs: std::collections::BTreeMap<String, String> = std::env::vars()
        .filter_map(|(k, v)| Some((k.strip_prefix("DBT_ENV_CUSTOM_ENV_")?.to_string(), v)))
        .collect();
    env.add_global("dbt_metadata_envs", Value::from_serialize(custom_envs));
    env.add_global("invocation_id", Value::from(invocation_id()));
    env.add_global("api", Value::from_object(super::api::Api));
    env.add_function("load_relation", |state: &State, relation: Value| {
        super::adapter_object::load_relation(state, &relation)
    });
    env.add_function("zip", |lists: Rest<Value>| -> Result<Value, Error> {
        let columns: Vec<Vec<Value>> = lists
            .iter()
            .map(|l| l.try_iter().map(Iterator::collect))
            .collect::<Result<_, _>>()?;
        let n = columns.iter().map(Vec::len).min().unwrap_or(0);
        Ok(Value::from(
            (0..n)
                .map(|i| Value::from(columns.iter().map(|c| c[i].clone()).collect::<Vec<_>>()))
                .collect::<Vec<_>>(),
        ))
    });
    // Python's `set`: here the distinct items, sorted, so that two sets of the same items
    // compare equal (`==`) whatever order they were built in; Python's own order of strings
    // varies from run to run. `.add()`, `.union()`, `.difference()`, `.intersection()`,
    // `.issubset()` work as on a set.
    let distinct = |items: Value| -> Result<Value, Error> {
        let mut out: Vec<Value> = items.try_iter()?.collect();
        out.sort();
        out.dedup();
        Ok(Value::from_object(MutableList::from_items(out)))
    };
    env.add_function("set", move |items: Option<Value>| match items {
        Some(v) if !v.is_none() && !v.is_undefined() => distinct(v),
        _ => Ok(Value::from_object(MutableList::default())),
    });
    env.add_function("set_strict", distinct);
    add_json_and_yaml(env);
    env.add_filter("round", round);
    // dbt's filters that turn rendered text into values: in the text environment dbt renders
    // SQL with, each passes its value through unchanged (`TEXT_FILTERS` of dbt_common); the
    // text is read as a value afterwards where dbt renders natively (YAML, configs).
    for name in ["as_native", "as_bool", "as_number", "as_text"] {
        env.add_filter(name, |v: Value| v);
    }
    env.add_function("local_md5", |text: String| -> Value {
        use md5::{Digest, Md5};
        let digest = Md5::digest(text.as_bytes());
        Value::from(digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
    });
    env.add_function("print", |args: Rest<Value>| -> Value {
        let text: Vec<String> = args.iter().map(|v| v.to_string()).collect();
        println!("{}", crate::log::scrub(&text.join(" ")));
        Value::from("")
    });
}

/// dbt's `tojson` (function and filter), `fromjson`, `toyaml` and `fromyaml`.
fn add_json_and_yaml(env: &mut Environment<'static>) {
    env.add_function("tojson", |value: Value, kwargs: Kwargs| -> Result<Value, Error> {
        let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
        kwargs.assert_all_used()?;
        let json: serde_json::Value = serde_json::to_value(&value)
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("tojson: {e}")))?;
        Ok(Value::from(python_json(&json, sort_keys.unwrap_or(false))))
    });
    // Jinja2's `|tojson` filter, as dbt has it: `json.dumps` with sorted keys and Python's
    // separators, then `<`, `>`, `&` and `'` escaped for HTML (minijinja's is compact).
    env.add_filter(
        "tojson",
        |value: Value, indent: Option<usize>, kwargs: Kwargs| -> Result<Value, Error> {
            let indent = indent.or(kwargs.get("indent")?);
            kwargs.assert_all_used()?;
            let json: serde_json::Value = serde_json::to_value(&value)
                .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("tojson: {e}")))?;
            let text = python_json_indented(&json, true, indent, 0)
                .replace('<', "\\u003c")
                .replace('>', "\\u003e")
                .replace('&', "\\u0026")
                .replace('\'', "\\u0027");
            Ok(Value::from_safe_string(text))
        },
    );
    env.add_function(
        "fromjson",
        |text: String, default: Option<Value>| -> Result<Value, Error> {
            // Python's json.loads gives dicts and lists that `.update()` and `.append()` change.
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(v) => Ok(super::mutable::mutable_value(&v)),
                Err(e) => {
                    default.ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("fromjson: {e}")))
                }
            }
        },
    );
    env.add_function("toyaml", |value: Value| -> Result<Value, Error> {
        serde_yaml::to_string(&value)
            .map(Value::from)
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("toyaml: {e}")))
    });
    env.add_function(
        "fromyaml",
        |text: String, default: Option<Value>| -> Result<Value, Error> {
            match serde_yaml::from_str::<serde_json::Value>(&text) {
                Ok(v) => Ok(super::mutable::mutable_value(&v)),
                Err(e) => {
                    default.ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("fromyaml: {e}")))
                }
            }
        },
    );
}

/// Jinja2's `round(value, precision=0, method='common')` filter: `common` is Python's
/// `round()` (half to even; an integer or boolean stays an integer), `ceil` and `floor` give a
/// float (`math.floor(value * 10**precision) / 10**precision`), as Jinja2 computes them.
///
/// Errors: a value that is not a number; a method other than those three.
fn round(value: Value, precision: Option<i32>, method: Option<String>) -> Result<Value, Error> {
    let method = method.as_deref().unwrap_or("common");
    let integer = value.is_integer() || value.kind() == minijinja::value::ValueKind::Bool;
    if method == "common" && integer {
        return Ok(Value::from(
            i64::try_from(value.clone()).unwrap_or(i64::from(value.is_true())),
        ));
    }
    let value = match value.kind() {
        minijinja::value::ValueKind::Bool => f64::from(u8::from(value.is_true())),
        _ => f64::try_from(value)?,
    };
    let scale = 10f64.powi(precision.unwrap_or(0));
    let x = value * scale;
    let rounded = match method {
        "common" => x.round_ties_even(),
        "ceil" => x.ceil(),
        "floor" => x.floor(),
        other => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("round: method must be common, ceil or floor, not `{other}`"),
            ))
        }
    };
    Ok(Value::from(rounded / scale))
}

/// `value` as Python's `json.dumps` writes it: `", "` and `": "` separators, non-ASCII
/// escaped; keys sorted with `sort_keys`.
pub fn python_json(value: &serde_json::Value, sort_keys: bool) -> String {
    python_json_indented(value, sort_keys, None, 0)
}

/// [`python_json`] with Python's `indent=n`: each item on a line of its own, `n` spaces deeper
/// per level, `,` ending the line; `None` writes one line.
pub fn python_json_indented(
    value: &serde_json::Value,
    sort_keys: bool,
    indent: Option<usize>,
    level: usize,
) -> String {
    use serde_json::Value as J;
    let (open, separator, close) = match indent {
        Some(n) => (
            format!("\n{}", " ".repeat(n * (level + 1))),
            format!(",\n{}", " ".repeat(n * (level + 1))),
            format!("\n{}", " ".repeat(n * level)),
        ),
        None => (String::new(), ", ".to_string(), String::new()),
    };
    match value {
        J::Array(items) if !items.is_empty() => format!(
            "[{open}{}{close}]",
            items
                .iter()
                .map(|v| python_json_indented(v, sort_keys, indent, level + 1))
                .collect::<Vec<_>>()
                .join(&separator)
        ),
        J::Object(map) if !map.is_empty() => {
            let mut entries: Vec<(&String, &J)> = map.iter().collect();
            if sort_keys {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            format!(
                "{{{open}{}{close}}}",
                entries
                    .iter()
                    .map(|(k, v)| {
                        let v = python_json_indented(v, sort_keys, indent, level + 1);
                        format!("{}: {v}", ascii_json_string(k))
                    })
                    .collect::<Vec<_>>()
                    .join(&separator)
            )
        }
        J::Array(_) => "[]".into(),
        J::Object(_) => "{}".into(),
        J::String(s) => ascii_json_string(s),
        other => other.to_string(),
    }
}

fn ascii_json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `is_incremental()`: true only in the run phase of an incremental model whose table exists,
/// outside a full refresh (see [`NodeContext::is_incremental`]).
pub(super) fn is_incremental_fn(state: &State) -> Result<bool, Error> {
    Ok(super::node_context(state)?.is_incremental)
}

/// dbt's `builtins`: `ref`, `source` and `is_incremental` as dbt defines them, callable as
/// `builtins.ref('m')` where a project's macro of the same name overrides the global; and
/// `builtins.ref.config`, the project's runtime config as dbt exposes it there (packages such
/// as elementary read `config.dependencies[<package>].version`).
#[derive(Debug, Default)]
pub(crate) struct Builtins {
    runtime_config: Value,
}

/// The `builtins` global with `builtins.ref.config` set to `runtime_config`
/// (`{project_name, dependencies: {<package>: {project_name, version}}}`).
pub fn builtins_with_runtime_config(runtime_config: &serde_json::Value) -> Value {
    Value::from_object(Builtins {
        runtime_config: Value::from_serialize(runtime_config),
    })
}

/// `builtins.ref`: dbt's `ref`, with the runtime config as its `config` attribute.
#[derive(Debug)]
struct RefWithConfig(Value);

impl Object for RefWithConfig {
    fn call(self: &Arc<Self>, state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        Value::from_function(super::functions::ref_fn).call(state, args)
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        (key.as_str()? == "config").then(|| self.0.clone())
    }
}

impl Builtins {
    pub(crate) fn function(name: &str) -> Option<Value> {
        Some(match name {
            "ref" => Value::from_function(super::functions::ref_fn),
            "source" => Value::from_function(super::functions::source_fn),
            "is_incremental" => Value::from_function(is_incremental_fn),
            _ => return None,
        })
    }
}

impl Object for Builtins {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "ref" => Some(Value::from_object(RefWithConfig(self.runtime_config.clone()))),
            name => Builtins::function(name),
        }
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Str(&["ref", "source", "is_incremental"])
    }

    fn call_method(self: &Arc<Self>, state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
        match Builtins::function(method) {
            Some(f) => f.call(state, args),
            None => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}
