//! The command line as typed, parsed by clap; kept apart from the resolved run in
//! [`super::Session`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use super::resource_type::ResourceTypeArg;

/// A dbt-compatible transformation runner on embedded DuckDB.
#[derive(Debug, Parser)]
#[command(name = "mallard", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// dbt's global flags, accepted before or after the command (`mallard --log-format json
/// build` and `mallard build --log-format json`), and from dbt's environment variables.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// How to print events: `text`, `json` (one JSON object per line, dbt's event shape) or
    /// `debug` (timestamped lines).
    #[arg(
        long,
        global = true,
        env = "DBT_LOG_FORMAT",
        value_enum,
        default_value = "default"
    )]
    pub log_format: crate::log::Format,
    /// The least level of event printed: debug, info, warn, error or none.
    #[arg(
        long,
        global = true,
        env = "DBT_LOG_LEVEL",
        value_enum,
        default_value = "info"
    )]
    pub log_level: crate::log::Level,
    /// Print errors only (and what the command outputs, such as `ls`'s list).
    #[arg(short, long, global = true, env = "DBT_QUIET")]
    pub quiet: bool,
    /// The folder of dbt.log [default: `logs` in the project].
    #[arg(long, global = true, env = "DBT_LOG_PATH", value_name = "DIR")]
    pub log_path: Option<PathBuf>,
    /// The level of events written to dbt.log; `none` writes no file.
    #[arg(
        long,
        global = true,
        env = "DBT_LOG_LEVEL_FILE",
        value_enum,
        default_value = "debug"
    )]
    pub log_level_file: crate::log::Level,
    /// Treat every warning as an error: a data test with `severity: warn` that finds rows
    /// fails, a parse warning stops the run (exit code 2).
    #[arg(long, global = true, env = "DBT_WARN_ERROR")]
    pub warn_error: bool,
    /// Which warnings are errors, by dbt event name: a YAML mapping with `error` (`all` or a
    /// list), `warn` (exceptions to `all`) and `silence` (not shown), e.g.
    /// '{error: [LogTestResult]}'.
    #[arg(long, global = true, env = "DBT_WARN_ERROR_OPTIONS", value_name = "YAML")]
    pub warn_error_options: Option<String>,
    /// Accepted for dbt's command lines; Mallard's output has no colours.
    #[arg(long, global = true, env = "DBT_USE_COLORS", hide = true)]
    pub use_colors: bool,
    /// Accepted for dbt's command lines; Mallard's output has no colours.
    #[arg(long, global = true, hide = true)]
    pub no_use_colors: bool,
    /// Accepted for dbt's command lines (dbt's spelling without the s).
    #[arg(long, global = true, hide = true)]
    pub no_use_color: bool,
    /// Accepted for dbt's command lines: Mallard never checks for a newer version.
    #[arg(long, global = true, hide = true)]
    pub no_version_check: bool,
    /// Accepted for dbt's command lines: Mallard never checks for a newer version.
    #[arg(long, global = true, hide = true)]
    pub version_check: bool,
    /// Accepted for dbt's command lines: Mallard always parses the whole project.
    #[arg(long, global = true, hide = true)]
    pub no_partial_parse: bool,
    /// Accepted for dbt's command lines: Mallard always parses the whole project.
    #[arg(long, global = true, hide = true)]
    pub partial_parse: bool,
    /// Accepted for dbt's command lines: Mallard sends no usage statistics.
    #[arg(long, global = true, hide = true)]
    pub no_send_anonymous_usage_stats: bool,
    /// Accepted for dbt's command lines: Mallard sends no usage statistics.
    #[arg(long, global = true, hide = true)]
    pub send_anonymous_usage_stats: bool,
    /// Accepted for dbt's command lines: Mallard writes no anonymous usage file.
    #[arg(long, global = true, hide = true)]
    pub no_write_json: bool,
    /// Accepted for dbt's command lines (the width of the dotted lines is fixed).
    #[arg(long, global = true, hide = true, value_name = "N")]
    pub printer_width: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load seed CSV files into tables.
    Seed(RunArgs),
    /// Build the selected models.
    Run(RunArgs),
    /// Run the data tests of the selected nodes.
    Test(RunArgs),
    /// Take snapshots (type-2 slowly changing dimensions) of the selected snapshots.
    Snapshot(RunArgs),
    /// Seeds, models, snapshots and their tests in graph order; a failing test skips what
    /// depends on it.
    Build(RunArgs),
    /// Render models and tests to SQL under target/compiled/ without touching the database.
    Compile(RunArgs),
    /// Make this target's relations of the selected models, seeds and snapshots views over
    /// those another run built (`--state DIR`, its target folder), as dbt's clone does on
    /// DuckDB; existing relations are left alone unless `--full-refresh`.
    Clone(RunArgs),
    /// Run again what errored, failed or was skipped in the last run (from
    /// target/run_results.json), with that run's command, vars, target and threads.
    Retry(RetryArgs),
    /// Print the first rows of the selected models (or of an --inline query), from the database.
    Show(ShowArgs),
    /// List the selected resources.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Parse the project and write target/manifest.json, without touching the database.
    Parse(ProjectOnlyArgs),
    /// Check the project, the profile and the database connection.
    Debug(ProjectOnlyArgs),
    /// Install the packages of packages.yml (or dependencies.yml) into dbt_packages/, exactly
    /// as package-lock.yml pins them (resolving and writing the lock when the specs changed).
    Deps(DepsArgs),
    /// Delete the folders named in `clean-targets` of dbt_project.yml (default: the target folder).
    Clean(ProjectOnlyArgs),
    /// Commands on sources: `source freshness`.
    #[command(subcommand)]
    Source(SourceCommand),
    /// The project's documentation site: `docs generate`, `docs serve`.
    #[command(subcommand)]
    Docs(DocsCommand),
    /// Create a new project (and its DuckDB profile in profiles.yml), asking what is not
    /// given; inside a project, set up its profile.
    Init(InitArgs),
    /// Call a macro (`name` or `package.name`) with a database connection, e.g. for grants or
    /// maintenance; its statements run, its `log(..., info=True)` lines are printed.
    RunOperation(RunOperationArgs),
}

