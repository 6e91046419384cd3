//! Python's `'fmt' % args` string formatting, for templates (see [`percent_format`]).

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

use super::mutable::Tuple;
use super::pyrepr::{py_repr, str_of as text};

/// Python's `fmt % args` for a string `fmt` (`{{ '%s-%d' % ('a', 3) }}`, rendered as
/// `mallard_percent(fmt, args)`, see [`super::mutable_literals`]): `args` a tuple gives the
/// values in order, a dict the `%(name)s` values, anything else is the one value. Conversions
/// `s r d i u f F e E g G x X o c %`, with flags `-+ 0`, a width and a precision.
///
/// Errors: too few or too many values, a number conversion of a value that is not a number, an
/// unknown conversion, as Python raises them.
pub fn percent_format(fmt: &str, args: &Value) -> Result<String, Error> {
    let fail = |m: &str| Error::new(ErrorKind::InvalidOperation, m.to_string());
    let positional: Option<Vec<Value>> = match args.downcast_object_ref::<Tuple>() {
        Some(t) => Some(t.0.clone()),
        None if args.kind() == ValueKind::Map => None,
        None => Some(vec![args.clone()]),
    };
    let mut next = 0usize;
    let mut out = String::with_capacity(fmt.len() + 16);
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut name = None;
        if chars.peek() == Some(&'(') {
            chars.next();
            let key: String = chars.by_ref().take_while(|&c| c != ')').collect();
            name = Some(key);
        }
        let mut flags = String::new();
        while let Some(&f) = chars.peek().filter(|f| "-+ 0#".contains(**f)) {
            flags.push(f);
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            precision = Some(p.parse().unwrap_or(0));
        }
        let conversion = chars.next().ok_or_else(|| fail("incomplete format"))?;
        if conversion == '%' {
            out.push('%');
            continue;
        }
        let value = match (&name, &positional) {
            (Some(key), _) => args
                .get_item(&Value::from(key.as_str()))
                .ok()
                .filter(|v| !v.is_undefined())
                .ok_or_else(|| fail(&format!("KeyError: '{key}'")))?,
            (None, Some(values)) => {
                let v = values
                    .get(next)
                    .cloned()
                    .ok_or_else(|| fail("not enough arguments for format string"))?;
                next += 1;
                v
            }
            (None, None) => args.clone(),
        };
        let number = || -> Result<f64, Error> {
            if value.kind() == ValueKind::Bool {
                return Ok(if value.is_true() { 1.0 } else { 0.0 });
            }
            f64::try_from(value.clone()).map_err(|_| {
                fail(&format!(
                    "%{conversion} format: a real number is required, not {}",
                    value.kind()
                ))
            })
        };
        let mut text = match conversion {
            's' => text(&value),
            'r' | 'a' => {
                let mut s = String::new();
                py_repr(&value, &mut s);
                s
            }
            'd' | 'i' | 'u' => format!("{}", number()?.trunc() as i128),
            'f' | 'F' => format!("{:.*}", precision.unwrap_or(6), number()?),
            'e' | 'E' => {
                let s = python_exponent(&format!("{:.*e}", precision.unwrap_or(6), number()?));
                if conversion == 'E' {
                    s.to_uppercase()
                } else {
                    s
                }
            }
            'g' | 'G' => super::pyrepr::py_float(number()?),
            'x' => format!("{:x}", number()? as i128),
            'X' => format!("{:X}", number()? as i128),
            'o' => format!("{:o}", number()? as i128),
            'c' => match value.as_str() {
                Some(s) => s.to_string(),
                None => char::from_u32(number()? as u32)
                    .map(String::from)
                    .unwrap_or_default(),
            },
            other => return Err(fail(&format!("unsupported format character '{other}'"))),
        };
        if conversion == 's' || conversion == 'r' {
            if let Some(p) = precision {
                text = text.chars().take(p).collect();
            }
        } else if flags.contains('+') && !text.starts_with('-') {
            text.insert(0, '+');
        } else if flags.contains(' ') && !text.starts_with('-') {
            text.insert(0, ' ');
        }
        let width: usize = width.parse().unwrap_or(0);
        let len = text.chars().count();
        if len < width {
            let pad = width - len;
            if flags.contains('-') {
                text.push_str(&" ".repeat(pad));
            } else if flags.contains('0') && !matches!(conversion, 's' | 'r' | 'c') {
                let sign = text.starts_with(['-', '+', ' ']) as usize;
                text.insert_str(sign, &"0".repeat(pad));
            } else {
                text.insert_str(0, &" ".repeat(pad));
            }
        }
        out.push_str(&text);
    }
    if let Some(values) = &positional {
        if next < values.len() && args.downcast_object_ref::<Tuple>().is_some() {
            return Err(fail("not all arguments converted during string formatting"));
        }
        if next == 0 && !values.is_empty() && args.downcast_object_ref::<Tuple>().is_none() {
            return Err(fail("not all arguments converted during string formatting"));
        }
    }
    Ok(out)
}

/// Rust's `1.5e3` exponent written as Python writes it: `1.5e+03`.
fn python_exponent(s: &str) -> String {
    match s.split_once('e') {
        Some((m, e)) => {
            let n: i32 = e.parse().unwrap_or(0);
            format!("{m}e{}{:02}", if n < 0 { '-' } else { '+' }, n.abs())
        }
        None => s.to_string(),
    }
}
