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
}
