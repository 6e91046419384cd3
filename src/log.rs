//! What a command prints, as dbt's events: each line has an event name (dbt's: `LogModelResult`,
//! `StatsLine`, ...), a level and a message, and is written in the format `--log-format` asks
//! for (dbt-core 1.11's `--log-format text|json|debug`, also `DBT_LOG_FORMAT`):
//!
//! - `text`: the message alone, as Mallard has always printed it;
//! - `json`: one JSON object per line, `{"info": {name, level, msg, ts, invocation_id, pid,
//!   thread, code, category, extra}, "data": {...}}`, the shape dbt writes and tools such as
//!   dagster-dbt read (result events carry `data.node_info` with `unique_id`, `node_status`,
//!   `node_started_at`, `node_finished_at`, `resource_type`, `materialized`, ...);
//! - `debug`: the message after a timestamp, level and thread, as dbt's debug format.
//!
//! `--log-level` (`DBT_LOG_LEVEL`: debug, info, warn, error, none) and `-q`/`--quiet` (errors
//! only, as dbt's) filter what reaches stdout; output that is the command's product (`ls`,
//! `show`) is printed whatever the level, as dbt's `print` events are. Every event, debug ones
//! included, is also appended to `<log-path>/dbt.log` (default `logs/` in the project, as dbt
//! writes it) in the debug format, unless `--log-level-file none`.
//!
//! Before [`init`], events are printed as text.

use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Debug,
    /// dbt's default: text on a terminal and in pipes alike.
    Default,
}

/// An event's level, as dbt's (`debug` < `info` < `warn` < `error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
    /// Nothing at all (`--log-level none`).
    None,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::None => "none",
        }
    }
}

struct Logger {
    format: Format,
    level: Level,
    invocation_id: String,
    file: Option<Mutex<std::fs::File>>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// The live progress display while one is shown (see [`start_progress`]): text events are
/// printed above it.
static PROGRESS: Mutex<Option<Progress>> = Mutex::new(None);

/// The display and what it names: the nodes running now, in the order they started, and the
/// last one that finished.
struct Progress {
    bar: indicatif::ProgressBar,
    running: Vec<String>,
    last: Option<String>,
}

impl Progress {
    fn show(&self) {
        let mut msg = String::new();
        if !self.running.is_empty() {
            msg = format!("running: {}", self.running.join(", "));
        }
        if let Some(last) = &self.last {
            if !msg.is_empty() {
                msg.push_str("; ");
            }
            msg.push_str(&format!("last done: {last}"));
        }
        self.bar.set_message(msg);
    }
}

/// Clears the progress display when dropped (see [`start_progress`]).
pub struct ProgressGuard;

impl Drop for ProgressGuard {
    fn drop(&mut self) {
        if let Some(progress) = PROGRESS.lock().unwrap_or_else(|p| p.into_inner()).take() {
            progress.bar.finish_and_clear();
        }
    }
}

/// Shows a live progress display of a run of `total` nodes at the bottom of the terminal
/// (nodes done / total, elapsed time, the nodes running now and the last that finished), with
/// the per-node lines printed above it; drawn with indicatif. Only when stdout is a terminal
/// and events are printed as text at `info` or below: with `--log-format json`, `-q` or output
/// into a file or pipe, `None`, and the output is plain lines.
pub fn start_progress(total: usize) -> Option<ProgressGuard> {
    use std::io::IsTerminal;
    let logger = LOGGER.get()?;
    let text = matches!(logger.format, Format::Text | Format::Default);
    if !text || logger.level > Level::Info || total == 0 || !std::io::stdout().is_terminal() {
        return None;
    }
    let bar =
        indicatif::ProgressBar::with_draw_target(Some(total as u64), indicatif::ProgressDrawTarget::stdout());
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {pos}/{len} nodes done [{elapsed_precise}] {wide_msg}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    *PROGRESS.lock().unwrap_or_else(|p| p.into_inner()) = Some(Progress {
        bar,
        running: Vec::new(),
        last: None,
    });
    Some(ProgressGuard)
}

/// Names node `name` among the running ones on the progress display; nothing without a
/// display.
pub fn progress_started(name: &str) {
    if let Some(progress) = PROGRESS.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
        progress.running.push(name.to_string());
        progress.show();
    }
}

