//! Jinja2's filters and tests as Python runs them, where minijinja's differ: the text filters
//! take any value and work on Python's `str()` of it (`{{ none | upper }}` is `NONE`, `{{ [1, 'a']
//! | string }}` is `[1, 'a']`), `int` and `float` fall back to their default instead of raising,
//! `join` joins the `str()` of each item, and the tests `callable`, `lower`, `upper` and
//! `sequence` answer for any value; and Jinja2's globals `cycler` and `joiner`. Measured by
//! `tests/jinja.rs` against dbt's Jinja2.

use std::sync::{Arc, Mutex};

use minijinja::value::{from_args, Kwargs, Object, Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};

use super::mutable::Tuple;
use super::pyrepr::str_of as text;

/// Adds the filters and tests to `env`, replacing minijinja's of the same names.
pub fn add_to(env: &mut Environment<'static>) {
    env.add_filter("upper", |v: Value| text(&v).to_uppercase());
    env.add_filter("lower", |v: Value| text(&v).to_lowercase());
    env.add_filter("string", |v: Value| -> Value {
        // A string stays the same value (`safe` marking included).
        if v.kind() == ValueKind::String {
            v
        } else {
            Value::from(text(&v))
        }
    });
    env.add_filter("safe", |v: Value| Value::from_safe_string(text(&v)));
    env.add_filter("trim", |v: Value, chars: Option<String>| {
        let s = text(&v);
        match chars {
            Some(chars) => s.trim_matches(|c| chars.contains(c)).to_string(),
            None => s.trim().to_string(),
        }
    });
    env.add_filter(
        "replace",
        |v: Value, old: String, new: String, count: Option<usize>| {
            let s = text(&v);
            match count {
                Some(n) => s.replacen(&old, &new, n),
                None => s.replace(&old, &new),
            }
        },
    );
    env.add_filter("capitalize", |v: Value| {
        let s = text(&v);
        let mut chars = s.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().collect::<String>() + &chars.as_str().to_lowercase(),
            None => String::new(),
        }
    });
    env.add_filter("title", |v: Value| title(&text(&v)));
    env.add_filter("center", |v: Value, width: Option<usize>| {
        center(&text(&v), width.unwrap_or(80))
    });
    env.add_filter("wordcount", |v: Value| {
        text(&v)
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .count()
    });
    // `len()` of Jinja2's default Undefined is 0 (`{{ missing | length }}` renders 0 in dbt).
    for name in ["length", "count"] {
        env.add_filter(name, |v: Value| -> Result<usize, Error> {
            if v.is_undefined() {
                Ok(0)
            } else {
                minijinja::filters::length(&v)
            }
        });
    }
    env.add_filter("truncate", truncate);
    env.add_filter("int", int);
    env.add_filter("float", float);
    env.add_filter("join", join);
    env.add_filter("is_list", |v: Value| {
        v.kind() == ValueKind::Seq
            && v.downcast_object_ref::<Tuple>().is_none()
            && v.downcast_object_ref::<super::pyrange::PyRange>().is_none()
            && v.downcast_object_ref::<super::pymethods::DictView>().is_none()
            && v.as_str().is_none()
    });
    env.add_function("mallard_percent", |fmt: String, args: Value| {
        super::pyformat::percent_format(&fmt, &args)
    });
    env.add_function("cycler", |items: Rest<Value>| {
        Value::from_object(Cycler {
            items: items.0,
            at: Mutex::new(0),
        })
    });
    env.add_function("joiner", |sep: Option<String>| {
        Value::from_object(Joiner {
            sep: sep.unwrap_or_else(|| ", ".into()),
            used: Mutex::new(false),
        })
    });
}

/// Jinja2's `title`: each word (after `-`, white space, `(`, `{`, `[` or `<`) with its first
/// letter upper-cased and the rest lower-cased.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_start = true;
    for c in s.chars() {
        let delimiter = c == '-' || c.is_whitespace() || matches!(c, '(' | '{' | '[' | '<');
        if delimiter {
            out.push(c);
            at_start = true;
        } else if at_start {
            out.extend(c.to_uppercase());
            at_start = false;
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Python's `str.center(width)`: the extra space split with the odd one on the left when
/// `width` is odd.
fn center(s: &str, width: usize) -> String {
    let len = s.chars().count();
    if width <= len {
        return s.to_string();
    }
    let pad = width - len;
    let left = pad / 2 + (pad & width & 1);
    format!("{}{s}{}", " ".repeat(left), " ".repeat(pad - left))
}

/// Jinja2's `truncate(length=255, killwords=False, end='...', leeway=5)`.
fn truncate(
    v: Value,
    length: Option<usize>,
    killwords: Option<bool>,
    end: Option<String>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let leeway: Option<usize> = kwargs.get("leeway")?;
    kwargs.assert_all_used()?;
    let length = length.unwrap_or(255);
    let leeway = leeway.unwrap_or(5);
    // Jinja2 measures `len(value)`: a list or dict short enough is returned as it is, a longer
    // one cannot be cut; a value without a length (none, a number) raises.
    match v.kind() {
        ValueKind::String => {}
        ValueKind::Undefined => return Ok(v),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable
            if v.len()
                .or_else(|| v.try_iter().ok().map(Iterator::count))
                .is_some_and(|n| n <= length + leeway) =>
        {
            return Ok(v)
        }
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("truncate: the value must be a string, not {}", v.kind()),
            ))
        }
    }
    let s = text(&v);
    let end = end.unwrap_or_else(|| "...".into());
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= length + leeway {
        return Ok(Value::from(s));
    }
    let keep = length.checked_sub(end.chars().count()).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            "truncate: the length must be at least that of `end`",
        )
    })?;
    let head: String = chars[..keep].iter().collect();
    if killwords.unwrap_or(false) {
        return Ok(Value::from(head + &end));
    }
    let head = match head.rsplit_once(' ') {
        Some((before, _)) => before.to_string(),
        None => head,
    };
    Ok(Value::from(head + &end))
}

