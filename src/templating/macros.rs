//! Macros: each top-level macro block its own template, how a macro is called with its
//! caller's context, package namespaces, and dbt's built-in cross-database macros. The
//! rewrites of the source text that come first are in [`super::rewrite`].

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::{Object, Value};
use minijinja::{Environment, Error, ErrorKind, State};

use super::{context, jinja_diagnostic};
use crate::error::Diagnostic;

/// The context keys a macro sees from the node that calls it.
pub(super) const NODE_CONTEXT_KEYS: &[&str] = &[
    "__mallard",
    "this",
    "model",
    "execute",
    "config",
    "context",
    "__mallard_this",
    "__mallard_model",
];

/// The node's value of context key `key` as a macro called from `state` sees it: the
/// template's global (`model` and `this` are kept under a second name, so that a macro's
/// parameter named `model`, as every generic test has, does not hide the node's from the
/// macros it calls, as in Jinja2), else what `state` has.
fn node_value(state: &State, key: &'static str) -> Option<Value> {
    let global = match key {
        "model" => state.lookup("__mallard_model"),
        "this" => state.lookup("__mallard_this"),
        _ => None,
    };
    global.or_else(|| state.lookup(key))
}

/// dbt's built-in macros, written for Mallard, as `(file, text)`: the cross-database macros
/// (`dbt.concat`, `dbt.dateadd`, `dbt.type_string`, ...), the naming, schema and relation
/// macros, and the SQL helpers of dbt's materializations, incremental strategies, snapshots,
/// tests and hooks, each rendering what dbt-duckdb renders (`tests/namespace.rs` compares them
/// with dbt's).
pub(super) const DBT_MACROS: &[(&str, &str)] = &[
    (
        "<mallard>/dbt_macros/cross_db.sql",
        include_str!("dbt_macros/cross_db.sql"),
    ),
    (
        "<mallard>/dbt_macros/relations.sql",
        include_str!("dbt_macros/relations.sql"),
    ),
    (
        "<mallard>/dbt_macros/materializations.sql",
        include_str!("dbt_macros/materializations.sql"),
    ),
    (
        "<mallard>/dbt_macros/helpers.sql",
        include_str!("dbt_macros/helpers.sql"),
    ),
];

/// A callable macro: macro `name` of template `file`, of package `package` (see
/// [`call_macro`]). Two values of the same macro compare equal, as Python's macro objects do
/// (packages keep lists of macros and test membership). In the parse phase a call is recorded
/// as the node's dependency `macro.<package>.<name>` when the node's template makes it, as
/// dbt records `depends_on.macros`.
pub(super) fn macro_function(package: &str, file: &str, name: &str) -> Value {
    Value::from_object(MacroFunction {
        id: format!("macro.{package}.{name}"),
        package: package.to_string(),
        file: file.to_string(),
        template: block_template(file, name),
        name: name.to_string(),
    })
}

/// The `unique_id` (`macro.<package>.<name>`) of macro value `value`; `None` for a value that
/// is not one of the project's macros.
pub fn macro_unique_id(value: &Value) -> Option<String> {
    value.downcast_object_ref::<MacroFunction>().map(|m| m.id.clone())
}

/// See [`macro_function`].
#[derive(Debug)]
pub(super) struct MacroFunction {
    id: String,
    package: String,
    file: String,
    /// The template holding the macro's block (see [`block_template`]).
    template: String,
    name: String,
}

impl Object for MacroFunction {
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn call(self: &Arc<Self>, state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        if let Ok(node) = super::node_context(state) {
            // As dbt records `depends_on.macros`: the macros the node's own template calls,
            // not those they call in turn (a dispatched `default__` implementation).
            let outermost = MACRO_CHAIN.with(|chain| chain.borrow().is_empty());
            if node.phase == super::Phase::Parse && outermost {
                let mut recorded = node.recorded.lock().unwrap_or_else(|p| p.into_inner());
                if !recorded.macros.contains(&self.id) {
                    recorded.macros.push(self.id.clone());
                }
            }
        }
        // A `caller` (or another macro the calling template defines) stays callable inside.
        let called = Called {
            package: &self.package,
            file: &self.file,
            template: &self.template,
            name: &self.name,
        };
        match super::callers::hand_over(state, args) {
            Some((_handed, args)) => call_macro(state, &called, &args),
            None => call_macro(state, &called, args),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &minijinja::value::DynObject) -> Option<std::cmp::Ordering> {
        let other = other.downcast_ref::<Self>()?;
        Some(self.id.cmp(&other.id))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<macro {}>", self.id)
    }
}

/// Which macro [`call_macro`] calls: macro `name` of package `package`, in block template
/// `template` of macro file `file`.
#[derive(Clone, Copy)]
pub(super) struct Called<'a> {
    pub(super) package: &'a str,
    pub(super) file: &'a str,
    pub(super) template: &'a str,
    pub(super) name: &'a str,
}

