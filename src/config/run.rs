//! The invocation's settings, resolved once from the command line and passed down (as ripgrep
//! turns its arguments into settings before searching): what templates read as `flags` and
//! `invocation_args_dict`, and what compiling and running do with `--full-refresh` and
//! `--empty`. Built by `cli`, held by `session::Session`, read by `compile` and `templating`.

/// One invocation's settings. The default is a command with no flags (`which` empty).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSettings {
    /// The command (`build`, `run`, `compile`, ...): `flags.WHICH`.
    pub which: String,
    /// `--full-refresh`: incremental models and seeds are rebuilt from scratch.
    pub full_refresh: bool,
    /// `--fail-fast`: the first failure stops the run.
    pub fail_fast: bool,
    /// `--empty`: the nodes' `ref()`s and `source()`s select no rows, as dbt's `--empty`.
    pub empty: bool,
    /// `--event-time-start` / `--event-time-end` (UTC): the window microbatch models build.
    pub event_time_start: Option<chrono::NaiveDateTime>,
    pub event_time_end: Option<chrono::NaiveDateTime>,
    /// `--sample`'s window `(start, end)` (UTC), when sampling.
    pub sample: Option<(chrono::NaiveDateTime, chrono::NaiveDateTime)>,
    /// `--static-analysis` (dbt v2's flag): overrides every node's `static_analysis` config.
    pub static_analysis: Option<StaticAnalysis>,
}

/// How strictly models are analysed before they run (dbt v2's `static_analysis` config and
/// `--static-analysis` flag; `baseline` is the default). A model that does not bind is an
/// error in `strict` and `baseline`; what `strict` adds is that a model that cannot be
/// analysed (it reads data while compiling, or reads what cannot be analysed) is an error
/// too, where `baseline` notes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StaticAnalysis {
    Strict,
    #[default]
    Baseline,
    Off,
}

impl StaticAnalysis {
    /// The mode a config value or flag names: `strict` (and dbt v2's deprecated `on`),
    /// `baseline` (and `unsafe`, dbt v2's earlier name for it), `off`; `None` for others.
    /// The mode's name, as `--static-analysis` takes it.
    pub fn name(self) -> &'static str {
        match self {
            StaticAnalysis::Strict => "strict",
            StaticAnalysis::Baseline => "baseline",
            StaticAnalysis::Off => "off",
        }
    }

    pub fn parse(value: &str) -> Option<StaticAnalysis> {
        match value.to_ascii_lowercase().as_str() {
            "strict" | "on" => Some(StaticAnalysis::Strict),
            "baseline" | "unsafe" => Some(StaticAnalysis::Baseline),
            "off" => Some(StaticAnalysis::Off),
            _ => None,
        }
    }
}
