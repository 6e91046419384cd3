//! The minijinja environment that renders models, tests and macros, with dbt's context:
//! `ref`, `source`, `config`, `var`, `env_var`, `this`, `target`, `model`, `execute`,
//! `is_incremental()`, `log`, and every macro under `macros/` as a global function.
//!
//! A node is rendered twice, as in dbt. The parse phase ([`Phase::Parse`], `execute` false)
//! *records* the `ref`, `source` and `config` calls; `ref` then returns a placeholder. The run
//! phase ([`Phase::Run`]) resolves every `ref` and `source` to a relation. Both phases use one
//! [`Environment`] per invocation, shared by all nodes; what differs per node travels in the
//! render context as a [`NodeContext`] object under the key `__mallard`.

pub mod adapter_object;
pub mod agate;
mod api;
mod arith;
mod callers;
mod defaults;
mod functions;
mod render;
pub use render::{eval_expression, find_call_line, jinja_diagnostic, record_calls, render};
pub mod builtins;
pub mod context;
mod macros;
mod markup;
pub mod mutable;
mod pycollections;
mod pydatetime;
mod pyfilters;
mod pyformat;
mod pymethods;
mod pyrange;
mod pyre;
pub mod pyrepr;
mod relation;
pub use relation::EventTimeWindow;
mod rewrite;
mod scan;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use minijinja::value::{Kwargs, Object, Rest, Value};
use minijinja::{Environment, Error, ErrorKind, State, UndefinedBehavior};
use serde_json::Map;

use crate::relation::Relation;
use functions::{env_var_fn, ref_fn, source_fn, var_fn, ConfigObject, Exceptions};
pub use macros::{
    generic_test_macro, macro_blocks, macro_unique_id, materialization_macro, MacroBlock, MAX_MACRO_DEPTH,
    RENDER_STACK_SIZE,
};
pub use rewrite::mutable_literals;
use rewrite::{catch_all_parameters, rename_macros};

use crate::error::{Diagnostic, Location};
use macros::{
    block_template, macro_function, rewritten_diagnostic, MacroNamespace, DBT_MACROS, MACRO_PREFIX,
};

/// Which of the two renders of a node this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Record calls; `execute` is false and `ref()` returns a placeholder relation.
    Parse,
    /// Resolve calls to relations; `execute` is true.
    Run,
}

/// A `ref(...)` call: `package` is `Some` for the two-argument form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RefCall {
    pub package: Option<String>,
    pub name: String,
    /// `ref('m', v=2)` / `version=2`: the model version asked for, as text; `None` means the
    /// latest version of a versioned model.
    pub version: Option<String>,
}

impl RefCall {
    /// The name a ref looks up: `name`, or `name.v<version>` for a pinned model version.
    pub fn key(&self) -> String {
        match &self.version {
            Some(v) => format!("{}.v{v}", self.name),
            None => self.name.clone(),
        }
    }
}

/// What the parse phase saw a node call, in call order.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    pub refs: Vec<RefCall>,
    pub sources: Vec<(String, String)>,
    /// Keyword arguments of each `config(...)` call.
    pub configs: Vec<Map<String, serde_json::Value>>,
    /// The macros called (`macro.<package>.<name>`), in first-call order.
    pub macros: Vec<String>,
}

/// How the run phase turns `ref` and `source` calls into relations.
pub trait Resolver: Send + Sync + std::fmt::Debug {
    fn resolve_ref(&self, call: &RefCall) -> Option<Relation>;
    fn resolve_source(&self, source: &str, table: &str) -> Option<Relation>;
    /// The `event_time` config of the node a `ref()` names, which a microbatch model's batch
    /// filters it by; `None` when it has none.
    fn ref_event_time(&self, _call: &RefCall) -> Option<String> {
        None
    }
    /// The `event_time` config of a source table (see [`Resolver::ref_event_time`]).
    fn source_event_time(&self, _source: &str, _table: &str) -> Option<String> {
        None
    }
}