/// The context a macro runs in: the calling node's values (see [`NODE_CONTEXT_KEYS`]), then
/// the macros of the macro's own package by their bare names (dbt's local namespace); other
/// names are the environment's globals.
#[derive(Debug)]
struct MacroScope {
    node_values: Vec<(&'static str, Value)>,
    local: Option<Arc<MacroNamespace>>,
}

impl Object for MacroScope {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        if let Some((_, v)) = self.node_values.iter().find(|(k, _)| *k == name) {
            return Some(v.clone());
        }
        let local = self.local.as_ref()?;
        let file = local.macros.get(name)?;
        Some(macro_function(&local.package, file, name))
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Values(self.node_values.iter().map(|(k, _)| Value::from(*k)).collect())
    }
}

/// A package's macros as attributes of its name: `dbt_utils.star(...)`.
#[derive(Debug)]
pub(super) struct MacroNamespace {
    pub(super) package: String,
    /// Macro name -> template (file) defining it.
    pub(super) macros: BTreeMap<String, String>,
}

impl Object for MacroNamespace {
    /// Truthy, as every Python object of its kind is.
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        match self.macros.get(name) {
            Some(file) => Some(macro_function(&self.package, file, name)),
            // dbt's own `is_incremental`, `ref` and `source` are macros of the `dbt` namespace
            // too (`dbt.is_incremental()`), also where the project overrides the global.
            None if self.package == "dbt" => {
                super::builtins::Builtins::function(name).or_else(|| match name {
                    // dbt's macros that Mallard implements as functions.
                    "run_query" => Some(Value::from_function(context::run_query)),
                    "statement" => Some(Value::from_function(context::statement)),
                    "load_result" => Some(Value::from_function(context::load_result)),
                    "render" => Some(Value::from_function(render_string)),
                    _ => None,
                })
            }
            None => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Values(self.macros.keys().map(|k| Value::from(k.clone())).collect())
    }
}

/// A diagnostic for an error in template `file`, whose text `original` was loaded as
/// `renamed` (see [`rename_macros`], [`mutable_literals`]): the column is moved back by what the
/// renaming inserted before it on its line, and the excerpt is the line as written.
pub(super) fn rewritten_diagnostic(err: &Error, file: &str, original: &str, renamed: &str) -> Diagnostic {
    let mut d = jinja_diagnostic(err, file, renamed);
    if let Some(loc) = d.location.as_mut().filter(|l| l.file == file) {
        let renamed_line = renamed.lines().nth(loc.line.saturating_sub(1)).unwrap_or("");
        let original_line = original.lines().nth(loc.line.saturating_sub(1));
        if let Some(col) = loc.column {
            let before: String = renamed_line.chars().take(col.saturating_sub(1)).collect();
            let inserted = before.matches(MACRO_PREFIX).count() * MACRO_PREFIX.len()
                + before.matches("mallard_list(").count() * "mallard_list(".len()
                + before.matches("mallard_dict(").count() * "mallard_dict(".len()
                + before.matches("mallard_tuple(").count() * "mallard_tuple(".len();
            loc.column = Some(col.saturating_sub(inserted).max(1));
        }
        if loc.source_line.is_some() {
            loc.source_line = original_line.map(str::to_string);
        }
    }
    d
}

/// What a macro's name is prefixed with inside its template, so that its siblings in the same
/// file call it through the global of its own name (see [`rename_macros`]).
pub(super) const MACRO_PREFIX: &str = "mallard_macro__";

/// What joins a macro file's path and a macro's name in the name of the template that holds
/// that macro's block (see [`block_template`]).
const BLOCK_SEPARATOR: &str = " (macro ";

/// The name of the template holding macro `name`'s block of macro file `file`.
pub(super) fn block_template(file: &str, name: &str) -> String {
    format!("{file}{BLOCK_SEPARATOR}{name})")
}

