//! The manifest: every node of the project (models, seeds, data tests) and every source,
//! keyed by dbt's `unique_id` (`model.<project>.<name>`), with resolved config, relation and
//! dependencies. [`parse::parse`] builds it from a [`crate::project::Project`].

pub mod json;
pub mod parse;
mod test_names;
pub(crate) use test_names::md5_hex;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::config::materialized::Materialization;
use crate::config::NodeConfig;
use crate::error::Location;
use crate::relation::Relation;
use crate::templating::RefCall;

/// The kinds of node in the graph, named as in dbt's `resource_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceType {
    Model,
    Seed,
    Test,
    Source,
    Snapshot,
    UnitTest,
    /// An exposure: built by nothing, listed by `build` as a no-op after what it depends on.
    Exposure,
}

impl ResourceType {
    /// Every kind, in declaration order.
    pub const ALL: [ResourceType; 7] = [
        ResourceType::Model,
        ResourceType::Seed,
        ResourceType::Test,
        ResourceType::Source,
        ResourceType::Snapshot,
        ResourceType::UnitTest,
        ResourceType::Exposure,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Model => "model",
            ResourceType::Seed => "seed",
            ResourceType::Test => "test",
            ResourceType::Source => "source",
            ResourceType::Snapshot => "snapshot",
            ResourceType::UnitTest => "unit_test",
            ResourceType::Exposure => "exposure",
        }
    }
}

/// A documented column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub description: String,
    pub data_type: Option<String>,
    /// dbt's other column fields, as `manifest.json` has them: `meta`, `constraints` (each
    /// with dbt's defaults), `quote`, `config`, `tags`, `granularity`, `doc_blocks`. Empty
    /// when the column sets none of them: its JSON then has dbt's defaults.
    pub properties: Map<String, Value>,
}

/// Adds the `(name, type)` columns static analysis bound to a node's declared `columns`: a
/// declared column (matched without regard to case) gets the type when it has none; the
/// others are appended in order, with no description.
pub fn add_bound_columns<'a>(columns: &mut Vec<Column>, bound: impl Iterator<Item = (&'a str, &'a str)>) {
    for (name, data_type) in bound {
        match columns.iter_mut().find(|c| c.name.eq_ignore_ascii_case(name)) {
            Some(c) => {
                c.data_type.get_or_insert_with(|| data_type.to_string());
            }
            None => columns.push(Column {
                name: name.to_string(),
                description: String::new(),
                data_type: Some(data_type.to_string()),
                properties: Default::default(),
            }),
        }
    }
}

/// A generic data test's identity: which test, with which arguments, on what.
#[derive(Debug, Clone, PartialEq)]
pub struct TestMetadata {
    /// `not_null`, `unique`, `accepted_values` or `relationships`.
    pub name: String,
    /// The arguments from property YAML, including `column_name` when on a column.
    pub kwargs: Map<String, Value>,
    /// The `model` argument as dbt records it: `{{ get_where_subquery(ref('orders')) }}`.
    pub model: String,
}

/// A call found while parsing, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    pub value: T,
    pub location: Location,
}

