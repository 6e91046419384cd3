//! What `packages.yml` (or `dependencies.yml`) and `package-lock.yml` say, read and written as
//! dbt 1.11 reads and writes them.
//!
//! A package is `local:` (a folder), `git:` (a repository `git` can clone, at a `revision`,
//! optionally a `subdirectory`), `tarball:` (an http(s) URL of a `.tar.gz`, with a `name`) or a
//! hub package (`package: org/name` with `version:` requirements). `package-lock.yml` lists the
//! pinned packages (hub versions, git commit SHAs) with their project names, and the
//! `sha1_hash` of the specs it was resolved from, so that `deps` knows when they changed.

use crate::error::{did_you_mean, Diagnostic};
use crate::project::yaml;
use anyhow::Result;
use serde_json::{Map, Value};
use sha1::{Digest, Sha1};

/// Where a package comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A folder, relative to the root project.
    Local { path: String },
    /// A git repository at a revision (tag, branch or commit; `None` is the default branch).
    Git {
        url: String,
        /// `git:` as written, before rendering: what the lock file keeps, as dbt's does, so
        /// that a secret in the URL (`{{ env_var('DBT_ENV_SECRET_GIT_TOKEN') }}`) is not
        /// written there.
        unrendered: String,
        revision: Option<String>,
        subdirectory: Option<String>,
        warn_unpinned: bool,
    },
    /// A `.tar.gz` at an http(s) URL.
    Tarball { url: String },
    /// A dbt hub package (`org/name`) with its version requirements as written.
    Hub {
        package: String,
        versions: Vec<String>,
        install_prerelease: bool,
    },
}

/// One entry of `packages.yml` or `package-lock.yml`.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageSpec {
    pub source: Source,
    /// `name:` when given (required for tarballs; the lock file gives it for every package).
    pub name: Option<String>,
    /// The entry as dbt hashes it (rendered fields plus `unrendered`), for `sha1_hash`.
    hashed: Value,
}

impl PackageSpec {
    /// How the resolver keys this package: the hub name, the path, or the URL.
    pub fn key(&self) -> String {
        match &self.source {
            Source::Local { path } => path.clone(),
            Source::Git {
                url, subdirectory, ..
            } => match subdirectory {
                Some(sub) => format!("{}/{sub}", url.trim_end_matches(".git")),
                None => url.trim_end_matches(".git").to_string(),
            },
            Source::Tarball { url } => url.clone(),
            Source::Hub { package, .. } => package.clone(),
        }
    }

    /// The name dbt prints while installing it (`dbt-labs/dbt_utils`, `../`, the URL).
    pub fn display(&self) -> String {
        match &self.source {
            Source::Git {
                url, subdirectory, ..
            } => match subdirectory {
                Some(sub) => format!("{url}/{sub}"),
                None => url.clone(),
            },
            Source::Tarball { .. } => self.name.clone().unwrap_or_else(|| self.key()),
            _ => self.key(),
        }
    }
}

const LOCAL_KEYS: &[&str] = &["local", "name"];
const GIT_KEYS: &[&str] = &["git", "revision", "warn-unpinned", "subdirectory", "name"];
const TARBALL_KEYS: &[&str] = &["tarball", "name"];
const HUB_KEYS: &[&str] = &[
    "package",
    "version",
    "install_prerelease",
    "install-prerelease",
    "name",
];

/// The dependency file of the project in `root`: `dependencies.yml` when it lists `packages:`,
/// else `packages.yml`; `None` when neither exists.
pub fn spec_file(root: &std::path::Path) -> Option<&'static str> {
    let lists_packages = |file: &str| {
        std::fs::read_to_string(root.join(file))
            .ok()
            .and_then(|text| crate::config::yaml::parse_mapping(file, &text).ok())
            .is_some_and(|doc| doc.contains_key("packages"))
    };
    if lists_packages("dependencies.yml") {
        Some("dependencies.yml")
    } else if root.join("packages.yml").is_file() {
        Some("packages.yml")
    } else {
        None
    }
}