/// The macro file a template name (see [`block_template`]) belongs to; other names unchanged.
pub(super) fn template_file(template: &str) -> &str {
    match template.rfind(BLOCK_SEPARATOR) {
        Some(at) if template.ends_with(')') => &template[..at],
        _ => template,
    }
}

/// A top-level `{% macro %}` or `{% test %}` block of a macro file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroBlock {
    /// The macro's name as written after `macro`; a `{% test name %}` block is macro
    /// `test_<name>`, as dbt names it.
    pub name: String,
    /// Whether the block is a `{% test %}` block.
    pub is_test: bool,
    /// The block's byte range in the text, from `{%` of its opening tag to `%}` of its end tag.
    pub range: std::ops::Range<usize>,
    /// Its parameter names, in order, without defaults.
    pub arguments: Vec<String>,
}

/// The top-level `{% macro name(...) %} ... {% endmacro %}` and `{% test name(...) %} ...
/// {% endtest %}` blocks of macro file `text`, in order. A macro defined inside another stays
/// in its block; `{# #}` comments and `{% raw %}` sections are skipped. An unclosed block runs
/// to the end of `text`, where compiling it reports the missing end tag. Empty when `text` has
/// no macro.
///
/// This is the one reading of a macro file's blocks: the manifest lists them, and the Jinja
/// environment compiles each on its own (after [`rename_macros`], tests and materializations
/// are macros too), as dbt compiles each block of a macro file (`extract_toplevel_blocks`), so
/// text between the blocks is seen by no macro, and calling one macro costs one block, not the
/// file.
pub fn macro_blocks(text: &str) -> Vec<MacroBlock> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    // The open block: its name, whether a test, its start and its arguments.
    let mut open: Option<(String, bool, usize, Vec<String>)> = None;
    let mut at = 0;
    while let Some(found) = text[at..].find('{').map(|i| at + i) {
        let rest = &text[found..];
        if rest.starts_with("{#") {
            at = rest.find("#}").map_or(text.len(), |e| found + e + 2);
            continue;
        }
        if !rest.starts_with("{%") {
            at = found + 1;
            continue;
        }
        let tag_end = rest.find("%}").map_or(text.len(), |e| found + e + 2);
        let inner = rest[2..].trim_start_matches(['-', '+']).trim_start();
        let keyword: &str = inner
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("");
        // Which kind of block is open decides which end tag closes it.
        let open_is_test = open.as_ref().is_some_and(|o| o.1);
        match keyword {
            "raw" => {
                // Up to the end of the `{% endraw %}` tag.
                let mut end = text.len();
                let mut from = tag_end;
                while let Some(i) = text[from..].find("{%").map(|i| from + i) {
                    let t = text[i + 2..].trim_start_matches(['-', '+']).trim_start();
                    let close = text[i..].find("%}").map_or(text.len(), |e| i + e + 2);
                    if t.starts_with("endraw") {
                        end = close;
                        break;
                    }
                    from = close;
                }
                at = end;
                continue;
            }
            "macro" | "test" if depth == 0 => {
                let is_test = keyword == "test";
                let tag = rest[2..].find("%}").map_or(&rest[2..], |e| &rest[2..2 + e]);
                let signature = tag.trim_start_matches(['-', '+']).trim_start()[keyword.len()..]
                    .trim_end_matches(['-', '+'])
                    .trim();
                let name: String = signature
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let arguments = signature
                    .split_once('(')
                    .and_then(|(_, p)| p.rsplit_once(')'))
                    .map_or("", |(p, _)| p)
                    .split(',')
                    .map(|p| p.split('=').next().unwrap_or("").trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect();
                let name = if is_test { format!("test_{name}") } else { name };
                open = Some((name, is_test, found, arguments));
                depth = 1;
            }
            "macro" if !open_is_test => depth += 1,
            "endmacro" | "endtest" if depth > 0 && (keyword == "endtest") == open_is_test => {
                depth -= 1;
                if depth == 0 {
                    if let Some((name, is_test, start, arguments)) = open.take() {
                        out.push(MacroBlock {
                            name,
                            is_test,
                            range: start..tag_end,
                            arguments,
                        });
                    }
                }
            }
            _ => {}
        }
        at = tag_end;
    }
    if let Some((name, is_test, start, arguments)) = open {
        out.push(MacroBlock {
            name,
            is_test,
            range: start..text.len(),
            arguments,
        });
    }
    out.into_iter()
        .filter(|b| !b.name.is_empty() && b.name != "test_")
        .collect()
}

