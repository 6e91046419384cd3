//! `modules.datetime` and `modules.pytz`: the parts of Python's `datetime` and `pytz` that dbt
//! packages call at compile time (dbt_date, dbt_expectations), on chrono and chrono-tz.
//!
//! - `datetime.datetime(y, m, d, hour=0, minute=0, second=0, microsecond=0, tzinfo=None)`,
//!   `.now(tz=None)`, `.utcnow()`, `.today()`, `.strptime(text, format)`,
//!   `.fromisoformat(text)`; `datetime.date(y, m, d)`, `.today()`, `.fromisoformat(text)`;
//!   `datetime.timedelta(days=0, seconds=0, microseconds=0, milliseconds=0, minutes=0,
//!   hours=0, weeks=0)`; `datetime.timezone.utc`.
//! - on a datetime or date: `year` ... `microsecond`, `tzinfo`, `strftime`, `isoformat`,
//!   `date()`, `replace(...)`, `astimezone(tz)`, `timestamp()`, `weekday()`,
//!   `isoweekday()`, `isocalendar()`; a date has no `hour` (templates tell the two apart so).
//! - `pytz.timezone(name)` with `localize(dt)` and `zone`; `pytz.utc` / `pytz.UTC`.
//! - `a - b` and `a + b` where `b` is written `...timedelta(...)`: minijinja has no operators
//!   on objects, so the template text is rewritten to `mallard_datetime_arith(a, '-', b)`
//!   (see `rewrite::timedelta_arithmetic`).
//!
//! Printed as Python prints them: `2024-01-02`, `2024-01-02 03:04:05[.ffffff][+HH:MM]`,
//! `1 day, 2:03:04`.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use minijinja::value::{from_args, Kwargs, Object, Value};
use minijinja::{Error, ErrorKind, State};

mod modules;
pub use modules::{arith, DatetimeModule, PytzModule};

/// A time zone: UTC, a named IANA zone, or a fixed offset in seconds east of UTC.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    Utc,
    Named(chrono_tz::Tz),
    Fixed(i32),
}

impl Zone {
    /// The offset in seconds east of UTC at wall-clock time `local` (the earlier one in a
    /// repeated hour, the offset after a skipped one).
    fn offset_at(self, local: NaiveDateTime) -> i32 {
        match self {
            Zone::Utc => 0,
            Zone::Fixed(s) => s,
            Zone::Named(tz) => match tz.from_local_datetime(&local).earliest() {
                Some(t) => t.offset().fix().local_minus_utc(),
                None => tz.from_utc_datetime(&local).offset().fix().local_minus_utc(),
            },
        }
    }

    /// The wall-clock time in this zone of the UTC instant `utc`.
    fn local_of(self, utc: NaiveDateTime) -> NaiveDateTime {
        match self {
            Zone::Utc => utc,
            Zone::Fixed(s) => utc + Duration::seconds(i64::from(s)),
            Zone::Named(tz) => tz.from_utc_datetime(&utc).naive_local(),
        }
    }

    fn name(self) -> String {
        match self {
            Zone::Utc => "UTC".to_string(),
            Zone::Named(tz) => tz.name().to_string(),
            Zone::Fixed(s) => format_offset(s, true),
        }
    }
}

/// `+HH:MM` (or `+HHMM` without `colon`).
fn format_offset(seconds: i32, colon: bool) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.abs();
    if colon {
        format!("{sign}{:02}:{:02}", s / 3600, (s % 3600) / 60)
    } else {
        format!("{sign}{:02}{:02}", s / 3600, (s % 3600) / 60)
    }
}

/// A Python `datetime` (`zone` set when aware) or `date` (`date_only`).
#[derive(Debug, Clone)]
pub struct PyDateTime {
    /// The wall-clock time (midnight for a date).
    pub local: NaiveDateTime,
    pub zone: Option<Zone>,
    pub date_only: bool,
}

impl PyDateTime {
    /// An aware datetime of the UTC instant `at` (dbt's `run_started_at`).
    pub fn utc(at: DateTime<Utc>) -> PyDateTime {
        PyDateTime {
            local: at.naive_utc(),
            zone: Some(Zone::Utc),
            date_only: false,
        }
    }

    fn date(d: NaiveDate) -> PyDateTime {
        PyDateTime {
            local: d.and_hms_opt(0, 0, 0).unwrap_or_default(),
            zone: None,
            date_only: true,
        }
    }

    /// The UTC instant (an aware datetime) or the wall-clock time taken as UTC (naive).
    fn instant(&self) -> NaiveDateTime {
        match self.zone {
            Some(z) => self.local - Duration::seconds(i64::from(z.offset_at(self.local))),
            None => self.local,
        }
    }