/// The per-node part of the render context: the phase, the vars, what was recorded, and
/// (in the run phase) the resolver and the node's final config.
#[derive(Debug)]
pub struct NodeContext {
    pub phase: Phase,
    pub vars: Arc<Map<String, serde_json::Value>>,
    pub recorded: Mutex<Recorded>,
    pub resolver: Option<Arc<dyn Resolver>>,
    /// The node's resolved config, which `config.get()` reads in the run phase.
    pub config: Map<String, serde_json::Value>,
    /// The default schema of the target, used for parse-phase placeholders.
    pub target_schema: String,
    pub target_database: String,
    /// What `is_incremental()` returns: true only in the run phase of an incremental model
    /// whose table exists, outside a full refresh.
    pub is_incremental: bool,
    /// The worker's connection, for `run_query`, `statement` and `adapter` in the run phase;
    /// `None` when compiling without a database.
    pub database: Option<crate::adapter::SharedAdapter>,
    /// What `statement` blocks fetched, for `load_result`.
    pub results: context::StatementResults,
    /// A unit test's `overrides: macros:`: macro name (bare or `package.name`) to the value it
    /// returns instead of running.
    pub macro_overrides: Arc<serde_json::Map<String, serde_json::Value>>,
    /// `--empty`: `ref()` and `source()` render as queries of no rows (see
    /// [`relation::EmptyRelation`]).
    pub empty_refs: bool,
    /// The batch a microbatch model is rendered for (see [`EventTimeWindow`]); `None` otherwise.
    pub event_time_window: Option<EventTimeWindow>,
    /// Static analysis: `database` holds empty shapes only, so `run_query` and `statement`,
    /// which read data, fail with [`context::READS_DATA`]; metadata calls answer from the shapes.
    pub shapes_only: bool,
}

impl NodeContext {
    /// The context of a parse-phase render: `vars`, and the target's schema and database for
    /// the placeholder relations `ref` returns; nothing recorded yet, no database.
    pub fn parse_phase(
        vars: Arc<Map<String, serde_json::Value>>,
        target_schema: &str,
        target_database: &str,
    ) -> NodeContext {
        NodeContext {
            phase: Phase::Parse,
            vars,
            recorded: Mutex::new(Recorded::default()),
            resolver: None,
            config: Map::new(),
            target_schema: target_schema.to_string(),
            target_database: target_database.to_string(),
            is_incremental: false,
            database: None,
            results: Default::default(),
            macro_overrides: Default::default(),
            empty_refs: false,
            event_time_window: None,
            shapes_only: false,
        }
    }
}

impl Object for NodeContext {}

/// The input of one render: the node's name, file and text, and what it may see.
pub struct RenderInput<'a> {
    /// The template name shown in errors: the file's path relative to the project.
    pub file: &'a str,
    pub source: &'a str,
    /// `this`: the relation the node builds (`None` for tests).
    pub this: Option<Relation>,
    /// `model`: dbt's node fields (`name`, `unique_id`, `resource_type`, ...).
    pub model: serde_json::Value,
    /// More variables for this render (a map), such as `results` for `on-run-end`.
    pub extra: Option<Value>,
}

/// A macro file and the package it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct MacroFile<'a> {
    /// The package's name (the root project's for its own macros).
    pub package: &'a str,
    /// A name unique across packages (the path from the root project), for errors.
    pub file: &'a str,
    pub text: &'a str,
}

/// How many steps (minijinja instructions) one render of a template or one macro call may take
/// before it fails: [`DEFAULT_MAX_RENDER_STEPS`], or `MALLARD_MAX_RENDER_STEPS` when set (`0`:
/// no bound). dbt has no bound; the default is far above what any corpus project takes.
pub fn max_render_steps() -> Option<u64> {
    bound_from_env(MAX_RENDER_STEPS_VAR, DEFAULT_MAX_RENDER_STEPS)
}

