//! Python's `str()` and `repr()` of Jinja values: what dbt's Jinja2 prints for `{{ value }}`.
//!
//! Jinja2 prints a value with Python's `str()`: `None`, `True`, `False`, `1.0`, `1e+20`,
//! `['a', 1]`, `{'k': None}`, `('a', 'b')`; minijinja prints `none`, `true`, `1`, `1e20` and
//! JSON-like containers, and that text reaches SQL. [`print`] is the environment's formatter.
//! Objects with a rendering of their own (relations, columns) print as they render.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, Output, State};

use super::mutable::{MutableDict, MutableList, Tuple};

thread_local! {
    /// Bytes the render running on this thread may still print (see [`PrintBudget`]); `None`
    /// outside a render, or when renders are not bounded.
    static PRINT_BUDGET: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// While alive, bounds the bytes [`print`] writes on this thread to `limit` (`None`: no bound);
/// dropping it restores the bound of the render it was nested in, as that render's own.
pub struct PrintBudget {
    outer: Option<u64>,
}

impl PrintBudget {
    pub fn start(limit: Option<u64>) -> PrintBudget {
        PrintBudget {
            outer: PRINT_BUDGET.with(|b| b.replace(limit)),
        }
    }
}

impl Drop for PrintBudget {
    fn drop(&mut self) {
        PRINT_BUDGET.with(|b| b.set(self.outer));
    }
}

/// The environment's formatter: writes Python's `str(value)`; an undefined value prints nothing.
///
/// Errors: writing to `out` failed, or the render printed more bytes than its bound (see
/// [`PrintBudget`], `templating::max_render_bytes`).
pub fn print(out: &mut Output, _state: &State, value: &Value) -> Result<(), Error> {
    let mut text = String::new();
    py_str(value, &mut text);
    let len = text.len() as u64;
    let over = PRINT_BUDGET.with(|b| match b.get() {
        Some(left) if len > left => true,
        Some(left) => {
            b.set(Some(left - len));
            false
        }
        None => false,
    });
    if over {
        return Err(Error::new(
            minijinja::ErrorKind::InvalidOperation,
            "this render printed more bytes than its bound (a runaway loop or a string grown without end?)",
        ));
    }
    out.write_str(&text).map_err(Error::from)
}

/// Python's `str(value)` (see [`py_str`]).
pub fn str_of(value: &Value) -> String {
    let mut out = String::new();
    py_str(value, &mut out);
    out
}

/// Appends Python's `str(value)` to `out`: a string as it is, a relation as its quoted name,
/// anything else as [`py_repr`].
pub fn py_str(value: &Value, out: &mut String) {
    match value.kind() {
        ValueKind::Undefined => {}
        ValueKind::String => out.push_str(value.as_str().unwrap_or_default()),
        ValueKind::Map if value.downcast_object_ref::<crate::relation::Relation>().is_some() => {
            out.push_str(&value.to_string())
        }
        _ => py_repr(value, out),
    }
}

/// Appends Python's `repr(value)` to `out`: strings quoted as Python quotes them, `None`,
/// `True`/`False`, floats in Python's shortest form, lists `[...]`, tuples `(...)`, dicts
/// `{k: v}`, each item by its `repr`; a relation as `<DuckDBRelation "db"."schema"."name">`.
/// A value that renders itself (a column, a macro) appends its rendering; an undefined value
/// is `Undefined`, as Jinja2's repr of it (printed on its own it prints nothing: [`py_str`]).
pub fn py_repr(value: &Value, out: &mut String) {
    match value.kind() {
        ValueKind::Undefined => out.push_str("Undefined"),
        ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::Number => match f64::try_from(value.clone()) {
            Ok(f) if !value.is_integer() => out.push_str(&py_float(f)),
            _ => out.push_str(&value.to_string()),
        },
        ValueKind::String => string_repr(value.as_str().unwrap_or_default(), out),
        // Python's repr of a relation (dbt's `BaseRelation.__repr__`) names its class.
        ValueKind::Map if value.downcast_object_ref::<crate::relation::Relation>().is_some() => {
            out.push_str(&format!("<DuckDBRelation {value}>"))
        }
        ValueKind::Seq | ValueKind::Map if renders_itself(value) => out.push_str(&value.to_string()),
        ValueKind::Seq => {
            let tuple = value.downcast_object_ref::<Tuple>().is_some();
            out.push(if tuple { '(' } else { '[' });
            let mut n = 0;
            if let Ok(items) = value.try_iter() {
                for (i, item) in items.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    py_repr(&item, out);
                    n += 1;
                }
            }
            if tuple {
                out.push_str(if n == 1 { ",)" } else { ")" });
            } else {
                out.push(']');
            }
        }
        ValueKind::Map => {
            out.push('{');
            if let Ok(keys) = value.try_iter() {
                for (i, key) in keys.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    py_repr(&key, out);
                    out.push_str(": ");
                    py_repr(&value.get_item(&key).unwrap_or_default(), out);
                }
            }
            out.push('}');
        }
        _ => out.push_str(&value.to_string()),
    }
}

/// Whether a list- or dict-like value has a rendering of its own (a relation renders as its
/// quoted name, a `modules.datetime` value as Python prints it): minijinja's default rendering
/// of a container begins with its bracket.
pub(super) fn renders_itself(value: &Value) -> bool {
    if value.downcast_object_ref::<Tuple>().is_some()
        || value.downcast_object_ref::<MutableList>().is_some()
        || value.downcast_object_ref::<MutableDict>().is_some()
    {
        return false;
    }
    let open = if value.kind() == ValueKind::Seq { '[' } else { '{' };
    !value.to_string().starts_with(open)
}

/// Python's `repr()` of a float: the shortest digits that read back the same, in fixed notation
/// with at least one decimal (`1.0`, `0.30000000000000004`) for exponents from -4 to 15, else in
/// scientific notation with a signed two-digit exponent (`1e+20`, `1e-05`); `nan`, `inf`, `-inf`.
pub fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    // `{:e}` gives the shortest round-trip digits: `1.5e-7`, `1e20`.
    let sci = format!("{f:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if f == 0.0 || (-4..16).contains(&exponent) {
        let fixed = format!("{f}");
        if fixed.contains('.') {
            fixed
        } else {
            fixed + ".0"
        }
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

/// Appends Python's `repr()` of a string to `out`: single quotes unless the text has a `'` and
/// no `"`; backslashes, the quote, and control characters escaped (`''` for an empty string).
pub fn string_repr(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_prints_them() {
        for (f, want) in [
            (1.0, "1.0"),
            (1000.0, "1000.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e20, "1e+20"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (-0.0, "-0.0"),
            (1.5e-7, "1.5e-07"),
            (f64::NAN, "nan"),
        ] {
            assert_eq!(py_float(f), want, "{f}");
        }
    }

    #[test]
    fn strings_are_quoted_as_python_quotes_them() {
        let repr = |s: &str| {
            let mut out = String::new();
            string_repr(s, &mut out);
            out
        };
        assert_eq!(repr("a"), "'a'");
        assert_eq!(repr("it's"), "\"it's\"");
        assert_eq!(repr("'\""), "'\\'\"'");
        assert_eq!(repr("a\\b\n"), "'a\\\\b\\n'");
    }
}
