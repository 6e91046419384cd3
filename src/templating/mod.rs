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
pub mod builtins;
pub mod context;
mod macros;
pub mod mutable;
mod pydatetime;
mod pyre;
mod relation;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use minijinja::value::{Kwargs, Object, Rest, Value};
use minijinja::{Environment, Error, ErrorKind, State, UndefinedBehavior};
use serde_json::Map;

use crate::relation::Relation;
pub use macros::{
    generic_test_macro, materialization_macro, mutable_literals, MAX_MACRO_DEPTH, RENDER_STACK_SIZE,
};

use crate::error::{Diagnostic, Location};
use macros::{
    block_template, catch_all_parameters, macro_function, rename_macros, rewritten_diagnostic,
    toplevel_macro_blocks, MacroNamespace, DBT_MACROS, MACRO_PREFIX,
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
    // As Jinja2's default `Undefined`, which dbt uses: printing an undefined value gives
    // nothing and iterating it nothing; reading an attribute of it is an error. Packages
    // print undefined values at parse time (when queries return nothing) and rely on this.
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_keep_trailing_newline(true);
    // SQL is never escaped (minijinja would JSON-escape templates named `*.yml`, such as hooks
    // from dbt_project.yml).
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.add_global("target", Value::from_serialize(&target));
    env.add_function("ref", ref_fn);
    env.add_function("source", source_fn);
    env.add_function("var", var_fn);
    env.add_function("env_var", env_var_fn);
    env.add_function("is_incremental", |state: &State| -> Result<bool, Error> {
        Ok(node_context(state)?.is_incremental)
    });
    env.add_function("log", |msg: Value, kwargs: Kwargs| -> Result<String, Error> {
        let info: Option<bool> = kwargs.get("info")?;
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
    });
    env.add_global("exceptions", Value::from_object(Exceptions));
    builtins::add_to(&mut env);
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
    env.add_function("mallard_list", |items: Option<Value>| -> Result<Value, Error> {
        Ok(Value::from_object(mutable::MutableList::from_items(
            match items {
                Some(v) => v.try_iter()?.collect(),
                None => Vec::new(),
            },
        )))
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
    env.set_unknown_method_callback(python_methods);

    env.add_global("__mallard_root", Value::from(root));
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
    // Package name -> macro name -> file.
    let mut namespaces: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let builtin = MacroFile {
        package: "dbt",
        file: "<mallard>/dbt_macros.sql",
        text: DBT_MACROS,
    };
    // Files with a macro that takes `kwargs`/`varargs` (see `macros::catch_all_parameters`):
    // only their macros need the arguments sorted on each call.
    let mut catch_all_files: Vec<Value> = Vec::new();
    for MacroFile { package, file, text } in std::iter::once(builtin).chain(macros.iter().copied()) {
        let renamed = rename_macros(text);
        let with_catch_all = catch_all_parameters(&renamed);
        if with_catch_all.len() != renamed.len() {
            catch_all_files.push(Value::from(file.to_string()));
        }
        let renamed = mutable_literals(&with_catch_all).into_owned();
        let diagnostic = |e: Error| rewritten_diagnostic(&e, file, text, &renamed);
        // Each macro is its own template, as dbt compiles each block of a macro file: a call
        // then evaluates that block only (the text before it is kept as blank space, so that
        // lines, columns and offsets stay the file's).
        for (name, range) in toplevel_macro_blocks(&renamed) {
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
    let root_macros = namespaces.get(root).cloned().unwrap_or_default();
    for (package, names) in &namespaces {
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
    Ok(env)
}

/// Python's methods on Jinja values that minijinja lacks: minijinja-contrib's `pycompat`
/// (`.upper()`, `.items()`, `.get()`, ...), plus `list.index(x)`, `list.count(x)`,
/// `str.maketrans(x, y, z)` and `str.translate(table)`.
fn python_methods(state: &State, value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    if value.as_str().is_some() && method == "maketrans" {
        let (from, to, delete): (String, Option<String>, Option<String>) = minijinja::value::from_args(args)?;
        let to = to.unwrap_or_default();
        if from.chars().count() != to.chars().count() {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "maketrans: the first two arguments must have equal length",
            ));
        }
        let mut table: Vec<(Value, Value)> = from
            .chars()
            .zip(to.chars())
            .map(|(a, b)| (Value::from(a as u32), Value::from(b.to_string())))
            .collect();
        table.extend(
            delete
                .unwrap_or_default()
                .chars()
                .map(|c| (Value::from(c as u32), Value::from(()))),
        );
        return Ok(Value::from_iter(table));
    }
    if let (Some(text), "translate") = (value.as_str(), method) {
        let (table,): (Value,) = minijinja::value::from_args(args)?;
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            match table.get_item(&Value::from(c as u32)) {
                Ok(v) if v.is_undefined() => out.push(c),
                Ok(v) if v.is_none() => {}
                Ok(v) => out.push_str(&v.to_string()),
                Err(_) => out.push(c),
            }
        }
        return Ok(Value::from(out));
    }
    if value.kind() == minijinja::value::ValueKind::Seq && matches!(method, "index" | "count") {
        let (needle,): (Value,) = minijinja::value::from_args(args)?;
        let mut items = value.try_iter()?;
        return if method == "count" {
            Ok(Value::from(items.filter(|v| *v == needle).count()))
        } else {
            items
                .position(|v| v == needle)
                .map(Value::from)
                .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("{needle} is not in list")))
        };
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

/// A small environment for `dbt_project.yml`, `profiles.yml` and property YAML:
/// `env_var(name, default)`, `target`, and `var(name, default)` over `ctx.vars` (for
/// `dbt_project.yml` and `profiles.yml`, as in dbt, only the command line's `--vars`, not the
/// project's `vars:`; checked with dbt 1.11).
pub fn config_environment(ctx: &crate::config::ConfigContext) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_function("env_var", env_var_fn);
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
    env
}

/// Renders a node. In the parse phase the returned [`Recorded`] holds its calls.
///
/// Errors: Jinja syntax and runtime errors (an undefined variable printed, a missing
/// `var`, a failing macro), as a diagnostic at the file and line where they happened.
pub fn render(
    env: &Environment<'static>,
    input: &RenderInput<'_>,
    node: NodeContext,
) -> Result<(String, Recorded), Diagnostic> {
    let node = Arc::new(node);
    let ctx = render_context(input, &node);
    let source = mutable_literals(input.source);
    let out = env.render_named_str(input.file, &source, ctx).map_err(|e| {
        let d = rewritten_diagnostic(&e, input.file, input.source, &source);
        match d
            .message
            .strip_prefix("unknown function or macro `")
            .and_then(|m| m.strip_suffix('`'))
        {
            Some(unknown) => {
                let known: Vec<&str> = env.globals().map(|(name, _)| name).collect();
                match crate::error::did_you_mean(unknown, known) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => {
                        d.help("macros are defined with `{% macro name(...) %}` in a file under `macros/`")
                    }
                }
            }
            None => match d
                .message
                .split('`')
                .nth(1)
                .filter(|_| d.message.starts_with("maximum recursion"))
            {
                // Say where the node's own template entered the recursion.
                Some(first) => match find_call_line(input.source, first, "") {
                    Some((line, _)) => d.help(format!("called from `{}:{line}`", input.file)),
                    None => d,
                },
                None => d,
            },
        }
    })?;
    let recorded = std::mem::take(&mut *node.recorded.lock().unwrap_or_else(|p| p.into_inner()));
    Ok((out, recorded))
}