/// Advances the progress display by one finished node, `name` (no longer running); nothing
/// without a display.
pub fn progress_done(name: &str) {
    if let Some(progress) = PROGRESS.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
        if let Some(i) = progress.running.iter().position(|r| r == name) {
            progress.running.remove(i);
        }
        progress.bar.inc(1);
        progress.last = Some(name.to_string());
        progress.show();
    }
}

/// The prefix of the environment variables whose values are secrets, as dbt's
/// (`DBT_ENV_SECRET_GIT_TOKEN`): allowed only in `profiles.yml` and `packages.yml`, and never
/// printed, logged or written into an artifact.
pub const SECRET_ENV_PREFIX: &str = "DBT_ENV_SECRET_";

/// The non-blank values of this process's `DBT_ENV_SECRET_*` variables, longest first (so a
/// secret that contains another is masked whole), read once.
fn secret_values() -> &'static [String] {
    static SECRETS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    SECRETS.get_or_init(|| {
        let mut values: Vec<String> = std::env::vars()
            .filter(|(k, v)| k.starts_with(SECRET_ENV_PREFIX) && !v.trim().is_empty())
            .map(|(_, v)| v)
            .collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values
    })
}

/// `text` with every secret value (see [`SECRET_ENV_PREFIX`]) replaced by `*****`, as dbt
/// scrubs them; borrowed unchanged when it holds none (always, when no secret is set).
pub fn scrub(text: &str) -> std::borrow::Cow<'_, str> {
    let secrets = secret_values();
    if !secrets.iter().any(|s| text.contains(s.as_str())) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for secret in secrets {
        out = out.replace(secret.as_str(), "*****");
    }
    std::borrow::Cow::Owned(out)
}

/// Whether any secret value is set (then artifacts are scrubbed before they are written).
pub fn has_secrets() -> bool {
    !secret_values().is_empty()
}

/// Sets how this process prints events, once (later calls are ignored). `log_dir` is the
/// folder of `dbt.log`, created if missing; `None` writes no file.
///
/// Errors: none; a log file that cannot be opened is reported once as a warning on stderr and
/// the run goes on without it.
pub fn init(format: Format, level: Level, invocation_id: &str, log_dir: Option<&Path>) {
    let file = log_dir.and_then(|dir| {
        let opened = std::fs::create_dir_all(dir).and_then(|_| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("dbt.log"))
        });
        match opened {
            Ok(f) => Some(Mutex::new(f)),
            Err(e) => {
                eprintln!("warning: cannot write {}: {e}", dir.join("dbt.log").display());
                None
            }
        }
    });
    let logger = Logger {
        format,
        level,
        invocation_id: invocation_id.to_string(),
        file,
    };
    if LOGGER.set(logger).is_ok() {
        if let Some(l) = LOGGER.get() {
            l.to_file(&format!(
                "\n============================== {} | {} ==============================\n",
                chrono::Utc::now().format("%H:%M:%S%.6f"),
                l.invocation_id
            ));
        }
    }
}

/// Whether events are written as JSON (then callers leave out decoration meant for people).
pub fn is_json() -> bool {
    LOGGER.get().is_some_and(|l| l.format == Format::Json)
}

impl Logger {
    fn to_file(&self, text: &str) {
        if let Some(f) = &self.file {
            let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
            let _ = f.write_all(text.as_bytes());
        }
    }
}

/// Prints event `name` at `level` with message `msg` (several lines allowed) and dbt's `data`
/// fields (`{}` when it has none). Never fails: a closed stdout is ignored, as `println!`
/// would panic.
pub fn event(name: &str, level: Level, msg: &str, data: Value) {
    write_event(name, level, msg, data, false);
}

