//! Seed column types as dbt-duckdb infers them.
//!
//! dbt reads a seed CSV with agate and tries, for each column, these types in order, keeping the
//! first that accepts every value (`""` and `null`, in any case, count as missing and fit
//! every type): a number, a date (`%Y-%m-%d`), a datetime (`%Y-%m-%d %H:%M:%S`), an ISO 8601
//! datetime (`<date>T<time>`), a boolean (`true`/`false`, any case), else text. A number
//! column is `integer` unless some value has decimal places after normalisation (`1.50` has
//! one, `2.0` and `1e3` none), then `float8`; a column with no values at all is `integer`.
//! dbt-duckdb then creates the table with those types and loads the file with DuckDB's `COPY`
//! (sources: dbt-common's `clients/agate_helper.py`, agate's `data_types/`, dbt-adapters'
//! `SQLAdapter.convert_*_type`; checked by running dbt on `tests/fixtures/seed_types`).
//!
//! So a column of `3000000000` is `integer` and fails to load, under dbt and here alike.

use std::path::Path;

use crate::error::{Diagnostic, Location};

/// The type dbt gives a seed column, named as dbt-duckdb writes it in `create table`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedType {
    Integer,
    Float,
    Date,
    Timestamp,
    Boolean,
    Text,
}

impl SeedType {
    /// The SQL type dbt-duckdb declares for the column.
    pub fn sql(self) -> &'static str {
        match self {
            SeedType::Integer => "integer",
            SeedType::Float => "float8",
            SeedType::Date => "date",
            SeedType::Timestamp => "timestamp without time zone",
            SeedType::Boolean => "boolean",
            SeedType::Text => "text",
        }
    }
}

/// A seed's header (names as agate gives them: an empty name becomes the column's letter,
/// a repeated one gets `_2`, `_3`, ...) and each column's inferred type.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedColumns {
    pub names: Vec<String>,
    pub types: Vec<SeedType>,
}

/// Which candidate types every value seen so far fits, for one column.
#[derive(Clone, Copy)]
struct Candidates {
    number: bool,
    /// The most decimal places of any number seen.
    places: u32,
    date: bool,
    datetime: bool,
    iso: bool,
    boolean: bool,
}

impl Candidates {
    const ALL: Candidates = Candidates {
        number: true,
        places: 0,
        date: true,
        datetime: true,
        iso: true,
        boolean: true,
    };

    fn see(&mut self, raw: &str) {
        let v = raw.trim();
        if v.is_empty() || v.eq_ignore_ascii_case("null") {
            return;
        }
        if self.number {
            match decimal_places(v) {
                Some(p) => self.places = self.places.max(p),
                None => self.number = false,
            }
        }
        self.date = self.date && strptime_date(v).is_some_and(|rest| rest.is_empty());
        self.datetime = self.datetime && is_strptime_datetime(v);
        self.iso = self.iso && is_iso_datetime(v);
        self.boolean = self.boolean && {
            let b = v.replace(',', "");
            let b = b.trim();
            b.eq_ignore_ascii_case("true") || b.eq_ignore_ascii_case("false")
        };
    }

    fn result(self) -> SeedType {
        if self.number {
            if self.places > 0 {
                SeedType::Float
            } else {
                SeedType::Integer
            }
        } else if self.date {
            SeedType::Date
        } else if self.datetime || self.iso {
            SeedType::Timestamp
        } else if self.boolean {
            SeedType::Boolean
        } else {
            SeedType::Text
        }
    }
}