/// The variables a render of `input` for `node` sees.
fn render_context(input: &RenderInput<'_>, node: &Arc<NodeContext>) -> Value {
    let base = minijinja::context! {
        __mallard => Value::from_dyn_object(node.clone()),
        this => input.this.clone().map(Value::from_object).unwrap_or(Value::UNDEFINED),
        model => Value::from_serialize(&input.model),
        execute => node.phase == Phase::Run,
        config => Value::from_object(ConfigObject { node: node.clone() }),
    };
    match &input.extra {
        Some(extra) => minijinja::value::merge_maps([base, extra.clone()]),
        None => base,
    }
}

/// What rendering `input` records (refs, sources, configs, macros called), also when the
/// render fails part-way: the calls made before the error. For templates dbt renders at
/// parse time only to learn what they call, such as hooks.
pub fn record_calls(env: &Environment<'static>, input: &RenderInput<'_>, node: NodeContext) -> Recorded {
    let node = Arc::new(node);
    let ctx = render_context(input, &node);
    let _ = env.render_named_str(input.file, &mutable_literals(input.source), ctx);
    let recorded = std::mem::take(&mut *node.recorded.lock().unwrap_or_else(|p| p.into_inner()));
    recorded
}

/// Evaluates a single Jinja expression, such as the `to: ref('customers')` argument of a
/// relationships test, with `node` as its context.
pub fn eval_expression(
    env: &Environment<'static>,
    expr: &str,
    node: NodeContext,
) -> Result<(Value, Recorded), Error> {
    let node = Arc::new(node);
    let expr = macros::rewrite_expression(expr);
    let compiled = env.compile_expression(&expr)?;
    let value = compiled.eval(minijinja::context! {
        __mallard => Value::from_dyn_object(node.clone()),
        execute => node.phase == Phase::Run,
    })?;
    let recorded = std::mem::take(&mut *node.recorded.lock().unwrap_or_else(|p| p.into_inner()));
    Ok((value, recorded))
}

