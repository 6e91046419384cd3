//! `modules.re`: Python's `re` module as dbt's Jinja context offers it, on the `fancy-regex`
//! crate (Rust's `regex` with look-around and back-references, as Python's `re` has them). `search`, `match`, `fullmatch`, `sub`, `split`, `findall`, `compile`, `escape`, the
//! flags `IGNORECASE`/`I`, `MULTILINE`/`M`, `DOTALL`/`S`, `VERBOSE`/`X`, and match objects
//! with `group()`, `groups()`, `start()`, `end()`, `span()`.
//!
//! The pattern syntax is fancy-regex's, which is Python's for what packages write (classes,
//! groups, look-around, back-references, inline flags); a pattern it cannot compile is an error
//! naming the pattern.

use std::sync::Arc;

use fancy_regex::Regex;
use minijinja::value::{from_args, Kwargs, Object, Value};
use minijinja::{Error, ErrorKind, State};

const IGNORECASE: i64 = 2;
const MULTILINE: i64 = 8;
const DOTALL: i64 = 16;
const VERBOSE: i64 = 64;

/// The `re` module object.
#[derive(Debug)]
pub struct ReModule;

impl Object for ReModule {
    /// Truthy, as every Python object of its kind is.
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(Value::from(match key.as_str()? {
            "IGNORECASE" | "I" => IGNORECASE,
            "MULTILINE" | "M" => MULTILINE,
            "DOTALL" | "S" => DOTALL,
            "VERBOSE" | "X" => VERBOSE,
            _ => return None,
        }))
    }

    fn call_method(self: &Arc<Self>, _state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
        if method == "escape" {
            let (text,): (String,) = from_args(args)?;
            return Ok(Value::from(fancy_regex::escape(&text).into_owned()));
        }
        // Every other function takes the pattern first and `flags` last (or by keyword).
        let (pattern, rest, kwargs): (String, &[Value], Kwargs) = from_args(args)?;
        let flag_position = match method {
            "compile" => 0,
            "sub" => 3,
            "split" => 2,
            _ => 1,
        };
        let flags = match rest.get(flag_position) {
            Some(v) => i64::try_from(v.clone())?,
            None => kwargs.get::<Option<i64>>("flags")?.unwrap_or(0),
        };
        let pattern = Pattern::compiled(&pattern, flags)?;
        if method == "compile" {
            kwargs.assert_all_used()?;
            return Ok(Value::from_dyn_object(pattern));
        }
        pattern.apply(method, rest, &kwargs)
    }
}

/// A compiled pattern (`re.compile(...)`), with the module's functions as methods.
#[derive(Debug)]
pub struct Pattern {
    source: String,
    regex: Regex,
}

/// How many compiled patterns [`Pattern::compiled`] keeps, as Python's `re` keeps 512.
const CACHED_PATTERNS: usize = 512;