/// Reads the CSV at `path` (shown to the user as `shown`) and infers its columns' types.
///
/// Errors: the file cannot be read, is not UTF-8, or has a row with more or fewer fields than
/// the header (the diagnostic names `shown:LINE`); the run was told to stop.
pub fn infer(path: &Path, shown: &str, delimiter: u8) -> Result<SeedColumns, Diagnostic> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_path(path)
        .map_err(|e| Diagnostic::new(format!("cannot read seed `{shown}`: {e}")))?;
    let header = reader
        .headers()
        .map_err(|e| Diagnostic::new(format!("cannot read the header of seed `{shown}`: {e}")))?
        .clone();
    let names = column_names(header.iter());
    let mut columns = vec![Candidates::ALL; names.len()];
    let mut record = csv::StringRecord::new();
    for row in 0u64.. {
        // A large file takes a while: a run told to stop does not read on.
        if row % 8192 == 0 {
            if let Some(signal) = crate::adapter::cancel::requested() {
                return Err(Diagnostic::new(format!(
                    "interrupted by {} while reading seed `{shown}`",
                    crate::adapter::cancel::signal_name(signal)
                )));
            }
        }
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                for (c, value) in columns.iter_mut().zip(record.iter()) {
                    c.see(value);
                }
            }
            Err(e) => return Err(csv_error(path, shown, &e)),
        }
    }
    Ok(SeedColumns {
        names,
        types: columns.into_iter().map(Candidates::result).collect(),
    })
}

/// A CSV reading error as a diagnostic at the line it names.
fn csv_error(path: &Path, shown: &str, e: &csv::Error) -> Diagnostic {
    let text = || std::fs::read_to_string(path).unwrap_or_default();
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => {
            let line = pos.as_ref().map_or(1, |p| p.line()) as usize;
            Diagnostic::new(format!(
                "cannot load seed `{shown}`: line {line} has {len} fields, the header has {expected_len}"
            ))
            .at(Location::in_source(shown, &text(), line, None))
            .help("give every row as many fields as the header; quote values that contain the delimiter")
        }
        csv::ErrorKind::Utf8 { pos, .. } => {
            let line = pos.as_ref().map_or(1, |p| p.line()) as usize;
            Diagnostic::new(format!(
                "cannot load seed `{shown}`: line {line} is not valid UTF-8"
            ))
            .help("save the file as UTF-8")
        }
        _ => Diagnostic::new(format!("cannot read seed `{shown}`: {e}")),
    }
}

/// agate's column names: trimmed of nothing, an empty one named by its letter (`a`, `b`, ...
/// `aa`), a repeated one suffixed `_2`, `_3`, ... in order of appearance.
fn column_names<'a>(header: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, name) in header.enumerate() {
        let name = if name.is_empty() {
            let letter = (b'a' + (i % 26) as u8) as char;
            letter.to_string().repeat(i / 26 + 1)
        } else {
            name.to_string()
        };
        let name = if out.contains(&name) {
            let mut i = 2;
            while out.contains(&format!("{name}_{i}")) {
                i += 1;
            }
            format!("{name}_{i}")
        } else {
            name
        };
        out.push(name);
    }
    out
}

/// agate's number cast of a trimmed, non-missing value: `%` stripped from both ends, one
/// leading `-`, currency symbols stripped, `,` (the group symbol) removed, then Python's
/// `Decimal`. Returns the decimal places of the normalised value (0 for NaN and infinities),
/// or `None` when it is not a number.
fn decimal_places(v: &str) -> Option<u32> {
    const CURRENCY: &[char] = &[
        '؋', '$', 'ƒ', '៛', '¥', '₡', '₱', '£', '€', '¢', '﷼', '₪', '₩', '₭', '₮', '₦', '฿', '₤', '₫',
    ];
    let v = v.trim_matches('%');
    let v = v.strip_prefix('-').unwrap_or(v);
    let mut v = v;
    for c in CURRENCY {
        v = v.trim_matches(*c);
    }
    let v = v.replace(',', "");
    python_decimal_places(v.trim())
}

