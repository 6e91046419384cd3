//! `mallard deps`: install the packages a project asks for, as `dbt deps` (dbt-core 1.7+) does.
//!
//! 1. Read `packages.yml` (or `dependencies.yml`); with `--add-package`, add the package first.
//! 2. If `package-lock.yml` is missing, was made from other specs (its `sha1_hash` differs), or
//!    `--upgrade` is given: resolve every package, transitive ones included (hub versions
//!    intersected across requirers, git revisions turned into commit SHAs), and write the lock.
//! 3. Install exactly what the lock says into a staging folder beside the packages install
//!    path, then swap it into place with one atomic rename, so that a failed or killed `deps`
//!    leaves the previous `dbt_packages/` whole. A lock identical to the one last installed,
//!    with every package folder present, installs nothing.

mod add;
pub mod fetch;
mod resolution;
pub mod spec;
pub mod version;

use crate::config::ConfigContext;
use crate::error::Diagnostic;
use add::add_package;
use anyhow::{anyhow, bail, Context, Result};
use resolution::{project_name, resolve};
use serde_json::Value;
use spec::{PackageSpec, Pinned, PinnedSource, Source};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use crate::config::DBT_VERSION;

/// The copy of the lock file a finished install leaves in the install folder, to tell a later
/// `deps` that nothing changed.
const INSTALLED_LOCK: &str = ".mallard-installed-lock.yml";

/// Where `--add-package` takes the package from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddSource {
    #[default]
    Hub,
    Git,
    Local,
}

/// What `mallard deps` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct DepsOptions {
    /// `--upgrade`: resolve again even when the lock matches the specs.
    pub upgrade: bool,
    /// `--lock`: write `package-lock.yml` and install nothing.
    pub lock_only: bool,
    /// `--add-package name@version`.
    pub add_package: Option<String>,
    pub source: AddSource,
    /// `--vars`, for `{{ var() }}` in the package specs.
    pub ctx: ConfigContext,
}

/// Runs `deps` for the project in `root`, printing progress as dbt does.
///
/// Errors (the previous `dbt_packages/` and `package-lock.yml` are left as they were): a bad
/// spec (unknown key, missing version or name), a hub, URL or repository that cannot be
/// reached or answers with something unusable, a revision or version that does not exist,
/// conflicting requirements, two packages with one project name.
pub fn deps(root: &Path, opts: &DepsOptions) -> Result<()> {
    let project = Root::read(root)?;
    if let Some(add) = &opts.add_package {
        add_package(&project.root, add, opts.source)?;
    }
    let Some(file) = spec::spec_file(&project.root) else {
        println!("No packages were found in packages.yml: nothing to install.");
        return Ok(());
    };
    let text = std::fs::read_to_string(project.root.join(file))?;
    let specs = spec::parse_specs(file, &text, &opts.ctx)?;
    if specs.is_empty() {
        println!("No packages were found in {file}: nothing to install.");
        return Ok(());
    }
    let lock_path = project.root.join("package-lock.yml");
    let hash = spec::specs_hash(&specs);
    remove_stale_staging(&project);
    let mut downloads = Downloads::new(&project)?;
    let previous = std::fs::read_to_string(&lock_path).ok();
    let stale = match &previous {
        None => true,
        Some(text) => opts.upgrade || spec::read_lock(text).map(|(_, h)| h != hash).unwrap_or(true),
    };
    // The lock is written once its packages are installed (or with `--lock`), so a failed
    // `deps` changes neither the lock nor the install.
    let lock_text = match (&previous, stale) {
        (Some(text), false) => text.clone(),
        _ => spec::write_lock(&resolve(&project, file, specs, &mut downloads)?, &hash),
    };
    if !opts.lock_only {
        let (mut pinned, _) = spec::read_lock(&lock_text)?;
        for p in pinned.iter_mut().filter(|p| p.name.is_empty()) {
            p.name = project_name(&project, p, &mut downloads)?;
        }
        install(&project, &pinned, &lock_text, &mut downloads)?;
    }
    if stale {
        crate::config::yaml::write_file(&lock_path, &lock_text)?;
        println!("Updated lock file in file path: {}", lock_path.display());
    }
    Ok(())
}

/// What `deps` needs of the root project: its folder, name and packages install path. Read
/// without rendering the rest of `dbt_project.yml`, which may need a profile (`target`) that
/// `deps` does not load, as in dbt.
struct Root {
    root: PathBuf,
    name: String,
    packages_install_path: String,
}

