//! dbt-duckdb's `external` materialization: the model's rows written to files (Parquet, CSV or
//! JSON) with DuckDB's `COPY ... TO`, and a view in the database over those files, so that
//! `ref()` reads them (dbt-duckdb 1.11's `materializations/external.sql`, `impl.py`'s
//! `external_write_options` and `external_read_location`, `utils/external_location.sql`).
//!
//! Unlike dbt-duckdb, which writes over the files in place, the files are written beside their
//! location under a hidden name (`.<name>.mallard-tmp`) and renamed into place, so a failed or
//! killed run leaves the previous files whole: a single file is replaced by one `rename`; a
//! folder of partitions by two (the old folder aside to `.<name>.mallard-old`, the new one in),
//! and a run killed between the two finds the old folder there and puts it back first.
//!
//! The view is DuckDB SQL: this materialization exists only for DuckDB, as in dbt.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::adapter::{Adapter, RelationKind};
pub use crate::config::materialized::ExternalConfig;
use crate::error::Diagnostic;
use crate::relation::{quote, Relation};
use crate::sql::string_literal as literal;

/// The formats DuckDB writes and reads back.
const FORMATS: &[&str] = &["csv", "parquet", "json"];

/// Where and how an external model is written, worked out from its config.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalPlan {
    /// The location as dbt-duckdb computes it: `location`, else
    /// `<external_root>/<identifier>.<format>` (no extension when partitioned).
    pub location: String,
    /// The absolute path written (`location` under the project folder when relative).
    pub path: PathBuf,
    /// `COPY`'s options, in dbt-duckdb's order (`format parquet, partition_by (a, b)`).
    pub write_options: Vec<(String, String)>,
    /// The format the files are read back in.
    pub format: String,
    /// What the view reads: `path`, or a glob over the partition folders.
    pub read_location: String,
    /// Whether the output is a folder (partitioned, or one file per thread).
    pub is_folder: bool,
}

/// A config value as dbt renders it into SQL: strings as themselves, booleans as Python
/// writes them (`True`), anything else as JSON.
fn rendered(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        other => other.to_string(),
    }
}

/// Sets `key` in `options`, in place if present (Python's `dict.update` keeps the order).
fn upsert(options: &mut Vec<(String, String)>, key: &str, value: String) {
    match options.iter_mut().find(|(k, _)| k == key) {
        Some(entry) => entry.1 = value,
        None => options.push((key.to_string(), value)),
    }
}

/// The `format` (and `compression`, for `.gz` and `.zst`) that dbt-duckdb reads from an
/// external model's `location` when no format is set: the file's extension, else `csv` when a
/// `delimiter` is set, else `parquet`.
fn format_from_location(location: &str, options: &mut Vec<(String, String)>) {
    let lower = location.to_ascii_lowercase();
    let (stem, compression) = match lower.rsplit_once('.') {
        Some((stem, "gz")) => (stem.to_string(), Some("gzip")),
        Some((stem, "zst")) => (stem.to_string(), Some("zstd")),
        _ => (lower.clone(), None),
    };
    let file_name = stem.rsplit('/').next().unwrap_or(&stem);
    match file_name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_string())
        .filter(|e| !e.is_empty())
    {
        Some(ext) => {
            options.push(("format".into(), ext));
            if let Some(c) = compression.filter(|_| !options.iter().any(|(k, _)| k == "compression")) {
                options.push(("compression".into(), c.into()));
            }
        }
        None if options.iter().any(|(k, _)| k == "delimiter") => {
            options.push(("format".into(), "csv".into()))
        }
        None => options.push(("format".into(), "parquet".into())),
    }
}