/// Prints the command's product (`ls` lines, `show` tables): shown whatever `--log-level`,
/// as dbt's `print` events; in JSON as event `name`.
pub fn print(name: &str, msg: &str, data: Value) {
    write_event(name, Level::Info, msg, data, true);
}

/// An info event: `event(name, Level::Info, msg, json!({}))`.
pub fn info(name: &str, msg: &str) {
    event(name, Level::Info, msg, json!({}));
}

/// A blank line between sections (dbt's `Formatting` event).
pub fn blank() {
    event("Formatting", Level::Info, "", json!({"msg": ""}));
}

fn write_event(name: &str, level: Level, msg: &str, data: Value, always: bool) {
    let msg: &str = &scrub(msg);
    let Some(logger) = LOGGER.get() else {
        let _ = writeln!(std::io::stdout().lock(), "{msg}");
        return;
    };
    let now = chrono::Utc::now();
    let thread = std::thread::current()
        .name()
        .map(str::to_string)
        .unwrap_or_else(|| "MainThread".to_string());
    let thread = if thread == "main" {
        "MainThread".to_string()
    } else {
        thread
    };
    let debug_line = |msg: &str| {
        let mut out = String::new();
        for line in msg.split('\n') {
            out.push_str(&format!(
                "{} [{:<5}] [{thread}]: {line}\n",
                now.format("%H:%M:%S%.6f"),
                level.as_str()
            ));
        }
        out
    };
    if logger.file.is_some() {
        logger.to_file(&debug_line(msg));
    }
    if level == Level::Warn && silenced(name) {
        return;
    }
    if !always && (level < logger.level || logger.level == Level::None) {
        return;
    }
    let text = match logger.format {
        Format::Json => {
            let line = json!({
                "info": {
                    "name": name,
                    "level": level.as_str(),
                    "msg": msg,
                    "ts": now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                    "invocation_id": logger.invocation_id,
                    "pid": std::process::id(),
                    "thread": thread,
                    "code": "",
                    "category": "",
                    "extra": {},
                },
                "data": data,
            });
            format!("{}\n", scrub(&line.to_string()))
        }
        Format::Debug => debug_line(msg),
        Format::Text | Format::Default => {
            if let Some(progress) = PROGRESS.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                progress.bar.println(msg);
                return;
            }
            format!("{msg}\n")
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// dbt-core 1.11's event names, the names `--warn-error-options` accepts.
const DBT_EVENT_NAMES: &str = include_str!("dbt_event_names.txt");

/// `--warn-error` and `--warn-error-options`: which warnings are errors, and which are not
/// shown at all, as dbt decides it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WarnError {
    /// Every warning is an error (`--warn-error`, or `error: all` / `include: all`).
    pub all: bool,
    /// These events' warnings are errors (`error:` / `include:`).
    pub error: Vec<String>,
    /// These stay warnings even under `all` (`warn:` / `exclude:`).
    pub warn: Vec<String>,
    /// These are not shown (`silence:`).
    pub silence: Vec<String>,
}

static WARN_ERROR: OnceLock<WarnError> = OnceLock::new();

impl WarnError {
    /// From `--warn-error` and the YAML (or JSON) mapping of `--warn-error-options`: keys
    /// `error` (or dbt's older `include`: `all`, `*` or a list of event names), `warn` (or
    /// `exclude`) and `silence`, lists of names.
    ///
    /// Errors: options that are not a mapping, an unknown key, a name that is not one of
    /// dbt's events (dbt's own check), `warn` without `error: all` (dbt's rule).
    pub fn parse(warn_error: bool, options: Option<&str>) -> Result<WarnError, crate::error::Diagnostic> {
        use crate::error::Diagnostic;
        let mut out = WarnError {
            all: warn_error,
            ..WarnError::default()
        };
        let Some(text) = options.filter(|t| !t.trim().is_empty()) else {
            return Ok(out);
        };
        let doc = crate::config::yaml::parse_mapping("--warn-error-options", text).map_err(|d| {
            d.help("pass a mapping, e.g. --warn-error-options '{error: all, warn: [NoNodesSelected]}'")
        })?;
        let names = |key: &str, v: &Value| -> Result<Vec<String>, Diagnostic> {
            let list = v.as_array().ok_or_else(|| {
                Diagnostic::new(format!(
                    "--warn-error-options: `{key}` must be a list of event names"
                ))
            })?;
            list.iter()
                .map(|n| {
                    let n = n.as_str().unwrap_or_default().to_string();
                    if DBT_EVENT_NAMES.lines().any(|known| known == n) {
                        Ok(n)
                    } else {
                        let known: Vec<&str> =
                            DBT_EVENT_NAMES.lines().filter(|l| !l.starts_with('#')).collect();
                        let mut d =
                            Diagnostic::new(format!("--warn-error-options: `{n}` is not a dbt event name"));
                        if let Some(close) = crate::error::did_you_mean(&n, known.iter().copied()) {
                            d = d.help(format!("did you mean `{close}`?"));
                        }
                        Err(d)
                    }
                })
                .collect()
        };
        for (key, v) in &doc {
            match key.as_str() {
                "error" | "include" => match v.as_str() {
                    Some("all" | "*") => out.all = true,
                    Some(other) => {
                        return Err(Diagnostic::new(format!(
                        "--warn-error-options: `{key}: {other}` must be `all`, `*` or a list of event names"
                    )))
                    }
                    None => out.error = names(key, v)?,
                },
                "warn" | "exclude" => out.warn = names(key, v)?,
                "silence" => out.silence = names(key, v)?,
                other => {
                    return Err(
                        Diagnostic::new(format!("--warn-error-options: unknown key `{other}`"))
                            .help("the keys are `error`, `warn` and `silence`"),
                    )
                }
            }
        }
        if !out.warn.is_empty() && !out.all && !out.error.iter().any(|n| n == "Deprecations") {
            return Err(Diagnostic::new(
                "--warn-error-options: `warn` needs `error: all` (the events it keeps as warnings)",
            ));
        }
        Ok(out)
    }

    /// Whether a warning of event `name` is an error.
    pub fn is_error(&self, name: &str) -> bool {
        (self.all || self.error.iter().any(|n| n == name)) && !self.warn.iter().any(|n| n == name)
    }
}

/// Sets this process's [`WarnError`], once.
pub fn set_warn_error(w: WarnError) {
    let _ = WARN_ERROR.set(w);
}

/// Whether a warning of event `name` is an error under `--warn-error`/`--warn-error-options`.
pub fn warning_is_error(name: &str) -> bool {
    WARN_ERROR.get().is_some_and(|w| w.is_error(name))
}

/// Whether warnings of event `name` are silenced (`silence:`).
pub fn silenced(name: &str) -> bool {
    WARN_ERROR
        .get()
        .is_some_and(|w| w.silence.iter().any(|n| n == name))
}

/// Text cells as a Markdown-style table (`| a | b |`, a rule, then one line per row), each
/// column as wide as its widest cell or header, as agate prints one (for `show` and
/// for messages such as a failed contract's). An empty `cells` gives
/// the header and rule only.
pub fn text_table(columns: &[String], cells: Vec<Vec<String>>) -> String {
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.chars().count(), 1])
                .max()
                .unwrap_or(1)
        })
        .collect();
    let line = |values: Vec<String>| -> String {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        format!("| {} |", padded.join(" | "))
    };
    let mut out = vec![
        line(columns.to_vec()),
        line(widths.iter().map(|w| "-".repeat(*w)).collect()),
    ];
    out.extend(cells.into_iter().map(line));
    out.join("\n")
}