/// A render bound: environment variable `var` as a whole number (`0`: no bound, `None`), else
/// `default`.
fn bound_from_env(var: &str, default: u64) -> Option<u64> {
    match std::env::var(var).ok().and_then(|v| v.trim().parse::<u64>().ok()) {
        Some(0) => None,
        Some(n) => Some(n),
        None => Some(default),
    }
}

/// The environment variable that sets [`max_render_steps`].
pub const MAX_RENDER_STEPS_VAR: &str = "MALLARD_MAX_RENDER_STEPS";

/// The default of [`max_render_steps`]: 200 million steps, tens of seconds of rendering.
pub const DEFAULT_MAX_RENDER_STEPS: u64 = 200_000_000;

/// How many bytes one render may write (its output) and, separately, print from values
/// (`{{ ... }}` anywhere, macro bodies included) before it fails: [`DEFAULT_MAX_RENDER_BYTES`],
/// or `MALLARD_MAX_RENDER_BYTES` when set (`0`: no bound). dbt has no bound.
pub fn max_render_bytes() -> Option<u64> {
    bound_from_env(MAX_RENDER_BYTES_VAR, DEFAULT_MAX_RENDER_BYTES)
}

/// The environment variable that sets [`max_render_bytes`].
pub const MAX_RENDER_BYTES_VAR: &str = "MALLARD_MAX_RENDER_BYTES";

/// The default of [`max_render_bytes`]: 1 GiB, some thousand times the largest compiled model
/// of the corpus.
pub const DEFAULT_MAX_RENDER_BYTES: u64 = 1 << 30;

/// Builds the environment of a project without packages: dbt's functions plus one global per
/// macro found in `macros` (`(original_file_path, text)` pairs). `target` is the value of
/// `target` in templates.
///
/// Errors: a macro file with a Jinja syntax error, at its file and line.
pub fn environment(
    macros: &[(String, String)],
    target: serde_json::Value,
) -> Result<Environment<'static>, Diagnostic> {
    let files: Vec<MacroFile> = macros
        .iter()
        .map(|(file, text)| MacroFile {
            package: "",
            file,
            text,
        })
        .collect();
    environment_with_packages(&files, "", &[], target)
}

/// Builds the environment with packages, as dbt scopes macros: the root project's (package
/// `root`) are globals; every package's are reached through its name (`dbt_utils.star(...)`);
/// a package's macro is also a global when no root macro has its name (dbt reaches those only
/// through the package, or from inside it). `dispatch` is `dispatch:` of dbt_project.yml: for a
/// macro namespace, the packages `adapter.dispatch` searches in order.
///
/// Errors: a macro file with a Jinja syntax error, at its file and line.
pub fn environment_with_packages(
    macros: &[MacroFile],
    root: &str,
    dispatch: &[(String, Vec<String>)],
    target: serde_json::Value,
) -> Result<Environment<'static>, Diagnostic> {
    let mut env = Environment::new();
    configure_as_dbt(&mut env);
    add_context(&mut env, target);
    add_python_literals(&mut env);
    env.add_global("__mallard_root", Value::from(root));
    env.add_global("dbt_version", Value::from(crate::config::DBT_VERSION));
    env.add_global("project_name", Value::from(root));
    env.add_global(
        "__mallard_dispatch",
        Value::from_serialize(
            dispatch
                .iter()
                .cloned()
                .collect::<BTreeMap<String, Vec<String>>>(),
        ),
    );
    let namespaces = compile_macro_files(&mut env, macros)?;
    expose_macros(&mut env, &namespaces, root);
    Ok(env)
}

/// Jinja2's behaviour as dbt configures it: undefined values, trailing newlines, Python's
/// printing, no escaping, and the render bound.
fn configure_as_dbt(env: &mut Environment<'static>) {
    // As Jinja2's default `Undefined`, which dbt uses: printing an undefined value gives
    // nothing and iterating it nothing; reading an attribute of it is an error. Packages
    // print undefined values at parse time (when queries return nothing) and rely on this.
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_keep_trailing_newline(true);
    // Values print as Python prints them (`None`, `True`, `['a', 1]`, `('a', 'b')`), as in dbt.
    env.set_formatter(pyrepr::print);
    // SQL is never escaped (minijinja would JSON-escape templates named `*.yml`, such as hooks
    // from dbt_project.yml).
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // A runaway loop ends in an error at its line instead of running for hours.
    env.set_fuel(max_render_steps());
}

