//! What static analysis says: each error at its `file:line`, the nodes it could not analyse,
//! one summary line; and whether the command must stop before its first statement.

use serde_json::json;

use super::{Analysis, Verdict};
use crate::compile::error_location;
use crate::config::run::StaticAnalysis;
use crate::log::{self, Level};
use crate::manifest::{Manifest, Node, ResourceType};

/// How an analysis ended.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Nodes that bound (a table function: made, to be bound where it is called).
    pub bound: usize,
    /// Nodes that do not bind, or (in `strict`) cannot be analysed: the command stops.
    pub errors: Vec<String>,
    /// Nodes that cannot be analysed, in `baseline` (a note each).
    pub not_analysable: usize,
    /// Nodes not analysed (`static_analysis: off`).
    pub off: usize,
}

/// Prints the analysis of `manifest`'s nodes (errors first, each with its location and
/// DuckDB's message; then what could not be analysed; then one summary line, `elapsed`
/// seconds) and returns what it found. Nothing is printed for an analysis of no node.
pub fn report(manifest: &Manifest, analysis: &Analysis, elapsed: f64) -> Outcome {
    let mut outcome = Outcome::default();
    for (id, mode, verdict) in &analysis.verdicts {
        let node = &manifest.nodes[id];
        let what = format!("{} {}", kind(node), node.name);
        match verdict {
            Verdict::Bound(_) | Verdict::AtCalls => outcome.bound += 1,
            Verdict::Off => outcome.off += 1,
            Verdict::Error { message, at, help } => {
                let mut text = format!(
                    "Static analysis error in {what} ({at})\n  {}",
                    message.replace('\n', "\n  ")
                );
                if let Some(help) = help {
                    text.push_str(&format!("\n  help: {help}"));
                }
                error(&mut outcome, id, &text);
            }
            Verdict::NotAnalysable(why) if *mode == StaticAnalysis::Strict => {
                let text = format!(
                    "Static analysis error in {what} ({}): not analysable under `static_analysis: strict`: {why}",
                    node.original_file_path
                );
                error(&mut outcome, id, &text);
            }
            Verdict::NotAnalysable(why) => {
                let text = format!(
                    "static analysis: {what} ({}) is not analysable: {why}",
                    node.original_file_path
                );
                log::event(
                    "StaticAnalysisNote",
                    Level::Debug,
                    &text,
                    json!({"unique_id": id}),
                );
                outcome.not_analysable += 1;
            }
        }
    }
    if analysis.verdicts.is_empty() {
        return outcome;
    }
    let mut line = format!(
        "Static analysis: {} bound, {} with errors",
        outcome.bound,
        outcome.errors.len()
    );
    if outcome.not_analysable > 0 {
        line.push_str(&format!(
            ", {} not analysable (`--log-level debug` says why; `--static-analysis strict` makes them errors)",
            outcome.not_analysable
        ));
    }
    if outcome.off > 0 {
        line.push_str(&format!(", {} off", outcome.off));
    }
    line.push_str(&format!(" in {elapsed:.2}s."));
    // A clean analysis says so at debug level: the run's output stays dbt's.
    let notable = !outcome.errors.is_empty() || outcome.not_analysable > 0 || outcome.off > 0;
    let level = if notable { Level::Info } else { Level::Debug };
    log::event("StaticAnalysisSummary", level, &line, json!({}));
    outcome
}

/// Prints `text`, the error static analysis found in node `id`, and counts it.
fn error(outcome: &mut Outcome, id: &str, text: &str) {
    log::event(
        "StaticAnalysisError",
        Level::Error,
        text,
        json!({"unique_id": id}),
    );
    log::blank();
    outcome.errors.push(id.to_string());
}

/// How a node is named in messages: `model`, `snapshot`, `test`.
fn kind(node: &Node) -> &'static str {
    match node.resource_type {
        ResourceType::Snapshot => "snapshot",
        ResourceType::Test => "test",
        _ => "model",
    }
}

