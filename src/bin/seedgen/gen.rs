//! Small helpers over a seeded RNG, and CSV writing with stable number and date formats.

use std::path::Path;

use anyhow::{Context, Result};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded random stream with the few draws the generators need.
pub struct Gen(ChaCha8Rng);

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen(ChaCha8Rng::seed_from_u64(seed))
    }

    /// True with probability `p` (clamped to [0, 1]).
    pub fn chance(&mut self, p: f64) -> bool {
        self.0.random_bool(p.clamp(0.0, 1.0))
    }

    /// A uniform float in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.0.random::<f64>()
    }

    /// A uniform integer in `lo..=hi`.
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        self.0.random_range(lo..=hi)
    }

    /// One of `items`, uniformly.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.0.random_range(0..items.len())]
    }

    /// One of `items` with probability proportional to its weight.
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, f64)]) -> &'a T {
        let total: f64 = items.iter().map(|(_, w)| w).sum();
        let mut x = self.uniform(0.0, total);
        for (item, w) in items {
            if x < *w {
                return item;
            }
            x -= w;
        }
        &items[items.len() - 1].0
    }

    /// A time of day between `from_hour` and `to_hour` (exclusive), to the minute.
    pub fn time(&mut self, from_hour: u32, to_hour: u32) -> NaiveTime {
        let minutes = self.int(i64::from(from_hour) * 60, i64::from(to_hour) * 60 - 1) as u32;
        NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0).expect("valid time")
    }
}

/// `n * scale`, rounded, at least 1.
pub fn scaled(n: f64, scale: f64) -> usize {
    ((n * scale).round() as usize).max(1)
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

pub fn ts(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

pub fn opt_ts(t: Option<NaiveDateTime>) -> String {
    t.map(ts).unwrap_or_default()
}

/// Money with two decimals.
pub fn money(x: f64) -> String {
    format!("{x:.2}")
}

/// Writes `rows` (each already formatted) under `header` to `dir/file`; returns the row count.
pub fn write_csv(dir: &Path, file: &str, header: &[&str], rows: &[Vec<String>]) -> Result<(String, usize)> {
    let path = dir.join(file);
    let mut w = csv::Writer::from_path(&path).with_context(|| format!("cannot write {}", path.display()))?;
    w.write_record(header)?;
    for r in rows {
        w.write_record(r)?;
    }
    w.flush()?;
    Ok((file.to_string(), rows.len()))
}