impl Pattern {
    /// The compiled `source` with `flags`, from a process-wide cache as Python's `re` caches
    /// them: packages call `re.sub(pattern, ...)` once per node with the same pattern, and
    /// compiling costs far more than matching. When the cache is full it is emptied.
    ///
    /// Errors: a pattern fancy-regex cannot compile (see [`Pattern::new`]).
    fn compiled(source: &str, flags: i64) -> Result<Arc<Pattern>, Error> {
        type Cache = std::collections::HashMap<(String, i64), Arc<Pattern>>;
        static CACHE: std::sync::LazyLock<std::sync::Mutex<Cache>> =
            std::sync::LazyLock::new(Default::default);
        let key = (source.to_string(), flags);
        if let Some(found) = CACHE.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(found.clone());
        }
        let pattern = Arc::new(Pattern::new(source, flags)?);
        let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHED_PATTERNS {
            cache.clear();
        }
        cache.insert(key, pattern.clone());
        Ok(pattern)
    }

    fn new(source: &str, flags: i64) -> Result<Pattern, Error> {
        // Python's flags as inline flags.
        let mut inline = String::new();
        for (bit, letter) in [(IGNORECASE, 'i'), (MULTILINE, 'm'), (DOTALL, 's'), (VERBOSE, 'x')] {
            if flags & bit != 0 {
                inline.push(letter);
            }
        }
        let pattern = if inline.is_empty() {
            source.to_string()
        } else {
            format!("(?{inline}){source}")
        };
        let regex = Regex::new(&pattern).map_err(|e| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("modules.re: cannot compile pattern `{source}`: {e}"),
            )
        })?;
        Ok(Pattern {
            source: source.to_string(),
            regex,
        })
    }

    /// `method(string, ...)` with this pattern; `rest` holds the arguments after the pattern.
    fn apply(&self, method: &str, rest: &[Value], kwargs: &Kwargs) -> Result<Value, Error> {
        let text = |i: usize| -> Result<String, Error> {
            rest.get(i)
                .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
                .ok_or_else(|| Error::new(ErrorKind::MissingArgument, format!("re.{method} needs a string")))
        };
        let count_arg = |i: usize, name: &str| -> Result<usize, Error> {
            match rest.get(i) {
                Some(v) => Ok(usize::try_from(v.clone()).unwrap_or(0)),
                None => Ok(kwargs.get::<Option<usize>>(name)?.unwrap_or(0)),
            }
        };
        let failed = |e: fancy_regex::Error| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("modules.re.{method} with pattern `{}`: {e}", self.source),
            )
        };
        let out = match method {
            "search" => {
                let s = text(0)?;
                let s = s.as_str();
                self.regex
                    .captures(s)
                    .map_err(failed)?
                    .map(|c| Value::from_object(Match::new(s, &c)))
                    .unwrap_or(Value::from(()))
            }
            "match" | "fullmatch" => {
                let s = text(0)?;
                let s = s.as_str();
                match self.regex.captures(s).map_err(failed)? {
                    Some(c)
                        if c.get(0)
                            .is_some_and(|m| m.start() == 0 && (method == "match" || m.end() == s.len())) =>
                    {
                        Value::from_object(Match::new(s, &c))
                    }
                    _ => Value::from(()),
                }
            }
            "sub" => {
                let replacement = text(0)?;
                let s = text(1)?;
                let count = count_arg(2, "count")?;
                // Python writes groups as `\1`; the crate as `${1}`.
                let repl = python_replacement(&replacement);
                Value::from(
                    self.regex
                        .try_replacen(&s, count, repl.as_str())
                        .map_err(failed)?
                        .into_owned(),
                )
            }
            "split" => self.split(&text(0)?, count_arg(1, "maxsplit")?).map_err(failed)?,
            "findall" => self.findall(&text(0)?).map_err(failed)?,
            _ => {
                return Err(Error::new(
                    ErrorKind::UnknownMethod,
                    format!("modules.re.{method} is not available in Mallard"),
                ))
            }
        };
        Ok(out)
    }

    /// Python's `re.split(pattern, s, maxsplit)`: the parts between matches (at most
    /// `maxsplit` splits, 0 for all), each separator's groups between them.
    fn split(&self, s: &str, maxsplit: usize) -> Result<Value, fancy_regex::Error> {
        let mut parts = Vec::new();
        let mut last = 0;
        for (n, caps) in self.regex.captures_iter(s).enumerate() {
            if maxsplit > 0 && n >= maxsplit {
                break;
            }
            let caps = caps?;
            let m = caps.get(0).expect("group 0 always matches");
            parts.push(Value::from(&s[last..m.start()]));
            // Python also returns the groups of each separator.
            for i in 1..caps.len() {
                parts.push(
                    caps.get(i)
                        .map(|g| Value::from(g.as_str()))
                        .unwrap_or(Value::from(())),
                );
            }
            last = m.end();
        }
        parts.push(Value::from(&s[last..]));
        Ok(Value::from(parts))
    }

    /// Python's `re.findall(pattern, s)`: each match's text, its one group's, or a list of
    /// its groups' when it has several.
    fn findall(&self, s: &str) -> Result<Value, fancy_regex::Error> {
        let groups = self.regex.captures_len() - 1;
        let mut found = Vec::new();
        for c in self.regex.captures_iter(s) {
            let c = c?;
            found.push(match groups {
                0 => Value::from(c.get(0).map_or("", |m| m.as_str())),
                1 => Value::from(c.get(1).map_or("", |m| m.as_str())),
                _ => Value::from(
                    (1..=groups)
                        .map(|i| Value::from(c.get(i).map_or("", |m| m.as_str())))
                        .collect::<Vec<_>>(),
                ),
            });
        }
        Ok(Value::from(found))
    }
}

