//! Jinja2's text-formatting filters as Python runs them, where minijinja lacks them or differs:
//! `escape` (`e`, `forceescape`) with markupsafe's entities, `striptags`, `urlencode`,
//! `xmlattr`, `filesizeformat`, `wordwrap` (Python's `textwrap`) and `indent`. Measured by
//! `tests/jinja.rs` against dbt's Jinja2.

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

use super::pyrepr::str_of as text;

/// Adds the filters to `env`, replacing minijinja's of the same names.
pub fn add_to(env: &mut Environment<'static>) {
    for name in ["e", "escape"] {
        env.add_filter(name, |v: Value| -> Value {
            if v.is_safe() {
                return v;
            }
            Value::from_safe_string(escape(&text(&v)))
        });
    }
    env.add_filter("forceescape", |v: Value| {
        Value::from_safe_string(escape(&text(&v)))
    });
    env.add_filter("striptags", |v: Value| striptags(&text(&v)));
    env.add_filter("urlencode", urlencode);
    env.add_filter("xmlattr", xmlattr);
    env.add_filter("filesizeformat", filesizeformat);
    env.add_filter("wordwrap", wordwrap);
    env.add_filter("indent", indent);
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// markupsafe's `escape`: `&`, `<`, `>`, `'` and `"` as `&amp;`, `&lt;`, `&gt;`, `&#39;` and
/// `&#34;`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&#39;"),
            '"' => out.push_str("&#34;"),
            c => out.push(c),
        }
    }
    out
}

/// markupsafe's `striptags`: comments (`<!-- -->`) and tags removed, the five entities
/// `escape` writes read back, runs of white space made one space, the ends trimmed.
fn striptags(s: &str) -> String {
    let mut kept = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        let comment = rest.find("<!--");
        let tag = rest.find('<');
        match (comment, tag) {
            (Some(c), _) if Some(c) == tag => match rest[c..].find("-->") {
                Some(end) => {
                    kept.push_str(&rest[..c]);
                    rest = &rest[c + end + 3..];
                }
                None => break,
            },
            (_, Some(t)) => match rest[t..].find('>') {
                Some(end) => {
                    kept.push_str(&rest[..t]);
                    rest = &rest[t + end + 1..];
                }
                None => break,
            },
            _ => break,
        }
    }
    kept.push_str(rest);
    let words: Vec<&str> = kept.split_whitespace().collect();
    let joined = words.join(" ");
    joined
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Python's `urllib.parse.quote(str(value), safe)`, with `+` for spaces in query strings.
fn quote(value: &Value, for_query: bool) -> String {
    let mut out = String::new();
    for byte in text(value).bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => out.push(byte as char),
            b'/' if !for_query => out.push('/'),
            b' ' if for_query => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Jinja2's `urlencode`: a string (or any value that cannot be iterated) quoted for a URL
/// path; a dict, or a list of pairs, as a query string `k=v&k2=v2`.
///
/// Errors: an item of a list that is not a pair.
fn urlencode(value: Value) -> Result<String, Error> {
    let pairs: Vec<(Value, Value)> = match value.kind() {
        ValueKind::Map => value
            .try_iter()?
            .map(|k| {
                let v = value.get_item(&k).unwrap_or_default();
                (k, v)
            })
            .collect(),
        ValueKind::Seq | ValueKind::Iterable => value
            .try_iter()?
            .map(
                |pair| match (pair.get_item_by_index(0), pair.get_item_by_index(1), pair.len()) {
                    (Ok(k), Ok(v), Some(2)) => Ok((k, v)),
                    _ => Err(invalid("urlencode: each item must be a (key, value) pair")),
                },
            )
            .collect::<Result<_, _>>()?,
        _ => return Ok(quote(&value, false)),
    };
    Ok(pairs
        .iter()
        .map(|(k, v)| format!("{}={}", quote(k, true), quote(v, true)))
        .collect::<Vec<_>>()
        .join("&"))
}

/// Jinja2's `xmlattr(autospace=True)`: a dict's entries whose value is neither none nor
/// undefined, as `key="value"` (both escaped), joined by spaces, with a leading space.
///
/// Errors: a value that is not a dict; a key with a space, `/`, `>` or `=`.
fn xmlattr(value: Value, autospace: Option<bool>) -> Result<Value, Error> {
    if value.kind() != ValueKind::Map {
        return Err(invalid("xmlattr: the value must be a dict"));
    }
    let mut items = Vec::new();
    for key in value.try_iter()? {
        let v = value.get_item(&key)?;
        if v.is_none() || v.is_undefined() {
            continue;
        }
        let key = text(&key);
        if key
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '/' | '>' | '='))
        {
            return Err(invalid(format!(
                "xmlattr: invalid character in attribute name: {key:?}"
            )));
        }
        items.push(format!("{}=\"{}\"", escape(&key), escape(&text(&v))));
    }
    let mut out = items.join(" ");
    if autospace.unwrap_or(true) && !out.is_empty() {
        out.insert(0, ' ');
    }
    Ok(Value::from_safe_string(out))
}