/// dbt's context: `target`, `ref`/`source`/`var`/`env_var`, `builtins`, `log`, `exceptions`,
/// `return`, the statement functions, `adapter`, `modules`, `run_started_at`, Python's
/// filters, tests and methods.
fn add_context(env: &mut Environment<'static>, target: serde_json::Value) {
    env.add_global("target", Value::from_serialize(&target));
    env.add_function("ref", ref_fn);
    env.add_function("source", source_fn);
    env.add_function("function", functions::function_fn);
    env.add_function("var", var_fn);
    env.add_function("env_var", env_var_fn);
    // dbt's `builtins`: the original `ref`, `source` and `is_incremental`, for projects that
    // override them with macros of the same names and call through (`builtins.ref('m')`).
    env.add_global("builtins", Value::from_object(builtins::Builtins::default()));
    env.add_function("is_incremental", builtins::is_incremental_fn);
    // dbt's `log(msg, info=False)`; `info` may be passed by position too.
    env.add_function(
        "log",
        |msg: Value, info: Option<bool>, kwargs: Kwargs| -> Result<String, Error> {
            let info = match info {
                Some(info) => Some(info),
                None => kwargs.get("info")?,
            };
            kwargs.assert_all_used()?;
            // dbt's events: `info=True` is shown (`JinjaLogInfo`), else only in dbt.log.
            if info.unwrap_or(false) {
                crate::log::event(
                    "JinjaLogInfo",
                    crate::log::Level::Info,
                    &msg.to_string(),
                    serde_json::json!({"msg": msg.to_string()}),
                );
            } else {
                crate::log::event(
                    "JinjaLogDebug",
                    crate::log::Level::Debug,
                    &msg.to_string(),
                    serde_json::json!({"msg": msg.to_string()}),
                );
            }
            Ok(String::new())
        },
    );
    env.add_global("exceptions", Value::from_object(Exceptions));
    builtins::add_to(env);
    pyfilters::add_to(env);
    pycollections::add_to(env);
    markup::add_to(env);
    defaults::add_to(env);
    // dbt's `should_store_failures()`: whether the test keeps its failing rows
    // (`store_failures`, `store_failures_as`; see `testing::store_failures_as`).
    env.add_function("should_store_failures", |state: &State| -> Result<bool, Error> {
        let config = crate::config::NodeConfig(node_context(state)?.config.clone());
        config
            .stores_failures_as()
            .map(|kind| kind.is_some())
            .map_err(|d| Error::new(ErrorKind::InvalidOperation, d.message))
    });
    env.add_function("return", context::return_fn);
    // `{% call noop_statement('main', status) %}`: a statement that runs nothing (custom
    // materializations that build no relation use it).
    env.add_function(
        "noop_statement",
        |_args: Rest<Value>, kwargs: Kwargs| -> Result<String, Error> {
            for key in kwargs.args().map(str::to_string).collect::<Vec<_>>() {
                let _: Value = kwargs.get(&key)?;
            }
            Ok(String::new())
        },
    );
    env.add_function("run_query", context::run_query);
    env.add_function("render", macros::render_string);
    env.add_function("statement", context::statement);
    env.add_function("load_result", context::load_result);
    env.add_global("adapter", Value::from_object(adapter_object::AdapterObject));
    env.add_global("modules", Value::from_object(context::Modules));
    env.add_global(
        "run_started_at",
        Value::from_object(pydatetime::PyDateTime::utc(chrono::Utc::now())),
    );
    env.add_function("mallard_datetime_arith", pydatetime::arith);
    // Python's methods on strings, lists and dicts (`.upper()`, `.items()`, `.get()`, ...).
    env.set_unknown_method_callback(pymethods::python_methods);
}