/// `source ...`.
#[derive(Debug, Subcommand)]
pub enum SourceCommand {
    /// Check how long ago each selected source table was loaded (`loaded_at_field`) against
    /// its `freshness` (`warn_after`, `error_after`, `filter`); writes target/sources.json.
    Freshness(FreshnessArgs),
}

/// `docs ...`.
#[derive(Debug, Subcommand)]
pub enum DocsCommand {
    /// Compile the project, read the database's catalog into target/catalog.json, and write
    /// the documentation site (target/index.html) with its data.
    Generate(DocsGenerateArgs),
    /// Serve the target folder's documentation site over HTTP.
    Serve(DocsServeArgs),
}

/// `docs generate`.
#[derive(Debug, Args)]
pub struct DocsGenerateArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Write one self-contained file, target/static_index.html, instead of index.html and
    /// its data file.
    #[arg(long = "static")]
    pub single_file: bool,
    /// Do not compile the project first (the site then shows no compiled SQL but what an
    /// earlier compile left).
    #[arg(long)]
    pub no_compile: bool,
    /// Write an empty catalog, without reading the database (dbt's `--empty-catalog`).
    #[arg(long)]
    pub empty_catalog: bool,
}

/// `docs serve`.
#[derive(Debug, Args)]
pub struct DocsServeArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The port to listen on.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Open the site in a browser (dbt's default).
    #[arg(long, overrides_with = "no_browser")]
    pub browser: bool,
    /// Do not open a browser.
    #[arg(long)]
    pub no_browser: bool,
}

/// `source freshness`.
#[derive(Debug, Args)]
pub struct FreshnessArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Where to write the results [default: sources.json in the target folder].
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
}

/// `run-operation`.
#[derive(Debug, Args)]
pub struct RunOperationArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The macro to call: `name` or `package.name`.
    #[arg(value_name = "MACRO", required_unless_present = "sql", conflicts_with = "sql")]
    pub macro_name: Option<String>,
    /// The macro's arguments as a YAML mapping, e.g. '{role: analyst, dry_run: true}'.
    #[arg(long, conflicts_with = "sql")]
    pub args: Option<String>,
    /// Run this SQL (Jinja allowed: `ref`, `source`, `var`, `target`) on the target instead of
    /// a macro (dbt 1.12).
    #[arg(long, value_name = "SQL")]
    pub sql: Option<String>,
    /// While another run writes the database, wait up to this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub lock_timeout: Option<std::time::Duration>,
}

