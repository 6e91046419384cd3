//! Helpers for the integration tests: copy a fixture project into a temporary folder, run the
//! real `mallard` binary in it, and read the tables it built.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod known;
pub mod relations;

/// A fixture project copied into its own temporary folder, so tests can write to it.
pub struct Project {
    pub dir: tempfile::TempDir,
}

/// The output of one `mallard` invocation.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout then stderr, with the temporary folder and timings made stable.
    pub fn text(&self, project: &Project) -> String {
        let both = format!(
            "{}{}",
            self.stdout,
            if self.stderr.is_empty() {
                String::new()
            } else {
                format!("--- stderr\n{}", self.stderr)
            }
        );
        both.replace(&project.path().display().to_string(), "[PROJECT]")
    }
}

impl Project {
    /// Copies `tests/fixtures/<name>` (or the repository root's warehouse files for
    /// `name == ""`, see [`Project::warehouse`]).
    pub fn fixture(name: &str) -> Project {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(&src, dir.path());
        Project { dir }
    }

    /// The example warehouse at the repository root (project files, models, seeds, macros,
    /// and its singular tests, `tests/singular`, the project's `test-paths`), copied so that
    /// the test writes neither database nor `target/` into the clone.
    pub fn warehouse() -> Project {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().expect("temp dir");
        for f in ["dbt_project.yml", "profiles.yml"] {
            std::fs::copy(root.join(f), dir.path().join(f)).expect("copy project file");
        }
        // The folder `external` models write into (the profile's `external_root`).
        std::fs::create_dir(dir.path().join("exports")).expect("mkdir exports");
        for d in ["models", "seeds", "macros", "tests/singular"] {
            let from = root.join(d);
            let to = dir.path().join(d);
            std::fs::create_dir_all(&to).expect("mkdir");
            for entry in std::fs::read_dir(&from).expect("read dir") {
                let entry = entry.expect("entry");
                let name = entry.file_name();
                if entry.path().is_dir() {
                    copy_dir(&entry.path(), &to.join(&name));
                } else {
                    std::fs::copy(entry.path(), to.join(&name)).expect("copy");
                }
            }
        }
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `mallard <args>` in the project folder, with no inherited dbt environment.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_env(args, &[])
    }

