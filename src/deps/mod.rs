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

pub mod fetch;
pub mod spec;
pub mod version;

use crate::config::ConfigContext;
use crate::error::Diagnostic;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use spec::{PackageSpec, Pinned, PinnedSource, Source};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The dbt-core version whose `require-dbt-version` Mallard satisfies when it picks hub versions.
pub const DBT_VERSION: &str = "1.11.0";

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
        write_atomically(&lock_path, &lock_text)?;
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

/// One package as resolution sees it: every requirement on it so far.
struct Unpinned {
    first: PackageSpec,
    requirements: Vec<version::Requirement>,
    revisions: Vec<(String, String)>,
    warn_unpinned: bool,
}

/// A package's project name and the packages it asks for itself.
struct Metadata {
    name: String,
    specs: Vec<PackageSpec>,
}

/// Resolves `specs` (from the root's `file`) and everything they pull in, in dbt's order: the
/// root's packages first, then each round of their dependencies.
fn resolve(project: &Root, file: &str, specs: Vec<PackageSpec>, dl: &mut Downloads) -> Result<Vec<Pinned>> {
    let mut listing: Vec<(String, Unpinned)> = Vec::new();
    let mut pending: Vec<(PackageSpec, String)> = specs.into_iter().map(|s| (s, file.to_string())).collect();
    let mut pinned: HashMap<String, Pinned> = HashMap::new();
    while !pending.is_empty() {
        let mut next = Vec::new();
        for (spec, required_by) in pending {
            let key = spec.key();
            if !incorporate(&mut listing, spec, &required_by)? {
                continue;
            }
            let unpinned = &listing
                .iter()
                .find(|(k, _)| *k == key)
                .expect("just incorporated")
                .1;
            let (pin, meta) = pin(project, unpinned, dl)?;
            for s in meta.specs {
                next.push((s, format!("package `{}`", meta.name)));
            }
            pinned.insert(key, pin);
        }
        pending = next;
    }
    let mut out: Vec<Pinned> = Vec::new();
    for (key, _) in &listing {
        let p = pinned.remove(key).expect("every listed package is pinned");
        if p.name == project.name {
            bail!(
                "package `{key}` is the project `{}` itself; remove it from the packages",
                p.name
            );
        }
        if out.iter().any(|o| o.name == p.name) {
            bail!("two packages install as `{}`; keep one of them", p.name);
        }
        out.push(p);
    }
    Ok(out)
}

/// Adds a requirement to the listing; returns whether it added anything new (a new package,
/// version requirement or revision), so that dependency cycles end.
fn incorporate(listing: &mut Vec<(String, Unpinned)>, spec: PackageSpec, required_by: &str) -> Result<bool> {
    let key = spec.key();
    let requirement = |text: &str| version::Requirement {
        text: text.to_string(),
        required_by: required_by.to_string(),
    };
    let Some((_, existing)) = listing.iter_mut().find(|(k, _)| *k == key) else {
        let (requirements, revisions, warn_unpinned) = match &spec.source {
            Source::Hub { versions, .. } => (
                versions.iter().map(|v| requirement(v)).collect(),
                Vec::new(),
                false,
            ),
            Source::Git {
                revision,
                warn_unpinned,
                ..
            } => (
                Vec::new(),
                revision
                    .iter()
                    .map(|r| (r.clone(), required_by.to_string()))
                    .collect(),
                *warn_unpinned,
            ),
            _ => (Vec::new(), Vec::new(), false),
        };
        listing.push((
            key,
            Unpinned {
                first: spec,
                requirements,
                revisions,
                warn_unpinned,
            },
        ));
        return Ok(true);
    };
    if std::mem::discriminant(&existing.first.source) != std::mem::discriminant(&spec.source) {
        bail!("package `{key}` is asked for from two kinds of source (by {required_by} and before); use one");
    }
    let mut changed = false;
    match &spec.source {
        Source::Hub { versions, .. } => {
            for v in versions {
                if !existing.requirements.iter().any(|r| r.text == *v) {
                    existing.requirements.push(requirement(v));
                    changed = true;
                }
            }
        }
        Source::Git {
            revision,
            warn_unpinned,
            ..
        } => {
            existing.warn_unpinned &= *warn_unpinned;
            if let Some(r) = revision {
                if !existing.revisions.iter().any(|(have, _)| have == r) {
                    existing.revisions.push((r.clone(), required_by.to_string()));
                    changed = true;
                }
            }
        }
        _ => {}
    }
    Ok(changed)
}

