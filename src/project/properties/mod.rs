//! Property YAML (`models/**/*.yml`): descriptions, columns, data tests and config of models
//! and seeds, and the declared `sources:`.
//!
//! The shapes follow dbt's `version: 2` files. A data test entry may be a bare name
//! (`- unique`) or a one-key mapping whose value holds its arguments, either inline or under
//! `arguments:` (dbt 1.10), with config keys (`severity`, `where`, ...) inline or under `config:`.

use serde_json::{Map, Value};

use super::ProjectFile;
use crate::config::{normalize_key, KNOWN_CONFIG_KEYS};
use crate::error::{did_you_mean, Diagnostic, Location};

mod entries;

const TOP_KEYS: &[&str] = &[
    "version",
    "models",
    "seeds",
    "sources",
    "snapshots",
    "macros",
    "exposures",
    "metrics",
    "semantic_models",
    "saved_queries",
    "unit_tests",
    "analyses",
    "groups",
    "data_tests",
    // dbt 1.11's functions' properties: the functions themselves get a parse warning.
    "functions",
];
const MODEL_KEYS: &[&str] = &[
    "name",
    "description",
    "config",
    "columns",
    "data_tests",
    "tests",
    "docs",
    "meta",
    "latest_version",
    "versions",
    "constraints",
    "access",
    "group",
    "deprecation_date",
    "time_spine",
    "tags",
];
/// The column keys kept in [`ColumnProps::raw`].
const COLUMN_EXTRA_KEYS: &[&str] = &["meta", "constraints", "quote", "tags", "granularity", "config"];
const COLUMN_KEYS: &[&str] = &[
    "name",
    "description",
    "data_type",
    "data_tests",
    "tests",
    "meta",
    "quote",
    "tags",
    "constraints",
    "config",
    "granularity",
    "policy_tags",
];
const SOURCE_KEYS: &[&str] = &[
    "name",
    "description",
    "database",
    "schema",
    "tables",
    "loader",
    "loaded_at_field",
    "freshness",
    "meta",
    "tags",
    "config",
    "quoting",
    "overrides",
];
const TABLE_KEYS: &[&str] = &[
    "name",
    "description",
    "identifier",
    "columns",
    "data_tests",
    "tests",
    "meta",
    "tags",
    "config",
    "loaded_at_field",
    "freshness",
    "quoting",
    "external",
];

/// A data test declared in property YAML, before it is turned into a node.
#[derive(Debug, Clone)]
pub struct TestDef {
    /// The generic test's name (`not_null`, `accepted_values`, `dbt_utils.x`).
    pub test_name: String,
    /// Its arguments (`values`, `to`, `field`, ...), without config keys.
    pub kwargs: Map<String, Value>,
    /// Config keys given with the test (`severity`, `where`, ...).
    pub config: Map<String, Value>,
    /// A user-chosen node name (`name:` inside the test entry).
    pub custom_name: Option<String>,
    pub location: Location,
}

/// A column's properties.
#[derive(Debug, Clone)]
pub struct ColumnProps {
    pub name: String,
    pub description: String,
    pub data_type: Option<String>,
    pub tests: Vec<TestDef>,
    /// The entry's `meta`, `constraints`, `quote`, `tags`, `granularity` and `config`, as
    /// written (empty for most columns).
    pub raw: Map<String, Value>,
}

/// The properties of one model or seed.
#[derive(Debug, Clone)]
pub struct NodeProps {
    pub name: String,
    pub description: String,
    pub config: Map<String, Value>,
    pub columns: Vec<ColumnProps>,
    pub tests: Vec<TestDef>,
    /// Where the entry is, for messages.
    pub location: Location,
    /// The property file's path (dbt's `patch_path`).
    pub file: String,
    /// `versions:` of a versioned model (empty for others).
    pub versions: Vec<VersionProps>,
    /// `latest_version:`, as text; unset, the highest version is the latest.
    pub latest_version: Option<String>,
    /// `time_spine:` (MetricFlow's), as written.
    pub time_spine: Option<Value>,
    /// `deprecation_date:` (a date or date-time), as written.
    pub deprecation_date: Option<String>,
    /// `relation:` of a snapshot defined in YAML (dbt 1.9): what it snapshots, as the Jinja
    /// expression written (`ref('orders')`, `source('shop', 'orders')`); `None` otherwise.
    pub relation: Option<String>,
}

/// One entry of a model's `versions:`.
#[derive(Debug, Clone)]
pub struct VersionProps {
    /// `v:`, as text (`2`, `2.1`, `beta`).
    pub v: String,
    /// `defined_in:`: the file stem that defines it (default `<model>_v<v>`).
    pub defined_in: Option<String>,
    /// `config:` of this version, laid over the model's.
    pub config: Map<String, Value>,
    /// `columns:` of this version: they replace the model's columns of the same name and add
    /// to the others (dbt's default `include: all`).
    pub columns: Vec<ColumnProps>,
    pub tests: Vec<TestDef>,
    pub description: Option<String>,
    /// `deprecation_date:` of this version, as written.
    pub deprecation_date: Option<String>,
}