impl Root {
    fn read(dir: &Path) -> Result<Root> {
        let root = dir
            .canonicalize()
            .with_context(|| format!("project directory `{}` does not exist", dir.display()))?;
        let file = "dbt_project.yml";
        let text = std::fs::read_to_string(root.join(file)).map_err(|_| {
            Diagnostic::new(format!("no `dbt_project.yml` in `{}`", root.display()))
                .help("run mallard in a dbt project folder, or point at one with `--project-dir`")
        })?;
        let doc = crate::config::yaml::parse_mapping(file, &text)?;
        let get = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
        Ok(Root {
            name: get("name").unwrap_or_default(),
            packages_install_path: get("packages-install-path").unwrap_or_else(|| "dbt_packages".into()),
            root,
        })
    }
}

/// A scratch folder for clones and downloads of one `deps`, removed when dropped.
struct Downloads {
    dir: PathBuf,
    http: Option<fetch::Http>,
    /// Checkouts and extractions already made: source key to the package's folder.
    fetched: HashMap<String, (PathBuf, Option<String>)>,
}

impl Downloads {
    fn new(project: &Root) -> Result<Downloads> {
        let dir = staging_path(project, "downloads");
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        Ok(Downloads {
            dir,
            http: None,
            fetched: HashMap::new(),
        })
    }

    fn http(&mut self) -> &mut fetch::Http {
        self.http.get_or_insert_with(fetch::Http::default)
    }

    /// The folder of a git package at `revision`, and the commit SHA checked out.
    fn git(
        &mut self,
        url: &str,
        revision: Option<&str>,
        subdirectory: Option<&str>,
    ) -> Result<(PathBuf, String)> {
        let key = format!("git {url} {}", revision.unwrap_or("HEAD"));
        if let Some((dir, Some(sha))) = self.fetched.get(&key) {
            return Ok((dir.clone(), sha.clone()));
        }
        let dest = self.dir.join(format!("git-{}", self.fetched.len()));
        let sha = fetch::git_checkout(url, revision, &dest)?;
        let dir = match subdirectory {
            Some(sub) => dest.join(sub),
            None => dest,
        };
        if !dir.is_dir() {
            bail!(
                "package `{url}` has no subdirectory `{}`",
                subdirectory.unwrap_or_default()
            );
        }
        self.fetched.insert(key, (dir.clone(), Some(sha.clone())));
        Ok((dir, sha))
    }

    /// The folder of the package in the `.tar.gz` at `url`.
    fn tarball(&mut self, url: &str, package: &str) -> Result<PathBuf> {
        let key = format!("tarball {url}");
        if let Some((dir, _)) = self.fetched.get(&key) {
            return Ok(dir.clone());
        }
        let n = self.fetched.len();
        let archive = self.dir.join(format!("download-{n}.tar.gz"));
        self.http().download(url, &archive, package)?;
        let dir = fetch::untar(&archive, &self.dir.join(format!("untarred-{n}")), package, url)?;
        self.fetched.insert(key, (dir.clone(), None));
        Ok(dir)
    }
}

impl Drop for Downloads {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A sibling of the packages install path, on the same file system so that renames are atomic.
fn staging_path(project: &Root, what: &str) -> PathBuf {
    let install = project.root.join(&project.packages_install_path);
    let name = install
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "dbt_packages".into());
    install.with_file_name(format!(".{name}.mallard-{what}-{}", std::process::id()))
}

