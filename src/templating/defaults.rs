//! Macro defaults that name earlier parameters, as Jinja2 evaluates them:
//! `{% macro m(schema_name, name=schema_name) %}` gives `name` the value passed as
//! `schema_name`. minijinja evaluates a default where the macro is called, without the macro's
//! own parameters, so such a default is rewritten into the body: the parameter defaults to
//! [`UNSET`] and the body begins with `{% if name is mallard_unset %}{% set name = schema_name
//! %}{% endif %}`. Lines do not move.

use minijinja::value::{Object, Value};
use minijinja::Environment;

use super::macros::MACRO_PREFIX;
use super::rewrite::matching_close;
use super::scan::Strings;

/// The name of the global holding the "argument not passed" marker and of its test.
const UNSET: &str = "mallard_unset";

/// The marker a rewritten default stands for until the body computes it.
#[derive(Debug)]
struct Unset;

impl Object for Unset {}

/// Adds the marker (global `mallard_unset`) and its test (`is mallard_unset`) to `env`.
pub(super) fn add_to(env: &mut Environment<'static>) {
    env.add_global(UNSET, Value::from_object(Unset));
    env.add_test(UNSET, |v: Value| v.downcast_object_ref::<Unset>().is_some());
}

/// `text` (after `rename_macros`) with each default that names an earlier parameter moved into
/// the macro's body (see the module's doc). Text without such defaults is returned as it is.
pub(super) fn dependent_defaults(text: &str) -> std::borrow::Cow<'_, str> {
    let marker = format!("macro {MACRO_PREFIX}");
    if !text.contains(&marker) || !text.contains('=') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    let mut changed = false;
    while let Some(at) = rest.find(&marker) {
        let Some(open) = rest[at..].find('(').map(|o| at + o) else {
            break;
        };
        let Some(close) = matching_close(rest, open) else {
            break;
        };
        let Some(tag_end) = rest[close..].find("%}").map(|e| close + e) else {
            break;
        };
        let params = split_parameters(&rest[open + 1..close]);
        let mut names: Vec<&str> = Vec::new();
        let mut list = String::new();
        let mut assignments = String::new();
        let trim_after = rest[..tag_end].ends_with('-');
        let close_tag = if trim_after { "-%}" } else { "%}" };
        for (i, param) in params.iter().enumerate() {
            if i > 0 {
                list.push(',');
            }
            let (name, default) = match param.split_once('=') {
                Some((n, d)) if !d.starts_with('=') => (n.trim(), Some(d)),
                _ => (param.trim(), None),
            };
            match default {
                Some(default) if names.iter().any(|n| names_identifier(default, n)) => {
                    let leading = &param[..param.len() - param.trim_start().len()];
                    let newlines = "\n".repeat(default.matches('\n').count());
                    list.push_str(&format!("{leading}{name}={UNSET}{newlines}"));
                    let default = default.trim().replace('\n', " ");
                    assignments.push_str(&format!(
                        "{{% if {name} is {UNSET} {close_tag}{{% set {name} = {default} {close_tag}{{% endif {close_tag}"
                    ));
                    changed = true;
                }
                _ => list.push_str(param),
            }
            names.push(name);
        }
        out.push_str(&rest[..open + 1]);
        out.push_str(&list);
        out.push_str(&rest[close..tag_end + 2]);
        out.push_str(&assignments);
        rest = &rest[tag_end + 2..];
    }
    if !changed {
        return std::borrow::Cow::Borrowed(text);
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// The parameters of a macro's parameter list, split at the commas outside brackets and
/// strings (each with its spacing).
fn split_parameters(list: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut depth = 0i32;
    let mut strings = Strings::default();
    for (i, c) in list.char_indices() {
        if strings.step(c) {
            continue;
        }
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if !list[start..].trim().is_empty() {
        out.push(&list[start..]);
    }
    out
}

/// Whether `expr` uses the name `name` (outside strings, not as an attribute `x.name`).
fn names_identifier(expr: &str, name: &str) -> bool {
    let bytes = expr.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if expr[i..].starts_with(name) => {
                let before = expr[..i].chars().next_back();
                let after = expr[i + name.len()..].chars().next();
                let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                let keyword = after == Some('=') && !expr[i + name.len()..].starts_with("==");
                if !word(before) && before != Some('.') && !word(after) && !keyword {
                    return true;
                }
            }
            None => {}
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_naming_an_earlier_parameter_moves_into_the_body() {
        let text = "{% macro mallard_macro__m(schema_name, name=schema_name, k='name') -%}x{%- endmacro %}";
        assert_eq!(
            dependent_defaults(text),
            "{% macro mallard_macro__m(schema_name, name=mallard_unset, k='name') -%}\
             {% if name is mallard_unset -%}{% set name = schema_name -%}{% endif -%}x{%- endmacro %}"
        );
        let plain = "{% macro mallard_macro__m(a, b=none, c=kwargs.a) %}{% endmacro %}";
        assert_eq!(dependent_defaults(plain), plain);
    }
}