impl NodeProps {
    /// The latest version of a versioned model: `latest_version`, else the highest `v`
    /// (numerically where both are numbers). `None` for a model without versions.
    pub fn latest(&self) -> Option<String> {
        if let Some(l) = &self.latest_version {
            return Some(l.clone());
        }
        self.versions
            .iter()
            .map(|v| v.v.clone())
            .max_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                _ => a.cmp(b),
            })
    }
}

/// A table of a declared source.
#[derive(Debug, Clone)]
pub struct SourceTableProps {
    pub name: String,
    pub identifier: String,
    pub description: String,
    pub columns: Vec<ColumnProps>,
    pub tests: Vec<TestDef>,
    pub location: Location,
    /// The entry as written, for the fields dbt keeps (`loader`, `freshness`, `meta`, ...).
    pub raw: Map<String, Value>,
}

/// A unit test entry (`unit_tests:`), as written; [`crate::manifest::parse`] checks it.
#[derive(Debug, Clone)]
pub struct UnitTestDef {
    pub name: String,
    pub model: String,
    pub description: String,
    /// `given:` entries: each a mapping with `input`, `rows` and optionally `format`.
    pub given: Vec<Map<String, Value>>,
    /// `expect:`: a mapping with `rows` and optionally `format`.
    pub expect: Map<String, Value>,
    pub overrides: Map<String, Value>,
    pub config: Map<String, Value>,
    pub location: Location,
    pub file: String,
}

const UNIT_TEST_KEYS: &[&str] = &[
    "name",
    "model",
    "description",
    "given",
    "expect",
    "overrides",
    "config",
    "versions",
];

/// A declared source (`sources:` entry).
#[derive(Debug, Clone)]
pub struct SourceProps {
    pub name: String,
    /// The schema it lives in; dbt's default is the source's name.
    pub schema: String,
    pub database: Option<String>,
    pub description: String,
    pub tables: Vec<SourceTableProps>,
    pub file: String,
    /// The entry as written (its `tables:` included), for the fields dbt keeps.
    pub raw: Map<String, Value>,
}

/// Everything the property files of a project declare.
#[derive(Debug, Clone, Default)]
pub struct Properties {
    /// Keys dbt does not know, which it (and so Mallard) ignores with a warning, as
    /// `unknown key ... at file:line` messages.
    pub warnings: Vec<String>,
    pub models: Vec<NodeProps>,
    pub seeds: Vec<NodeProps>,
    /// `snapshots:` entries: properties of `{% snapshot %}` blocks, or (with `relation:`)
    /// snapshots defined in YAML.
    pub snapshots: Vec<NodeProps>,
    pub sources: Vec<SourceProps>,
    pub unit_tests: Vec<UnitTestDef>,
    /// `exposures:`, `metrics:` and `semantic_models:` entries, in file order, for
    /// [`crate::manifest`] to record as dbt does.
    pub semantic: Vec<SemanticEntry>,
}

/// Which list of a property file a [`SemanticEntry`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SemanticKind {
    Exposure,
    Metric,
    SemanticModel,
}

/// An exposure, metric or semantic model as written: dbt records them in the manifest (and
/// `graph`) without building anything.
#[derive(Debug, Clone)]
pub struct SemanticEntry {
    pub kind: SemanticKind,
    pub name: String,
    pub entry: Map<String, Value>,
    pub location: Location,
    /// The property file's path, relative to the project.
    pub file: String,
}

impl Properties {
    /// Reads every file in `files`.
    ///
    /// Unknown keys (at the file, model, column, source and table level) are warnings in
    /// [`Properties::warnings`] with a did-you-mean, as dbt 1.10+ warns of custom keys.
    ///
    /// Errors: YAML syntax errors; entries without a `name`; a malformed test entry.
    pub fn load(files: &[ProjectFile]) -> Result<Properties, Diagnostic> {
        let mut props = Properties::default();
        for f in files {
            let file = PropertyFile::new(&f.original_file_path, &f.contents);
            file.read(&mut props)?;
            props.warnings.extend(file.warnings.into_inner());
        }
        Ok(props)
    }
}

struct PropertyFile<'a> {
    file: &'a str,
    text: &'a str,
    /// The file's lines, and for each value of a `name:` key the index of its first line:
    /// built once, so that locating an entry does not scan the file again.
    lines: Vec<&'a str>,
    name_lines: std::collections::HashMap<&'a str, usize>,
    warnings: std::cell::RefCell<Vec<String>>,
}