impl ExternalPlan {
    /// The plan for model `relation` with `config`, `external_root` as the profile gives it
    /// and relative locations under `project_root`.
    ///
    /// Errors: `options` is not a mapping; `format` is not csv, parquet or json (dbt-duckdb's
    /// message).
    pub fn new(
        config: &ExternalConfig,
        relation: &Relation,
        external_root: &str,
        project_root: &Path,
    ) -> Result<ExternalPlan> {
        let mut options: Vec<(String, String)> = Vec::new();
        match &config.options {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => options.extend(m.iter().map(|(k, v)| (k.clone(), rendered(v)))),
            Some(_) => return Err(Diagnostic::new("The options argument must be a dictionary").into()),
        }
        if let Some(f) = &config.format {
            upsert(&mut options, "format", f.clone());
        }
        if let Some(d) = &config.delimiter {
            upsert(&mut options, "delimiter", d.clone());
        }
        let partitioned = options.iter().any(|(k, _)| k == "partition_by");
        let location = match &config.location {
            Some(l) => l.clone(),
            None if partitioned => format!("{external_root}/{}", relation.identifier),
            None => format!(
                "{external_root}/{}.{}",
                relation.identifier,
                config.format.as_deref().unwrap_or("parquet")
            ),
        };
        if !options.iter().any(|(k, _)| k == "format") {
            format_from_location(&location, &mut options);
        }
        let written_format = options
            .iter()
            .find(|(k, _)| k == "format")
            .map(|(_, v)| v.to_lowercase())
            .unwrap_or_default();
        if written_format == "csv" && !options.iter().any(|(k, _)| k == "header") {
            options.push(("header".into(), "1".into()));
        }
        if let Some(entry) = options.iter_mut().find(|(k, _)| k == "partition_by") {
            if entry.1.contains(',') && !entry.1.starts_with('(') {
                entry.1 = format!("({})", entry.1);
            }
        }
        let format = match &config.format {
            Some(f) if !FORMATS.contains(&f.as_str()) => return Err(Diagnostic::new(format!(
                "Invalid format: {f}. Allowed formats are: {}",
                FORMATS.join(", ")
            ))
            .help("set `format` to parquet, csv or json, or leave it out (the location's extension decides)")
            .into()),
            Some(f) => f.clone(),
            None if FORMATS.contains(&written_format.as_str()) => written_format.clone(),
            None => "parquet".to_string(),
        };
        let path = project_root.join(&location);
        let per_thread = options
            .iter()
            .any(|(k, v)| k == "per_thread_output" && !matches!(v.to_lowercase().as_str(), "false" | "0"));
        let is_folder = partitioned || per_thread;
        let shown = path.to_string_lossy().to_string();
        let read_location = if is_folder {
            let depth = options
                .iter()
                .find(|(k, _)| k == "partition_by")
                .map_or(0, |(_, v)| v.split(',').count());
            let mut globs = vec![shown.clone(), "*".to_string()];
            globs.extend(std::iter::repeat_n("*".to_string(), depth));
            format!("{}.{written_format}", globs.join("/"))
        } else {
            shown
        };
        Ok(ExternalPlan {
            location,
            path,
            write_options: options,
            format,
            read_location,
            is_folder,
        })
    }