    fn strftime(&self, format: &str) -> Result<String, Error> {
        // Python's `%f` is microseconds; chrono's `%6f` is.
        let format = format.replace("%f", "%6f");
        let mut out = String::new();
        let offset = self.zone.map(|z| z.offset_at(self.local));
        let result = match offset {
            Some(o) => {
                let fixed = chrono::FixedOffset::east_opt(o).unwrap_or(Utc.fix());
                match fixed.from_local_datetime(&self.local).single() {
                    Some(t) => fmt::write(&mut out, format_args!("{}", t.format(&format))),
                    None => fmt::write(&mut out, format_args!("{}", self.local.format(&format))),
                }
            }
            None => fmt::write(&mut out, format_args!("{}", self.local.format(&format))),
        };
        result.map_err(|_| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("bad strftime format `{format}`"),
            )
        })?;
        Ok(out)
    }

    fn isoformat(&self, sep: &str) -> String {
        if self.date_only {
            return self.local.date().to_string();
        }
        let mut s = format!("{}{sep}{}", self.local.date(), self.local.format("%H:%M:%S"));
        let micros = self.local.nanosecond() / 1000;
        if micros > 0 {
            s.push_str(&format!(".{micros:06}"));
        }
        if let Some(z) = self.zone {
            s.push_str(&format_offset(z.offset_at(self.local), true));
        }
        s
    }
}

impl Object for PyDateTime {
    /// Truthy, as every Python object of its kind is.
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let t = &self.local;
        let key = key.as_str()?;
        Some(match key {
            "year" => Value::from(t.year()),
            "month" => Value::from(t.month()),
            "day" => Value::from(t.day()),
            _ if self.date_only => return None,
            "hour" => Value::from(t.hour()),
            "minute" => Value::from(t.minute()),
            "second" => Value::from(t.second()),
            "microsecond" => Value::from(t.nanosecond() / 1000),
            "tzinfo" => self
                .zone
                .map(|z| Value::from_object(PyTimezone(z)))
                .unwrap_or(Value::from(())),
            _ => return None,
        })
    }

    fn call_method(self: &Arc<Self>, _state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "strftime" => {
                let (format,): (String,) = from_args(args)?;
                Ok(Value::from(self.strftime(&format)?))
            }
            "isoformat" => {
                let (sep,): (Option<String>,) = from_args(args)?;
                Ok(Value::from(self.isoformat(sep.as_deref().unwrap_or("T"))))
            }
            "date" => Ok(Value::from_object(PyDateTime::date(self.local.date()))),
            "timestamp" => Ok(Value::from(
                self.instant().and_utc().timestamp_micros() as f64 / 1_000_000.0,
            )),
            "weekday" => Ok(Value::from(self.local.weekday().num_days_from_monday())),
            "isoweekday" => Ok(Value::from(self.local.weekday().number_from_monday())),
            "isocalendar" => {
                let w = self.local.iso_week();
                Ok(Value::from(vec![
                    Value::from(w.year()),
                    Value::from(w.week()),
                    Value::from(self.local.weekday().number_from_monday()),
                ]))
            }
            "replace" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                let t = self.local;
                let get = |k: &str, v: u32| -> Result<u32, Error> {
                    Ok(kwargs.get::<Option<u32>>(k)?.unwrap_or(v))
                };
                let year: i32 = kwargs.get::<Option<i32>>("year")?.unwrap_or(t.year());
                let date = NaiveDate::from_ymd_opt(year, get("month", t.month())?, get("day", t.day())?);
                let time = chrono::NaiveTime::from_hms_micro_opt(
                    get("hour", t.hour())?,
                    get("minute", t.minute())?,
                    get("second", t.second())?,
                    get("microsecond", t.nanosecond() / 1000)?,
                );
                let zone = match kwargs.get::<Option<Value>>("tzinfo")? {
                    Some(v) if v.is_none() => None,
                    Some(v) => Some(zone_of(&v)?),
                    None => self.zone,
                };
                kwargs.assert_all_used()?;
                let (Some(date), Some(time)) = (date, time) else {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "replace(): value out of range",
                    ));
                };
                Ok(Value::from_object(PyDateTime {
                    local: date.and_time(time),
                    zone,
                    date_only: self.date_only,
                }))
            }
            "astimezone" => {
                let (tz,): (Option<Value>,) = from_args(args)?;
                let zone = match tz {
                    Some(v) if !v.is_none() => zone_of(&v)?,
                    _ => Zone::Utc,
                };
                Ok(Value::from_object(PyDateTime {
                    local: zone.local_of(self.instant()),
                    zone: Some(zone),
                    date_only: false,
                }))
            }
            "utcoffset" => Ok(self
                .zone
                .map(|z| Value::from_object(PyTimedelta::seconds(i64::from(z.offset_at(self.local)))))
                .unwrap_or(Value::from(()))),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.isoformat(" "))
    }
}

/// A Python `timedelta`, in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct PyTimedelta {
    micros: i64,
}

impl PyTimedelta {
    fn seconds(s: i64) -> PyTimedelta {
        PyTimedelta {
            micros: s * 1_000_000,
        }
    }

    fn duration(self) -> Duration {
        Duration::microseconds(self.micros)
    }
}