/// Where in the user's files `error` (DuckDB's, on `sql`, the node's compiled SQL) is: the
/// template line that rendered the line DuckDB quotes (`models/x.sql:7`, or a range for
/// lines a Jinja construct made); a generic test's line of its property file; else the file.
pub fn location(node: &Node, error: &str, sql: &str) -> String {
    if let Some(defined_at) = &node.defined_at {
        return defined_at.clone();
    }
    let line = error_location::compiled_line(error, sql)
        .or_else(|| line_naming(error, sql))
        .or_else(|| line_calling(error, sql))
        .or_else(|| line_of_set_operation(error, sql));
    match line.and_then(|l| error_location::template_lines(&node.raw_code, sql, l)) {
        Some((first, last)) if first == last => format!("{}:{first}", node.original_file_path),
        Some((first, last)) => format!("{}:{first}-{last}", node.original_file_path),
        None => node.original_file_path.clone(),
    }
}

/// For an error DuckDB gives without a `LINE n:` context (`column "status" must appear in the
/// GROUP BY clause`): the first line of `sql` (1-based) that has the name the message quotes
/// as a word. `None` when the message quotes no name or no line has it.
fn line_naming(error: &str, sql: &str) -> Option<usize> {
    let name = error.lines().next()?.split('"').nth(1)?.to_lowercase();
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    sql.lines()
        .position(|l| {
            let l = l.to_lowercase();
            l.match_indices(&name)
                .any(|(i, _)| !l[..i].ends_with(is_word) && !l[i + name.len()..].starts_with(is_word))
        })
        .map(|i| i + 1)
}

/// For an error that names a function or operator without a `LINE n:` context (`Cannot mix
/// values of type INTEGER and VARCHAR in COALESCE operator`): the first line of `sql` that
/// calls a word of the message (`coalesce(`).
fn line_calling(error: &str, sql: &str) -> Option<usize> {
    let lower = sql.to_lowercase();
    let lines: Vec<&str> = lower.lines().collect();
    error
        .lines()
        .next()?
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| w.len() > 2)
        .find_map(|word| {
            let call = format!("{}(", word.to_lowercase());
            lines.iter().position(|l| l.contains(&call)).map(|i| i + 1)
        })
}

/// For DuckDB's `Set operations can only apply to expressions with the same number of result
/// columns`: the first line of `sql` with `union`, `intersect` or `except`.
fn line_of_set_operation(error: &str, sql: &str) -> Option<usize> {
    if !error.contains("Set operations") {
        return None;
    }
    sql.lines()
        .position(|l| {
            let l = l.to_lowercase();
            l.split_whitespace()
                .any(|w| matches!(w, "union" | "intersect" | "except"))
        })
        .map(|i| i + 1)
}

/// DuckDB's suggestion in `error`, as a help line: the first candidate of `Candidate
/// bindings:` for an unknown column, the `Did you mean "x"?` of an unknown relation or
/// function. `None` when DuckDB has none.
pub fn did_you_mean(error: &str) -> Option<String> {
    let quoted = |rest: &str| rest.split('"').nth(1).map(str::to_string);
    error.lines().find_map(|l| {
        let l = l.trim();
        let name = if let Some(rest) = l.strip_prefix("Candidate bindings:") {
            quoted(rest)?
        } else if let Some(rest) = l.strip_prefix("Did you mean") {
            quoted(rest)?
        } else {
            return None;
        };
        Some(format!("did you mean `{name}`?"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duckdbs_suggestions_become_help() {
        let column = "Binder Error: Referenced column \"amout\" not found in FROM clause!\nCandidate bindings: \"amount\", \"id\"\n\nLINE 1: select amout";
        assert_eq!(did_you_mean(column).as_deref(), Some("did you mean `amount`?"));
        let table = "Catalog Error: Table with name tt does not exist!\nDid you mean \"t\"?\n\nLINE 1: ...";
        assert_eq!(did_you_mean(table).as_deref(), Some("did you mean `t`?"));
        assert_eq!(
            did_you_mean("Binder Error: column x must appear in the GROUP BY clause"),
            None
        );
    }

    #[test]
    fn an_error_without_a_line_is_placed_where_it_names() {
        let sql = "select\n    customer_id,\n    status_code,\n    status\nfrom t";
        let error = "Binder Error: column \"status\" must appear in the GROUP BY clause";
        assert_eq!(line_naming(error, sql), Some(4));
        assert_eq!(line_naming("Binder Error: no name quoted", sql), None);
    }
}