    /// As [`Project::run`], with environment variables `env` set.
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mallard"));
        cmd.args(args).current_dir(self.path());
        for var in [
            "DBT_PROFILES_DIR",
            "DBT_PROJECT_DIR",
            "MALLARD_DB_PATH",
            "DBT_LOG_FORMAT",
            "DBT_LOG_LEVEL",
            "DBT_LOG_LEVEL_FILE",
            "DBT_LOG_PATH",
            "DBT_QUIET",
            "DBT_TARGET_PATH",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run mallard");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// Opens the project's DuckDB file (read-only, after mallard has exited).
    pub fn db(&self, file: &str) -> duckdb::Connection {
        let cfg = duckdb::Config::default()
            .access_mode(duckdb::AccessMode::ReadOnly)
            .unwrap();
        duckdb::Connection::open_with_flags(self.path().join(file), cfg).expect("open database")
    }
}

/// The rows of `sql` as tab-separated text, every value cast to VARCHAR (`NULL` for null).
pub fn rows(conn: &duckdb::Connection, sql: &str) -> String {
    let wrapped = format!("select columns(*)::varchar from ({sql})");
    let mut stmt = conn
        .prepare(&wrapped)
        .unwrap_or_else(|e| panic!("{e}\n{wrapped}"));
    let mut rows = stmt.query([]).expect("query");
    let mut out = Vec::new();
    while let Some(row) = rows.next().expect("row") {
        let stmt = row.as_ref();
        let n = stmt.column_count();
        let vals: Vec<String> = (0..n)
            .map(|i| {
                row.get::<_, Option<String>>(i)
                    .unwrap()
                    .unwrap_or_else(|| "NULL".into())
            })
            .collect();
        out.push(vals.join("\t"));
    }
    out.join("\n")
}

/// Like [`rows`], with a first line of column names.
pub fn rows_with_header(conn: &duckdb::Connection, sql: &str) -> String {
    let stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
    // DuckDB knows a prepared statement's columns only after it ran once.
    let mut stmt = stmt;
    stmt.execute([]).expect("run");
    let header = stmt.column_names().join("\t");
    format!("{header}\n{}", rows(conn, sql))
}

/// Every relation of the DuckDB file at `db` with its row count and an order-independent hash
/// of all its rows. Opening read-write replays a write-ahead log, as the next run would.
///
/// Floats are hashed in [`relations::Floats::Rounded`] form: DuckDB's parallel aggregation
/// adds partial sums in varying order, so averages of DOUBLE columns (repeat_purchases) differ
/// in their last bits between two runs on the same data.
pub fn versions(db: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    let conn =
        duckdb::Connection::open(db).unwrap_or_else(|e| panic!("the database must open after a kill: {e}"));
    relations::list(&conn)
        .into_iter()
        .map(|r| {
            let columns: Vec<String> = relations::columns(&conn, &r.schema, &r.name)
                .iter()
                .map(|c| {
                    relations::value_sql(
                        &relations::quote(&c.name),
                        &c.data_type,
                        relations::Floats::Rounded,
                    )
                })
                .collect();
            let sum = rows(
                &conn,
                &format!(
                    "select count(*), sum(hash({})) from {}.{}",
                    columns.join(", "),
                    relations::quote(&r.schema),
                    relations::quote(&r.name)
                ),
            );
            (format!("{}.{}", r.schema, r.name), sum)
        })
        .collect()
}

/// Every file below `dir`, recursively, sorted; empty when `dir` does not exist.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Copies folder `from` to `to`, recursively, creating `to`. Panics on an I/O error.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display())) {
        let entry = entry.expect("entry");
        let target: PathBuf = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// insta settings that blank out timings (`in 0.12s`, `in 0.12s.`).
#[macro_export]
macro_rules! assert_output {
    ($name:expr, $text:expr) => {
        insta::with_settings!({filters => vec![
            (r"in \d+\.\d+s", "in [T]s"),
        ]}, {
            insta::assert_snapshot!($name, $text);
        });
    };
}

/// Checks that every incremental model of `project` built in increments equals its full
/// refresh: runs `mallard build --select +config.materialized:incremental --vars <v>` for each
/// of `increments` in turn (the first builds the tables, the rest add to them), records each
/// incremental model's rows, rebuilds them with `--full-refresh` under the last vars, and
/// asserts the rows are the same (floats compared to 9 significant digits). Panics with the
/// first model that differs and how.
pub fn assert_increments_equal_full_refresh(project: &Project, db_file: &str, increments: &[&str]) {
    let selector = "+config.materialized:incremental";
    let ls = project.run(&[
        "ls",
        "--select",
        "config.materialized:incremental",
        "--resource-type",
        "model",
        "--output",
        "name",
    ]);
    assert_eq!(ls.code, 0, "{}", ls.text(project));
    let models: Vec<String> = ls.stdout.lines().map(str::to_string).collect();
    assert!(!models.is_empty(), "the project has no incremental model");
    for vars in increments {
        let r = project.run(&["build", "--select", selector, "--vars", vars]);
        assert_eq!(r.code, 0, "increment {vars}:\n{}", r.text(project));
    }
    let snapshot = |project: &Project| -> Vec<(String, String)> {
        let db = project.db(db_file);
        models
            .iter()
            .map(|m| {
                let columns = rows(
                    &db,
                    &format!(
                        "select case when data_type in ('DOUBLE', 'FLOAT') then 'printf(''%.9g'', \"' || column_name || '\")' \
                         else '\"' || column_name || '\"' end from information_schema.columns \
                         where table_name = '{m}' order by ordinal_position"
                    ),
                );
                let select = columns.lines().collect::<Vec<_>>().join(", ");
                let schema = rows(&db, &format!("select table_schema from information_schema.tables where table_name = '{m}'"));
                (m.clone(), rows(&db, &format!("select {select} from \"{schema}\".\"{m}\" order by all")))
            })
            .collect()
    };
    let incremental = snapshot(project);
    let last = increments.last().expect("at least one increment");
    let r = project.run(&["build", "--full-refresh", "--select", selector, "--vars", last]);
    assert_eq!(r.code, 0, "full refresh:\n{}", r.text(project));
    let full = snapshot(project);
    for ((model, inc), (_, full)) in incremental.iter().zip(&full) {
        assert!(!full.is_empty(), "{model} is empty after a full refresh");
        if inc != full {
            let first = inc.lines().zip(full.lines()).position(|(a, b)| a != b);
            panic!(
                "{model}: built in increments it has {} rows, fully refreshed {}; first difference at row {:?}:\n  increments: {:?}\n  full:       {:?}",
                inc.lines().count(),
                full.lines().count(),
                first,
                first.and_then(|i| inc.lines().nth(i)),
                first.and_then(|i| full.lines().nth(i)),
            );
        }
    }
}

/// Each node's status in the text of a `run_results.json`, as `scripts/dbt_parity/statuses.py`
/// prints them: `<resource type> <name> <status>` lines, sorted; data tests without their
/// unique_id's hash, unit tests as `<model>.<test>`.
pub fn node_statuses(run_results: &str) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_str(run_results).expect("run_results.json is JSON");
    let mut lines: Vec<String> = doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let id = r["unique_id"].as_str().unwrap_or_default();
            let parts: Vec<&str> = id.split('.').collect();
            let name = if parts[0] == "unit_test" {
                parts[2..4].join(".")
            } else {
                parts[2].to_string()
            };
            format!("{} {name} {}", parts[0], r["status"].as_str().unwrap_or_default())
        })
        .collect();
    lines.sort();
    lines
}

