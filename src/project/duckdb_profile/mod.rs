//! dbt-duckdb's profile keys beyond `type`, `path`, `schema` and `threads`: what every
//! connection runs first (`config_options`, `extensions`, `secrets`, `attach`, `settings`), the
//! databases a run attaches, `external_root`, and a clear word on every other key. The SQL is
//! dbt-duckdb 1.11's (`credentials.py`: `Attachment.to_sql`; `secrets.py`: `Secret.to_sql`).

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::{Map, Value};

use crate::config::connection::{ConnectionSetup, SetupStep};
use crate::error::{did_you_mean, Diagnostic, Location};
use crate::sql::string_literal as literal;

mod statements;
use statements::{attachment, secret, setting};

/// Every key a dbt-duckdb target may have (dbt-duckdb 1.11's `DuckDBCredentials`, dbt's
/// `type` and `threads`), and Mallard's `publish`.
pub const KNOWN_KEYS: &[&str] = &[
    "type",
    "path",
    "schema",
    "database",
    "threads",
    "publish",
    "settings",
    "extensions",
    "secrets",
    "attach",
    "external_root",
    "disable_transactions",
    "keep_open",
    "retries",
    "config_options",
    "use_credential_provider",
    "motherduck_token",
    "module_paths",
    "plugins",
    "filesystems",
    "remote",
    "flights",
    "is_ducklake",
];

/// Keys that need dbt-duckdb's Python side (plugins, Python modules, fsspec, a Buena Vista
/// server, MotherDuck Flights): an error naming the key.
const PYTHON_ONLY: &[(&str, &str)] = &[
    ("module_paths", "loads Python modules into dbt's Python process"),
    ("plugins", "runs dbt-duckdb's Python plugins"),
    ("filesystems", "registers Python fsspec filesystems"),
    ("remote", "connects to a Buena Vista server"),
    ("flights", "runs Python models on MotherDuck Flights"),
];

/// What a DuckDB target's profile keys give the run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DuckDbKeys {
    /// What every connection runs first.
    pub setup: ConnectionSetup,
    /// The DuckDB files attached for writing (absolute), locked like the target's own.
    pub attached_files: Vec<PathBuf>,
    /// The aliases of the attached databases (for `database:`).
    pub attach_aliases: Vec<String>,
    /// `external_root` (default `.`), where `external` models write.
    pub external_root: String,
    /// Keys accepted with no effect, each a message with `file:line`.
    pub warnings: Vec<String>,
}

/// Finds a key's line within one target's block of profiles.yml.
pub struct Locator<'a> {
    pub file: &'a str,
    pub text: &'a str,
    /// The line (1-based) of the target's own key; keys are looked for after it.
    pub from_line: usize,
}

impl Locator<'_> {
    /// The first line after the target's key whose key is `key`, else the target's line.
    pub fn at(&self, key: &str) -> Location {
        let found = self.text.lines().enumerate().skip(self.from_line).find(|(_, l)| {
            let t = l.trim_start().trim_start_matches("- ");
            t.strip_prefix(key)
                .or_else(|| t.strip_prefix(&format!("\"{key}\"")))
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        });
        match found {
            Some((i, l)) => {
                let col = l.len() - l.trim_start().len() + 1;
                Location::in_source(self.file, self.text, i + 1, Some(col))
            }
            None => Location::in_source(self.file, self.text, self.from_line.max(1), None),
        }
    }
}

/// A YAML scalar as text (`true`, `8`, `abc`); `None` for lists and maps.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(_) | Value::Number(_) => Some(v.to_string()),
        _ => None,
    }
}

/// Reads the dbt-duckdb keys of target `target_name` (its mapping `output`, already rendered,
/// `env_var()` included). Relative attach paths are taken relative to `project_root`, as the
/// target's `path` is.
///
/// Errors (each at its line of profiles.yml, with what to do): an unknown key (with a
/// did-you-mean); a key that needs dbt-duckdb's Python side; a malformed `extensions`,
/// `settings`, `secrets` (a secret without its `type`) or `attach` (no `path`, or a file in a
/// folder that does not exist); `use_credential_provider` other than `aws`; MotherDuck.
pub fn read(
    output: &Map<String, Value>,
    target_name: &str,
    at: &Locator,
    project_root: &Path,
) -> Result<DuckDbKeys> {
    let r = Reader {
        output,
        target_name,
        at,
    };
    r.check_keys()?;
    let mut keys = DuckDbKeys {
        external_root: match output.get("external_root") {
            None => ".".to_string(),
            Some(v) => scalar(v).ok_or_else(|| {
                r.err(
                    "external_root",
                    "`external_root` must be a path".into(),
                    "e.g. `external_root: output`",
                )
            })?,
        },
        ..DuckDbKeys::default()
    };
    let mut steps = Vec::new();
    // `config_options` go to DuckDB when dbt-duckdb connects; here each is a `SET` before
    // anything else.
    for (key, value) in object(output, "config_options", target_name, at)? {
        steps.push(setting(key, value, "config_options", target_name, at)?);
    }
    steps.extend(r.extensions()?);
    for (i, m) in r.secrets()?.iter().enumerate() {
        steps.push(secret(m, i, target_name, at)?);
    }
    r.attachments(project_root, &mut keys, &mut steps)?;
    r.add_settings(&mut steps)?;
    keys.setup = ConnectionSetup { steps };
    keys.warnings = r.keys_without_effect();
    Ok(keys)
}