/// Pins one package (a hub version, a git SHA) and reads what it depends on.
fn pin(project: &Root, pkg: &Unpinned, dl: &mut Downloads) -> Result<(Pinned, Metadata)> {
    match &pkg.first.source {
        Source::Local { path } => {
            let dir = project.root.join(path);
            let meta = read_metadata(&dir).map_err(|e| anyhow!("local package `{path}`: {e}"))?;
            let source = PinnedSource::Local { path: path.clone() };
            Ok((pinned(&meta, source), meta))
        }
        Source::Git {
            url, subdirectory, ..
        } => {
            let revision = match pkg.revisions.as_slice() {
                [] => None,
                [(r, _)] => Some(r.as_str()),
                [(a, by_a), (b, by_b), ..] => bail!(
                    "git package `{url}` is asked for at two revisions: `{a}` (by {by_a}) and `{b}` (by {by_b}); ask for one"
                ),
            };
            if pkg.warn_unpinned && revision.is_none_or(|r| ["HEAD", "main", "master"].contains(&r)) {
                eprintln!(
                    "Warning: the git package `{url}` is not pinned, using {} (the default branch). Pin a tag or commit with `revision:`, or set `warn-unpinned: false`.",
                    revision.unwrap_or("HEAD")
                );
            }
            let (dir, sha) = dl.git(url, revision, subdirectory.as_deref())?;
            let meta = read_metadata(&dir).map_err(|e| anyhow!("git package `{url}`: {e}"))?;
            let source = PinnedSource::Git {
                url: url.clone(),
                revision: sha,
                subdirectory: subdirectory.clone(),
            };
            Ok((pinned(&meta, source), meta))
        }
        Source::Tarball { url } => {
            let name = pkg.first.name.clone().unwrap_or_default();
            let dir = dl.tarball(url, &name)?;
            let mut meta =
                read_metadata(&dir).map_err(|e| anyhow!("tarball package `{name}` ({url}): {e}"))?;
            meta.name = name;
            let source = PinnedSource::Tarball { url: url.clone() };
            Ok((pinned(&meta, source), meta))
        }
        Source::Hub {
            package,
            install_prerelease,
            ..
        } => {
            let dbt = version::parse_version(DBT_VERSION)?;
            let versions = dl.http().hub_versions(package)?.clone();
            let compatible: Vec<String> = versions
                .iter()
                .filter(|(_, info)| dbt_compatible(info, &dbt))
                .map(|(v, _)| v.clone())
                .collect();
            let (chosen, _) = version::resolve(package, &pkg.requirements, &compatible, *install_prerelease)?;
            let info = &versions[&chosen];
            let name = info
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("the package hub's entry for `{package}` {chosen} has no `name`"))?
                .to_string();
            let deps = serde_json::json!({ "packages": info.get("packages").cloned().unwrap_or(Value::Array(vec![])) });
            let file = format!("the hub's `{package}` {chosen}");
            let text = serde_yaml::to_string(&deps)?;
            let specs = spec::parse_specs(&file, &text, &ConfigContext::default())?;
            let meta = Metadata { name, specs };
            let source = PinnedSource::Hub {
                package: package.clone(),
                version: chosen,
            };
            Ok((pinned(&meta, source), meta))
        }
    }
}

/// The project name of a pinned package whose lock entry has none (dbt 1.7's lock files).
fn project_name(project: &Root, p: &Pinned, dl: &mut Downloads) -> Result<String> {
    Ok(match &p.source {
        PinnedSource::Local { path } => read_metadata(&project.root.join(path))?.name,
        PinnedSource::Git {
            url,
            revision,
            subdirectory,
        } => read_metadata(&dl.git(url, Some(revision), subdirectory.as_deref())?.0)?.name,
        PinnedSource::Tarball { url } => read_metadata(&dl.tarball(url, url)?)?.name,
        PinnedSource::Hub { package, version } => dl
            .http()
            .hub_versions(package)?
            .get(version)
            .and_then(|v| v.get("name"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                anyhow!(
                    "package-lock.yml pins `{package}` at {version}, which the package hub does not offer"
                )
            })?
            .to_string(),
    })
}

fn pinned(meta: &Metadata, source: PinnedSource) -> Pinned {
    Pinned {
        name: meta.name.clone(),
        source,
    }
}

/// Whether a hub version's `require_dbt_version` admits dbt `dbt`; none means any.
fn dbt_compatible(info: &Value, dbt: &semver::Version) -> bool {
    let reqs: Vec<String> = match info.get("require_dbt_version") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => return true,
    };
    reqs.iter().all(|r| {
        version::Range::parse(r)
            .map(|range| range.contains(dbt))
            .unwrap_or(true)
    })
}

/// The project name in `dir/dbt_project.yml` and the packages its own packages file lists
/// (rendered without vars, as dbt renders a package's).
fn read_metadata(dir: &Path) -> Result<Metadata> {
    let file = "dbt_project.yml";
    let text = std::fs::read_to_string(dir.join(file)).map_err(|_| {
        anyhow!(
            "no `dbt_project.yml` in `{}`; a package must be a dbt project",
            dir.display()
        )
    })?;
    let doc = crate::config::yaml::parse_mapping(file, &text)?;
    let name = doc
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("`{}` has no `name:`", dir.join(file).display()))?
        .to_string();
    let specs = match spec::spec_file(dir) {
        Some(f) => {
            let text = std::fs::read_to_string(dir.join(f))?;
            spec::parse_specs(f, &text, &ConfigContext::default())?
        }
        None => Vec::new(),
    };
    Ok(Metadata { name, specs })
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
                let (dir, _) = dl.git(url, Some(revision), subdirectory.as_deref())?;
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

