//! Macros: how macro files are rewritten before minijinja loads them (macro renaming so that
//! `return()` ends the right macro, `{% test %}` blocks, mutable `[]` / `{}` literals), how a
//! macro is called with its caller's context, package namespaces, and dbt's built-in
//! cross-database macros.

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::{Object, Rest, Value};
use minijinja::{Environment, Error, ErrorKind, State};

use super::{context, jinja_diagnostic};
use crate::error::Diagnostic;

/// The context keys a macro sees from the node that calls it.
pub(super) const NODE_CONTEXT_KEYS: &[&str] = &["__mallard", "this", "model", "execute", "config"];

/// dbt's cross-database macros (`dbt.concat`, `dbt.dateadd`, `dbt.type_string`, ...), as
/// dbt-duckdb renders them.
pub(super) const DBT_MACROS: &str = include_str!("dbt_macros.sql");

/// A global function that calls macro `name` of template `file` (see [`call_macro`]).
pub(super) fn macro_function(
    file: &str,
    name: &str,
) -> impl Fn(&State, Rest<Value>) -> Result<Value, Error> + Send + Sync + 'static {
    let (file, name) = (file.to_string(), name.to_string());
    move |state: &State, args: Rest<Value>| call_macro(state, &file, &name, &args)
}

/// A package's macros as attributes of its name: `dbt_utils.star(...)`.
#[derive(Debug)]
pub(super) struct MacroNamespace {
    /// Macro name -> template (file) defining it.
    pub(super) macros: BTreeMap<String, String>,
}

impl Object for MacroNamespace {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        let file = self.macros.get(name)?;
        Some(Value::from_function(macro_function(file, name)))
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
                + before.matches("mallard_list()").count() * ("mallard_list()".len() - 2)
                + before.matches("mallard_dict()").count() * ("mallard_dict()".len() - 2);
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

/// `text` with each `{% macro name(` renamed to `{% macro mallard_macro__name(`. A macro
/// calling a sibling in its own file would otherwise reach the sibling directly, not through
/// [`call_macro`], and a `return()` in the sibling would end the caller instead. Lines and
/// columns before each name are unchanged.
pub(super) fn rename_macros(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(at) = rest.find("{%") {
        out.push_str(&rest[..at + 2]);
        rest = &rest[at + 2..];
        let after_dash = rest.strip_prefix('-').unwrap_or(rest);
        let trimmed = after_dash.trim_start();
        let keyword_at = rest.len() - trimmed.len();
        // A generic test, `{% test name(model, ...) %} ... {% endtest %}`, is the macro
        // `test_<name>`, as dbt defines it.
        let (keyword, replacement) = if trimmed.starts_with("macro") {
            ("macro", "macro")
        } else if trimmed.starts_with("test") {
            ("test", "macro")
        } else if trimmed.starts_with("endtest") {
            out.push_str(&rest[..keyword_at]);
            out.push_str("endmacro");
            rest = &rest[keyword_at + "endtest".len()..];
            continue;
        } else {
            continue;
        };
        let after = &trimmed[keyword.len()..];
        if after.starts_with(char::is_whitespace) {
            let name_start = rest.len() - after.trim_start().len();
            out.push_str(&rest[..keyword_at]);
            out.push_str(replacement);
            out.push_str(&rest[keyword_at + keyword.len()..name_start]);
            out.push_str(MACRO_PREFIX);
            if keyword == "test" {
                out.push_str("test_");
            }
            rest = &rest[name_start..];
        }
    }
    out.push_str(rest);
    out
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

/// `text` with each `{% set name = [] %}` and `{% set name = {} %}` (empty literals, the start
/// of the Python-style `do name.append(...)` idiom) rendered as `mallard_list()` and
/// `mallard_dict()`, which can be changed in place; minijinja's literals cannot.
pub fn mutable_literals(text: &str) -> std::borrow::Cow<'_, str> {
    // Most templates have no `set`: they are used as they are, without a copy.
    if !text.contains("set") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    while let Some(at) = rest.find("{%") {
        let (before, tag) = rest.split_at(at);
        out.push_str(before);
        let Some(end) = tag.find("%}") else {
            rest = tag;
            break;
        };
        let (inner, after) = tag.split_at(end);
        rest = after;
        // `inner` is `{%` ... up to the closing `%}`.
        let body = inner[2..]
            .trim_start_matches('-')
            .trim()
            .trim_end_matches('-')
            .trim_end();
        let replaced = body
            .strip_prefix("set ")
            .and_then(|s| s.split_once('='))
            .filter(|(name, _)| {
                !name.trim().is_empty()
                    && name
                        .trim()
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
            })
            .and_then(|(_, value)| match value.trim() {
                "[]" => Some("mallard_list()"),
                "{}" => Some("mallard_dict()"),
                _ => None,
            });
        match replaced {
            Some(call) => {
                let literal = if call == "mallard_list()" { "[]" } else { "{}" };
                let pos = inner.rfind(literal).expect("the literal is in the tag");
                out.push_str(&inner[..pos]);
                out.push_str(call);
                out.push_str(&inner[pos + literal.len()..]);
            }
            None => out.push_str(inner),
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// How deep macro calls may nest on one thread. Each level costs about
/// [`STACK_PER_MACRO_LEVEL`] of stack; every thread that renders has at least
/// [`RENDER_STACK_SIZE`]. dbt stops at Python's recursion limit (1,000 frames, a few hundred
/// macro levels); no macro of the corpus projects nests deeper than a few dozen.
pub const MAX_MACRO_DEPTH: usize = 200;

/// The stack one level of macro call takes at most, measured in a debug build
/// (`tests/bad_inputs`' recursion case) with margin.
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
                        "maximum recursion depth exceeded: more than {MAX_MACRO_DEPTH} nested macro calls \
                         (... -> {} -> {name}); a macro that calls itself needs a condition that ends it",
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
pub(super) fn call_macro(state: &State, file: &str, name: &str, args: &[Value]) -> Result<Value, Error> {
    let _depth = MacroDepth::enter(name)?;
    let ctx: BTreeMap<&str, Value> = NODE_CONTEXT_KEYS
        .iter()
        .filter_map(|k| state.lookup(k).map(|v| (*k, v)))
        .collect();
    let tmpl = state.env().get_template(file)?;
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
    match value.call(macro_state, args) {
        Err(e) => context::returned_value(&e).ok_or(e),
        ok => ok,
    }
}