/// The functions that template literals are rewritten into (`[]`, `{}`, tuples; see
/// [`rewrite::mutable_literals`]), `dict()` and `| list`: values that change in place, as
/// Python's.
fn add_python_literals(env: &mut Environment<'static>) {
    env.add_function("mallard_list", |items: Option<Value>| -> Result<Value, Error> {
        Ok(Value::from_object(mutable::MutableList::from_items(
            match items {
                Some(v) => v.try_iter()?.collect(),
                None => Vec::new(),
            },
        )))
    });
    env.add_function("mallard_tuple", |items: Value| -> Result<Value, Error> {
        Ok(Value::from_object(mutable::Tuple(items.try_iter()?.collect())))
    });
    env.add_function("mallard_dict", |map: Option<Value>| -> Result<Value, Error> {
        Ok(Value::from_object(mutable::MutableDict::from_map(map.as_ref())?))
    });
    // `dict(a=1)` and `dict(mapping)` give a dict that `.update()` can change, as Python's.
    env.add_function("dict", |args: Rest<Value>| -> Result<Value, Error> {
        let (positional, kwargs): (&[Value], Kwargs) = minijinja::value::from_args(&args)?;
        let dict = mutable::MutableDict::from_map(positional.first())?;
        let extra: Vec<(Value, Value)> = kwargs
            .args()
            .map(|k| Ok((Value::from(k), kwargs.get::<Value>(k)?)))
            .collect::<Result<_, Error>>()?;
        let extra = Value::from_iter(extra);
        let merged = mutable::MutableDict::from_map(Some(&extra))?;
        Ok(Value::from_object(dict.merged(merged)))
    });
    // `x | list` gives a list that `.append()` can change, as Python's does.
    env.add_filter("list", |v: Value| -> Result<Value, Error> {
        Ok(Value::from_object(mutable::MutableList::from_items(
            v.try_iter()?.collect(),
        )))
    });
}

