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
        let spec = Spec::read(&mut chars)?;
        if spec.conversion == '%' {
            out.push('%');
            continue;
        }
        let value = match (&spec.name, &positional) {
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
        out.push_str(&spec.padded(spec.convert(&value)?));
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

/// An error of `%` formatting, as Python's TypeError/ValueError text.
fn fail(m: &str) -> Error {
    Error::new(ErrorKind::InvalidOperation, m.to_string())
}

/// One conversion specifier after its `%`: `%(name)-08.3f` is name `name`, flags `-0`, width
/// 8, precision 3, conversion `f`.
struct Spec {
    name: Option<String>,
    flags: String,
    width: usize,
    precision: Option<usize>,
    conversion: char,
}

impl Spec {
    /// Reads a specifier from `chars` (just past its `%`). Errors when the text ends first.
    fn read(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Spec, Error> {
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
        let digits = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
            let mut n = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                n.push(d);
                chars.next();
            }
            n.parse().unwrap_or(0)
        };
        let width = digits(chars);
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            precision = Some(digits(chars));
        }
        let conversion = chars.next().ok_or_else(|| fail("incomplete format"))?;
        Ok(Spec {
            name,
            flags,
            width,
            precision,
            conversion,
        })
    }

    /// `value` converted (before the sign flags and the width). Errors: a number conversion
    /// of a value that is not a number; an unknown conversion.
    fn convert(&self, value: &Value) -> Result<String, Error> {
        let (conversion, precision) = (self.conversion, self.precision);
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
        Ok(match conversion {
            's' => text(value),
            'r' | 'a' => {
                let mut s = String::new();
                py_repr(value, &mut s);
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
        })
    }

    /// `text` with the precision of `%s`/`%r` (a cut), the sign flags of numbers, and the
    /// width (left-aligned with `-`, zero-padded after the sign with `0`).
    fn padded(&self, mut text: String) -> String {
        let (flags, conversion) = (&self.flags, self.conversion);
        if conversion == 's' || conversion == 'r' {
            if let Some(p) = self.precision {
                text = text.chars().take(p).collect();
            }
        } else if flags.contains('+') && !text.starts_with('-') {
            text.insert(0, '+');
        } else if flags.contains(' ') && !text.starts_with('-') {
            text.insert(0, ' ');
        }
        let len = text.chars().count();
        if len < self.width {
            let pad = self.width - len;
            if flags.contains('-') {
                text.push_str(&" ".repeat(pad));
            } else if flags.contains('0') && !matches!(conversion, 's' | 'r' | 'c') {
                let sign = text.starts_with(['-', '+', ' ']) as usize;
                text.insert_str(sign, &"0".repeat(pad));
            } else {
                text.insert_str(0, &" ".repeat(pad));
            }
        }
        text
    }
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