/// dbt's published JSON schema of an artifact (`manifest/v12.json`, `run-results/v6.json`),
/// from `../shared/schemas/dbt/`; `None` when the shared folder is not beside the repository.
pub fn artifact_schema(name: &str) -> Option<serde_json::Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/schemas/dbt")
        .join(name);
    let text = std::fs::read_to_string(path).ok()?;
    Some(serde_json::from_str(&text).expect("schema is JSON"))
}

/// The ways the JSON file `artifact` breaks `schema` (draft 2020-12), each as
/// `<JSON pointer>: <message>`, at most 20; empty when it is valid. A node that matches none
/// of the manifest's node kinds is checked against the kind of its `resource_type`, so that
/// the message names the field at fault.
pub fn schema_violations(schema: &serde_json::Value, artifact: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(artifact).unwrap_or_else(|e| panic!("{}: {e}", artifact.display()));
    let doc: serde_json::Value = serde_json::from_str(&text).expect("artifact is JSON");
    let validator = jsonschema::draft202012::new(schema).expect("dbt's schema compiles");
    let mut out = Vec::new();
    for e in validator.iter_errors(&doc).take(20) {
        let pointer = e.instance_path().to_string();
        let mut message = e.to_string();
        // `nodes/<id>` fails as "not valid under any of the given schemas": say why for its kind.
        if let (Some(id), Some(alternatives)) = (
            pointer.strip_prefix("/nodes/"),
            schema
                .pointer("/properties/nodes/additionalProperties/anyOf")
                .and_then(|a| a.as_array()),
        ) {
            let node = &doc["nodes"][id.replace("~1", "/").replace("~0", "~")];
            let title = match node["resource_type"].as_str() {
                Some("test") if node.get("test_metadata").is_some() => "GenericTest",
                Some("test") => "SingularTest",
                Some("seed") => "Seed",
                Some("snapshot") => "Snapshot",
                Some("operation") => "HookNode",
                Some("analysis") => "Analysis",
                _ => "Model",
            };
            if let Some(alt) = alternatives.iter().find(|a| a["title"] == title) {
                let mut sub = alt.clone();
                sub["$defs"] = schema.get("$defs").cloned().unwrap_or_default();
                if let Ok(v) = jsonschema::draft202012::new(&sub) {
                    let why: Vec<String> = v
                        .iter_errors(node)
                        .take(3)
                        .map(|e| format!("{}: {e}", e.instance_path()))
                        .collect();
                    message = format!("as a {title}: {}", why.join("; "));
                }
            }
        }
        out.push(format!(
            "{pointer}: {}",
            message.chars().take(300).collect::<String>()
        ));
    }
    out
}

/// Where Debian's `libfaketime` package puts the library that `faketime` preloads.
const LIBFAKETIME: [&str; 3] = [
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
];

/// Makes `cmd` start with its clock (and its DuckDB's) at `instant` (`YYYY-MM-DD HH:MM:SS`, UTC),
/// running on from there, as `scripts/dbt_parity/realworld.py` runs dbt when it records: libfaketime
/// preloaded with `FAKETIME=@<instant>` and `TZ=UTC`. File times are left real (`NO_FAKE_STAT`).
///
/// Panics, naming the package to install, when libfaketime is missing (`scripts/test-deps`
/// installs it).
pub fn at_clock<'a>(cmd: &'a mut Command, instant: &str) -> &'a mut Command {
    let lib = LIBFAKETIME
        .iter()
        .find(|l| Path::new(l).is_file())
        .expect("libfaketime is needed to replay a recording's clock: apt-get install faketime (scripts/test-deps does)");
    cmd.env("LD_PRELOAD", lib)
        .env("FAKETIME", format!("@{instant}"))
        .env("TZ", "UTC")
        .env("NO_FAKE_STAT", "1")
}
