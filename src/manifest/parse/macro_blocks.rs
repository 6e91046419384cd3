//! The macros of a macro file as the manifest records them: their names and their blocks.

use super::find_tag;

/// The names of the `{% macro name(...) %}` blocks in a macro file, in order.
pub(super) fn macro_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in text.split("{%").skip(1) {
        let t = part.trim_start_matches('-').trim_start();
        if let Some(rest) = t.strip_prefix("macro ") {
            let name: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

/// Each `{% macro name(args) %} ... {% endmacro %}` block of `text` (and `{% test name %}`
/// block, as macro `test_<name>`): its name, its whole text and its parameter names.
pub(super) fn macro_blocks(text: &str) -> Vec<(String, String, Vec<String>)> {
    let mut out = Vec::new();
    let mut from = 0;
    loop {
        let m = find_tag(text, from, "macro").map(|t| (t, "macro", "endmacro"));
        let t = find_tag(text, from, "test").map(|t| (t, "test", "endtest"));
        let next = match (m, t) {
            (Some(a), Some(b)) => Some(if a.0 .0 <= b.0 .0 { a } else { b }),
            (a, b) => a.or(b),
        };
        let Some(((start, end, rest), kind, close)) = next else {
            break;
        };
        let Some((_, close_end, _)) = find_tag(text, end, close) else {
            break;
        };
        let rest = rest.trim();
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let params = rest
            .split_once('(')
            .and_then(|(_, p)| p.rsplit_once(')'))
            .map(|(p, _)| p)
            .unwrap_or("");
        let arguments = params
            .split(',')
            .map(|p| p.split('=').next().unwrap_or("").trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        if !name.is_empty() {
            let name = if kind == "test" {
                format!("test_{name}")
            } else {
                name
            };
            out.push((name, text[start..close_end].to_string(), arguments));
        }
        from = close_end;
    }
    out
}