/// A pinned git URL (as the lock file keeps it, see [`Source::Git`]) rendered for `git`:
/// `{{ env_var(...) }}` read, secret variables included.
///
/// Errors: a Jinja error or a missing variable, naming the lock file.
pub fn rendered_url(url: &str) -> Result<String> {
    if !url.contains("{{") && !url.contains("{%") {
        return Ok(url.to_string());
    }
    let env = crate::templating::secrets_config_environment(&crate::config::ConfigContext::default());
    env.render_str(url, ()).map_err(|e| {
        Diagnostic::new(format!(
            "a git URL of `package-lock.yml` cannot be rendered: {}",
            e.detail().unwrap_or(&e.to_string())
        ))
        .help("set the environment variables it reads, or run `mallard deps --upgrade`")
        .into()
    })
}

/// Reads the `packages:` list of `file` (text `text`), rendering `{{ env_var() }}` and
/// `{{ var() }}` as dbt does. An empty file or a missing `packages:` key is no packages.
///
/// Errors: YAML syntax, an entry that is not a mapping, an entry with no source key or two, an
/// unknown key (with a did-you-mean), a `private:` package, a hub package without `version:`,
/// a tarball without `name:`; each names the file and line.
pub fn parse_specs(file: &str, text: &str, ctx: &crate::config::ConfigContext) -> Result<Vec<PackageSpec>> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let raw = crate::config::yaml::parse_mapping(file, text)?;
    let rendered = yaml::render_config_values(file, text, raw.clone(), ctx)?;
    let (Some(raw_list), Some(list)) = (raw.get("packages"), rendered.get("packages")) else {
        return Ok(Vec::new());
    };
    let (Some(raw_list), Some(list)) = (raw_list.as_array(), list.as_array()) else {
        return Err(Diagnostic::new(format!("`packages` in `{file}` must be a list"))
            .at(crate::config::yaml::key_location(file, text, "packages"))
            .into());
    };
    raw_list
        .iter()
        .zip(list)
        .map(|(raw, entry)| parse_spec(file, text, raw, entry))
        .collect()
}

fn parse_spec(file: &str, text: &str, raw: &Value, entry: &Value) -> Result<PackageSpec> {
    let at = |key: &str| {
        raw.get(key)
            .and_then(Value::as_str)
            .and_then(|v| crate::config::yaml::value_location(file, text, v))
            .unwrap_or_else(|| crate::config::yaml::key_location(file, text, "packages"))
    };
    let Some(map) = entry.as_object() else {
        return Err(Diagnostic::new(format!("a package in `{file}` is not a mapping: {entry}"))
            .at(crate::config::yaml::key_location(file, text, "packages"))
            .help("write each package as `- package: org/name` with `version:`, or `- git:`, `- local:`, `- tarball:`")
            .into());
    };
    let (kind, allowed) = package_kind(file, map, &at)?;
    let id = str_of(map, kind).unwrap_or_default();
    if id.is_empty() {
        return Err(
            Diagnostic::new(format!("a `{kind}` package in `{file}` has no value"))
                .at(at(kind))
                .into(),
        );
    }
    check_package_keys(file, text, map, (kind, allowed), &id)?;
    let name = str_of(map, "name");
    let mut hashed = Map::new();
    hashed.insert(kind.to_string(), map[kind].clone());
    let source = match kind {
        "local" => Source::Local { path: id },
        "git" => {
            for k in ["revision", "warn-unpinned", "subdirectory"] {
                hashed.insert(k.to_string(), map.get(k).cloned().unwrap_or(Value::Null));
            }
            Source::Git {
                unrendered: raw.get("git").and_then(Value::as_str).unwrap_or(&id).to_string(),
                url: id,
                revision: map.get("revision").filter(|v| !v.is_null()).map(scalar_text),
                subdirectory: str_of(map, "subdirectory"),
                warn_unpinned: map.get("warn-unpinned") != Some(&Value::Bool(false)),
            }
        }
        "tarball" => {
            if name.is_none() {
                return Err(
                    Diagnostic::new(format!("tarball package `{id}` of `{file}` has no `name:`"))
                        .at(at("tarball"))
                        .help("add `name:` with the package's project name (its dbt_project.yml `name:`)")
                        .into(),
                );
            }
            Source::Tarball { url: id }
        }
        _ => hub_source(file, map, id, &mut hashed, &at)?,
    };
    if let Some(n) = &name {
        hashed.insert("name".into(), Value::String(n.clone()));
    }
    hashed.insert("unrendered".into(), raw.clone());
    Ok(PackageSpec {
        source,
        name,
        hashed: Value::Object(hashed),
    })
}