    /// `COPY`'s options as SQL: dbt-duckdb quotes `delimiter`, `quote`, `escape` and `null`
    /// unless already quoted, and writes the others as given.
    pub fn options_sql(&self) -> String {
        self.write_options
            .iter()
            .map(|(k, v)| {
                if ["delimiter", "quote", "escape", "null"].contains(&k.to_lowercase().as_str())
                    && !v.starts_with('\'')
                {
                    format!("{k} {}", literal(v))
                } else {
                    format!("{k} {v}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The hidden path the files are written to before they replace `path`.
    fn staging_path(&self) -> PathBuf {
        sibling(&self.path, "mallard-tmp")
    }

    /// Where a folder being replaced waits until the new one is in place.
    fn aside_path(&self) -> PathBuf {
        sibling(&self.path, "mallard-old")
    }
}

/// `<folder>/.<name>.<suffix>` for `path` = `<folder>/<name>`.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{suffix}"))
}

/// Removes a file or a folder, if it exists.
fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Builds external model `relation` from `sql`: its rows written with `COPY (<sql>) TO` the
/// staging path, renamed into place, and the view over the files created, with `hooks` around
/// it, in one transaction. An empty result is written as one row of NULLs (so the files carry
/// the columns) that the view filters out, as dbt-duckdb does; only then are the rows first
/// put in a temporary table, as dbt-duckdb always does (writing straight from the query saves
/// materializing every row twice).
///
/// Errors: the plan's ([`ExternalPlan::new`]); the location's folder does not exist; DuckDB's
/// (a `partition_by` column the model lacks, a bad option). The previous files and view stay
/// as they were, except when a post-hook fails (the files are in place by then, and the view
/// reads them).
pub fn build(
    adapter: &Adapter,
    relation: &Relation,
    sql: &str,
    plan: &ExternalPlan,
    hooks: &super::Hooks,
) -> Result<()> {
    let folder = plan.path.parent().unwrap_or(Path::new("."));
    if !folder.is_dir() {
        return Err(Diagnostic::new(format!(
            "cannot write `{}`: the folder `{}` does not exist",
            plan.location,
            folder.display()
        ))
        .help("create the folder, or change the model's `location` (or the profile's `external_root`)")
        .into());
    }
    // A run killed between a folder's two renames left the old folder aside: put it back.
    let aside = plan.aside_path();
    if aside.exists() && !plan.path.exists() {
        std::fs::rename(&aside, &plan.path)
            .with_context(|| format!("cannot restore `{}`", plan.path.display()))?;
    }
    let staging = plan.staging_path();
    remove(&staging).with_context(|| format!("cannot remove `{}`", staging.display()))?;
    let body = super::strip_trailing_semicolon(sql);
    let dialect = adapter.dialect();
    let existing = adapter.relation_kind(relation)?;
    let copy_to_staging = |what: &str| {
        format!(
            "copy {what} to {} ({})",
            literal(&staging.to_string_lossy()),
            plan.options_sql()
        )
    };
    let outcome = adapter.transaction(|a| {
        for hook in &hooks.pre {
            a.execute(hook)?;
        }
        let written = a.query_i64(&copy_to_staging(&format!("(\n{body}\n)")))?;
        let mut filter = String::new();
        if written == 0 {
            remove(&staging).with_context(|| format!("cannot remove `{}`", staging.display()))?;
            let temp = dialect.temp_table(relation);
            a.execute(&dialect.create_temp_table(&temp, body))?;
            let columns = a.columns(&temp)?;
            let nulls = vec!["NULL"; columns.len()].join(", ");
            a.execute(&format!("insert into {temp} values ({nulls})"))?;
            a.execute(&copy_to_staging(&temp))?;
            a.execute(&dialect.drop_temp_table(&temp))?;
            let not_null: Vec<String> = columns
                .iter()
                .map(|c| format!(" AND {} is not NULL", quote(&c.name)))
                .collect();
            filter = format!("\n  where 1{}", not_null.join(""));
        }
        put_in_place(plan, &staging)?;
        if existing == Some(RelationKind::Table) {
            a.execute(&dialect.drop_if_exists(RelationKind::Table, relation))?;
        }
        a.execute(&dialect.create_or_replace(
            RelationKind::View,
            relation,
            &format!("select * from {}{filter}", reader(plan)),
        ))?;
        for hook in &hooks.post {
            a.execute(hook)?;
        }
        Ok(())
    });
    if outcome.is_err() {
        let _ = remove(&staging);
    }
    outcome?;
    adapter.set_relation_kind(relation, RelationKind::View);
    Ok(())
}

/// Moves the staged files to the plan's path, replacing what is there.
fn put_in_place(plan: &ExternalPlan, staging: &Path) -> Result<()> {
    let fail = |e: std::io::Error| -> anyhow::Error {
        Diagnostic::new(format!("cannot move the new files into `{}`: {e}", plan.location)).into()
    };
    if !staging.is_dir() || !plan.path.exists() {
        // One rename replaces a file (or puts a folder where there was none).
        if plan.path.is_dir() {
            remove(&plan.path).map_err(fail)?;
        }
        return std::fs::rename(staging, &plan.path).map_err(fail);
    }
    let aside = plan.aside_path();
    remove(&aside).map_err(fail)?;
    std::fs::rename(&plan.path, &aside).map_err(fail)?;
    std::fs::rename(staging, &plan.path).map_err(fail)?;
    remove(&aside).map_err(fail)
}

/// The table function that reads the plan's files back, with dbt-duckdb's default options
/// (`union_by_name=False` for Parquet, `auto_detect=True` for CSV and JSON, the write
/// compression for CSV and JSON).
fn reader(plan: &ExternalPlan) -> String {
    let compression = plan
        .write_options
        .iter()
        .find(|(k, _)| k == "compression")
        .map(|(_, v)| v.clone());
    let options = match plan.format.as_str() {
        "parquet" => ", union_by_name=False".to_string(),
        _ => match compression {
            Some(c) => format!(", auto_detect=True, compression='{c}'"),
            None => ", auto_detect=True".to_string(),
        },
    };
    let function = match plan.format.as_str() {
        "json" => "read_json",
        "csv" => "read_csv",
        _ => "read_parquet",
    };
    format!("{function}({}{options})", literal(&plan.read_location))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(config: ExternalConfig) -> Result<ExternalPlan> {
        ExternalPlan::new(
            &config,
            &Relation::new("db", "main", "orders"),
            "out",
            Path::new("/p"),
        )
    }

    #[test]
    fn the_location_and_options_follow_dbt_duckdb() {
        let p = plan(ExternalConfig::default()).unwrap();
        assert_eq!(p.location, "out/orders.parquet");
        assert_eq!(p.options_sql(), "format parquet");
        assert_eq!(p.read_location, "/p/out/orders.parquet");

        let p = plan(ExternalConfig {
            location: Some("x/data.csv.gz".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.options_sql(), "format csv, compression gzip, header 1");
        assert_eq!(p.format, "csv");

        let p = plan(ExternalConfig {
            delimiter: Some("|".into()),
            location: Some("x/data".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.options_sql(), "delimiter '|', format csv, header 1");

        let options = serde_json::json!({"partition_by": "year, month", "compression": "zstd"});
        let p = plan(ExternalConfig {
            options: Some(options),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.location, "out/orders");
        assert_eq!(
            p.options_sql(),
            "partition_by (year, month), compression zstd, format parquet"
        );
        assert_eq!(p.read_location, "/p/out/orders/*/*/*.parquet");
        assert!(p.is_folder);

        let e = plan(ExternalConfig {
            format: Some("xlsx".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("Invalid format: xlsx. Allowed formats are: csv, parquet, json"),
            "{e}"
        );
    }
}
