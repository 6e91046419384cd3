//! dbt's context functions and objects: `ref`, `source`, `var`, `env_var`, `config` and
//! `exceptions`.

use super::*;

pub(super) fn ref_fn(state: &State, args: Rest<String>, kwargs: Kwargs) -> Result<Value, Error> {
    // dbt's `version` / `v` select a model version.
    let version = match (
        kwargs.get::<Option<Value>>("version")?,
        kwargs.get::<Option<Value>>("v")?,
    ) {
        (Some(v), _) | (None, Some(v)) if !v.is_none() => Some(v.to_string()),
        _ => None,
    };
    kwargs.assert_all_used()?;
    let call = match args.as_slice() {
        [name] => RefCall {
            package: None,
            name: name.clone(),
            version,
        },
        [package, name] => RefCall {
            package: Some(package.clone()),
            name: name.clone(),
            version,
        },
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "ref() takes a model name, or a package and a model name; got {} arguments",
                    args.len()
                ),
            ))
        }
    };
    let node = node_context(state)?;
    match node.phase {
        Phase::Parse => {
            let placeholder = Relation::new(&node.target_database, &node.target_schema, &call.name);
            node.recorded
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .refs
                .push(call);
            Ok(Value::from_object(placeholder))
        }
        Phase::Run => {
            let resolver = resolver(&node)?;
            let relation = resolver.resolve_ref(&call).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("unknown ref `{}`", call.name),
                )
            })?;
            // A microbatch model's batch reads only its window of upstreams with an event_time.
            let relation = match (&node.event_time_window, resolver.ref_event_time(&call)) {
                (Some(window), Some(column)) => window.filtered(relation, &column),
                _ => relation,
            };
            Ok(relation::run_phase_value(relation, node.empty_refs))
        }
    }
}

pub(super) fn source_fn(state: &State, source: String, table: String) -> Result<Value, Error> {
    let node = node_context(state)?;
    match node.phase {
        Phase::Parse => {
            let placeholder = Relation::new(&node.target_database, &source, &table);
            node.recorded
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .sources
                .push((source, table));
            Ok(Value::from_object(placeholder))
        }
        Phase::Run => {
            let resolver = resolver(&node)?;
            let relation = resolver.resolve_source(&source, &table).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("unknown source `{source}.{table}`"),
                )
            })?;
            let relation = match (
                &node.event_time_window,
                resolver.source_event_time(&source, &table),
            ) {
                (Some(window), Some(column)) => window.filtered(relation, &column),
                _ => relation,
            };
            Ok(relation::run_phase_value(relation, node.empty_refs))
        }
    }
}

/// dbt 1.11's `function('name')`: the relation of a user-defined function. Mallard does not
/// build functions (the parse warns about a `functions/` folder), so a node calling it parses
/// (with the function's name in the target schema as a placeholder) and fails when it runs.
///
/// Errors: in the run phase, always, naming the function.
pub(super) fn function_fn(state: &State, name: String) -> Result<Value, Error> {
    let node = node_context(state)?;
    match node.phase {
        Phase::Parse => Ok(Value::from_object(Relation::new(
            &node.target_database,
            &node.target_schema,
            &name,
        ))),
        Phase::Run => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "function(`{name}`): dbt 1.11's user-defined functions are not supported by Mallard \
                 (dbt-duckdb 1.11 cannot create them either)"
            ),
        )),
    }
}

pub(super) fn resolver(node: &NodeContext) -> Result<&Arc<dyn Resolver>, Error> {
    node.resolver
        .as_ref()
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "no resolver in the run phase"))
}