/// One target's dbt-duckdb keys being read, for errors at their lines.
struct Reader<'a> {
    output: &'a Map<String, Value>,
    target_name: &'a str,
    at: &'a Locator<'a>,
}

impl Reader<'_> {
    /// An error about `key` at its line, with `help`.
    fn err(&self, key: &str, message: String, help: &str) -> anyhow::Error {
        Diagnostic::new(format!("target `{}`: {message}", self.target_name))
            .at(self.at.at(key))
            .help(help.to_string())
            .into()
    }

    /// Errors on an unknown key (with a did-you-mean), a key that needs dbt-duckdb's Python
    /// side, and MotherDuck (its token or an `md:` path).
    fn check_keys(&self) -> Result<()> {
        for key in self.output.keys() {
            if !KNOWN_KEYS.contains(&key.as_str()) {
                let help = match did_you_mean(key, KNOWN_KEYS.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "see dbt-duckdb's profile keys: path, schema, threads, extensions, settings, secrets, attach, external_root, ..."
                        .to_string(),
                };
                return Err(self.err(key, format!("unknown profile key `{key}`"), &help));
            }
            if let Some((_, what)) = PYTHON_ONLY.iter().find(|(k, _)| k == key) {
                return Err(self.err(
                    key,
                    format!(
                        "`{key}` is not supported by Mallard: in dbt-duckdb it {what}, which needs Python"
                    ),
                    "remove the key; Mallard runs SQL models only",
                ));
            }
        }
        if self.output.contains_key("motherduck_token") {
            return Err(self.err(
                "motherduck_token",
                "`motherduck_token` is for MotherDuck, which Mallard does not support".into(),
                "use a local `path`",
            ));
        }
        let path = self.output.get("path").and_then(Value::as_str).unwrap_or("");
        if is_motherduck(path) {
            return Err(motherduck_error(path).at(self.at.at("path")).into());
        }
        Ok(())
    }

    /// The `extensions` to install and load: each a name or `{name, repo}`.
    fn extensions(&self) -> Result<Vec<SetupStep>> {
        let mut steps = Vec::new();
        let (output, target_name, at) = (self.output, self.target_name, self.at);
        for (i, ext) in array(output, "extensions", target_name, at)?.iter().enumerate() {
            let usage = "write `- httpfs` or `- {name: h3, repo: community}`";
            let (name, repo) = match ext {
                Value::String(name) => (name.clone(), None),
                Value::Object(m) => match (
                    m.get("name").and_then(Value::as_str),
                    m.get("repo").and_then(Value::as_str),
                ) {
                    (Some(n), Some(r)) => (n.to_string(), Some(r.to_string())),
                    _ => {
                        let message = format!("extension #{} needs both `name` and `repo`", i + 1);
                        return Err(self.err("extensions", message, usage));
                    }
                },
                _ => {
                    let message = format!("extension #{} must be a name or `{{name, repo}}`", i + 1);
                    return Err(self.err("extensions", message, usage));
                }
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(self.err(
                    "extensions",
                    format!("`{name}` is not a DuckDB extension name"),
                    "use the extension's name, e.g. `httpfs`",
                ));
            }
            steps.push(SetupStep::Extension {
                name,
                repo,
                at: at.at("extensions"),
            });
        }
        Ok(steps)
    }

    /// The `secrets` as mappings, with `use_credential_provider: aws` as an s3 secret of the
    /// credential chain.
    fn secrets(&self) -> Result<Vec<Map<String, Value>>> {
        let mut secrets: Vec<Map<String, Value>> = Vec::new();
        for (i, s) in array(self.output, "secrets", self.target_name, self.at)?
            .iter()
            .enumerate()
        {
            let Some(m) = s.as_object() else {
                return Err(self.err(
                    "secrets",
                    format!("secret #{} must be a mapping", i + 1),
                    "e.g. `- {type: s3, key_id: ..., secret: ...}`",
                ));
            };
            secrets.push(m.clone());
        }
        match self
            .output
            .get("use_credential_provider")
            .map(|v| scalar(v).unwrap_or_default())
        {
            None => {}
            Some(p) if p == "aws" => {
                let mut m = Map::new();
                m.insert("type".into(), "s3".into());
                m.insert("provider".into(), "credential_chain".into());
                secrets.push(m);
            }
            Some(p) => {
                return Err(self.err(
                    "use_credential_provider",
                    format!("unsupported `use_credential_provider: {p}`"),
                    "the one value dbt-duckdb knows is `aws`",
                ))
            }
        }
        Ok(secrets)
    }

    /// The `attach` entries: their statements join `steps`, their aliases and writable files
    /// `keys`.
    fn attachments(
        &self,
        project_root: &Path,
        keys: &mut DuckDbKeys,
        steps: &mut Vec<SetupStep>,
    ) -> Result<()> {
        let (target_name, at) = (self.target_name, self.at);
        for (i, a) in array(self.output, "attach", target_name, at)?.iter().enumerate() {
            let Some(m) = a.as_object() else {
                return Err(self.err(
                    "attach",
                    format!("attachment #{} must be a mapping with a `path`", i + 1),
                    "e.g. `- {path: other.duckdb, alias: other}`",
                ));
            };
            let (sql, file) = attachment(m, i, target_name, at, project_root)?;
            if let Some(alias) = m.get("alias").and_then(scalar) {
                keys.attach_aliases.push(alias);
            } else if let Some(f) = &file {
                keys.attach_aliases.push(crate::project::profile::catalog_name(f));
            }
            if let Some(f) = file.filter(|_| !m.get("read_only").and_then(Value::as_bool).unwrap_or(false)) {
                keys.attached_files.push(f);
            }
            steps.push(SetupStep::Statement {
                sql,
                what: format!("attachment #{}", i + 1),
                at: at.at("attach"),
                hidden: Vec::new(),
            });
        }
        Ok(())
    }

    /// The `settings`: last, as dbt-duckdb sets them on each cursor; but those that govern how
    /// extensions are found and loaded first (after `config_options`), since the steps before
    /// them may load one (creating an s3 secret loads httpfs):
    /// `autoinstall_known_extensions: false` must hold by then.
    fn add_settings(&self, steps: &mut Vec<SetupStep>) -> Result<()> {
        let (output, target_name, at) = (self.output, self.target_name, self.at);
        let settings = object(output, "settings", target_name, at)?;
        let governs_extensions = |key: &str| {
            let key = key.to_ascii_lowercase();
            key.contains("extension") || key.starts_with("autoinstall") || key.starts_with("autoload")
        };
        let first = steps
            .len()
            .min(object(output, "config_options", target_name, at)?.len());
        let mut early = Vec::new();
        for (key, value) in &settings {
            let step = setting(key, value, "settings", target_name, at)?;
            if governs_extensions(key) {
                early.push(step);
            } else {
                steps.push(step);
            }
        }
        steps.splice(first..first, early);
        Ok(())
    }

    /// A warning for each dbt-duckdb key that has no effect in Mallard, naming why.
    fn keys_without_effect(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for (key, effect) in [
            ("disable_transactions", "Mallard runs each node in one transaction, so that a failed model leaves the previous data whole"),
            ("keep_open", "Mallard holds one connection per worker for the whole run"),
            ("retries", "Mallard waits for a busy database with `--lock-timeout`"),
            ("is_ducklake", "Mallard has no DuckLake-specific SQL"),
        ] {
            if self.output.contains_key(key) {
                let loc = self.at.at(key);
                warnings.push(format!(
                    "profile key `{key}` of target `{}` ({}:{}) has no effect in Mallard: {effect}",
                    self.target_name, loc.file, loc.line
                ));
            }
        }
        warnings
    }
}