/// The package's kind (`local`, `git`, `tarball` or `package`, the hub) and the keys it may
/// have. Errors: a `private:` package (dbt Cloud's), none or several kinds.
fn package_kind(
    file: &str,
    map: &Map<String, Value>,
    at: &dyn Fn(&str) -> crate::error::Location,
) -> Result<(&'static str, &'static [&'static str])> {
    let kinds: Vec<&str> = ["local", "git", "tarball", "package", "private"]
        .into_iter()
        .filter(|k| map.contains_key(*k))
        .collect();
    Ok(match kinds.as_slice() {
        ["local"] => ("local", LOCAL_KEYS),
        ["git"] => ("git", GIT_KEYS),
        ["tarball"] => ("tarball", TARBALL_KEYS),
        ["package"] => ("package", HUB_KEYS),
        ["private"] => {
            return Err(Diagnostic::new(format!(
                "package `{}` of `{file}` is a `private:` package, which needs dbt Cloud's git provider integration",
                str_of(map, "private").unwrap_or_default()
            ))
            .at(at("private"))
            .help("write it as a `git:` package with the repository's URL")
            .into())
        }
        _ => {
            let first = map.keys().next().map(String::as_str).unwrap_or("");
            return Err(Diagnostic::new(format!(
                "a package in `{file}` must have exactly one of `package`, `git`, `local` or `tarball`; it has {}",
                if kinds.is_empty() { "none".to_string() } else { kinds.join(", ") }
            ))
            .at(at(first))
            .into());
        }
    })
}

/// Errors on a key that a package of `kind` does not take (with a did-you-mean).
fn check_package_keys(
    file: &str,
    text: &str,
    map: &Map<String, Value>,
    (kind, allowed): (&str, &[&str]),
    id: &str,
) -> Result<()> {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            let mut d = Diagnostic::new(format!("unknown key `{key}` in package `{id}` of `{file}`")).at(
                crate::config::yaml::value_location(file, text, &format!("{key}:"))
                    .unwrap_or_else(|| crate::config::yaml::key_location(file, text, "packages")),
            );
            d = match did_you_mean(key, allowed.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("a `{kind}` package takes {}", allowed.join(", "))),
            };
            return Err(d.into());
        }
    }
    Ok(())
}

/// A hub package's source: its `version` (one or a list of ranges) and `install_prerelease`,
/// both also `hashed`. Errors: no `version:`.
fn hub_source(
    file: &str,
    map: &Map<String, Value>,
    id: String,
    hashed: &mut Map<String, Value>,
    at: &dyn Fn(&str) -> crate::error::Location,
) -> Result<Source> {
    let Some(version) = map.get("version") else {
        return Err(
            Diagnostic::new(format!("hub package `{id}` of `{file}` has no `version:`"))
                .at(at("package"))
                .help("add e.g. `version: [\">=1.0.0\", \"<2.0.0\"]`")
                .into(),
        );
    };
    let versions = match version {
        Value::Array(items) => items.iter().map(scalar_text).collect(),
        v => vec![scalar_text(v)],
    };
    let prerelease = map
        .get("install_prerelease")
        .or_else(|| map.get("install-prerelease"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    hashed.insert("version".into(), version.clone());
    hashed.insert("install_prerelease".into(), Value::Bool(prerelease));
    Ok(Source::Hub {
        package: id,
        versions,
        install_prerelease: prerelease,
    })
}

fn str_of(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).filter(|v| !v.is_null()).map(scalar_text)
}

/// A YAML scalar as text (`1.0` stays `1.0`, as Python's `str()` of the float).
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => python_json(other),
    }
}