impl Object for PyTimedelta {
    /// Python: a zero timedelta is false.
    fn is_true(self: &Arc<Self>) -> bool {
        self.micros != 0
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let days = self.micros.div_euclid(86_400_000_000);
        let rest = self.micros.rem_euclid(86_400_000_000);
        Some(Value::from(match key.as_str()? {
            "days" => days,
            "seconds" => rest / 1_000_000,
            "microseconds" => rest % 1_000_000,
            _ => return None,
        }))
    }

    fn call_method(self: &Arc<Self>, _state: &State, method: &str, _args: &[Value]) -> Result<Value, Error> {
        match method {
            "total_seconds" => Ok(Value::from(self.micros as f64 / 1_000_000.0)),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.micros.div_euclid(86_400_000_000);
        let rest = self.micros.rem_euclid(86_400_000_000);
        let (h, m, s, us) = (
            rest / 3_600_000_000,
            rest / 60_000_000 % 60,
            rest / 1_000_000 % 60,
            rest % 1_000_000,
        );
        if days != 0 {
            write!(f, "{days} day{}, ", if days.abs() == 1 { "" } else { "s" })?;
        }
        write!(f, "{h}:{m:02}:{s:02}")?;
        if us > 0 {
            write!(f, ".{us:06}")?;
        }
        Ok(())
    }
}

/// A time zone object (`pytz.timezone(name)`, `pytz.utc`, a datetime's `tzinfo`).
#[derive(Debug)]
pub struct PyTimezone(Zone);

impl Object for PyTimezone {
    /// Truthy, as every Python object of its kind is.
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "zone" | "key" => Some(Value::from(self.0.name())),
            _ => None,
        }
    }

    fn call_method(self: &Arc<Self>, _state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            // pytz: the same wall-clock time, now in this zone.
            "localize" => {
                let (dt, _kwargs): (Value, Kwargs) = from_args(args)?;
                let dt = datetime_of(&dt)?;
                Ok(Value::from_object(PyDateTime {
                    local: dt.local,
                    zone: Some(self.0),
                    date_only: false,
                }))
            }
            "normalize" => {
                let (dt,): (Value,) = from_args(args)?;
                Ok(dt)
            }
            "utcoffset" => {
                let (dt,): (Value,) = from_args(args)?;
                let dt = datetime_of(&dt)?;
                Ok(Value::from_object(PyTimedelta::seconds(i64::from(
                    self.0.offset_at(dt.local),
                ))))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.name())
    }
}

fn datetime_of(v: &Value) -> Result<PyDateTime, Error> {
    v.downcast_object_ref::<PyDateTime>().cloned().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("expected a datetime, got {v}"),
        )
    })
}

fn timedelta_of(v: &Value) -> Option<PyTimedelta> {
    v.downcast_object_ref::<PyTimedelta>().copied()
}

/// The zone of a `tzinfo` value: a [`PyTimezone`], or a zone name.
fn zone_of(v: &Value) -> Result<Zone, Error> {
    if let Some(tz) = v.downcast_object_ref::<PyTimezone>() {
        return Ok(tz.0);
    }
    named_zone(&v.to_string())
}

/// `pytz.timezone(name)`'s zone.
///
/// Errors: a name the IANA database does not have (pytz's `UnknownTimeZoneError`).
fn named_zone(name: &str) -> Result<Zone, Error> {
    if name.eq_ignore_ascii_case("utc") {
        return Ok(Zone::Utc);
    }
    name.parse::<chrono_tz::Tz>()
        .map(Zone::Named)
        .map_err(|_| Error::new(ErrorKind::InvalidOperation, format!("unknown time zone `{name}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str) -> String {
        let mut env = minijinja::Environment::new();
        env.add_global("datetime", Value::from_object(DatetimeModule));
        env.add_global("pytz", Value::from_object(PytzModule));
        env.add_function("arith", arith);
        env.render_str(src, ()).unwrap()
    }

    #[test]
    fn behaves_as_python() {
        assert_eq!(render("{{ datetime.date(2024, 2, 28) }}"), "2024-02-28");
        assert_eq!(
            render("{{ datetime.datetime(2024, 2, 28, 13, 5) }}"),
            "2024-02-28 13:05:00"
        );
        assert_eq!(
            render("{{ arith(datetime.date(2024, 2, 28), '+', datetime.timedelta(2)) }}"),
            "2024-03-01"
        );
        assert_eq!(
            render("{{ pytz.timezone('America/Los_Angeles').localize(datetime.datetime(2024, 7, 1)) }}"),
            "2024-07-01 00:00:00-07:00"
        );
        assert_eq!(
            render("{{ datetime.datetime.fromisoformat('2026-09-01T00:00:00+00:00').timestamp() }}"),
            "1788220800.0"
        );
        assert_eq!(
            render("{{ datetime.datetime(2024, 1, 1).replace(hour=5).hour }}"),
            "5"
        );
        assert_eq!(render("{{ datetime.date(2024, 1, 1).hour is defined }}"), "False");
        assert_eq!(
            render("{{ datetime.timedelta(days=1, hours=2) }}"),
            "1 day, 2:00:00"
        );
        assert_eq!(
            render("{{ datetime.datetime(2024, 1, 2).strftime('%Y%m%d %f') }}"),
            "20240102 000000"
        );
    }
}