/// Writes `path` through a temporary file renamed over it, so it is old or new, never half.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension(format!("yml.tmp-{}", std::process::id()));
    std::fs::write(&tmp, text).with_context(|| format!("cannot write `{}`", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(())
}

/// `--add-package name@version`: replaces any entry naming the same package (as dbt matches
/// them: `dbt-labs/dbt_utils` also removes a git `.../dbt-utils.git`) and appends the new one,
/// rewriting the packages file as dbt does (creating `packages.yml` when there is none).
///
/// Errors: no version for a hub or git package, an unreadable packages file.
fn add_package(root: &Path, add: &str, source: AddSource) -> Result<()> {
    let (name, version) = match add.split_once('@') {
        Some((n, v)) => (n.to_string(), Some(v.to_string())),
        None => (add.to_string(), None),
    };
    if version.is_none() && source != AddSource::Local {
        bail!("`--add-package {add}` needs a version (`name@version`) for a hub or git package");
    }
    let file = spec::spec_file(root).unwrap_or("packages.yml");
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut doc = if text.trim().is_empty() {
        serde_json::Map::new()
    } else {
        crate::config::yaml::parse_mapping(file, &text)?
    };
    let mut entries: Vec<Value> = doc
        .get("packages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let variants = name_variants(&name);
    entries.retain(|e| {
        let id = ["package", "git", "local", "tarball", "private"]
            .iter()
            .find_map(|k| e.get(*k).and_then(Value::as_str));
        let duplicate = id.is_some_and(|id| variants.iter().any(|v| names_package(id, v)));
        if duplicate {
            println!(
                "Removed {} from {file}: --add-package replaces it",
                id.unwrap_or_default()
            );
        }
        !duplicate
    });
    let (key, version_key) = match source {
        AddSource::Hub => ("package", "version"),
        AddSource::Git => ("git", "revision"),
        AddSource::Local => ("local", "version"),
    };
    let mut entry = serde_json::Map::new();
    entry.insert(key.into(), Value::String(name.clone()));
    if let Some(v) = &version {
        let v = if v.contains(',') {
            Value::Array(v.split(',').map(|s| Value::String(s.to_string())).collect())
        } else {
            Value::String(v.clone())
        };
        entry.insert(version_key.into(), v);
    }
    entries.push(Value::Object(entry));
    doc.insert("packages".into(), Value::Array(entries));
    write_atomically(&path, &dump_packages(&doc))?;
    println!(
        "Added new package {name}{} to {}",
        version.map(|v| format!("@{v}")).unwrap_or_default(),
        path.display()
    );
    Ok(())
}

/// The spellings dbt treats as the same package: `_` and `-` swapped, with or without the org.
fn name_variants(name: &str) -> Vec<String> {
    let mut out = vec![name.to_string(), name.replace('_', "-"), name.replace('-', "_")];
    if let Some(short) = name.rsplit('/').next().filter(|_| name.contains('/')) {
        out.extend([
            short.to_string(),
            short.replace('_', "-"),
            short.replace('-', "_"),
        ]);
    }
    out.sort();
    out.dedup();
    out
}

/// Whether `id` names `variant` between word boundaries (start, end, `/` or `.`).
fn names_package(id: &str, variant: &str) -> bool {
    let Some(at) = id.find(variant) else { return false };
    let end = at + variant.len();
    let start_ok = at == 0 || id[..at].ends_with(['/', '.']);
    let end_ok = end == id.len() || id[end..].starts_with(['/', '.']);
    start_ok && end_ok
}

/// A packages file in PyYAML's `dump` layout (sorted keys, indented lists), as dbt rewrites it.
fn dump_packages(doc: &serde_json::Map<String, Value>) -> String {
    fn scalar(v: &Value) -> String {
        match v {
            Value::String(s) => spec::yaml_scalar(s),
            other => other.to_string(),
        }
    }
    let mut out = String::new();
    let mut keys: Vec<&String> = doc.keys().collect();
    keys.sort();
    for key in keys {
        match &doc[key] {
            Value::Array(items) => {
                out.push_str(&format!("{key}:\n"));
                for item in items {
                    let Some(map) = item.as_object() else {
                        out.push_str(&format!("  - {}\n", scalar(item)));
                        continue;
                    };
                    let mut fields: Vec<&String> = map.keys().collect();
                    fields.sort();
                    for (i, f) in fields.into_iter().enumerate() {
                        let lead = if i == 0 { "  - " } else { "    " };
                        match &map[f] {
                            Value::Array(vs) => {
                                out.push_str(&format!("{lead}{f}:\n"));
                                for v in vs {
                                    out.push_str(&format!("      - {}\n", scalar(v)));
                                }
                            }
                            v => out.push_str(&format!("{lead}{f}: {}\n", scalar(v))),
                        }
                    }
                }
            }
            v => out.push_str(&format!("{key}: {}\n", scalar(v))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