/// Jinja2's `filesizeformat(binary=False)`: `1 Byte`, `N Bytes` under 1000 (1024), else one
/// decimal and the unit (`kB`, `MB`, ... or `KiB`, `MiB`, ...).
///
/// Errors: a value that is not a number or a numeric string.
fn filesizeformat(value: Value, binary: Option<bool>) -> Result<String, Error> {
    let bytes = match value.kind() {
        ValueKind::Bool => f64::from(u8::from(value.is_true())),
        ValueKind::Number => f64::try_from(value)?,
        ValueKind::String => value
            .as_str()
            .unwrap_or_default()
            .trim()
            .parse::<f64>()
            .map_err(|_| invalid("filesizeformat: could not convert string to float"))?,
        _ => return Err(invalid("filesizeformat: the value must be a number")),
    };
    let binary = binary.unwrap_or(false);
    let base: f64 = if binary { 1024.0 } else { 1000.0 };
    let prefixes = if binary {
        ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]
    } else {
        ["kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
    };
    if bytes == 1.0 {
        return Ok("1 Byte".into());
    }
    if bytes < base {
        return Ok(format!("{} Bytes", bytes.trunc() as i64));
    }
    let mut unit = base;
    for prefix in prefixes {
        unit *= base;
        if bytes < unit {
            return Ok(format!("{:.1} {prefix}", base * bytes / unit));
        }
    }
    Ok(format!("{:.1} {}", base * bytes / unit, prefixes[7]))
}

/// Jinja2's `wordwrap(width=79, break_long_words=True, wrapstring='\n',
/// break_on_hyphens=True)`: each line of `str(value)` wrapped as Python's `textwrap.wrap`
/// (greedy; words longer than `width` cut), lines joined by `wrapstring`.
fn wordwrap(value: Value, width: Option<usize>, kwargs: Kwargs) -> Result<String, Error> {
    let width = width.or(kwargs.get("width")?).unwrap_or(79).max(1);
    let break_long: bool = kwargs.get::<Option<bool>>("break_long_words")?.unwrap_or(true);
    let hyphens: bool = kwargs.get::<Option<bool>>("break_on_hyphens")?.unwrap_or(true);
    let wrapstring: String = kwargs
        .get::<Option<String>>("wrapstring")?
        .unwrap_or_else(|| "\n".into());
    kwargs.assert_all_used()?;
    let Some(s) = value.as_str() else {
        return Err(invalid(format!(
            "wordwrap: the value must be a string, not {}",
            value.kind()
        )));
    };
    let lines: Vec<String> = s
        .lines()
        .map(|line| wrap(line, width, break_long, hyphens).join(&wrapstring))
        .collect();
    Ok(lines.join(&wrapstring))
}

/// The chunks `textwrap` wraps: runs of white space, and words (cut after hyphens inside a
/// word when `hyphens`).
fn chunks(line: &str, hyphens: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut in_space = false;
    let chars: Vec<char> = line.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let space = c.is_whitespace();
        if !current.is_empty() && space != in_space {
            out.push(std::mem::take(&mut current));
        }
        in_space = space;
        current.push(c);
        let inside_word =
            i > 0 && chars[i - 1].is_alphanumeric() && chars.get(i + 1).is_some_and(|n| n.is_alphabetic());
        if hyphens && c == '-' && inside_word {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Python's `textwrap.wrap(line, width, expand_tabs=False, replace_whitespace=False)`.
fn wrap(line: &str, width: usize, break_long: bool, hyphens: bool) -> Vec<String> {
    let mut chunks = chunks(line, hyphens);
    chunks.reverse();
    let mut lines: Vec<String> = Vec::new();
    while !chunks.is_empty() {
        let mut current: Vec<String> = Vec::new();
        let mut length = 0;
        if !lines.is_empty() && chunks.last().is_some_and(|c| c.trim().is_empty()) {
            chunks.pop();
        }
        while let Some(chunk) = chunks.last() {
            let n = chunk.chars().count();
            if length + n > width {
                break;
            }
            length += n;
            current.push(chunks.pop().unwrap_or_default());
        }
        if let Some(chunk) = chunks.last_mut() {
            if chunk.chars().count() > width {
                let room = width.saturating_sub(length).max(1);
                if break_long {
                    let head: String = chunk.chars().take(room).collect();
                    let tail: String = chunk.chars().skip(room).collect();
                    *chunk = tail;
                    current.push(head);
                } else if current.is_empty() {
                    current.push(chunks.pop().unwrap_or_default());
                }
            }
        }
        if current.last().is_some_and(|c| c.trim().is_empty()) {
            current.pop();
        }
        if !current.is_empty() {
            lines.push(current.concat());
        }
    }
    lines
}

/// Jinja2's `indent(width=4, first=False, blank=False)`: every line after the first (and the
/// first when `first`) prefixed with `width` spaces (or the string `width`); blank lines only
/// when `blank`.
///
/// Errors: a value that is not a string (Jinja2 adds a newline to it).
fn indent(
    value: Value,
    width: Option<Value>,
    first: Option<bool>,
    blank: Option<bool>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let Some(s) = value.as_str() else {
        return Err(invalid(format!(
            "indent: the value must be a string, not {}",
            value.kind()
        )));
    };
    let width = width.or(kwargs.get("width")?);
    let first = first.or(kwargs.get("first")?).unwrap_or(false);
    let blank = blank.or(kwargs.get("blank")?).unwrap_or(false);
    kwargs.assert_all_used()?;
    let indention = match &width {
        Some(w) if w.as_str().is_some() => w.as_str().unwrap_or_default().to_string(),
        Some(w) => " ".repeat(usize::try_from(w.clone()).unwrap_or(4)),
        None => " ".repeat(4),
    };
    let with_newline = format!("{s}\n");
    let lines: Vec<&str> = with_newline.lines().collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            if blank || !line.is_empty() {
                out.push_str(&indention);
            }
        }
        out.push_str(line);
    }
    if first {
        out.insert_str(0, &indention);
    }
    Ok(if value.is_safe() {
        Value::from_safe_string(out)
    } else {
        Value::from(out)
    })
}