impl<'a> PropertyFile<'a> {
    fn new(file: &'a str, text: &'a str) -> PropertyFile<'a> {
        let lines: Vec<&str> = text.lines().collect();
        let mut name_lines = std::collections::HashMap::new();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim_start().trim_start_matches("- ").trim_start();
            if let Some(rest) = t.strip_prefix("name:") {
                let v = rest.trim().trim_matches(|c| c == '"' || c == '\'');
                name_lines.entry(v).or_insert(i);
            }
        }
        PropertyFile {
            file,
            text,
            lines,
            name_lines,
            warnings: Default::default(),
        }
    }

    /// The location of the 0-based line `i`, with `column` (1-based) if known.
    fn line_location(&self, i: usize, column: Option<usize>) -> Location {
        Location {
            file: self.file.to_string(),
            line: i + 1,
            column,
            source_line: self.lines.get(i).map(|l| l.trim_end().to_string()),
        }
    }
    fn read(&self, props: &mut Properties) -> Result<(), Diagnostic> {
        let doc = crate::config::yaml::parse_mapping(self.file, self.text)?;
        self.check_keys(&doc, TOP_KEYS, "a property file")?;
        for entry in self.list(&doc, "models")? {
            props.models.push(self.node(entry)?);
        }
        for entry in self.list(&doc, "seeds")? {
            props.seeds.push(self.node(entry)?);
        }
        for entry in self.list(&doc, "snapshots")? {
            let mut without_relation = entry.clone();
            let relation = without_relation.remove("relation");
            let mut np = self.node(&without_relation)?;
            np.relation = relation.as_ref().map(|r| match r {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            props.snapshots.push(np);
        }
        for entry in self.list(&doc, "sources")? {
            props.sources.push(self.source(entry)?);
        }
        for entry in self.list(&doc, "unit_tests")? {
            props.unit_tests.push(self.unit_test(entry)?);
        }
        for (key, kind) in [
            ("exposures", SemanticKind::Exposure),
            ("metrics", SemanticKind::Metric),
            ("semantic_models", SemanticKind::SemanticModel),
        ] {
            for entry in self.list(&doc, key)? {
                let (name, location) = self.name(entry, &key.replace('_', " ")[..key.len() - 1])?;
                props.semantic.push(SemanticEntry {
                    kind,
                    name,
                    entry: entry.clone(),
                    location,
                    file: self.file.to_string(),
                });
            }
        }
        if doc.get("saved_queries").is_some_and(|v| !v.is_null()) {
            let loc = crate::config::yaml::key_location(self.file, self.text, "saved_queries");
            self.warnings.borrow_mut().push(format!(
                "`saved_queries` at {}:{} are not recorded: Mallard has no semantic layer to run them",
                loc.file, loc.line
            ));
        }
        Ok(())
    }

    fn list<'v>(
        &self,
        doc: &'v Map<String, Value>,
        key: &str,
    ) -> Result<Vec<&'v Map<String, Value>>, Diagnostic> {
        match doc.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_object().ok_or_else(|| {
                        Diagnostic::new(format!(
                            "each entry under `{key}:` must be a mapping with a `name:`"
                        ))
                        .at(crate::config::yaml::key_location(self.file, self.text, key))
                    })
                })
                .collect(),
            Some(_) => Err(
                Diagnostic::new(format!("`{key}:` must be a list of entries (`- name: ...`)"))
                    .at(crate::config::yaml::key_location(self.file, self.text, key)),
            ),
        }
    }

    fn name(&self, entry: &Map<String, Value>, what: &str) -> Result<(String, Location), Diagnostic> {
        match entry.get("name").and_then(Value::as_str) {
            Some(n) => Ok((n.to_string(), self.entry_location(n))),
            None => Err(
                Diagnostic::new(format!("a {what} entry in `{}` has no `name:`", self.file))
                    .at(Location::in_source(self.file, self.text, 1, None)),
            ),
        }
    }

    /// The line of `- name: <name>` (or `name: <name>`) in the file; line 1 if there is none.
    fn entry_location(&self, name: &str) -> Location {
        match self.name_lines.get(name) {
            Some(&i) => {
                let line = self.lines[i];
                self.line_location(i, Some(line.len() - line.trim_start().len() + 1))
            }
            None => Location::in_source(self.file, self.text, 1, None),
        }
    }

    /// The first line at or after `owner`'s entry that mentions `needle`, else `owner`'s line.
    fn location_after(&self, owner: &str, needle: &str) -> Location {
        let start = self.name_lines.get(owner).copied().unwrap_or(0);
        for (i, line) in self.lines.iter().enumerate().skip(start) {
            if let Some(col) = line.find(needle) {
                return self.line_location(i, Some(line[..col].chars().count() + 1));
            }
        }
        self.entry_location(owner)
    }

    fn check_keys(&self, map: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), Diagnostic> {
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                let loc = crate::config::yaml::key_location(self.file, self.text, key);
                let hint = did_you_mean(key, allowed.iter().copied())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                self.warnings.borrow_mut().push(format!(
                    "unknown key `{key}` in {what} at {}:{}: ignored, as dbt does{hint}",
                    loc.file, loc.line
                ));
            }
        }
        Ok(())
    }
}
