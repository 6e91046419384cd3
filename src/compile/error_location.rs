//! Where a database error is in what the user wrote. DuckDB quotes the line of the statement
//! it failed on (`LINE 9:   no_such as z` and a caret); the statement wraps the compiled SQL
//! (`create table ... as (`), so its line number is not the compiled file's. This finds the
//! compiled file's line by the text DuckDB quotes, then the template's lines that rendered it,
//! by a line diff (the `similar` crate) of the template against the compiled SQL: lines that
//! Jinja left alone map one to one, and a line that Jinja produced maps to the template lines
//! of the construct that produced it.

use similar::{DiffOp, TextDiff};

use crate::manifest::{Node, ResourceType};

/// The 1-based line of `compiled` that a DuckDB error quotes in its `LINE n: text` context.
/// When the quoted text is on several lines, the last one at or before `n` is taken (the
/// statement only adds lines before the compiled SQL), else the first.
///
/// Returns `None` when the error quotes no line or its text is not in `compiled`.
pub fn compiled_line(error: &str, compiled: &str) -> Option<usize> {
    let (number, quoted) = error.lines().find_map(|l| {
        let rest = l.trim_start().strip_prefix("LINE ")?;
        let (number, text) = rest.split_once(':')?;
        Some((number.trim().parse::<usize>().ok()?, text))
    })?;
    // DuckDB shortens a long line around the error with `...` at either end.
    let quoted = quoted.trim();
    let quoted = quoted.strip_prefix("...").unwrap_or(quoted);
    let quoted = quoted.strip_suffix("...").unwrap_or(quoted).trim();
    if quoted.is_empty() {
        return None;
    }
    let candidates: Vec<usize> = compiled
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(quoted))
        .map(|(i, _)| i + 1)
        .collect();
    candidates
        .iter()
        .rev()
        .find(|&&c| c <= number)
        .or(candidates.first())
        .copied()
}

/// The template lines (1-based, first and last, inclusive) that rendered line `line` (1-based)
/// of `compiled`: one line where the diff pairs it with a template line, else the template
/// lines of the changed region around it (a `{% for %}` block, a macro call).
///
/// Returns `None` for an empty template or a line past the end of `compiled`.
pub fn template_lines(template: &str, compiled: &str, line: usize) -> Option<(usize, usize)> {
    let template_len = template.lines().count();
    if template_len == 0 || line == 0 || line > compiled.lines().count() {
        return None;
    }
    let at = line - 1;
    let diff = TextDiff::from_lines(template, compiled);
    for op in diff.ops() {
        let new = op.new_range();
        if !new.contains(&at) {
            continue;
        }
        let old = op.old_range();
        let one = |i: usize| Some((i + 1, i + 1));
        return match *op {
            DiffOp::Equal { .. } => one(old.start + (at - new.start)),
            DiffOp::Replace { .. } if old.len() == new.len() => one(old.start + (at - new.start)),
            DiffOp::Replace { .. } => Some((old.start + 1, old.end)),
            // Lines with no template counterpart: the template lines on either side.
            _ => Some((old.start.max(1), (old.start + 1).min(template_len))),
        };
    }
    None
}

/// The last line of a database error's message: the template's `file:line` that the failing
/// line of the compiled SQL was rendered from (for models and singular tests, whose template is
/// the file) and the compiled file's line, or `compiled_at` alone
/// when DuckDB quotes no line of the compiled SQL.
pub fn error_at(node: &Node, error: &str, sql: &str, compiled_at: &str) -> String {
    let Some(line) = compiled_line(error, sql) else {
        return compiled_at.to_string();
    };
    let compiled = format!("{compiled_at}:{line}");
    let from_file = node.resource_type == ResourceType::Model
        || (node.resource_type == ResourceType::Test && node.test_metadata.is_none());
    match template_lines(&node.raw_code, sql, line).filter(|_| from_file) {
        Some((first, last)) if first == last => {
            format!("error at {}:{first} ({compiled})", node.original_file_path)
        }
        Some((first, last)) => format!(
            "error at {}:{first}-{last}, in what its Jinja rendered ({compiled})",
            node.original_file_path
        ),
        None => compiled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "{{ config(materialized='table') }}\n{% set cols = ['id', 'name'] %}\nselect\n\
                            {% for c in cols %}\n  {{ c }},\n{% endfor %}\n  no_such as z\nfrom {{ ref('raw') }}\n";
    const COMPILED: &str = "\n\nselect\n\n  id,\n\n  name,\n\n  no_such as z\nfrom \"db\".\"main\".\"raw\"";

    #[test]
    fn the_quoted_line_is_found_in_the_compiled_sql_not_by_duckdbs_number() {
        let error =
            "Binder Error: Referenced column \"no_such\" not found\n\nLINE 10:   no_such as z\n           ^";
        assert_eq!(compiled_line(error, COMPILED), Some(9));
        assert_eq!(
            compiled_line("Parser Error: syntax error at end of input", COMPILED),
            None
        );
        assert_eq!(compiled_line("LINE 3: ...", COMPILED), None);
        assert_eq!(compiled_line("LINE 3: not in it", COMPILED), None);
        // A shortened quote, and the same text twice: the last one at or before DuckDB's line.
        let twice = "select a\nfrom t\nselect a\nfrom t";
        assert_eq!(compiled_line("LINE 4: ...lect a...", twice), Some(3));
        assert_eq!(compiled_line("LINE 2: select a", twice), Some(1));
    }

    #[test]
    fn a_compiled_line_maps_to_its_template_line_or_the_jinja_that_made_it() {
        // Left alone by Jinja: its own line.
        assert_eq!(template_lines(TEMPLATE, COMPILED, 9), Some((7, 7)));
        assert_eq!(template_lines(TEMPLATE, COMPILED, 3), Some((3, 3)));
        // `{{ ref() }}` rendered in place: one line for one.
        assert_eq!(template_lines(TEMPLATE, COMPILED, 10), Some((8, 8)));
        // Made by the for loop: the loop's lines.
        assert_eq!(template_lines(TEMPLATE, COMPILED, 5), Some((4, 6)));
        assert_eq!(template_lines(TEMPLATE, COMPILED, 11), None);
        assert_eq!(template_lines("", COMPILED, 1), None);
        // Lines inserted before the template's first (an ephemeral model's CTE).
        assert_eq!(
            template_lines("select 1\n", "with x as (select 2)\nselect 1\n", 1),
            Some((1, 1))
        );
    }
}