/// Parses `s` as Python's `Decimal(s)` does (sign, digits with `_` between them, a point,
/// an exponent; `inf`, `infinity`, `nan`, `snan`) and returns the decimal places of the value
/// normalised in a 28-digit context; `None` when `Decimal` would refuse it.
fn python_decimal_places(s: &str) -> Option<u32> {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = s.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity") {
        return Some(0);
    }
    if let Some(payload) = lower.strip_prefix("nan").or_else(|| lower.strip_prefix("snan")) {
        return payload.bytes().all(|b| b.is_ascii_digit()).then_some(0);
    }
    let (mantissa, exponent) = match lower.split_once('e') {
        Some((m, e)) => {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if !valid_digits(digits) {
                return None;
            }
            let value: i64 = digits.replace('_', "").parse().ok()?;
            (m, if e.starts_with('-') { -value } else { value })
        }
        None => (lower.as_str(), 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if (!int_part.is_empty() && !valid_digits(int_part))
        || (!frac_part.is_empty() && !valid_digits(frac_part))
    {
        return None;
    }
    let digits: String = int_part
        .chars()
        .chain(frac_part.chars())
        .filter(|c| *c != '_')
        .collect();
    let frac_len = frac_part.chars().filter(|c| *c != '_').count() as i64;
    let mut exp = exponent - frac_len;
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return Some(0);
    }
    // Rounded to 28 significant digits, then trailing zeros removed.
    let mut kept = significant;
    if kept.len() > 28 {
        exp += (kept.len() - 28) as i64;
        kept = &kept[..28];
    }
    let trimmed = kept.trim_end_matches('0');
    exp += (kept.len() - trimmed.len()) as i64;
    Some(if exp < 0 { (-exp) as u32 } else { 0 })
}

/// Digits, with single underscores between digits (Python's grouping).
fn valid_digits(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('_')
        && !s.ends_with('_')
        && !s.contains("__")
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

/// Python's `strptime(v, "%Y-%m-%d")` up to the date: returns what follows the date when
/// it has a valid date at the start, `None` otherwise.
fn strptime_date(v: &str) -> Option<&str> {
    let (year, rest) = take_digits(v, 4, 4)?;
    let rest = rest.strip_prefix('-')?;
    let (month, rest) = take_digits(rest, 1, 2)?;
    let rest = rest.strip_prefix('-')?;
    // `%d` also takes a space then one digit (" 5").
    let (day, rest) = match rest.strip_prefix(' ') {
        Some(r) => {
            let (d, r) = take_digits(r, 1, 1)?;
            (d, r)
        }
        None => take_digits(rest, 1, 2)?,
    };
    valid_date(year, month, day).then_some(rest)
}

/// Python's `strptime(v, "%Y-%m-%d %H:%M:%S")` (the space matches any run of whitespace).
fn is_strptime_datetime(v: &str) -> bool {
    let Some(rest) = strptime_date(v) else {
        return false;
    };
    let trimmed = rest.trim_start();
    if trimmed.len() == rest.len() {
        return false;
    }
    let parse = || -> Option<()> {
        let (h, r) = take_digits(trimmed, 1, 2)?;
        let r = r.strip_prefix(':')?;
        let (m, r) = take_digits(r, 1, 2)?;
        let r = r.strip_prefix(':')?;
        let (s, r) = take_digits(r, 1, 2)?;
        (r.is_empty() && h < 24 && m < 60 && s < 60).then_some(())
    };
    parse().is_some()
}

/// isodate's `parse_datetime`: one `T` between an ISO 8601 date (`YYYY-MM-DD` or
/// `YYYYMMDD`) and time (`hh[:mm[:ss[.f]]]` or `hh[mm[ss[.f]]]`, with `Z` or `±hh[:mm]`).
fn is_iso_datetime(v: &str) -> bool {
    let mut parts = v.split('T');
    let (Some(date), Some(time), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    iso_date(date) && iso_time(time)
}

fn iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok());
    if !b.iter().all(|c| c.is_ascii_digit() || *c == b'-') {
        return false;
    }
    match b.len() {
        10 if b[4] == b'-' && b[7] == b'-' => {
            matches!((num(0..4), num(5..7), num(8..10)), (Some(y), Some(m), Some(d)) if valid_date(y, m, d))
        }
        8 if !s.contains('-') => {
            matches!((num(0..4), num(4..6), num(6..8)), (Some(y), Some(m), Some(d)) if valid_date(y, m, d))
        }
        _ => false,
    }
}