/// Whether `path` names a MotherDuck database (`md:` or `motherduck:`).
pub fn is_motherduck(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.starts_with("md:") || lower.starts_with("motherduck:")
}

/// The error for a MotherDuck path: Mallard cannot lock, publish or snapshot a database that
/// lives on a server, and the `motherduck` extension is not available offline.
fn motherduck_error(path: &str) -> Diagnostic {
    Diagnostic::new(format!(
        "`path: {path}` is a MotherDuck database, which Mallard does not support: it needs DuckDB's `motherduck` extension and a MotherDuck account"
    ))
    .help("use a local DuckDB file as `path` (MotherDuck databases may be attached only where the extension can load)")
}

/// `key`'s value as a list (none: empty). Errors when it is not a list.
fn array<'a>(
    output: &'a Map<String, Value>,
    key: &str,
    target_name: &str,
    at: &Locator,
) -> Result<&'a [Value]> {
    match output.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(
            Diagnostic::new(format!("target `{target_name}`: `{key}` must be a list"))
                .at(at.at(key))
                .into(),
        ),
    }
}

/// `key`'s value as a mapping (none: empty). Errors when it is not a mapping.
fn object<'a>(
    output: &'a Map<String, Value>,
    key: &str,
    target_name: &str,
    at: &Locator,
) -> Result<Vec<(&'a String, &'a Value)>> {
    match output.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => Ok(m.iter().collect()),
        Some(_) => Err(Diagnostic::new(format!(
            "target `{target_name}`: `{key}` must be a mapping of DuckDB settings to values"
        ))
        .at(at.at(key))
        .into()),
    }
}