/// The macro of custom materialization `name` for the target's adapter type
/// (`{% materialization name, duckdb %}`), else for every adapter (`..., default %}`), if a
/// macro file defines it.
pub fn materialization_macro(env: &Environment<'static>, name: &str) -> Option<Value> {
    let target = env.globals().find(|(g, _)| *g == "target").map(|(_, t)| t);
    let engine = super::adapter_object::adapter_type(target);
    [engine.as_str(), "default"].iter().find_map(|adapter| {
        let wanted = format!("materialization_{name}_{adapter}");
        env.globals()
            .find(|(g, _)| *g == wanted)
            .map(|(_, f)| f)
            .filter(|v| !v.is_undefined())
    })
}

/// The macro of custom generic test `name` (`my_test`, or `package.my_test`): `test_<name>`,
/// if some macro file defines it.
pub fn generic_test_macro(env: &Environment<'static>, name: &str) -> Option<Value> {
    let found = match name.split_once('.') {
        Some((package, test)) => env
            .globals()
            .find(|(g, _)| *g == package)
            .and_then(|(_, ns)| ns.get_attr(&format!("test_{test}")).ok()),
        None => {
            let wanted = format!("test_{name}");
            env.globals().find(|(g, _)| *g == wanted).map(|(_, f)| f)
        }
    };
    found.filter(|v| !v.is_undefined())
}

/// How deep macro calls may nest on one thread. Each level costs about
/// [`STACK_PER_MACRO_LEVEL`] of stack; every thread that renders has at least
/// [`RENDER_STACK_SIZE`]. dbt stops at Python's recursion limit (1,000 frames, a few hundred
/// macro levels); the corpus projects of `tests/realworld` run within it.
pub const MAX_MACRO_DEPTH: usize = 200;

/// The stack one level of macro call may take: ten times what was measured (a debug build
/// rendered 10,000 nested calls in 64 MiB of stack and overflowed at 20,000: 3.3-6.5 KiB a
/// level).
pub const STACK_PER_MACRO_LEVEL: usize = 64 * 1024;

/// The stack size of every thread that renders templates: room for [`MAX_MACRO_DEPTH`]
/// levels and the rest of the call chain.
pub const RENDER_STACK_SIZE: usize = MAX_MACRO_DEPTH * STACK_PER_MACRO_LEVEL + 4 * 1024 * 1024;

thread_local! {
    /// The macros being called on this thread, outermost first.
    static MACRO_CHAIN: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// One level of macro call on this thread's [`MACRO_CHAIN`], left when dropped.
struct MacroDepth;

impl MacroDepth {
    fn enter(name: &str) -> Result<MacroDepth, Error> {
        MACRO_CHAIN.with(|chain| {
            let mut chain = chain.borrow_mut();
            if chain.len() >= MAX_MACRO_DEPTH {
                // The chain's repeating tail is what the user needs to see.
                let tail: Vec<&str> = chain.iter().rev().take(6).rev().map(String::as_str).collect();
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "maximum recursion depth exceeded in macro `{}`: more than {MAX_MACRO_DEPTH} nested \
                         macro calls (... -> {} -> {name}); a macro that calls itself needs a condition that ends it",
                        chain.first().map_or(name, String::as_str),
                        tail.join(" -> ")
                    ),
                ));
            }
            chain.push(name.to_string());
            Ok(MacroDepth)
        })
    }
}

impl Drop for MacroDepth {
    fn drop(&mut self) {
        MACRO_CHAIN.with(|chain| {
            chain.borrow_mut().pop();
        });
    }
}