fn iso_time(s: &str) -> bool {
    // The zone designator.
    let (clock, zone) = match s.find(['Z', '+', '-']) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    };
    let zone_ok = zone.is_empty() || zone == "Z" || {
        let z = &zone[1..];
        let digits: String = z.chars().filter(|c| *c != ':').collect();
        (z.len() == 2 || z.len() == 4 || (z.len() == 5 && &z[2..3] == ":"))
            && digits.bytes().all(|c| c.is_ascii_digit())
            && digits[..2].parse::<u32>().is_ok_and(|h| h < 24)
    };
    if !zone_ok {
        return false;
    }
    let (whole, frac) = match clock.split_once(['.', ',']) {
        Some((w, f)) => (w, Some(f)),
        None => (clock, None),
    };
    if frac.is_some_and(|f| f.is_empty() || !f.bytes().all(|c| c.is_ascii_digit())) {
        return false;
    }
    let fields: Vec<&str> = if whole.contains(':') {
        whole.split(':').collect()
    } else {
        whole
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap_or(""))
            .collect()
    };
    if fields.is_empty() || fields.len() > 3 {
        return false;
    }
    let limits = [24, 60, 60];
    fields.iter().zip(limits).all(|(f, limit)| {
        f.len() == 2 && f.bytes().all(|c| c.is_ascii_digit()) && f.parse::<u32>().is_ok_and(|n| n < limit)
    })
}

/// `min..=max` ASCII digits at the start of `s` (greedy), as a number, and the rest.
fn take_digits(s: &str, min: usize, max: usize) -> Option<(u32, &str)> {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n < min {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

fn valid_date(year: u32, month: u32, day: u32) -> bool {
    chrono::NaiveDate::from_ymd_opt(year as i32, month, day).is_some() && year >= 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer_str(csv: &str) -> SeedColumns {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.csv");
        std::fs::write(&path, csv).unwrap();
        infer(&path, "seeds/s.csv", b',').unwrap()
    }

    #[test]
    fn types_follow_agate() {
        // The columns dbt 1.11 with dbt-duckdb typed (tests/fixtures/seed_types).
        let got = infer_str(
            "i,f,sci,e,b,b2,mixed,d,ts,iso,frac,q,dollar,pct,time,yes\n\
             1,1.5,1e3,,true,TRUE,true,2024-01-02,2024-01-02 03:04:05,2024-01-02T03:04:05+02:00,2024-01-02 03:04:05.1,\"42\",$5,5%,12:30:00,yes\n\
             2,2,2.5e-2,,false,FALSE,1,2024-12-31,2024-12-31 23:59:59,2024-12-31T23:59:59Z,2024-12-31 23:59:59.5,\"7\",$6,6%,01:00:00,no\n",
        );
        use SeedType::*;
        assert_eq!(
            got.types,
            vec![
                Integer, Float, Float, Integer, Boolean, Boolean, Text, Date, Timestamp, Timestamp, Text,
                Integer, Integer, Integer, Text, Text
            ]
        );
    }

    #[test]
    fn decimal_places_are_of_the_normalised_value() {
        assert_eq!(python_decimal_places("2.0"), Some(0));
        assert_eq!(python_decimal_places("1.50"), Some(1));
        assert_eq!(python_decimal_places("1e3"), Some(0));
        assert_eq!(python_decimal_places("2.5e-2"), Some(3));
        assert_eq!(python_decimal_places("1_000"), Some(0));
        assert_eq!(python_decimal_places("1__0"), None);
        assert_eq!(python_decimal_places("."), None);
        assert_eq!(python_decimal_places("abc"), None);
        assert_eq!(python_decimal_places("NaN"), Some(0));
    }

    #[test]
    fn names_are_deduplicated_as_agate_does() {
        assert_eq!(
            column_names(["x", "", "x", "x"].into_iter()),
            vec!["x", "b", "x_2", "x_3"]
        );
    }

    #[test]
    fn a_ragged_last_row_is_an_error_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.csv");
        std::fs::write(&path, "a,b\n1,2\n3\n").unwrap();
        let err = infer(&path, "seeds/s.csv", b',').unwrap_err().to_string();
        assert!(err.contains("line 3 has 1 fields, the header has 2"), "{err}");
    }
}