/// For the profile readers' tests: target `dev`'s keys `yaml` (indented 6 spaces) as the
/// text of a profiles.yml (its key on line 3, the keys from line 4) and as a mapping.
#[cfg(test)]
pub(crate) fn test_target(yaml: &str) -> (String, Map<String, Value>) {
    let text = format!("p:\n  outputs:\n    dev:\n{yaml}");
    let output = serde_yaml::from_str::<Value>(yaml)
        .unwrap()
        .as_object()
        .unwrap()
        .clone();
    (text, output)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(yaml: &str) -> Result<DuckDbKeys> {
        let (text, output) = test_target(yaml);
        let at = Locator {
            file: "profiles.yml",
            text: &text,
            from_line: 3,
        };
        read(&output, "dev", &at, Path::new("/tmp"))
    }

    fn statements(k: &DuckDbKeys) -> Vec<String> {
        k.setup
            .steps
            .iter()
            .map(|s| match s {
                SetupStep::Extension { name, repo, .. } => format!("extension {name} {repo:?}"),
                SetupStep::Statement { sql, .. } => sql.clone(),
            })
            .collect()
    }

    /// The SQL is the text dbt-duckdb 1.11's `Secret.to_sql` and `Attachment.to_sql` give for
    /// the same entries (checked in its Python on 2026-12-01).
    #[test]
    fn steps_come_in_dbt_duckdbs_order_with_its_sql() {
        let k = keys(
            "      type: duckdb\n      settings: {memory_limit: 1GB}\n      extensions: [httpfs, {name: h3, repo: community}]\n      \
             secrets: [{type: s3, key_id: AKIA, secret: shh, scope: [s3://a, s3://b]}]\n      \
             attach: [{path: other.duckdb, alias: other, read_only: true}, {path: 'postgres:x', type: postgres}]\n",
        )
        .unwrap();
        assert_eq!(
            statements(&k),
            [
                "extension httpfs None",
                "extension h3 Some(\"community\")",
                "CREATE OR REPLACE SECRET _dbt_secret_1 (\n    type s3,\n    key_id 'AKIA',\n    secret 'shh',\n    scope 's3://a',\n    scope 's3://b'\n)",
                "ATTACH IF NOT EXISTS '/tmp/other.duckdb' AS other (READ_ONLY)",
                "ATTACH IF NOT EXISTS 'postgres:x' (TYPE postgres)",
                "set memory_limit = '1GB'",
            ]
        );
        assert!(
            k.attached_files.is_empty(),
            "read-only and non-DuckDB attachments are not locked"
        );
        assert_eq!(k.attach_aliases, ["other"]);
        let SetupStep::Statement { hidden, .. } = &k.setup.steps[2] else {
            panic!()
        };
        assert!(hidden.contains(&"shh".to_string()) && hidden.contains(&"AKIA".to_string()));
    }

    #[test]
    fn settings_that_govern_extensions_come_before_the_steps_that_load_them() {
        let k = keys(
            "      type: duckdb\n      settings: {memory_limit: 1GB, autoinstall_known_extensions: false}\n      \
             secrets: [{type: s3, key_id: AKIA, secret: shh}]\n",
        )
        .unwrap();
        let s = statements(&k);
        assert_eq!(s[0], "set autoinstall_known_extensions = false");
        assert!(s[1].starts_with("CREATE OR REPLACE SECRET"), "{s:?}");
        assert_eq!(s[2], "set memory_limit = '1GB'");
    }

    #[test]
    fn bad_keys_are_errors_at_their_line() {
        let e = keys("      type: duckdb\n      extentions: [httpfs]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown profile key `extentions`") && e.contains("did you mean `extensions`"),
            "{e}"
        );
        assert!(e.contains("profiles.yml:5"), "{e}");
        let e = keys("      type: duckdb\n      secrets: [{key_id: x}]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("secret #1 has no `type`"), "{e}");
        let e = keys("      type: duckdb\n      plugins: [{module: excel}]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`plugins` is not supported") && e.contains("needs Python"),
            "{e}"
        );
        let e = keys("      type: duckdb\n      attach: [{path: nowhere/x.duckdb}]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("which does not exist"), "{e}");
        let e = keys("      type: duckdb\n      path: 'md:my_db'\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("MotherDuck"), "{e}");
    }
}