/// A model, seed or data test.
#[derive(Debug, Clone)]
pub struct Node {
    pub unique_id: String,
    pub resource_type: ResourceType,
    pub name: String,
    pub package_name: String,
    /// Path relative to the resource folder (for generic tests: `<short name>.sql`).
    pub path: String,
    /// The file that defines the node, relative to the project (for generic tests: the YAML).
    pub original_file_path: String,
    /// The property file that documents the node, if any.
    pub patch_path: Option<String>,
    pub fqn: Vec<String>,
    pub raw_code: String,
    pub config: NodeConfig,
    /// How the node is built, typed from `config` once parsing is done.
    pub materialization: Materialization,
    pub description: String,
    pub columns: Vec<Column>,
    pub refs: Vec<Located<RefCall>>,
    pub sources: Vec<Located<(String, String)>>,
    /// `unique_id`s this node reads, sorted, without duplicates.
    pub depends_on: Vec<String>,
    /// The relation a model or seed builds; `None` for tests.
    pub relation: Option<Relation>,
    /// Generic tests only.
    pub test_metadata: Option<TestMetadata>,
    /// The model, seed or source a generic test is attached to.
    pub attached_node: Option<String>,
    /// The SHA-256 of the defining file's text (dbt's `checksum`), hex.
    pub checksum: String,
    /// Unit tests only: the rows given and expected.
    pub unit_test: Option<UnitTestSpec>,
    /// The macros the node's template calls (`macro.<package>.<name>`), sorted: dbt's
    /// `depends_on.macros`.
    pub depends_on_macros: Vec<String>,
    /// A version of a versioned model: its version and the model's latest, as text.
    pub version: Option<String>,
    pub latest_version: Option<String>,
    /// A model's `time_spine:` from property YAML (`standard_granularity_column`, ...).
    pub time_spine: Option<serde_json::Value>,
    /// A model's `deprecation_date:` from property YAML, as written.
    pub deprecation_date: Option<String>,
    /// A model's primary key as dbt infers it (see `parse::infer_primary_keys`); empty when
    /// nothing marks one.
    pub primary_key: Vec<String>,
    /// A data test's relation for its failures (dbt's `database`, `schema`, `alias` of a
    /// test: `<target schema>_dbt_test__audit.<test name>` unless configured).
    pub audit_relation: Option<Relation>,
    /// A data test of property YAML: the line that defines it (`file:line`), for errors.
    pub defined_at: Option<String>,
    /// A Python model (`language: python`), which Mallard parses but cannot run.
    pub python: bool,
}

impl Node {
    /// A node with only its kind, `unique_id`, name and package set: no file, code, config,
    /// columns, dependencies or relation. The parser fills in the rest with struct update.
    pub fn new(resource_type: ResourceType, unique_id: String, name: String, package_name: String) -> Node {
        Node {
            unique_id,
            resource_type,
            name,
            package_name,
            path: String::new(),
            original_file_path: String::new(),
            patch_path: None,
            fqn: Vec::new(),
            raw_code: String::new(),
            config: NodeConfig::default(),
            materialization: Materialization::Other(String::new()),
            description: String::new(),
            columns: Vec::new(),
            refs: Vec::new(),
            sources: Vec::new(),
            depends_on: Vec::new(),
            relation: None,
            test_metadata: None,
            attached_node: None,
            checksum: String::new(),
            unit_test: None,
            depends_on_macros: Vec::new(),
            version: None,
            latest_version: None,
            time_spine: None,
            deprecation_date: None,
            audit_relation: None,
            primary_key: Vec::new(),
            defined_at: None,
            python: false,
        }
    }
}

/// A unit test (`unit_tests:` in property YAML): the tested model's SQL run on `given` rows
/// instead of its inputs, and compared with `expect`.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitTestSpec {
    /// The `unique_id` of the model under test.
    pub model: String,
    pub given: Vec<Fixture>,
    pub expect: FixtureRows,
    /// `overrides: vars:`, laid over the project's vars for this test.
    pub vars: Map<String, Value>,
    /// `overrides: macros: is_incremental:`.
    pub is_incremental: bool,
    /// `overrides: macros:` other than `is_incremental`: macro name (bare or
    /// `package.name`) to the value the macro returns instead of running.
    pub macros: Map<String, Value>,
}

/// The rows given for one input of a unit test.
#[derive(Debug, Clone, PartialEq)]
pub struct Fixture {
    pub input: FixtureInput,
    pub rows: FixtureRows,
}

/// What a unit test's fixture stands in for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum FixtureInput {
    Ref(String),
    Source(String, String),
    /// `this`: the incremental model's current table.
    This,
}

impl FixtureInput {
    /// The CTE the input becomes in the tested model's SQL (`__dbt__cte__<name>`).
    pub fn cte(&self) -> Relation {
        match self {
            FixtureInput::Ref(name) => Relation::cte(name),
            FixtureInput::Source(s, t) => Relation::cte(&format!("{s}__{t}")),
            FixtureInput::This => Relation::cte("this"),
        }
    }