/// Compiles every macro file (dbt's own first) into `env`, each macro its own template, and
/// returns package name -> macro name -> file.
///
/// Errors: a macro file with a Jinja syntax error, at its file and line.
fn compile_macro_files(
    env: &mut Environment<'static>,
    macros: &[MacroFile],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, Diagnostic> {
    // Package name -> macro name -> file.
    let mut namespaces: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let builtin = DBT_MACROS.iter().map(|(file, text)| MacroFile {
        package: "dbt",
        file,
        text,
    });
    // Files with a macro that takes `kwargs`/`varargs` (see `rewrite::catch_all_parameters`):
    // only their macros need the arguments sorted on each call.
    let mut catch_all_files: Vec<Value> = Vec::new();
    for MacroFile { package, file, text } in builtin.chain(macros.iter().copied()) {
        let renamed = rename_macros(text);
        let with_catch_all = catch_all_parameters(&renamed);
        if with_catch_all.len() != renamed.len() {
            catch_all_files.push(Value::from(file.to_string()));
        }
        let with_defaults = defaults::dependent_defaults(&with_catch_all);
        let renamed = mutable_literals(&with_defaults).into_owned();
        let diagnostic = |e: Error| rewritten_diagnostic(&e, file, text, &renamed);
        // Each macro is its own template, as dbt compiles each block of a macro file: a call
        // then evaluates that block only (the text before it is kept as blank space, so that
        // lines, columns and offsets stay the file's).
        for MacroBlock { name, range, .. } in macro_blocks(&renamed) {
            let Some(name) = name.strip_prefix(MACRO_PREFIX) else {
                continue;
            };
            let mut block = String::with_capacity(range.end);
            block.extend(
                renamed.as_bytes()[..range.start]
                    .iter()
                    .map(|&b| if b == b'\n' { '\n' } else { ' ' }),
            );
            block.push_str(&renamed[range]);
            env.add_template_owned(block_template(file, name), block)
                .map_err(diagnostic)?;
            namespaces
                .entry(package.to_string())
                .or_default()
                .insert(name.to_string(), file.to_string());
        }
    }
    env.add_global("__mallard_catch_all", Value::from(catch_all_files));
    Ok(namespaces)
}

/// Makes the macros of `namespaces` callable by name as dbt resolves names (the root project's,
/// then dbt's, then a package's), and each package by its name (`dbt_utils.star(...)`).
fn expose_macros(
    env: &mut Environment<'static>,
    namespaces: &BTreeMap<String, BTreeMap<String, String>>,
    root: &str,
) {
    let root_macros = namespaces.get(root).cloned().unwrap_or_default();
    // A bare name is the root project's macro, else dbt's, as in dbt; else (where dbt would
    // need the package's name) a package's. A package's own macros see each other first
    // (see `macros::MacroScope`). Later insertions win: packages, then dbt, then the root.
    let rank = |p: &str| match p {
        "dbt" => 1,
        p if p == root => 2,
        _ => 0,
    };
    let mut ordered: Vec<_> = namespaces.iter().collect();
    ordered.sort_by_key(|(p, _)| rank(p));
    for (package, names) in ordered {
        for (name, file) in names {
            if package == root || !root_macros.contains_key(name) {
                env.add_global(name.clone(), macro_function(package, file, name));
            }
        }
        // A macro named like a package (often the project's own) stays callable.
        if !package.is_empty() && !root_macros.contains_key(package) {
            env.add_global(
                package.clone(),
                Value::from_object(MacroNamespace {
                    package: package.clone(),
                    macros: names.clone(),
                }),
            );
        }
    }
}

/// A small environment for `dbt_project.yml`, `profiles.yml` and property YAML:
/// `env_var(name, default)`, `target`, and `var(name, default)` over `ctx.vars` (for
/// `dbt_project.yml` and `profiles.yml`, as in dbt, only the command line's `--vars`, not the
/// project's `vars:`; checked with dbt 1.11).
pub fn config_environment(ctx: &crate::config::ConfigContext) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_function("env_var", env_var_fn);
    add_config_globals(&mut env, ctx);
    env
}

/// [`config_environment`] for `profiles.yml` and `packages.yml`, where `env_var()` may also
/// read `DBT_ENV_SECRET_*` variables, as dbt allows there only.
pub fn secrets_config_environment(ctx: &crate::config::ConfigContext) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_function("env_var", functions::secret_env_var_fn);
    add_config_globals(&mut env, ctx);
    env
}

fn add_config_globals(env: &mut Environment<'static>, ctx: &crate::config::ConfigContext) {
    // dbt's filters for native rendering: the rendered text becomes the value afterwards
    // (`native_value`), so here they pass the value through, as dbt's text filters do.
    for name in ["as_bool", "as_number", "as_native", "as_text"] {
        env.add_filter(name, |v: Value| v);
    }
    env.add_filter("is_list", |v: Value| v.kind() == minijinja::value::ValueKind::Seq);
    if !ctx.target.is_null() {
        env.add_global("target", Value::from_serialize(&ctx.target));
    }
    let vars = ctx.vars.clone();
    env.add_function(
        "var",
        move |name: String, default: Option<Value>| -> Result<Value, Error> {
            match vars.get(&name) {
                Some(v) => Ok(Value::from_serialize(v)),
                None => default.ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        format!(
                            "required var `{name}` not found: in `dbt_project.yml` and `profiles.yml`, \
                             var() sees only --vars; pass --vars '{{{name}: ...}}' or give var() a default"
                        ),
                    )
                }),
            }
        },
    );
}

pub(crate) fn node_context(state: &State) -> Result<Arc<NodeContext>, Error> {
    state
        .lookup("__mallard")
        .and_then(|v| v.downcast_object::<NodeContext>())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                "this function is only available while rendering a node",
            )
        })
}

#[cfg(test)]
mod tests;