/// `var(name, default)`: project vars with `--vars` over them. Without a default, a missing
/// var is an error, as in dbt.
pub(super) fn var_fn(state: &State, name: String, default: Rest<Value>) -> Result<Value, Error> {
    let node = node_context(state)?;
    // `var('x', None)`: an explicit `None` is a default too.
    let default = default.0.into_iter().next();
    match node.vars.get(&name) {
        // Jinja in a var is rendered when var() is called, in the calling node's context, as
        // dbt renders it (`'{{ source("jira", "issue") }}'` records the source for this node).
        Some(serde_json::Value::String(text)) if text.contains("{{") || text.contains("{%") => {
            let ctx = minijinja::context! {
                __mallard => Value::from_dyn_object(node.clone()),
                this => state.lookup("this").unwrap_or_default(),
                model => state.lookup("model").unwrap_or_default(),
                execute => state.lookup("execute").unwrap_or_default(),
                config => state.lookup("config").unwrap_or_default(),
            };
            let rendered = state
                .env()
                .render_str(&super::mutable_literals(text), ctx)
                .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("var `{name}`: {e}")))?;
            Ok(Value::from(rendered))
        }
        // Lists and dicts as Python's: `.update()` and `.append()` change them.
        Some(v) => Ok(mutable::mutable_value(v)),
        None => default.ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("required var `{name}` not found: set it under `vars:` in dbt_project.yml or pass `--vars '{{{name}: ...}}'`"),
            )
        }),
    }
}

/// `env_var(name, default)`: the environment variable, else the default, else an error.
pub(super) fn env_var_fn(name: String, default: Option<Value>) -> Result<Value, Error> {
    if name.starts_with(crate::log::SECRET_ENV_PREFIX) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "secret environment variables are allowed only in profiles.yml and packages.yml; \
                 `{name}` is read here (dbt: SecretEnvVarLocationError)"
            ),
        ));
    }
    secret_env_var_fn(name, default)
}

/// `env_var(name, default)` where secret variables may be read (`profiles.yml`,
/// `packages.yml`): the variable's value, else `default`.
///
/// Errors: the variable is not set and there is no default.
pub(super) fn secret_env_var_fn(name: String, default: Option<Value>) -> Result<Value, Error> {
    match std::env::var(&name) {
        Ok(v) => Ok(Value::from(v)),
        Err(_) => default.ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("environment variable `{name}` is not set and env_var() was given no default"),
            )
        }),
    }
}

/// `config`: callable as `config(materialized='table')` (recorded in the parse phase, ignored
/// in the run phase) and readable as `config.get('key', default)` / `config.require('key')`.
#[derive(Debug)]
pub(super) struct ConfigObject {
    pub(super) node: Arc<NodeContext>,
}

impl Object for ConfigObject {
    /// Truthy, as every Python object of its kind is.
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn call(self: &Arc<Self>, _state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (positional, kwargs): (&[Value], Kwargs) = minijinja::value::from_args(args)?;
        let mut map = Map::new();
        if let Some(first) = positional.first() {
            // `config({'materialized': 'table'})` is also accepted by dbt.
            if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(first) {
                map.extend(m);
            }
        }
        for key in kwargs.args() {
            let v: Value = kwargs.get(key)?;
            map.insert(
                key.to_string(),
                serde_json::to_value(&v).unwrap_or(serde_json::Value::Null),
            );
        }
        if self.node.phase == Phase::Parse {
            self.node
                .recorded
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .configs
                .push(map);
        }
        Ok(Value::from(""))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let (key, default): (String, Option<Value>) = minijinja::value::from_args(args)?;
        // dbt 1.11's `meta_get` / `meta_require` read the config's `meta`.
        let found = match method {
            "meta_get" | "meta_require" => self.node.config.get("meta").and_then(|m| m.get(&key)),
            _ => self.node.config.get(&key),
        }
        .map(Value::from_serialize);
        match method {
            "get" | "meta_get" => Ok(found.or(default).unwrap_or(Value::from(()))),
            // At parse time dbt's `require` answers "" (the config may be set later in the
            // same file); a missing value is an error when the node runs.
            "require" | "meta_require" if found.is_none() && self.node.phase == Phase::Parse => {
                Ok(Value::from(""))
            }
            "require" | "meta_require" => found.ok_or_else(|| {
                let what = if method == "require" { "config" } else { "meta key" };
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("{what} `{key}` is required but not set"),
                )
            }),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `exceptions.raise_compiler_error(msg)` and `exceptions.warn(msg)`.
#[derive(Debug)]
pub(super) struct Exceptions;

impl Object for Exceptions {
    /// Truthy, as every Python object of its kind is.
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let (msg,): (String,) = minijinja::value::from_args(args)?;
        match method {
            "raise_compiler_error" => Err(Error::new(ErrorKind::InvalidOperation, msg)),
            "warn" => {
                eprintln!("warning: {msg}");
                Ok(Value::from(""))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}