/// Turns a minijinja error into a diagnostic: the innermost template and line it names,
/// with the excerpt from `source` when that template is the node itself.
pub fn jinja_diagnostic(err: &Error, file: &str, source: &str) -> Diagnostic {
    // Errors raised inside a macro or an included template carry that template's name;
    // the chain's innermost error with a line is the one to show.
    let mut innermost: &Error = err;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(e) = cur {
        if let Some(je) = e.downcast_ref::<Error>() {
            if je.line().is_some() {
                innermost = je;
            }
        }
        cur = e.source();
    }
    let detail = innermost
        .detail()
        .map(str::to_string)
        .unwrap_or_else(|| innermost.kind().to_string());
    let name = innermost.name().map_or(file, macros::template_file);
    // The source text the error points at, when it is in this file: minijinja's messages for
    // undefined names do not repeat the name.
    let spanned = innermost
        .range()
        .filter(|_| name == file)
        .and_then(|r| source.get(r))
        .map(|t| t.trim().to_string());
    let message = match (innermost.kind(), &spanned) {
        (ErrorKind::SyntaxError, _) => format!("Jinja syntax error: {detail}"),
        (ErrorKind::UndefinedError, Some(text)) => format!("undefined variable `{text}`"),
        (ErrorKind::UndefinedError, None) => format!("undefined variable: {detail}"),
        (ErrorKind::UnknownFunction, Some(text)) => {
            format!(
                "unknown function or macro `{}`",
                text.split('(').next().unwrap_or(text).trim()
            )
        }
        (ErrorKind::UnknownFunction, None) => format!("unknown function or macro: {detail}"),
        _ => detail,
    };
    let mut d = Diagnostic::new(message);
    if let Some(line) = innermost.line() {
        let text = if name == file { source } else { "" };
        // The span's start, as a 1-based character column on its line.
        let column = innermost.range().filter(|_| name == file).and_then(|r| {
            let line_start = source.get(..r.start)?.rfind('\n').map_or(0, |i| i + 1);
            Some(source.get(line_start..r.start)?.chars().count() + 1)
        });
        let mut loc = Location::in_source(name, text, line, column);
        if name != file {
            loc.source_line = None;
        }
        d = d.at(loc);
    } else {
        d = d.at(Location::in_source(file, source, 1, None));
        d.location.as_mut().unwrap().source_line = None;
    }
    if innermost.kind() == ErrorKind::UndefinedError {
        d = d.help("define it with `{% set %}`, pass it with `var()`, or check its spelling");
    }
    d
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

fn ref_fn(state: &State, args: Rest<String>, kwargs: Kwargs) -> Result<Value, Error> {
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
        Phase::Run => resolver(&node)?
            .resolve_ref(&call)
            .map(|r| relation::run_phase_value(r, node.empty_refs))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("unknown ref `{}`", call.name),
                )
            }),
    }
}

fn source_fn(state: &State, source: String, table: String) -> Result<Value, Error> {
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
        Phase::Run => resolver(&node)?
            .resolve_source(&source, &table)
            .map(|r| relation::run_phase_value(r, node.empty_refs))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("unknown source `{source}.{table}`"),
                )
            }),
    }
}

fn resolver(node: &NodeContext) -> Result<&Arc<dyn Resolver>, Error> {
    node.resolver
        .as_ref()
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "no resolver in the run phase"))
}