/// `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The new project's name and folder (letters, digits and _) [default: asked].
    #[arg(value_name = "PROJECT_NAME")]
    pub project_name: Option<String>,
    /// Write the project only, no profile.
    #[arg(long, short = 's')]
    pub skip_profile_setup: bool,
}

/// Commands that need only the project and profile.
#[derive(Debug, Args)]
pub struct ProjectOnlyArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
}

impl Command {
    /// Where the project and profile are, as every command takes them.
    pub fn project_args(&self) -> &ProjectArgs {
        match self {
            Command::Seed(a)
            | Command::Run(a)
            | Command::Test(a)
            | Command::Build(a)
            | Command::Snapshot(a)
            | Command::Compile(a)
            | Command::Clone(a) => &a.project,
            Command::Retry(a) => &a.project,
            Command::Show(a) => &a.project,
            Command::Ls(a) => &a.project,
            Command::Parse(a) | Command::Debug(a) | Command::Clean(a) => &a.project,
            Command::Deps(a) => &a.project,
            Command::RunOperation(a) => &a.project,
            Command::Init(a) => &a.project,
            Command::Source(SourceCommand::Freshness(a)) => &a.project,
            Command::Docs(DocsCommand::Generate(a)) => &a.project,
            Command::Docs(DocsCommand::Serve(a)) => &a.project,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Command::Seed(_) => "seed",
            Command::Run(_) => "run",
            Command::Test(_) => "test",
            Command::Build(_) => "build",
            Command::Snapshot(_) => "snapshot",
            Command::Compile(_) => "compile",
            Command::Clone(_) => "clone",
            Command::Retry(_) => "retry",
            Command::Show(_) => "show",
            Command::Ls(_) => "ls",
            Command::Parse(_) => "parse",
            Command::Debug(_) => "debug",
            Command::Deps(_) => "deps",
            Command::Clean(_) => "clean",
            Command::RunOperation(_) => "run-operation",
            Command::Init(_) => "init",
            Command::Source(_) => "source freshness",
            Command::Docs(DocsCommand::Generate(_)) => "docs generate",
            Command::Docs(DocsCommand::Serve(_)) => "docs serve",
        }
    }
}

/// `deps`: what to install and how.
#[derive(Debug, Args)]
pub struct DepsArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Resolve the packages again (newest versions in range), even if package-lock.yml matches.
    #[arg(long)]
    pub upgrade: bool,
    /// Write package-lock.yml without installing anything.
    #[arg(long)]
    pub lock: bool,
    /// Add a package to packages.yml first, as `name@version` (hub: `dbt-labs/dbt_utils@1.3.0`).
    #[arg(long, value_name = "NAME@VERSION")]
    pub add_package: Option<String>,
    /// Where `--add-package` takes the package from.
    #[arg(long, value_enum, default_value = "hub")]
    pub source: DepsSource,
}

/// `deps --source`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DepsSource {
    Hub,
    Git,
    Local,
}

