//! The Python modules templates call: `modules.datetime` (its `datetime`, `date` and
//! `timedelta` classes) and `modules.pytz`, and the datetime arithmetic the rewritten source
//! calls (`arith`).

use super::*;

/// `datetime.datetime` (`date_only` false) or `datetime.date`: a constructor with class methods.
#[derive(Debug)]
pub(super) struct DateTimeClass {
    date_only: bool,
}

impl DateTimeClass {
    fn now(&self, zone: Option<Zone>) -> PyDateTime {
        let utc = Utc::now().naive_utc();
        let local = match zone {
            Some(z) => z.local_of(utc),
            // Naive `now()`/`today()`: the machine's local time.
            None => chrono::Local::now().naive_local(),
        };
        if self.date_only {
            PyDateTime::date(local.date())
        } else {
            PyDateTime {
                local,
                zone,
                date_only: false,
            }
        }
    }
}

impl Object for DateTimeClass {
    /// Truthy, as every Python object of its kind is.
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn call(self: &Arc<Self>, _state: &State, args: &[Value]) -> Result<Value, Error> {
        let (positional, kwargs): (&[Value], Kwargs) = from_args(args)?;
        let names = ["year", "month", "day", "hour", "minute", "second", "microsecond"];
        let mut parts = [1970i64, 1, 1, 0, 0, 0, 0];
        for (i, name) in names.iter().enumerate() {
            if let Some(v) = positional.get(i) {
                parts[i] = i64::try_from(v.clone())?;
            } else if let Some(v) = kwargs.get::<Option<i64>>(name)? {
                parts[i] = v;
            } else if i < 3 {
                return Err(Error::new(
                    ErrorKind::MissingArgument,
                    format!("missing argument `{name}`"),
                ));
            }
        }
        let zone = match positional
            .get(7)
            .cloned()
            .or(kwargs.get::<Option<Value>>("tzinfo")?)
        {
            Some(v) if !v.is_none() => Some(zone_of(&v)?),
            _ => None,
        };
        kwargs.assert_all_used()?;
        let date = NaiveDate::from_ymd_opt(parts[0] as i32, parts[1] as u32, parts[2] as u32)
            .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "date value out of range"))?;
        if self.date_only {
            return Ok(Value::from_object(PyDateTime::date(date)));
        }
        let time = chrono::NaiveTime::from_hms_micro_opt(
            parts[3] as u32,
            parts[4] as u32,
            parts[5] as u32,
            parts[6] as u32,
        )
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "time value out of range"))?;
        Ok(Value::from_object(PyDateTime {
            local: date.and_time(time),
            zone,
            date_only: false,
        }))
    }

    fn call_method(self: &Arc<Self>, _state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
        let dt = match method {
            "now" => {
                let (tz,): (Option<Value>,) = from_args(args)?;
                let zone = tz.filter(|v| !v.is_none()).map(|v| zone_of(&v)).transpose()?;
                self.now(zone)
            }
            "today" => self.now(None),
            "utcnow" => {
                let local = Utc::now().naive_utc();
                PyDateTime {
                    local,
                    zone: None,
                    date_only: self.date_only,
                }
            }
            "strptime" => {
                let (text, format): (String, String) = from_args(args)?;
                let format = format.replace("%f", "%6f");
                let local = NaiveDateTime::parse_from_str(&text, &format)
                    .or_else(|_| {
                        NaiveDate::parse_from_str(&text, &format)
                            .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
                    })
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::InvalidOperation,
                            format!("strptime(`{text}`, `{format}`): {e}"),
                        )
                    })?;
                PyDateTime {
                    local,
                    zone: None,
                    date_only: self.date_only,
                }
            }
            "fromisoformat" => {
                let (text,): (String,) = from_args(args)?;
                from_isoformat(&text, self.date_only)?
            }
            "fromtimestamp" => {
                let (ts, tz): (f64, Option<Value>) = from_args(args)?;
                let utc = DateTime::from_timestamp_micros((ts * 1_000_000.0) as i64)
                    .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "timestamp out of range"))?
                    .naive_utc();
                let zone = tz.filter(|v| !v.is_none()).map(|v| zone_of(&v)).transpose()?;
                PyDateTime {
                    local: zone.unwrap_or(Zone::Utc).local_of(utc),
                    zone,
                    date_only: self.date_only,
                }
            }
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        };
        Ok(Value::from_object(dt))
    }
}

