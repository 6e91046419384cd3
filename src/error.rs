//! Errors a person can act on: what went wrong, where (file, line, column) and what to do next.
//!
//! A [`Diagnostic`] is the one error type that carries a location. It travels inside
//! `anyhow::Error` like any other error; `main` prints it with a short excerpt of the
//! source and a marker under the line, in the manner of rustc, minijinja and just.

use std::fmt;
use std::path::Path;

/// A place in a project file: a path as the user would type it (relative to the project
/// directory where the file lies inside it), a 1-based line and an optional 1-based column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: Option<usize>,
    /// The text of `line`, shown under the message; `None` when the file could not be read.
    pub source_line: Option<String>,
}

impl Location {
    /// A location whose excerpt is taken from `source` (the whole file's text).
    /// A `line` past the end of `source` gives a location without an excerpt.
    pub fn in_source(file: &str, source: &str, line: usize, column: Option<usize>) -> Location {
        let source_line = source
            .lines()
            .nth(line.saturating_sub(1))
            .map(|l| l.trim_end().to_string());
        Location {
            file: file.to_string(),
            line,
            column,
            source_line,
        }
    }
}

/// An error with an optional location and an optional hint on what to do.
///
/// Messages are lower-case and put names in backticks: ``unknown ref `ordrs` ``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    pub location: Option<Location>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            location: None,
            help: None,
        }
    }

    pub fn at(mut self, location: Location) -> Diagnostic {
        self.location = Some(location);
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(loc) = &self.location {
            match loc.column {
                Some(col) => write!(f, "\n  --> {}:{}:{}", loc.file, loc.line, col)?,
                None => write!(f, "\n  --> {}:{}", loc.file, loc.line)?,
            }
            if let Some(text) = &loc.source_line {
                let gutter = " ".repeat(loc.line.to_string().len());
                write!(f, "\n{gutter} |\n{} | {text}", loc.line)?;
                if let Some(col) = loc.column {
                    // The caret counts characters, not bytes, so that it stands under the
                    // right place in lines with non-ASCII text.
                    let pad = " ".repeat(col.saturating_sub(1));
                    write!(f, "\n{gutter} | {pad}^")?;
                } else {
                    write!(f, "\n{gutter} |")?;
                }
            }
        }
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// The name in `candidates` closest to `name` by Jaro-Winkler similarity, if any is close
/// enough (similarity at least 0.8) to be worth suggesting. Returns `None` for no candidates.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}

/// Turns a `serde_yaml` error into a diagnostic at the line and column it reports.
/// `file` is the path shown to the user, `source` the file's text.
pub fn yaml_error(file: &str, source: &str, err: &serde_yaml::Error) -> Diagnostic {
    // serde_yaml appends " at line L column C" to its messages; the location is shown
    // separately, so strip it from the text.
    let text = err.to_string();
    let text = match text.find(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    let diag = Diagnostic::new(format!("invalid YAML in `{file}`: {text}"));
    // A repeated key is reported where its mapping starts: the second occurrence is where the
    // reader has to look.
    if let Some(line) = text
        .strip_prefix("duplicate entry with key ")
        .map(|k| k.trim_matches('"'))
        .and_then(|key| repeated_key_line(source, key))
    {
        return diag.at(Location::in_source(file, source, line, None));
    }
    match err.location() {
        // At the end of the input (an unclosed bracket, say) the parser reports the line after
        // the last; the last line is where the reader has to look.
        Some(loc) if loc.line() > source.lines().count() && source.lines().count() > 0 => {
            let last = source.lines().count();
            let col = source.lines().last().map(|l| l.chars().count() + 1);
            diag.at(Location::in_source(file, source, last, col))
        }
        Some(loc) => diag.at(Location::in_source(file, source, loc.line(), Some(loc.column()))),
        None => diag,
    }
}

/// The 1-based line of the second `key:` at the indentation of the first, in YAML `source`;
/// `None` when the key is not written twice so.
fn repeated_key_line(source: &str, key: &str) -> Option<usize> {
    let mut first_indent: Option<usize> = None;
    for (i, line) in source.lines().enumerate() {
        let trimmed = line.trim_start();
        let written = [format!("{key}:"), format!("\"{key}\":"), format!("'{key}':")];
        if !written.iter().any(|w| trimmed.starts_with(w.as_str())) {
            continue;
        }
        let indent = line.len() - trimmed.len();
        match first_indent {
            None => first_indent = Some(indent),
            Some(first) if first == indent => return Some(i + 1),
            Some(_) => {}
        }
    }
    None
}

/// The path to show for `path`: relative to `base` when it lies inside it, as given otherwise.
pub fn display_path(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_excerpt_with_caret() {
        let src = "name: x\nmodels: [\n";
        let d = Diagnostic::new("bad")
            .at(Location::in_source("dbt_project.yml", src, 2, Some(9)))
            .help("fix it");
        assert_eq!(
            d.to_string(),
            "bad\n  --> dbt_project.yml:2:9\n  |\n2 | models: [\n  |         ^\n  = help: fix it"
        );
    }

    #[test]
    fn suggests_only_close_names() {
        assert_eq!(did_you_mean("ordrs", ["orders", "customers"]), Some("orders"));
        assert_eq!(did_you_mean("zzz", ["orders", "customers"]), None);
        assert_eq!(did_you_mean("x", std::iter::empty()), None);
    }
}