/// `var(name, default)`: project vars with `--vars` over them. Without a default, a missing
/// var is an error, as in dbt.
fn var_fn(state: &State, name: String, default: Option<Value>) -> Result<Value, Error> {
    let node = node_context(state)?;
    match node.vars.get(&name) {
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
fn env_var_fn(name: String, default: Option<Value>) -> Result<Value, Error> {
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
struct ConfigObject {
    node: Arc<NodeContext>,
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
        let found = self.node.config.get(&key).map(Value::from_serialize);
        match method {
            "get" => Ok(found.or(default).unwrap_or(Value::from(()))),
            "require" => found.ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("config `{key}` is required but not set"),
                )
            }),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `exceptions.raise_compiler_error(msg)` and `exceptions.warn(msg)`.
#[derive(Debug)]
struct Exceptions;

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

/// The 1-based line of the first call `func(` in `source` whose first quoted argument
/// is one of `args`, or of the first `func(` at all; `None` if `func(` never occurs.
/// minijinja gives a native function no span, so the parse phase finds its calls by text.
pub fn find_call_line(source: &str, func: &str, arg: &str) -> Option<(usize, usize)> {
    let pattern = format!("{func}(");
    let mut first = None;
    for (i, line) in source.lines().enumerate() {
        let mut from = 0;
        while let Some(pos) = line[from..].find(&pattern) {
            let at = from + pos;
            // A call, not the tail of a longer name (`my_ref(`).
            let standalone = at == 0
                || !line.as_bytes()[at - 1].is_ascii_alphanumeric() && line.as_bytes()[at - 1] != b'_';
            if standalone {
                first.get_or_insert((i + 1, at + 1));
                let rest = &line[at + pattern.len()..];
                if rest.contains(&format!("'{arg}'")) || rest.contains(&format!("\"{arg}\"")) {
                    return Some((i + 1, at + 1));
                }
            }
            from = at + pattern.len();
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ctx() -> NodeContext {
        NodeContext::parse_phase(Arc::new(Map::new()), "main", "db")
    }

    fn input<'a>(src: &'a str) -> RenderInput<'a> {
        RenderInput {
            file: "models/m.sql",
            source: src,
            this: None,
            model: serde_json::json!({}),
            extra: None,
        }
    }

    #[test]
    fn parse_phase_records_calls_in_order() {
        let env = environment(&[], serde_json::json!({})).unwrap();
        let src = "{{ config(materialized='table', tags=['a']) }}select * from {{ ref('b') }} join {{ source('raw', 't') }} join {{ ref('pkg', 'c') }}";
        let (out, rec) = render(&env, &input(src), parse_ctx()).unwrap();
        assert_eq!(
            out,
            "select * from \"db\".\"main\".\"b\" join \"db\".\"raw\".\"t\" join \"db\".\"main\".\"c\""
        );
        assert_eq!(
            rec.refs,
            vec![
                RefCall {
                    package: None,
                    name: "b".into(),
                    version: None,
                },
                RefCall {
                    package: Some("pkg".into()),
                    name: "c".into(),
                    version: None,
                },
            ]
        );
        assert_eq!(rec.sources, vec![("raw".to_string(), "t".to_string())]);
        assert_eq!(rec.configs[0]["materialized"], serde_json::json!("table"));
    }

    #[test]
    fn macros_see_the_calling_nodes_context() {
        let macros = vec![(
            "macros/m.sql".to_string(),
            "{% macro cents(col) %}({{ col }} * 100){% endmacro %}{% macro from_b() %}{{ ref('b') }}{% endmacro %}".to_string(),
        )];
        let env = environment(&macros, serde_json::json!({})).unwrap();
        let (out, rec) = render(
            &env,
            &input("select {{ cents('x') }} from {{ from_b() }}"),
            parse_ctx(),
        )
        .unwrap();
        assert_eq!(out, "select (x * 100) from \"db\".\"main\".\"b\"");
        assert_eq!(rec.refs.len(), 1, "a ref inside a macro is recorded for the node");
    }

    #[test]
    fn each_top_level_macro_block_is_found_with_its_range() {
        let text = "{# {% macro commented() %} #}{% set x = 1 %}\n{%- macro a(y) -%}{% macro inner() %}{% endmacro %}\
                    {% raw %}{% endmacro %}{% endraw %}{%- endmacro %}\n{% macro b() %}unclosed";
        let blocks = toplevel_macro_blocks(text);
        let names: Vec<&str> = blocks.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(text[blocks[0].1.clone()].starts_with("{%- macro a(y)"));
        assert!(text[blocks[0].1.clone()].ends_with("{%- endmacro %}"));
        assert_eq!(blocks[1].1.end, text.len(), "an unclosed block runs to the end");
        assert!(toplevel_macro_blocks("select 1").is_empty());
    }

    #[test]
    fn macros_do_not_see_the_text_between_blocks() {
        // dbt compiles each macro block of a file on its own: a top-level `set` is seen by no
        // macro (checked with dbt 1.11: `''` and `False`).
        let macros = vec![(
            "macros/m.sql".to_string(),
            "{% set x = 41 %}\n{% macro m() %}'{{ x }}'{% endmacro %}\n{% macro n() %}{{ x is defined }}{% endmacro %}".to_string(),
        )];
        let env = environment(&macros, serde_json::json!({})).unwrap();
        let (out, _) = render(&env, &input("select {{ m() }} as a, {{ n() }} as b"), parse_ctx()).unwrap();
        assert_eq!(out, "select '' as a, False as b");
    }

    #[test]
    fn an_error_in_a_macro_names_its_file_and_line() {
        let macros = vec![(
            "macros/m.sql".to_string(),
            "{% macro a() %}1{% endmacro %}\n\n{% macro b() %}\n{{ missing_fn() }}{% endmacro %}".to_string(),
        )];
        let env = environment(&macros, serde_json::json!({})).unwrap();
        let err = render(&env, &input("select {{ b() }}"), parse_ctx()).unwrap_err();
        let loc = err.location.expect("a location");
        assert_eq!((loc.file.as_str(), loc.line), ("macros/m.sql", 4));
    }

    #[test]
    fn missing_var_is_an_error_at_its_line() {
        let env = environment(&[], serde_json::json!({})).unwrap();
        let err = render(
            &env,
            &input("select 1\nwhere d = '{{ var(\"as_of\") }}'"),
            parse_ctx(),
        )
        .unwrap_err();
        assert!(
            err.message.contains("required var `as_of` not found"),
            "{}",
            err.message
        );
        assert_eq!(err.location.unwrap().line, 2);
    }

    #[test]
    fn macros_are_renamed_and_empty_literals_made_mutable() {
        assert_eq!(
            rename_macros("{% macro a() %}x{% endmacro %}{%- macro  b(x) -%}"),
            "{% macro mallard_macro__a() %}x{% endmacro %}{%- macro  mallard_macro__b(x) -%}"
        );
        assert_eq!(
            rename_macros("{%- test positive(model, column_name) -%}x{%- endtest %}"),
            "{%- macro mallard_macro__test_positive(model, column_name) -%}x{%- endmacro %}"
        );
        assert_eq!(
            mutable_literals("{% set a = [] %}{%- set b={} -%}{% set c = [1] %}{{ [] }}"),
            "{% set a = mallard_list([]) %}{%- set b=mallard_dict({}) -%}{% set c = mallard_list([1]) %}{{ mallard_list([]) }}"
        );
        // Subscripts, slices, strings, comments and raw blocks stay as they are.
        assert_eq!(
            mutable_literals("{{ a[0] ~ b['[x]'][1:] }}{# [c] #}{% raw %}{{ [d] }}{% endraw %}{% do x.update({'k': [1, f(2)[0]]}) %}"),
            "{{ a[0] ~ b['[x]'][1:] }}{# [c] #}{% raw %}{{ [d] }}{% endraw %}{% do x.update(mallard_dict({'k': mallard_list([1, f(2)[0]])})) %}"
        );
        assert_eq!(mutable_literals("select a[1] from t"), "select a[1] from t");
        assert_eq!(
            macros::timedelta_arithmetic("set d = (x.today() - modules.datetime.timedelta(days=10)) "),
            "set d = (mallard_datetime_arith(x.today(), '-', modules.datetime.timedelta(days=10))) "
        );
    }

    #[test]
    fn return_ends_the_macro_even_from_a_sibling() {
        let macros = vec![(
            "macros/m.sql".to_string(),
            "{% macro inner() %}{{ return(1) }}never{% endmacro %}{% macro outer() %}{% set x = inner() %}{{ return(x + 1) }}{% endmacro %}"
                .to_string(),
        )];
        let env = environment(&macros, serde_json::json!({})).unwrap();
        let (out, _) = render(&env, &input("{{ outer() }}"), parse_ctx()).unwrap();
        assert_eq!(out, "2");
        let err = render(&env, &input("{{ return(3) }}"), parse_ctx()).unwrap_err();
        assert!(err.message.contains("outside a macro"), "{}", err.message);
    }

    #[test]
    fn finds_the_line_of_a_call() {
        let src = "select 1\nfrom {{ my_ref('a') }}\njoin {{ ref('a') }}";
        assert_eq!(find_call_line(src, "ref", "a"), Some((3, 9)));
        assert_eq!(find_call_line(src, "ref", "zzz"), Some((3, 9)));
        assert_eq!(find_call_line("select 1", "ref", "a"), None);
    }
}