/// Python's `fromisoformat`: `YYYY-MM-DD`, optionally `T` or space and a time
/// (`HH:MM[:SS[.ffffff]]`), optionally an offset `+HH:MM` or `Z`.
pub(super) fn from_isoformat(text: &str, date_only: bool) -> Result<PyDateTime, Error> {
    let bad = || {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("Invalid isoformat string: '{text}'"),
        )
    };
    let t = text.trim();
    let date = NaiveDate::parse_from_str(t.get(..10).ok_or_else(bad)?, "%Y-%m-%d").map_err(|_| bad())?;
    let rest = &t[10..];
    if rest.is_empty() {
        return Ok(if date_only {
            PyDateTime::date(date)
        } else {
            PyDateTime {
                local: date.and_hms_opt(0, 0, 0).unwrap_or_default(),
                zone: None,
                date_only: false,
            }
        });
    }
    let rest = rest.strip_prefix(['T', ' ']).ok_or_else(bad)?;
    let (clock, zone) = match rest.find(['+', '-', 'Z']) {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    let time = ["%H:%M:%S%.f", "%H:%M:%S", "%H:%M"]
        .iter()
        .find_map(|f| chrono::NaiveTime::parse_from_str(clock, f).ok())
        .ok_or_else(bad)?;
    let zone = match zone {
        None => None,
        Some("Z") => Some(Zone::Utc),
        Some(z) => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let digits: String = z[1..].chars().filter(|c| *c != ':').collect();
            let h: i32 = digits.get(..2).and_then(|d| d.parse().ok()).ok_or_else(bad)?;
            let m: i32 = digits.get(2..4).and_then(|d| d.parse().ok()).unwrap_or(0);
            Some(if h == 0 && m == 0 {
                Zone::Utc
            } else {
                Zone::Fixed(sign * (h * 3600 + m * 60))
            })
        }
    };
    Ok(PyDateTime {
        local: date.and_time(time),
        zone,
        date_only: false,
    })
}

/// `datetime.timedelta(...)`.
#[derive(Debug)]
pub(super) struct TimedeltaClass;

impl Object for TimedeltaClass {
    /// Truthy, as every Python object of its kind is.
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn call(self: &Arc<Self>, _state: &State, args: &[Value]) -> Result<Value, Error> {
        let (positional, kwargs): (&[Value], Kwargs) = from_args(args)?;
        // Python's order: days, seconds, microseconds, milliseconds, minutes, hours, weeks.
        let units: [(&str, f64); 7] = [
            ("days", 86_400e6),
            ("seconds", 1e6),
            ("microseconds", 1.0),
            ("milliseconds", 1e3),
            ("minutes", 60e6),
            ("hours", 3_600e6),
            ("weeks", 604_800e6),
        ];
        let mut micros = 0.0;
        for (i, (name, scale)) in units.iter().enumerate() {
            let v = match positional.get(i) {
                Some(v) => Some(f64::try_from(v.clone())?),
                None => kwargs.get::<Option<f64>>(name)?,
            };
            micros += v.unwrap_or(0.0) * scale;
        }
        kwargs.assert_all_used()?;
        Ok(Value::from_object(PyTimedelta {
            micros: micros.round() as i64,
        }))
    }
}

/// `modules.datetime`.
#[derive(Debug)]
pub struct DatetimeModule;

