//! The rewrites that let dbt's Jinja2 macro files run in minijinja, made on the source text
//! before it is compiled: macros renamed so that `return()` ends the right one (and `{% test %}`
//! and `{% materialization %}` blocks made macros), `kwargs`/`varargs` parameters added where a
//! body uses them, `[]` and `{}` literals made mutable, tuple literals made tuples, Python's
//! `'fmt' % args` and `{% do X if C %}` made what minijinja parses, and datetime arithmetic made
//! calls. The expressions are scanned by [`super::scan`].

use super::macros::MACRO_PREFIX;
use super::scan::{conditional_do, is_tuple, operand_end};

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
        // A custom materialization, `{% materialization name, adapter %}`, is the macro
        // `materialization_<name>_<adapter>`, as dbt names it.
        if let Some(spec) = trimmed
            .strip_prefix("materialization")
            .filter(|s| s.starts_with(char::is_whitespace))
        {
            let Some(end) = spec.find("%}") else { continue };
            let inner = spec[..end].trim_end().trim_end_matches('-');
            let mut parts = inner.split(',').map(str::trim);
            let name = parts.next().unwrap_or_default();
            // `default`, or `adapter = "duckdb"` (spaces allowed; `supported_languages=[...]`
            // may follow, and is not an adapter).
            let adapter = parts
                .find_map(|a| match a.split_once('=') {
                    Some((key, value)) if key.trim() == "adapter" => {
                        Some(value.trim().trim_matches(|c| c == '\'' || c == '"'))
                    }
                    Some(_) => None,
                    None => Some(a),
                })
                .unwrap_or("default");
            let closing_dash = if spec[..end].trim_end().ends_with('-') {
                "-"
            } else {
                ""
            };
            out.push_str(&rest[..keyword_at]);
            out.push_str(&format!(
                "macro {MACRO_PREFIX}materialization_{name}_{adapter}() {closing_dash}"
            ));
            rest = &trimmed["materialization".len() + end..];
            continue;
        }
        let (keyword, replacement) = if trimmed.starts_with("macro") {
            ("macro", "macro")
        } else if trimmed.starts_with("endmaterialization") {
            out.push_str(&rest[..keyword_at]);
            out.push_str("endmacro");
            rest = &rest[keyword_at + "endmaterialization".len()..];
            continue;
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

/// `text` (after [`rename_macros`]) with `kwargs=none, varargs=none` added to the parameters
/// of every macro whose body mentions `kwargs` or `varargs`: Jinja2 gives such a macro the
/// keyword and positional arguments it does not declare, minijinja does not, so
/// [`call_macro`] collects them and passes them under those names. Lines do not move.
pub(super) fn catch_all_parameters(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("kwargs") && !text.contains("varargs") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    let marker = format!("macro {MACRO_PREFIX}");
    while let Some(at) = rest.find(&marker) {
        let open = match rest[at..].find('(') {
            Some(o) => at + o,
            None => break,
        };
        // The `)` that closes the parameter list (defaults may hold brackets and strings).
        let mut depth = 0;
        let mut quote: Option<char> = None;
        let mut close = None;
        for (i, c) in rest[open..].char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '(' | '[' | '{') => depth += 1,
                (None, ')' | ']' | '}') => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(open + i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(close) = close else { break };
        let params = &rest[open + 1..close];
        let body_end = rest[close..].find("endmacro").map_or(rest.len(), |e| close + e);
        let body = &rest[close..body_end];
        let mentions = |word: &str| {
            body.match_indices(word).any(|(i, _)| {
                let before = body[..i].chars().next_back();
                let after = body[i + word.len()..].chars().next();
                !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                    && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        };
        out.push_str(&rest[..close]);
        if (mentions("kwargs") || mentions("varargs")) && !params.contains("kwargs") {
            if !params.trim().is_empty() {
                out.push_str(", ");
            }
            out.push_str("kwargs=none, varargs=none");
        }
        rest = &rest[close..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// `text` with every list literal `[...]` and dict literal `{...}` inside Jinja tags and
/// expressions wrapped as `mallard_list([...])` and `mallard_dict({...})`: values that, like
/// Python's, `.append()`, `.extend()`, `.update()`, `.pop()` ... change in place (minijinja's
/// literals cannot be changed). Subscripts (`a[0]`, `a[1:]`), strings, comments and `{% raw %}`
/// blocks are left as they are.
pub fn mutable_literals(text: &str) -> std::borrow::Cow<'_, str> {
    // A template without tags has no literal: it is used as it is, without a copy.
    if !text.contains("{{") && !text.contains("{%") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    // Where timedeltas are in use, `a + b` of two names may add them (see `arith::name_addition`).
    let timedeltas = text.contains("timedelta(");
    loop {
        // The next `{{` or `{%` (a `{#` comment is copied whole).
        let Some(at) = rest.find('{') else {
            out.push_str(rest);
            break;
        };
        let (before, tag) = rest.split_at(at);
        out.push_str(before);
        let close = match tag.as_bytes().get(1) {
            Some(b'{') => "}}",
            Some(b'%') => "%}",
            Some(b'#') => "#}",
            _ => {
                out.push('{');
                rest = &tag[1..];
                continue;
            }
        };
        if close == "#}" {
            let end = tag.find("#}").map_or(tag.len(), |e| e + 2);
            out.push_str(&tag[..end]);
            rest = &tag[end..];
            continue;
        }
        let body_start = 2;
        let Some(end) = expression_end(&tag[body_start..], close) else {
            out.push_str(tag);
            break;
        };
        let body = &tag[body_start..body_start + end];
        let added;
        let body = if timedeltas {
            added = super::arith::name_addition(body);
            added.as_ref()
        } else {
            body
        };
        out.push_str(&tag[..body_start]);
        match conditional_do(body).filter(|_| close == "%}") {
            // `{% do x.append(1) if c %}`, Jinja2's conditional expression without `else`
            // as a statement, is `{% if c %}{% do x.append(1) %}{% endif %}`.
            Some((lead, call, condition, trail)) => out.push_str(&format!(
                "{lead} if {} %}}{{% do {} %}}{{% endif {trail}",
                wrap_literals(&super::arith::timedelta_arithmetic(condition)),
                wrap_literals(&super::arith::timedelta_arithmetic(call)),
            )),
            None => out.push_str(&wrap_literals(&super::arith::timedelta_arithmetic(body))),
        }
        out.push_str(close);
        rest = &tag[body_start + end + close.len()..];
        // `{% raw %}` ... `{% endraw %}` is copied as it is.
        let keyword = body.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        if close == "%}" && keyword == "raw" {
            let end_raw = find_endraw(rest).unwrap_or(rest.len());
            out.push_str(&rest[..end_raw]);
            rest = &rest[end_raw..];
        }
    }
    if out == text {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(out)
    }
}

/// A Jinja expression rewritten as tags are (see [`mutable_literals`]): datetime arithmetic
/// and mutable list and dict literals.
pub(super) fn rewrite_expression(expr: &str) -> String {
    wrap_literals(&super::arith::timedelta_arithmetic(expr))
}

/// Where `close` ends a Jinja tag whose body starts `body`, skipping strings.
pub(super) fn expression_end(body: &str, close: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    // Brackets open inside the expression: as in Jinja2's lexer, `}}` closes the tag only
    // outside them (`{{ {'a': {'b': 2}}.a }}`).
    let mut depth = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None => {
                if b == b'\'' || b == b'"' {
                    quote = Some(b);
                } else if depth == 0 && bytes[i..].starts_with(close.as_bytes()) {
                    return Some(i);
                } else if matches!(b, b'(' | b'[' | b'{') {
                    depth += 1;
                } else if matches!(b, b')' | b']' | b'}') {
                    depth = depth.saturating_sub(1);
                }
            }
        }
        i += 1;
    }
    None
}

/// The start of the `{% endraw %}` tag in `text`.
pub(super) fn find_endraw(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = text[from..].find("{%") {
        let start = from + at;
        let inner = text[start + 2..].trim_start_matches(['-', '+']).trim_start();
        if inner.starts_with("endraw") {
            return Some(start);
        }
        from = start + 2;
    }
    None
}

/// One tag's expression text with its list and dict literals wrapped (see [`mutable_literals`]).
pub(super) fn wrap_literals(body: &str) -> String {
    const OPERATOR_WORDS: &[&str] = &[
        "in", "and", "or", "not", "if", "else", "is", "return", "do", "set",
    ];
    let mut out = String::with_capacity(body.len() + 32);
    // For each open bracket: whether it was wrapped (needs a `)` after its close).
    let mut stack: Vec<bool> = Vec::new();
    // Whether the last significant token ends an operand (so `[` is a subscript).
    let mut after_operand = false;
    let mut word = String::new();
    // Where in `out` the last operand began, when it is a string literal (for `'%s' % x`).
    let mut string_operand: Option<usize> = None;
    let mut chars = body.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
            out.push(c);
            string_operand = None;
            continue;
        }
        if !word.is_empty() {
            after_operand = !OPERATOR_WORDS.contains(&word.as_str());
            word.clear();
        }
        if c == '%' {
            if let Some(start) = string_operand.take() {
                // Python's `'fmt' % args`, which minijinja lacks, as a call.
                let end = at + 1 + operand_end(&body[at + 1..]);
                let format = out[start..].trim_end().to_string();
                out.truncate(start);
                out.push_str(&format!(
                    "mallard_percent({format}, {})",
                    wrap_literals(body[at + 1..end].trim())
                ));
                while chars.peek().is_some_and(|&(i, _)| i < end) {
                    chars.next();
                }
                after_operand = true;
                continue;
            }
        }
        if !c.is_whitespace() {
            string_operand = None;
        }
        match c {
            '\'' | '"' => {
                string_operand = Some(out.len());
                copy_string(c, &mut chars, &mut out);
                after_operand = true;
            }
            '[' | '{' | '(' => {
                // `[..]` where an operand starts and every `{..}` are literals; `(a, b)`,
                // `(a,)` and `()` where an operand starts are tuples.
                let wrapper = match c {
                    '[' if !after_operand => Some("mallard_list("),
                    '{' => Some("mallard_dict("),
                    '(' if !after_operand && is_tuple(&body[at + 1..]) => Some("mallard_tuple("),
                    _ => None,
                };
                if let Some(call) = wrapper {
                    // `x in['a']`: the call must not join the word before it.
                    if out.ends_with(|p: char| p.is_alphanumeric() || p == '_') {
                        out.push(' ');
                    }
                    out.push_str(call);
                }
                out.push(c);
                stack.push(wrapper.is_some());
                after_operand = false;
            }
            ']' | '}' | ')' => {
                out.push(c);
                if stack.pop() == Some(true) {
                    out.push(')');
                }
                after_operand = true;
            }
            c if c.is_whitespace() => out.push(c),
            // Unary `+` (`{{ +1 }}`), which minijinja does not parse, is the operand itself;
            // `+` first in the tag is `{%+`'s whitespace control.
            '+' if !after_operand && at > 0 => out.push(' '),
            _ => {
                out.push(c);
                after_operand = false;
            }
        }
    }
    out
}

/// Copies a string literal opened by `quote` (just read from `chars`) to `out`: the quote,
/// then the rest from `chars`, escapes included, through its closing quote.
fn copy_string(quote: char, chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>, out: &mut String) {
    out.push(quote);
    while let Some((_, d)) = chars.next() {
        out.push(d);
        if d == '\\' {
            if let Some((_, e)) = chars.next() {
                out.push(e);
            }
        } else if d == quote {
            break;
        }
    }
}

/// The index of the bracket closing the one at `open` (skipping strings).
pub(super) fn matching_close(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut quote: Option<u8> = None;
    for (i, &b) in s.as_bytes().iter().enumerate().skip(open) {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'\'' | b'"' => quote = Some(b),
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            },
        }
    }
    None
}

/// Where the operand ending at `end` starts (see `arith::timedelta_arithmetic`).
pub(super) fn operand_start(s: &str, end: usize) -> usize {
    let b = s.as_bytes();
    let mut i = end;
    loop {
        if i == 0 {
            return 0;
        }
        match b[i - 1] {
            b')' | b']' => {
                let close = b[i - 1];
                let open = if close == b')' { b'(' } else { b'[' };
                let mut depth = 0;
                let mut j = i;
                while j > 0 {
                    j -= 1;
                    if b[j] == close {
                        depth += 1;
                    } else if b[j] == open {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                }
                i = j;
                // A call or subscript continues the chain to its left.
                if i > 0 && (b[i - 1].is_ascii_alphanumeric() || matches!(b[i - 1], b'_' | b')' | b']')) {
                    continue;
                }
                return i;
            }
            b'\'' | b'"' => {
                let q = b[i - 1];
                let mut j = i - 1;
                while j > 0 {
                    j -= 1;
                    if b[j] == q {
                        break;
                    }
                }
                return j;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                while i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
                    i -= 1;
                }
                if i > 0 && b[i - 1] == b'.' {
                    i -= 1;
                    continue;
                }
                return i;
            }
            _ => return i,
        }
    }
}