/// Removes the staging and download folders of earlier `deps` runs that were killed (their
/// process is gone), so they do not pile up beside the install path.
fn remove_stale_staging(project: &Root) {
    let install = project.root.join(&project.packages_install_path);
    let (Some(parent), Some(name)) = (install.parent(), install.file_name()) else {
        return;
    };
    let prefix = format!(".{}.mallard-", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().to_string();
        let Some(rest) = file.strip_prefix(&prefix) else {
            continue;
        };
        let pid = rest.rsplit('-').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Installs `pinned` into a staging folder and swaps it with the install path.
fn install(project: &Root, pinned: &[Pinned], lock_text: &str, dl: &mut Downloads) -> Result<()> {
    let target = project.root.join(&project.packages_install_path);
    let up_to_date = std::fs::read_to_string(target.join(INSTALLED_LOCK)).is_ok_and(|t| t == lock_text)
        && pinned
            .iter()
            .all(|p| target.join(&p.name).join("dbt_project.yml").is_file());
    if up_to_date {
        println!(
            "Packages are up to date: {} installed as package-lock.yml says; nothing to do.",
            pinned.len()
        );
        return Ok(());
    }
    let staging = Staging::new(staging_path(project, "staging"))?;
    for p in pinned {
        println!("Installing {}", display(p));
        let dest = staging.0.join(&p.name);
        if p.name.contains(['/', '\\']) || p.name.starts_with('.') {
            bail!(
                "package name `{}` would install outside `{}`",
                p.name,
                project.packages_install_path
            );
        }
        match &p.source {
            PinnedSource::Local { path } => {
                let src = project.root.join(path);
                let src = src.canonicalize().map_err(|_| {
                    anyhow!("local package `{path}` does not exist (relative to the project)")
                })?;
                std::os::unix::fs::symlink(&src, &dest)?;
                println!("Installed from <local @ {path}>");
            }
            PinnedSource::Git {
                url,
                revision,
                subdirectory,
            } => {
                let (dir, _) = dl.git(&spec::rendered_url(url)?, Some(revision), subdirectory.as_deref())?;
                copy_tree(&dir, &dest)?;
                println!("Installed from revision {revision}");
            }
            PinnedSource::Tarball { url } => {
                let dir = dl.tarball(url, &p.name)?;
                copy_tree(&dir, &dest)?;
                println!("Installed from tarball (url: {url})");
            }
            PinnedSource::Hub { package, version } => {
                let info = dl.http().hub_versions(package)?.get(version).cloned();
                let url = info
                    .as_ref()
                    .and_then(|i| i.pointer("/downloads/tarball"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        Diagnostic::new(format!(
                            "package-lock.yml pins `{package}` at {version}, which the package hub does not offer"
                        ))
                        .help("run `mallard deps --upgrade` to resolve the packages again")
                    })?
                    .to_string();
                let dir = dl.tarball(&url, package)?;
                copy_tree(&dir, &dest)?;
                println!("Installed from version {version}");
            }
        }
    }
    std::fs::write(staging.0.join(INSTALLED_LOCK), lock_text)?;
    staging.swap_into(&target)
}

fn display(p: &Pinned) -> String {
    match &p.source {
        PinnedSource::Local { path } => path.clone(),
        PinnedSource::Git {
            url, subdirectory, ..
        } => match subdirectory {
            Some(s) => format!("{url}/{s}"),
            None => url.clone(),
        },
        PinnedSource::Tarball { .. } => p.name.clone(),
        PinnedSource::Hub { package, .. } => package.clone(),
    }
}

/// A folder being filled; removed when dropped unless swapped into place.
struct Staging(PathBuf);

impl Staging {
    fn new(path: PathBuf) -> Result<Staging> {
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir_all(&path).with_context(|| format!("cannot create `{}`", path.display()))?;
        Ok(Staging(path))
    }

    /// Puts the staged folder at `target` in one step: an atomic exchange when `target`
    /// exists (the old folder is then removed), else a rename.
    fn swap_into(self, target: &Path) -> Result<()> {
        if target.exists() {
            rustix::fs::renameat_with(
                rustix::fs::CWD,
                &self.0,
                rustix::fs::CWD,
                target,
                rustix::fs::RenameFlags::EXCHANGE,
            )
            .with_context(|| format!("cannot replace `{}`", target.display()))?;
        } else {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::rename(&self.0, target)
                .with_context(|| format!("cannot create `{}`", target.display()))?;
        }
        // `self.0` now holds the previous install (or nothing); Drop removes it.
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copies the folder `from` to `to` (which must not exist), files and symlinks as they are.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry?;
        let rel = entry.path().strip_prefix(from)?;
        let dest = to.join(rel);
        let kind = entry.file_type();
        if kind.is_dir() {
            std::fs::create_dir_all(&dest)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::add::{name_variants, names_package};

    #[test]
    fn add_package_matches_dbts_duplicate_rule() {
        let v = name_variants("dbt-labs/dbt_utils");
        assert!(v
            .iter()
            .any(|n| names_package("https://github.com/dbt-labs/dbt-utils.git", n)));
        assert!(!v
            .iter()
            .any(|n| names_package("https://github.com/dbt-labs/dbt-utils-extra.git", n)));
        assert!(v.iter().any(|n| names_package("dbt-labs/dbt_utils", n)));
    }
}