impl Object for DatetimeModule {
    /// Truthy, as every Python object of its kind is.
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "datetime" => Some(Value::from_object(DateTimeClass { date_only: false })),
            "date" => Some(Value::from_object(DateTimeClass { date_only: true })),
            "timedelta" => Some(Value::from_object(TimedeltaClass)),
            "timezone" => Some(minijinja::context! { utc => Value::from_object(PyTimezone(Zone::Utc)) }),
            _ => None,
        }
    }
}

/// `modules.pytz`.
#[derive(Debug)]
pub struct PytzModule;

impl Object for PytzModule {
    /// Truthy, as every Python object of its kind is.
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "utc" | "UTC" => Some(Value::from_object(PyTimezone(Zone::Utc))),
            _ => None,
        }
    }

    fn call_method(self: &Arc<Self>, _state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "timezone" => {
                let (name,): (String,) = from_args(args)?;
                Ok(Value::from_object(PyTimezone(named_zone(&name)?)))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `mallard_datetime_arith(a, op, b)`: `a + b` or `a - b` where a side is a datetime, date or
/// timedelta, with Python's results (a datetime moved by a timedelta keeps its zone and kind;
/// two datetimes differ by a timedelta).
///
/// Errors: operands Python would refuse (`timedelta - datetime`, adding two datetimes).
pub fn arith(a: Value, op: String, b: Value) -> Result<Value, Error> {
    let sign: i64 = if op == "-" { -1 } else { 1 };
    if let (Some(dt), Some(td)) = (a.downcast_object_ref::<PyDateTime>(), timedelta_of(&b)) {
        let mut out = dt.clone();
        out.local += td.duration() * sign as i32;
        return Ok(Value::from_object(out));
    }
    if let (Some(td), Some(dt)) = (timedelta_of(&a), b.downcast_object_ref::<PyDateTime>()) {
        if sign == 1 {
            let mut out = dt.clone();
            out.local += td.duration();
            return Ok(Value::from_object(out));
        }
    }
    if let (Some(x), Some(y)) = (timedelta_of(&a), timedelta_of(&b)) {
        return Ok(Value::from_object(PyTimedelta {
            micros: x.micros + sign * y.micros,
        }));
    }
    if let (Some(x), Some(y), -1) = (
        a.downcast_object_ref::<PyDateTime>(),
        b.downcast_object_ref::<PyDateTime>(),
        sign,
    ) {
        let micros = (x.instant() - y.instant()).num_microseconds().unwrap_or(0);
        return Ok(Value::from_object(PyTimedelta { micros }));
    }
    // `a + b` of two names in a template that uses timedeltas (see `rewrite::name_addition`):
    // for other values, the `+` minijinja has.
    if op == "+" {
        return plain_addition(&a, &b);
    }
    Err(Error::new(
        ErrorKind::InvalidOperation,
        format!("unsupported operand types for {op}: {a} and {b}"),
    ))
}

/// `a + b` as a template's `+` gives it: numbers added (integers stay integers), strings
/// joined, lists concatenated.
///
/// Errors: any other pair, as Python's TypeError.
fn plain_addition(a: &Value, b: &Value) -> Result<Value, Error> {
    use minijinja::value::ValueKind as K;
    match (a.kind(), b.kind()) {
        (K::Number, K::Number) => match (i64::try_from(a.clone()), i64::try_from(b.clone())) {
            (Ok(x), Ok(y)) if a.is_integer() && b.is_integer() => x
                .checked_add(y)
                .map(Value::from)
                .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "integer overflow in +")),
            _ => Ok(Value::from(f64::try_from(a.clone())? + f64::try_from(b.clone())?)),
        },
        (K::String, K::String) => Ok(Value::from(format!("{a}{b}"))),
        (K::Seq, K::Seq) => Ok(Value::from(
            a.try_iter()?.chain(b.try_iter()?).collect::<Vec<_>>(),
        )),
        _ => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("unsupported operand types for +: {a} and {b}"),
        )),
    }
}