    /// As written in YAML: `ref('x')`, `source('s', 't')`, `this`.
    pub fn shown(&self) -> String {
        match self {
            FixtureInput::Ref(name) => format!("ref('{name}')"),
            FixtureInput::Source(s, t) => format!("source('{s}', '{t}')"),
            FixtureInput::This => "this".to_string(),
        }
    }
}

/// Fixture rows: dbt's `dict` format (a list of column-to-value mappings; columns left out are
/// NULL), `csv` (text with a header line) or `sql` (a query giving the rows).
#[derive(Debug, Clone, PartialEq)]
pub enum FixtureRows {
    Dict(Vec<Map<String, Value>>),
    Csv(String),
    Sql(String),
}

impl Node {
    /// Types the materialization from the node's final config (see
    /// [`Materialization::from_config`]); the parser calls it once a node's config is complete.
    ///
    /// Errors: a snapshot whose settings are missing or unsupported.
    pub fn type_materialization(&mut self) -> Result<(), crate::error::Diagnostic> {
        self.materialization =
            Materialization::from_config(&self.config, self.resource_type == ResourceType::Snapshot)?;
        Ok(())
    }

    /// The `model` object templates see when the node is compiled: what they see while it is
    /// parsed ([`parse_model_context`]) and its `schema`, `alias`, `config` and `fqn`. (A custom
    /// materialization sees the node's whole manifest entry, [`json::node_json`].)
    pub fn model_context(&self) -> serde_json::Value {
        let mut model = parse_model_context(
            &self.name,
            &self.unique_id,
            self.resource_type.as_str(),
            &self.original_file_path,
            &self.package_name,
        );
        model["database"] = serde_json::json!(self.relation.as_ref().map(|r| r.database.clone()));
        model["schema"] = serde_json::json!(self.relation.as_ref().map(|r| r.schema.clone()));
        // What the node reads, as dbt's node has it (packages walk `model.depends_on.nodes`).
        model["depends_on"] = serde_json::json!({"nodes": self.depends_on, "macros": self.depends_on_macros});
        model["alias"] = serde_json::json!(self.relation.as_ref().map(|r| r.identifier.clone()));
        model["config"] = serde_json::Value::Object(self.config.0.clone());
        model["fqn"] = serde_json::json!(self.fqn);
        // Its columns from property YAML, as `manifest.json` has them (packages read their
        // `meta` and `config` there).
        if !self.columns.is_empty() {
            model["columns"] = json::columns_json(&self.columns);
        }
        model
    }

    /// The materialization's name, e.g. `view`, `table`, `seed`, `test`.
    pub fn materialized(&self) -> &str {
        self.materialization.name()
    }

    /// The path of the node's compiled SQL under the target folder:
    /// `compiled/<project>/<original_file_path>` (for generic tests, `<yml path>/<name>.sql`;
    /// for unit tests, `<yml path>/<model>/<name>.sql`).
    pub fn compiled_path(&self) -> String {
        // Nodes defined in a property file (generic and unit tests, snapshots in YAML) go under
        // a folder named after the file, as dbt writes them.
        let in_yaml = self.original_file_path.ends_with(".yml") || self.original_file_path.ends_with(".yaml");
        if self.test_metadata.is_some() || self.unit_test.is_some() || in_yaml {
            format!(
                "compiled/{}/{}/{}",
                self.package_name, self.original_file_path, self.path
            )
        } else {
            format!("compiled/{}/{}", self.package_name, self.original_file_path)
        }
    }
}

/// A table declared under `sources:`.
#[derive(Debug, Clone)]
pub struct Source {
    pub unique_id: String,
    pub source_name: String,
    pub name: String,
    pub package_name: String,
    pub original_file_path: String,
    pub fqn: Vec<String>,
    pub description: String,
    pub columns: Vec<Column>,
    pub relation: Relation,
    /// The fields dbt keeps for a source besides these (`source_description`, `loader`,
    /// `loaded_at_field`, `freshness`, `meta`, `source_meta`, `tags`, `quoting`, `config`, ...),
    /// as they appear in `manifest.json` and `graph.sources`.
    pub properties: serde_json::Map<String, serde_json::Value>,
}