/// Calls macro `name` of template `file` with the calling node's context, so that `this`,
/// `config` and `ref` inside the macro refer to that node, as in dbt.
///
/// Errors: beyond [`MAX_MACRO_DEPTH`] nested macro calls on this thread, "maximum recursion
/// depth exceeded" with the chain of macros, as dbt reports Python's recursion limit.
pub(super) fn call_macro(state: &State, called: &Called<'_>, args: &[Value]) -> Result<Value, Error> {
    let Called {
        package,
        file,
        template,
        name,
    } = *called;
    // A unit test's `overrides: macros:` (named bare or with its package).
    if let Ok(node) = super::node_context(state) {
        let overridden = node
            .macro_overrides
            .iter()
            .find(|(k, _)| k.as_str() == name || k.rsplit('.').next() == Some(name));
        if let Some((_, value)) = overridden {
            return Ok(Value::from_serialize(value));
        }
    }
    let _depth = MacroDepth::enter(name)?;
    // A map value, not a Rust map: minijinja takes a `Value` over as it is, where a map
    // would be serialised key by key on every call.
    let node_values: Vec<(&'static str, Value)> = NODE_CONTEXT_KEYS
        .iter()
        .filter_map(|k| node_value(state, k).map(|v| (*k, v)))
        .collect();
    // As in dbt, a package's macro sees its own package's macros first by their bare names
    // (its local namespace), then the globals (the root project's, then dbt's).
    let local = state
        .lookup(package)
        .filter(|_| {
            state
                .lookup("__mallard_root")
                .is_none_or(|r| r.as_str() != Some(package))
        })
        .and_then(|ns| ns.downcast_object::<MacroNamespace>())
        .filter(|ns| ns.package == package);
    let ctx = Value::from_object(MacroScope { node_values, local });
    let tmpl = state.env().get_template(template)?;
    let captured = tmpl.render_captured(ctx)?;
    let macro_state = captured.state();
    let value = macro_state
        .lookup(&format!("{MACRO_PREFIX}{name}"))
        .ok_or_else(|| {
            Error::new(
                ErrorKind::UnknownFunction,
                format!("macro `{name}` not found in `{file}`"),
            )
        })?;
    let catch_all = state.lookup("__mallard_catch_all").is_some_and(|files| {
        files
            .try_iter()
            .is_ok_and(|mut it| it.any(|f| f.as_str() == Some(file)))
    });
    let collected;
    let args = match catch_all
        .then(|| catch_all_arguments(&value, args))
        .transpose()?
        .flatten()
    {
        Some(a) => {
            collected = a;
            &collected[..]
        }
        None => args,
    };
    match value.call(macro_state, args) {
        Err(e) => context::returned_value(&e).ok_or(e),
        ok => ok,
    }
}

/// For a macro declaring `kwargs` and `varargs` (see [`catch_all_parameters`]): `args` with
/// the keyword arguments it does not declare gathered into `kwargs` (a dict) and the
/// positional ones beyond its parameters into `varargs` (a tuple, as Python's). `None` for other macros.
fn catch_all_arguments(value: &Value, args: &[Value]) -> Result<Option<Vec<Value>>, Error> {
    let declared: Vec<String> = match value.get_attr("arguments") {
        Ok(a) if !a.is_undefined() => a.try_iter()?.map(|v| v.to_string()).collect(),
        _ => return Ok(None),
    };
    if !declared.iter().any(|a| a == "kwargs") {
        return Ok(None);
    }
    let named: Vec<&str> = declared
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "kwargs" && *a != "varargs")
        .collect();
    let (positional, given) = match args.last() {
        Some(last) if last.is_kwargs() => (&args[..args.len() - 1], Some(last)),
        _ => (args, None),
    };
    let mut out: Vec<Value> = positional.iter().take(named.len()).cloned().collect();
    let varargs: Vec<Value> = positional.iter().skip(named.len()).cloned().collect();
    let mut keep: Vec<(String, Value)> = Vec::new();
    let mut extra = Vec::new();
    if let Some(given) = given {
        for key in given.try_iter()? {
            let k = key.to_string();
            let v = given.get_item(&key)?;
            if named.contains(&k.as_str()) || k == "caller" {
                keep.push((k, v));
            } else {
                extra.push((key, v));
            }
        }
    }
    let extra_map = Value::from_iter(extra);
    keep.push((
        "kwargs".to_string(),
        Value::from_object(super::mutable::MutableDict::from_map(Some(&extra_map))?),
    ));
    keep.push((
        "varargs".to_string(),
        Value::from_object(super::mutable::Tuple(varargs)),
    ));
    out.push(Value::from(minijinja::value::Kwargs::from_iter(keep)));
    Ok(Some(out))
}

/// dbt's `render(text)`: `text` rendered as a template with the calling node's context (its
/// `this`, `model`, `config`, ... and every macro), as dbt's `render` context member does.
///
/// Errors: Jinja errors in `text`.
pub(super) fn render_string(state: &State, text: String) -> Result<Value, Error> {
    let ctx = Value::from_iter(
        NODE_CONTEXT_KEYS
            .iter()
            .filter_map(|k| node_value(state, k).map(|v| (Value::from(*k), v))),
    );
    let source = super::mutable_literals(&text);
    Ok(Value::from(
        state.env().render_named_str("<render>", &source, ctx)?,
    ))
}