/// dbt's `sha1_hash` of a package list: the SHA-1 of each spec as `json.dumps(..., sort_keys=True)`,
/// sorted, joined by newlines. Empty input hashes the empty string.
pub fn specs_hash(specs: &[PackageSpec]) -> String {
    let mut lines: Vec<String> = specs.iter().map(|s| python_json(&s.hashed)).collect();
    lines.sort();
    let digest = Sha1::digest(lines.join("\n").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `json.dumps(value, sort_keys=True)` as Python writes it.
fn python_json(value: &Value) -> String {
    crate::templating::builtins::python_json(value, true)
}

/// A package pinned by resolution: one entry of `package-lock.yml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pinned {
    /// The package's project name, the folder it installs into. Lock files of dbt before 1.8
    /// have no names; [`read_lock`] leaves those empty, to be read from the package.
    pub name: String,
    pub source: PinnedSource,
}

/// What a [`Pinned`] package installs exactly.
#[derive(Debug, Clone, PartialEq)]
pub enum PinnedSource {
    Local {
        path: String,
    },
    Git {
        url: String,
        revision: String,
        subdirectory: Option<String>,
    },
    Tarball {
        url: String,
    },
    Hub {
        package: String,
        version: String,
    },
}

/// `package-lock.yml` as dbt writes it: the pinned packages (keys sorted, lists indented) and
/// the `sha1_hash` of the specs.
pub fn write_lock(pinned: &[Pinned], hash: &str) -> String {
    let mut out = String::from("packages:\n");
    for p in pinned {
        let mut fields: Vec<(&str, String)> = vec![("name", p.name.clone())];
        match &p.source {
            PinnedSource::Local { path } => fields.push(("local", path.clone())),
            PinnedSource::Git {
                url,
                revision,
                subdirectory,
            } => {
                fields.push(("git", url.clone()));
                fields.push(("revision", revision.clone()));
                if let Some(s) = subdirectory {
                    fields.push(("subdirectory", s.clone()));
                }
            }
            PinnedSource::Tarball { url } => fields.push(("tarball", url.clone())),
            PinnedSource::Hub { package, version } => {
                fields.push(("package", package.clone()));
                fields.push(("version", version.clone()));
            }
        }
        fields.sort();
        for (i, (k, v)) in fields.iter().enumerate() {
            let lead = if i == 0 { "  - " } else { "    " };
            out.push_str(&format!("{lead}{k}: {}\n", yaml_scalar(v)));
        }
    }
    out.push_str(&format!("sha1_hash: {hash}\n"));
    out
}

/// A string as PyYAML's `dump` writes it: plain when it reads back as the same string,
/// else in single quotes.
pub fn yaml_scalar(s: &str) -> String {
    const YAML11_WORDS: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"];
    let plain = !s.is_empty()
        && s.trim() == s
        && !s.starts_with([
            '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`',
        ])
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && !s.contains('\n')
        && !YAML11_WORDS.contains(&s.to_ascii_lowercase().as_str())
        && s.parse::<f64>().is_err()
        && matches!(serde_yaml::from_str::<serde_yaml::Value>(s), Ok(serde_yaml::Value::String(ref t)) if t == s);
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

/// Reads `package-lock.yml`: its pinned packages and its `sha1_hash` (empty when absent).
///
/// Errors: YAML syntax, or an entry without a source key (the file was edited by
/// hand: delete it and run `mallard deps` again).
pub fn read_lock(text: &str) -> Result<(Vec<Pinned>, String)> {
    let file = "package-lock.yml";
    let doc = crate::config::yaml::parse_mapping(file, text)?;
    let hash = doc
        .get("sha1_hash")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut pinned = Vec::new();
    for entry in doc
        .get("packages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let get = |k: &str| entry.get(k).filter(|v| !v.is_null()).map(scalar_text);
        let bad = || {
            Diagnostic::new(format!("`{file}` has an entry Mallard cannot read: {entry}"))
                .help("delete package-lock.yml and run `mallard deps` to resolve the packages again")
        };
        let source = if let Some(path) = get("local") {
            PinnedSource::Local { path }
        } else if let Some(url) = get("git") {
            PinnedSource::Git {
                url,
                revision: get("revision").ok_or_else(bad)?,
                subdirectory: get("subdirectory"),
            }
        } else if let Some(url) = get("tarball") {
            PinnedSource::Tarball { url }
        } else if let Some(package) = get("package") {
            PinnedSource::Hub {
                package,
                version: get("version").ok_or_else(bad)?,
            }
        } else {
            return Err(bad().into());
        };
        pinned.push(Pinned {
            name: get("name").unwrap_or_default(),
            source,
        });
    }
    Ok((pinned, hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigContext;

    fn specs(text: &str) -> Vec<PackageSpec> {
        parse_specs("packages.yml", text, &ConfigContext::default()).unwrap()
    }

    #[test]
    fn hash_is_dbts_sha1_hash() {
        // Hashes from dbt-core 1.11's lock files (the corpus's integration_tests).
        assert_eq!(
            specs_hash(&specs("packages:\n    - local: ../\n")),
            "de2deba3d66ce03d8c02949013650cc9b94f6030"
        );
        // From `dbt deps` (1.11.16) on a loopback hub: a hub package and a local one.
        assert_eq!(
            specs_hash(&specs(
                "packages:\n  - package: dbt-labs/dbt_utils\n    version: [\"1.0.0\"]\n  - local: ../localpkg\n"
            )),
            "f21374086398f7b062a0588323faca6799ca8bb0"
        );
        // Git (pinned, with subdirectory, and unpinned) and a tarball.
        assert_eq!(
            specs_hash(&specs(
                "packages:\n  - git: \"file:///tmp/gitpkg\"\n    revision: v1\n    subdirectory: sub\n  - git: /tmp/gitpkg\n  - tarball: http://127.0.0.1:8765/dbt_utils-1.0.0.tar.gz\n    name: utils_tar\n"
            )),
            "a74f04559d8e7c45f59c0f1116c094a6bdd5e00c"
        );
    }

    #[test]
    fn bad_specs_are_errors_naming_the_package() {
        let ctx = ConfigContext::default();
        let err = parse_specs(
            "packages.yml",
            "packages:\n  - package: a/b\n    versoin: 1.0.0\n",
            &ctx,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown key `versoin` in package `a/b`"), "{err}");
        let err = parse_specs("packages.yml", "packages:\n  - package: a/b\n", &ctx)
            .unwrap_err()
            .to_string();
        assert!(err.contains("has no `version:`"), "{err}");
        let err = parse_specs(
            "packages.yml",
            "packages:\n  - tarball: https://x/y.tar.gz\n",
            &ctx,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("has no `name:`"), "{err}");
    }

    #[test]
    fn lock_file_round_trips_in_dbts_layout() {
        let pinned = vec![
            Pinned {
                name: "dbt_utils".into(),
                source: PinnedSource::Hub {
                    package: "dbt-labs/dbt_utils".into(),
                    version: "1.0.0".into(),
                },
            },
            Pinned {
                name: "my_local".into(),
                source: PinnedSource::Local {
                    path: "../localpkg".into(),
                },
            },
        ];
        let text = write_lock(&pinned, "f21374086398f7b062a0588323faca6799ca8bb0");
        // Byte for byte what dbt 1.11.16 wrote for the same packages.
        assert_eq!(
            text,
            "packages:\n  - name: dbt_utils\n    package: dbt-labs/dbt_utils\n    version: 1.0.0\n  - local: ../localpkg\n    name: my_local\nsha1_hash: f21374086398f7b062a0588323faca6799ca8bb0\n"
        );
        assert_eq!(
            read_lock(&text).unwrap(),
            (pinned, "f21374086398f7b062a0588323faca6799ca8bb0".into())
        );
        assert_eq!(yaml_scalar("1.0"), "'1.0'");
        assert_eq!(yaml_scalar("yes"), "'yes'");
        assert_eq!(yaml_scalar("file:///tmp/x"), "file:///tmp/x");
    }
}