/// A macro as `manifest.json` records it.
#[derive(Debug, Clone, Default)]
pub struct MacroEntry {
    /// `star`, or `test_unique` for a `{% test unique %}` block.
    pub name: String,
    pub package_name: String,
    /// The defining file, relative to its package (`macros/utils.sql`).
    pub original_file_path: String,
    /// The whole `{% macro %} ... {% endmacro %}` block.
    pub macro_sql: String,
    /// The parameter names, in order.
    pub arguments: Vec<String>,
}

/// The parsed project.
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    pub project_name: String,
    /// The target's adapter type (`duckdb`, `spark`), as `manifest.json`'s metadata gives it.
    pub adapter_type: String,
    /// Models, seeds and tests by `unique_id`.
    pub nodes: BTreeMap<String, Node>,
    pub sources: BTreeMap<String, Source>,
    /// Exposures, metrics and semantic models by `unique_id`, as `manifest.json` has them.
    pub exposures: BTreeMap<String, serde_json::Value>,
    pub metrics: BTreeMap<String, serde_json::Value>,
    pub semantic_models: BTreeMap<String, serde_json::Value>,
    /// The macros of the project and its packages, for `manifest.json`.
    pub macros: Vec<MacroEntry>,
    /// `{% docs name %}` blocks by `unique_id` (`doc.<package>.<name>`): (file, text).
    pub docs: BTreeMap<String, (String, String)>,
    /// Each package's folder (the root project's included), by package name: seeds are read
    /// from there.
    pub package_roots: BTreeMap<String, std::path::PathBuf>,
    /// Things worth telling the user that do not stop a run (e.g. properties for a model
    /// that does not exist).
    pub warnings: Vec<String>,
}

impl Manifest {
    /// The node or source with this `unique_id`'s relation.
    pub fn relation_of(&self, unique_id: &str) -> Option<&Relation> {
        self.nodes
            .get(unique_id)
            .and_then(|n| n.relation.as_ref())
            .or_else(|| self.sources.get(unique_id).map(|s| &s.relation))
    }

    /// The folder of package `package` (where its seeds are read from), or `default` (the
    /// project's folder) for a package the manifest does not know.
    pub fn package_root<'a>(&'a self, package: &str, default: &'a std::path::Path) -> &'a std::path::Path {
        self.package_roots
            .get(package)
            .map(std::path::PathBuf::as_path)
            .unwrap_or(default)
    }

    /// Counts by kind for the "Found ..." line: `3 models, 1 seed, 10 data tests, 2 sources`.
    pub fn summary(&self) -> String {
        let count = |t: ResourceType| self.nodes.values().filter(|n| n.resource_type == t).count();
        let parts = [
            (count(ResourceType::Model), "model"),
            (count(ResourceType::Seed), "seed"),
            (count(ResourceType::Snapshot), "snapshot"),
            (count(ResourceType::Test), "data test"),
            (count(ResourceType::UnitTest), "unit test"),
            (self.sources.len(), "source"),
            (count(ResourceType::Exposure), "exposure"),
            (self.metrics.len(), "metric"),
            (self.semantic_models.len(), "semantic model"),
        ];
        parts
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| plural(*n, what))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `1 model`, `2 models`.
pub fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("{n} {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The `model` object templates see while a node is parsed, before the node exists: its
/// `name`, `unique_id`, `resource_type`, `original_file_path` and `package_name`.
pub fn parse_model_context(
    name: &str,
    unique_id: &str,
    resource_type: &str,
    original_file_path: &str,
    package_name: &str,
) -> serde_json::Value {
    serde_json::json!({
        "name": name, "unique_id": unique_id, "resource_type": resource_type,
        "original_file_path": original_file_path, "package_name": package_name,
    })
}
