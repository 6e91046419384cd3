//! Python's `range()` in templates (see [`PyRange`]): Jinja2 hands templates Python's range,
//! which prints as `range(0, 3)` and is not a list; minijinja's is a list. Measured by
//! `tests/jinja.rs`.

use minijinja::value::{Rest, Value};
use minijinja::{Error, ErrorKind};

/// Python's `range(stop)` / `range(start, stop[, step])`: the whole numbers from `start`
/// (default 0) up to `stop` (excluded) by `step` (default 1), computed when read; iterated,
/// indexed and measured as a list, printed as Python prints it (`range(0, 3)`,
/// `range(1, 10, 3)`).
#[derive(Debug)]
pub struct PyRange {
    start: i64,
    stop: i64,
    step: i64,
}

impl PyRange {
    fn len(&self) -> usize {
        let span = if self.step > 0 {
            self.stop - self.start + self.step - 1
        } else {
            self.start - self.stop - self.step - 1
        };
        usize::try_from(span / self.step.abs()).unwrap_or(0)
    }
}

impl minijinja::value::Object for PyRange {
    fn repr(self: &std::sync::Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Seq
    }

    fn get_value(self: &std::sync::Arc<Self>, key: &Value) -> Option<Value> {
        let len = self.len() as i64;
        let i = key.as_i64()?;
        let i = if i < 0 { len + i } else { i };
        (0..len)
            .contains(&i)
            .then(|| Value::from(self.start + i * self.step))
    }

    fn enumerate(self: &std::sync::Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Seq(self.len())
    }

    fn render(self: &std::sync::Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.step {
            1 => write!(f, "range({}, {})", self.start, self.stop),
            step => write!(f, "range({}, {}, {step})", self.start, self.stop),
        }
    }
}

/// `range(...)` (see [`PyRange`]).
///
/// Errors: no argument or more than three; a step of zero (Python's errors).
pub(super) fn range(args: Rest<i64>) -> Result<Value, Error> {
    let (start, stop, step) = match args.as_slice() {
        [stop] => (0, *stop, 1),
        [start, stop] => (*start, *stop, 1),
        [start, stop, step] => (*start, *stop, *step),
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("range expected 1 to 3 arguments, got {}", args.len()),
            ))
        }
    };
    if step == 0 {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "range() arg 3 must not be zero",
        ));
    }
    Ok(Value::from_object(PyRange { start, stop, step }))
}