/// Where the project and profile are, and what to override in them.
#[derive(Debug, Args, Clone)]
pub struct ProjectArgs {
    /// The folder holding dbt_project.yml [default: the current folder].
    #[arg(long, env = "DBT_PROJECT_DIR", global = true)]
    pub project_dir: Option<PathBuf>,
    /// The folder holding profiles.yml [default: DBT_PROFILES_DIR, the current folder, the project, ~/.dbt].
    #[arg(long, global = true)]
    pub profiles_dir: Option<PathBuf>,
    /// The target (output) of the profile to use [default: the profile's `target:`].
    #[arg(short, long, global = true, env = "DBT_TARGET")]
    pub target: Option<String>,
    /// Project vars as a YAML mapping, e.g. '{as_of: 2024-01-01}'; they win over dbt_project.yml.
    #[arg(long, global = true)]
    pub vars: Option<String>,
    /// The profile to use, instead of `profile:` in dbt_project.yml.
    #[arg(long, global = true, env = "DBT_PROFILE")]
    pub profile: Option<String>,
    /// The folder for artifacts and compiled SQL, instead of `target-path` in dbt_project.yml.
    #[arg(long, global = true, env = "DBT_TARGET_PATH", value_name = "DIR")]
    pub target_path: Option<PathBuf>,
    /// Worker threads [default: the profile's `threads`, else 1].
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

/// Which nodes to act on.
#[derive(Debug, Args, Clone)]
pub struct SelectArgs {
    /// Nodes to select: names, +graph operators, tag:, path:, ... (union of the values).
    #[arg(short, long, visible_alias = "models", short_alias = 'm', num_args = 1..)]
    pub select: Vec<String>,
    /// Nodes to leave out, same syntax as --select.
    #[arg(long, num_args = 1..)]
    pub exclude: Vec<String>,
    /// A named selector from selectors.yml, instead of --select.
    #[arg(long, value_name = "NAME")]
    pub selector: Option<String>,
    /// A folder with an earlier run's manifest.json (for `state:modified`, `state:new`) and
    /// run_results.json (for `result:error`, `result:fail`, ...).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Rebuild incremental models from scratch (views, tables and seeds always are).
    #[arg(long)]
    pub full_refresh: bool,
    /// While another run writes the database, wait up to this many seconds instead of
    /// stopping at once.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub lock_timeout: Option<std::time::Duration>,
    /// Stop at the first failure: nodes already running finish, the rest are skipped.
    #[arg(short = 'x', long)]
    pub fail_fast: bool,
    /// Only these kinds of resource (`build` and `test`), as dbt's `--resource-type`.
    #[arg(long = "resource-type", visible_alias = "resource-types", num_args = 1.., value_enum,
          env = "DBT_RESOURCE_TYPES", value_delimiter = ' ')]
    pub resource_type: Vec<ResourceTypeArg>,
    /// Leave out these kinds of resource (`build` and `test`), as dbt's `--exclude-resource-type`.
    #[arg(long = "exclude-resource-type", visible_alias = "exclude-resource-types", num_args = 1..,
          value_enum, env = "DBT_EXCLUDE_RESOURCE_TYPES", value_delimiter = ' ')]
    pub exclude_resource_type: Vec<ResourceTypeArg>,
    /// Resolve a `ref` to a node that is not selected and not built in this target to the
    /// relation recorded in the state's manifest (`--defer-state`, else `--state`), as dbt's
    /// deferral for Slim CI.
    #[arg(long, env = "DBT_DEFER")]
    pub defer: bool,
    /// The folder of the manifest `--defer` reads [default: `--state`].
    #[arg(long, env = "DBT_DEFER_STATE", value_name = "DIR")]
    pub defer_state: Option<PathBuf>,
    /// With `--defer`: use the state's relation for unselected nodes even where this target
    /// has one.
    #[arg(long, env = "DBT_FAVOR_STATE")]
    pub favor_state: bool,
    /// Also write the run's data tests and unit tests as a JUnit XML report to this file
    /// (one `testcase` per test, failures with their message and compiled SQL), for CI.
    #[arg(long, value_name = "PATH")]
    pub junit_xml: Option<PathBuf>,
    /// `compile` only: render this query (Jinja allowed) and print it, instead of compiling
    /// the project's nodes.
    #[arg(long)]
    pub inline: Option<String>,
    /// Build models and snapshots with their `ref()`s and `source()`s limited to zero rows,
    /// as dbt's `--empty` (run, build, compile and snapshot; seeds load as usual).
    #[arg(long)]
    pub empty: bool,
    /// Microbatch models build their batches from this time (UTC; `2024-01-01` or
    /// `2024-01-01 06:00:00`), truncated to a batch, instead of from `begin` or the lookback.
    #[arg(long, value_name = "TIME", value_parser = parse_event_time, env = "DBT_EVENT_TIME_START")]
    pub event_time_start: Option<chrono::NaiveDateTime>,
    /// Microbatch models build their batches up to this time (UTC), rounded up to a batch,
    /// instead of up to now.
    #[arg(long, value_name = "TIME", value_parser = parse_event_time, env = "DBT_EVENT_TIME_END")]
    pub event_time_end: Option<chrono::NaiveDateTime>,
    /// Sample mode (dbt 1.10): models' and snapshots' `ref()`s and `source()`s of upstreams
    /// with an `event_time` read only this window: `3 days` back from now (hours, days,
    /// months, years), or `{start: 2024-01-01, end: 2024-01-08}`.
    #[arg(long, env = "DBT_SAMPLE", value_name = "WINDOW", value_parser = parse_sample)]
    pub sample: Option<(chrono::NaiveDateTime, chrono::NaiveDateTime)>,
    /// Static analysis before anything runs (dbt v2's flag; overrides each node's
    /// `static_analysis`): `strict` (a model that cannot be analysed is an error), `baseline`
    /// (the default: it is a note), `off`. A model that does not bind is an error unless off.
    #[arg(long, env = "DBT_STATIC_ANALYSIS", value_name = "MODE", value_parser = parse_static_analysis)]
    pub static_analysis: Option<crate::config::run::StaticAnalysis>,
}

