//! What `mallard init` writes: a new project's files (the folders dbt's starter project has,
//! a `dbt_project.yml`, two example models with tests) and a DuckDB profile in `profiles.yml`
//! (the one dbt-duckdb's `init` writes: `dev` and `prod` targets, each a database file).

use std::path::Path;

use anyhow::{Context, Result};

/// Whether `name` can name a project, as dbt's `Identifier`: letters, digits and `_`, not
/// starting with a digit (ASCII or not, as Python's `\w`), and not `dbt` (its own package).
pub fn is_valid_project_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_alphabetic() || first == '_') && chars.all(|c| c.is_alphanumeric() || c == '_') && name != "dbt"
}

/// The new project's files, relative to its folder; `{name}` and `{profile}` are filled in.
const FILES: &[(&str, &str)] = &[
    (
        "dbt_project.yml",
        "name: '{name}'\nversion: '1.0.0'\n\n# The profiles.yml entry that says which database this project builds in.\n\
         profile: '{profile}'\n\nmodel-paths: [\"models\"]\nanalysis-paths: [\"analyses\"]\ntest-paths: [\"tests\"]\n\
         seed-paths: [\"seeds\"]\nmacro-paths: [\"macros\"]\nsnapshot-paths: [\"snapshots\"]\n\n\
         clean-targets:\n  - \"target\"\n  - \"dbt_packages\"\n\n\
         # Configs by folder; a model's own config() wins over these.\nmodels:\n  {name}:\n    example:\n      +materialized: view\n",
    ),
    (
        "models/example/first_model.sql",
        "-- A table built from a query; `config()` here wins over dbt_project.yml.\n\
         {{ config(materialized='table') }}\n\nselect 1 as id, 'first' as label\nunion all\nselect 2 as id, 'second' as label\n",
    ),
    (
        "models/example/second_model.sql",
        "-- `ref()` reads another model and orders the build after it.\n\
         select id, upper(label) as label\nfrom {{ ref('first_model') }}\nwhere id = 1\n",
    ),
    (
        "models/example/schema.yml",
        "version: 2\n\nmodels:\n  - name: first_model\n    description: Two example rows.\n    columns:\n      \
         - name: id\n        description: The row's key.\n        data_tests: [unique, not_null]\n  \
         - name: second_model\n    description: The first row, its label in capitals.\n    columns:\n      \
         - name: id\n        data_tests: [unique, not_null]\n",
    ),
    (
        "README.md",
        "# {name}\n\nA dbt project. Build it with `mallard build` (or `dbt build`); the database is the \
         profile `{profile}` in profiles.yml.\n",
    ),
    (".gitignore", "target/\ndbt_packages/\nlogs/\n"),
    ("analyses/.gitkeep", ""),
    ("macros/.gitkeep", ""),
    ("seeds/.gitkeep", ""),
    ("snapshots/.gitkeep", ""),
    ("tests/.gitkeep", ""),
];

/// Writes a new project `name` using profile `profile` into the folder `dir`, which must not
/// exist: the files are written into a temporary folder beside it and renamed into place, so
/// a failure leaves no half-made project.
///
/// Errors: `dir` exists; a file or the folder cannot be written.
pub fn create_project(dir: &Path, name: &str, profile: &str) -> Result<()> {
    anyhow::ensure!(!dir.exists(), "`{}` already exists", dir.display());
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let staging = parent.join(format!(".{name}.mallard-init-{}", std::process::id()));
    let written = (|| -> Result<()> {
        for (path, text) in FILES {
            let file = staging.join(path);
            if let Some(folder) = file.parent() {
                std::fs::create_dir_all(folder)
                    .with_context(|| format!("cannot create `{}`", folder.display()))?;
            }
            let text = text.replace("{name}", name).replace("{profile}", profile);
            std::fs::write(&file, text).with_context(|| format!("cannot write `{}`", file.display()))?;
        }
        std::fs::rename(&staging, dir)
            .with_context(|| format!("cannot move the new project to `{}`", dir.display()))
    })();
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    written
}

/// The DuckDB profile `init` writes for `name`, as dbt-duckdb's sample: targets `dev`
/// (`dev.duckdb`, 1 thread, the default) and `prod` (`prod.duckdb`, 4 threads).
pub fn duckdb_profile(name: &str) -> String {
    format!(
        "{name}:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: dev.duckdb\n      threads: 1\n\n    \
         prod:\n      type: duckdb\n      path: prod.duckdb\n      threads: 4\n"
    )
}

/// The profile names in `profiles.yml` at `path`; empty when the file does not exist.
///
/// Errors: the file exists but is not a YAML mapping.
pub fn profile_names(path: &Path) -> Result<Vec<String>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(Vec::new());
    };
    let doc = crate::config::yaml::parse_mapping(&path.display().to_string(), &text)?;
    Ok(doc.keys().filter(|k| *k != "config").cloned().collect())
}

/// Writes [`duckdb_profile`] for `name` into `profiles.yml` at `path`: a new file, or appended
/// to an existing one (its comments kept), or in place of an existing profile `name` (the
/// file then written again from its YAML, without comments, as dbt does). The file is
/// replaced in one rename.
///
/// Errors: the file cannot be read, parsed (when replacing) or written.
pub fn write_duckdb_profile(path: &Path, name: &str) -> Result<()> {
    let existing = std::fs::read_to_string(path).ok();
    let text = match existing {
        None => duckdb_profile(name),
        Some(text) if !profile_names(path)?.iter().any(|n| n == name) => {
            format!("{text}\n{}", duckdb_profile(name))
        }
        Some(text) => {
            let mut doc: serde_yaml::Mapping = serde_yaml::from_str(&text)
                .with_context(|| format!("`{}` is not a YAML mapping", path.display()))?;
            let profile: serde_yaml::Mapping = serde_yaml::from_str(&duckdb_profile(name))?;
            doc.extend(profile);
            serde_yaml::to_string(&doc)?
        }
    };
    crate::config::yaml::write_file(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_are_identifiers() {
        for good in ["shop", "_x", "my_proj2", "ventes_été"] {
            assert!(is_valid_project_name(good), "{good}");
        }
        for bad in ["", "2x", "bad-name", "has space", "dbt"] {
            assert!(!is_valid_project_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_profile_is_appended_or_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles.yml");
        write_duckdb_profile(&path, "one").unwrap();
        std::fs::write(
            &path,
            format!("# kept\n{}", std::fs::read_to_string(&path).unwrap()),
        )
        .unwrap();
        write_duckdb_profile(&path, "two").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# kept\none:"), "{text}");
        assert_eq!(profile_names(&path).unwrap(), ["one", "two"]);
        write_duckdb_profile(&path, "one").unwrap();
        assert_eq!(profile_names(&path).unwrap(), ["one", "two"]);
    }
}