/// Jinja2's `int(default=0, base=10)`: a string read in `base`, else as a float and truncated;
/// a number truncated; anything else `default`.
fn int(v: Value, default: Option<Value>, base: Option<u32>) -> Value {
    let default = default.unwrap_or(Value::from(0));
    if let Some(s) = v.as_str() {
        let t = s.trim().replace('_', "");
        if let Ok(n) = i64::from_str_radix(&t, base.unwrap_or(10)) {
            return Value::from(n);
        }
        return match t.parse::<f64>() {
            Ok(f) if f.is_finite() => Value::from(f.trunc() as i64),
            _ => default,
        };
    }
    match v.kind() {
        ValueKind::Bool => Value::from(i64::from(v.is_true())),
        ValueKind::Number if v.is_integer() => v,
        ValueKind::Number => match f64::try_from(v) {
            Ok(f) if f.is_finite() => Value::from(f.trunc() as i64),
            _ => default,
        },
        _ => default,
    }
}

/// Jinja2's `float(default=0.0)`: Python's `float(value)`, else `default`.
fn float(v: Value, default: Option<Value>) -> Value {
    let default = default.unwrap_or(Value::from(0.0));
    if let Some(s) = v.as_str() {
        return match s.trim().to_ascii_lowercase().as_str() {
            "nan" => Value::from(f64::NAN),
            "inf" | "infinity" | "+inf" => Value::from(f64::INFINITY),
            "-inf" | "-infinity" => Value::from(f64::NEG_INFINITY),
            t => t
                .replace('_', "")
                .parse::<f64>()
                .map(Value::from)
                .unwrap_or(default),
        };
    }
    match v.kind() {
        ValueKind::Bool => Value::from(if v.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => f64::try_from(v).map(Value::from).unwrap_or(default),
        _ => default,
    }
}

/// Jinja2's `join(d='', attribute=None)`: the `str()` of each item (or of its `attribute`),
/// joined by `d`. Errors: a value that cannot be iterated.
fn join(v: Value, separator: Option<String>, kwargs: Kwargs) -> Result<String, Error> {
    let attribute: Option<String> = kwargs.get("attribute")?;
    kwargs.assert_all_used()?;
    if v.is_undefined() || v.is_none() {
        return Ok(String::new());
    }
    if let Some(s) = v.as_str() {
        let sep = separator.unwrap_or_default();
        return Ok(s.chars().map(String::from).collect::<Vec<_>>().join(&sep));
    }
    let mut parts = Vec::new();
    for item in v.try_iter()? {
        let item = match &attribute {
            Some(path) => path.split('.').fold(item, |v, key| match key.parse::<i64>() {
                Ok(i) => v.get_item(&Value::from(i)).unwrap_or_default(),
                Err(_) => v.get_attr(key).unwrap_or_default(),
            }),
            None => item,
        };
        parts.push(text(&item));
    }
    Ok(parts.join(&separator.unwrap_or_default()))
}

/// Jinja2's `cycler(*items)`: `next()` gives the items in turn, from the first again after the
/// last; `current` is the one `next()` gives next; `reset()` starts over.
#[derive(Debug)]
struct Cycler {
    items: Vec<Value>,
    at: Mutex<usize>,
}

impl Object for Cycler {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let at = *self.at.lock().unwrap_or_else(|p| p.into_inner());
        match key.as_str()? {
            "current" => self.items.get(at).cloned(),
            "items" => Some(Value::from(self.items.clone())),
            _ => None,
        }
    }

    fn call_method(self: &Arc<Self>, _state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
        let () = from_args(args)?;
        let mut at = self.at.lock().unwrap_or_else(|p| p.into_inner());
        match method {
            "next" => {
                let item = self.items.get(*at).cloned().unwrap_or_default();
                *at = (*at + 1) % self.items.len().max(1);
                Ok(item)
            }
            "reset" => {
                *at = 0;
                Ok(Value::from(()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// Jinja2's `joiner(sep=', ')`: a function that returns nothing the first time it is called
/// and `sep` every time after.
#[derive(Debug)]
struct Joiner {
    sep: String,
    used: Mutex<bool>,
}

impl Object for Joiner {
    fn call(self: &Arc<Self>, _state: &State, args: &[Value]) -> Result<Value, Error> {
        let () = from_args(args)?;
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        let out = if *used { self.sep.clone() } else { String::new() };
        *used = true;
        Ok(Value::from(out))
    }
}
