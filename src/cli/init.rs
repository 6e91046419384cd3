//! `mallard init [NAME]`: a new project and its DuckDB profile, asking on the terminal what
//! is not given, as `dbt init` does (its prompts, read from stdin whether or not it is a
//! terminal); inside an existing project, only its profile.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use super::args::InitArgs;
use crate::error::Diagnostic;
use crate::log;
use crate::project::starter;

/// Runs `init` as dbt 1.11 does with dbt-duckdb (see the module doc). Non-interactive use:
/// the project name as argument and `--skip-profile-setup`, or answers on stdin.
///
/// Exit codes: 0, also when a project of that name already exists (dbt's message, nothing
/// written); 2 for an invalid name with no answer on stdin, `--profile` naming no profile or
/// given inside a project, or a file that cannot be written.
pub(super) fn init(args: InitArgs) -> Result<ExitCode> {
    let profiles_dir = profiles_dir(args.project.profiles_dir.clone());
    if !profiles_dir.exists() {
        log::info(
            "ConfigFolderDirectory",
            &format!("Creating dbt configuration folder at {}", profiles_dir.display()),
        );
        std::fs::create_dir_all(&profiles_dir)
            .map_err(|e| Diagnostic::new(format!("cannot create `{}`: {e}", profiles_dir.display())))?;
    }
    let profiles = profiles_dir.join("profiles.yml");
    let project_dir = args
        .project
        .project_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    if project_dir.join("dbt_project.yml").is_file() {
        // Inside a project: set up the profile it names.
        if args.project.profile.is_some() {
            return Err(
                Diagnostic::new("cannot init an existing project with a given --profile")
                    .help("edit `profile:` in dbt_project.yml instead")
                    .into(),
            );
        }
        if !args.skip_profile_setup {
            let text = std::fs::read_to_string(project_dir.join("dbt_project.yml"))?;
            let project = crate::config::yaml::parse_mapping("dbt_project.yml", &text)?;
            let name = project.get("profile").and_then(|v| v.as_str()).ok_or_else(|| {
                Diagnostic::new("dbt_project.yml names no `profile`").help("add `profile: NAME` to it")
            })?;
            setup_profile(&profiles, name)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut name = args.project_name.clone();
    while !name.as_deref().is_some_and(starter::is_valid_project_name) {
        if let Some(bad) = &name {
            println!("{bad} is not a valid project name.");
        }
        name = Some(
            ask("Enter a name for your project (letters, digits, underscore)")?.ok_or_else(|| {
                Diagnostic::new("`init` needs a project name")
                    .help("pass it as `mallard init NAME` (letters, digits and _, not starting with a digit)")
            })?,
        );
    }
    let name = name.unwrap_or_default();
    let dir = project_dir.join(&name);
    if dir.exists() {
        log::info(
            "ProjectNameAlreadyExists",
            &format!("A project called {name} already exists here."),
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(profile) = &args.project.profile {
        if !starter::profile_names(&profiles)?.contains(profile) {
            return Err(
                Diagnostic::new(format!("could not find a profile named `{profile}`"))
                    .help(format!(
                        "define it in {}, or leave out --profile to write one",
                        profiles.display()
                    ))
                    .into(),
            );
        }
    }
    let profile = args.project.profile.clone().unwrap_or_else(|| name.clone());
    starter::create_project(&dir, &name, &profile)?;
    let shown = match &args.project.project_dir {
        Some(_) => dir.display().to_string(),
        None => name.clone(),
    };
    log::info(
        "ProjectCreated",
        &format!(
            "\nYour new project \"{name}\" was created!\n\nBuild it with `cd {shown} && mallard build`.\n"
        ),
    );
    if args.project.profile.is_none() && !args.skip_profile_setup {
        setup_profile(&profiles, &profile)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Where `init` writes profiles.yml, as dbt: `--profiles-dir`, `DBT_PROFILES_DIR`, the current
/// folder if it holds a profiles.yml, else `~/.dbt`.
fn profiles_dir(explicit: Option<PathBuf>) -> PathBuf {
    explicit
        .or_else(|| std::env::var_os("DBT_PROFILES_DIR").map(PathBuf::from))
        .or_else(|| {
            std::path::Path::new("profiles.yml")
                .is_file()
                .then(|| PathBuf::from("."))
        })
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default()
                .join(".dbt")
        })
}

/// Writes the DuckDB profile `name` into `profiles` after asking which database to use (only
/// DuckDB) and, if the profile exists, whether to overwrite it (no: left as it is).
fn setup_profile(profiles: &std::path::Path, name: &str) -> Result<()> {
    log::info("SettingUpProfile", "Setting up your profile.");
    if starter::profile_names(profiles)?.iter().any(|n| n == name) {
        let answer = ask(&format!(
            "The profile {name} already exists in {}. Continue and overwrite it? [y/N]",
            profiles.display()
        ))?;
        if !answer.is_some_and(|a| matches!(a.to_ascii_lowercase().as_str(), "y" | "yes")) {
            return Ok(());
        }
    }
    loop {
        let answer = ask(
            "Which database would you like to use?\n[1] duckdb\n\n(Mallard runs on DuckDB.)\n\nEnter a number",
        )?
        .ok_or_else(|| {
            Diagnostic::new("`init` needs to know which database to use")
                .help("answer 1 (duckdb), or pass --skip-profile-setup and write profiles.yml yourself")
        })?;
        if answer == "1" {
            break;
        }
        println!("Error: {answer} is not a choice; enter 1.");
    }
    starter::write_duckdb_profile(profiles, name)?;
    log::info(
        "ProfileWrittenWithSample",
        &format!(
            "Profile {name} written to {} using target's sample configuration. Once updated, you'll be able to start developing with Mallard.",
            profiles.display()
        ),
    );
    Ok(())
}

/// Prints `question` and reads one answer line from stdin, trimmed; `None` at the end of
/// input. An empty answer asks again.
fn ask(question: &str) -> Result<Option<String>> {
    let stdin = std::io::stdin();
    loop {
        print!("{question}: ");
        std::io::stdout().flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            println!();
            return Ok(None);
        }
        let answer = line.trim();
        if !answer.is_empty() {
            return Ok(Some(answer.to_string()));
        }
    }
}