impl Object for Pattern {
    /// Truthy, as every Python object of its kind is.
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "pattern" => Some(Value::from(self.source.clone())),
            _ => None,
        }
    }

    fn call_method(self: &Arc<Self>, _state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
        let (rest, kwargs): (&[Value], Kwargs) = from_args(args)?;
        self.apply(method, rest, &kwargs)
    }
}

/// Python's replacement syntax (`\1`, `\g<1>`, `\g<name>`) in the `regex` crate's (`${1}`).
fn python_replacement(repl: &str) -> String {
    let mut out = String::new();
    let mut chars = repl.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut n = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        n.push(d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{n}}}"));
                }
                Some('g') => {
                    chars.next();
                    if chars.peek() == Some(&'<') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                        out.push_str(&format!("${{{name}}}"));
                    } else {
                        out.push_str("\\g");
                    }
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            other => out.push(other),
        }
    }
    out
}

/// A match object: the text of each group and where group 0 lies (in characters, as Python
/// counts).
#[derive(Debug)]
pub struct Match {
    groups: Vec<Option<String>>,
    start: usize,
    end: usize,
}

impl Match {
    fn new(text: &str, caps: &fancy_regex::Captures<'_, str>) -> Match {
        let m = caps.get(0).expect("group 0 always matches");
        Match {
            groups: (0..caps.len())
                .map(|i| caps.get(i).map(|g| g.as_str().to_string()))
                .collect(),
            start: text[..m.start()].chars().count(),
            end: text[..m.end()].chars().count(),
        }
    }
}

impl Object for Match {
    fn call_method(self: &Arc<Self>, _state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
        let group = |i: usize| -> Value {
            self.groups
                .get(i)
                .cloned()
                .flatten()
                .map(Value::from)
                .unwrap_or(Value::from(()))
        };
        Ok(match method {
            "group" => {
                let (indexes,): (minijinja::value::Rest<usize>,) = from_args(args)?;
                match indexes.len() {
                    0 => group(0),
                    1 => group(indexes[0]),
                    _ => Value::from(indexes.iter().map(|i| group(*i)).collect::<Vec<_>>()),
                }
            }
            "groups" => Value::from((1..self.groups.len()).map(group).collect::<Vec<_>>()),
            "start" => Value::from(self.start),
            "end" => Value::from(self.end),
            "span" => Value::from(vec![Value::from(self.start), Value::from(self.end)]),
            _ => {
                return Err(Error::new(
                    ErrorKind::UnknownMethod,
                    format!("a match object has no method `{method}` in Mallard"),
                ))
            }
        })
    }

    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str) -> String {
        let mut env = minijinja::Environment::new();
        env.add_global("re", Value::from_object(ReModule));
        env.render_str(src, ()).unwrap()
    }

    #[test]
    fn functions_behave_as_pythons() {
        assert_eq!(render("{{ re.sub('[ -]+', '_', 'a b-c') }}"), "a_b_c");
        assert_eq!(render("{{ re.sub('(a)(b)', '\\\\2\\\\1', 'abab') }}"), "baba");
        assert_eq!(render("{{ re.split(',', 'a,b,,c') }}"), r#"["a", "b", "", "c"]"#);
        assert_eq!(render("{{ re.split('(,)', 'a,b') }}"), r#"["a", ",", "b"]"#);
        assert_eq!(render("{{ re.search('B', 'abc', re.IGNORECASE).start() }}"), "1");
        assert_eq!(render("{{ re.search('x', 'abc') is none }}"), "True");
        assert_eq!(render("{{ re.match('b', 'abc') is none }}"), "True");
        assert_eq!(render("{{ re.findall('[0-9]+', 'a1b22') }}"), r#"["1", "22"]"#);
        assert_eq!(render("{{ re.compile('a+').sub('x', 'caat') }}"), "cxt");
        assert_eq!(render("{{ re.search('(\\\\w+)@', 'me@x').group(1) }}"), "me");
    }
}