/// `--static-analysis`'s value (see [`crate::config::run::StaticAnalysis::parse`]).
fn parse_static_analysis(value: &str) -> Result<crate::config::run::StaticAnalysis, String> {
    crate::config::run::StaticAnalysis::parse(value)
        .ok_or_else(|| format!("`{value}` is not a static analysis mode: use strict, baseline or off"))
}

/// `--sample`'s window, relative ones from now.
fn parse_sample(text: &str) -> Result<(chrono::NaiveDateTime, chrono::NaiveDateTime), String> {
    crate::materialization::microbatch::sample_window(text, chrono::Utc::now().naive_utc())
}

/// A time as `--event-time-start`/`--event-time-end` take it.
fn parse_event_time(text: &str) -> Result<chrono::NaiveDateTime, String> {
    crate::materialization::microbatch::parse_time(text)
        .ok_or_else(|| format!("`{text}` is not a date or time (write 2024-01-01 or 2024-01-01 06:00:00)"))
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// While another run writes the database, wait up to this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub lock_timeout: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// A query to preview instead of a model (Jinja allowed: `ref`, `source`, `var`, ...).
    #[arg(long)]
    pub inline: Option<String>,
    /// How many rows to print.
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
}

fn parse_seconds(text: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    std::time::Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("`{text}` is not a number of seconds from 0 up"))
}

#[derive(Debug, Args)]
pub struct LsArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Only these kinds of resource.
    #[arg(long, visible_alias = "resource-types", num_args = 1.., env = "DBT_RESOURCE_TYPES", value_delimiter = ' ')]
    pub resource_type: Vec<ResourceTypeArg>,
    /// Leave out these kinds of resource.
    #[arg(long, visible_alias = "exclude-resource-types", num_args = 1.., env = "DBT_EXCLUDE_RESOURCE_TYPES",
          value_delimiter = ' ')]
    pub exclude_resource_type: Vec<ResourceTypeArg>,
    /// How to print each resource.
    #[arg(long, short = 'o', default_value = "selector")]
    pub output: LsOutput,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LsOutput {
    /// The fqn, as dbt prints it (`project.folder.model`).
    Selector,
    Name,
    Path,
    Json,
}

impl ProjectArgs {
    /// These arguments as the session loads a project with them.
    pub fn load_options(&self) -> crate::session::LoadOptions {
        crate::session::LoadOptions {
            project_dir: self.project_dir.clone(),
            profiles_dir: self.profiles_dir.clone(),
            target: self.target.clone(),
            vars: self.vars.clone(),
            profile: self.profile.clone(),
            target_path: self.target_path.clone(),
            threads: self.threads.map(usize::from),
            settings: Default::default(),
        }
    }
}

impl RunArgs {
    /// The session's options with the invocation's settings resolved from these arguments:
    /// the command `which` (`build`, `compile`, ...), `--full-refresh`, `--fail-fast` and
    /// `--empty`.
    pub fn load_options(&self, which: &str) -> crate::session::LoadOptions {
        crate::session::LoadOptions {
            settings: std::sync::Arc::new(crate::config::run::RunSettings {
                which: which.to_string(),
                full_refresh: self.full_refresh,
                fail_fast: self.fail_fast,
                empty: self.empty,
                event_time_start: self.event_time_start,
                event_time_end: self.event_time_end,
                sample: self.sample,
                static_analysis: self.static_analysis,
            }),
            ..self.project.load_options()
        }
    }
}

impl SelectArgs {
    /// These arguments as the session selects with them.
    pub fn selection(&self) -> crate::session::Selection<'_> {
        crate::session::Selection {
            select: &self.select,
            exclude: &self.exclude,
            selector: self.selector.as_deref(),
            state: self.state.as_deref(),
        }
    }
}

impl RunArgs {
    /// The folder of the manifest `--defer` (and `clone`) read: `--defer-state`, else `--state`.
    pub fn defer_state_dir(&self) -> Option<&std::path::Path> {
        self.defer_state.as_deref().or(self.select.state.as_deref())
    }
}
