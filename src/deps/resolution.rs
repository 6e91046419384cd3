//! Resolving package specs to pinned packages: hub versions in range, git revisions, local
//! and tarball packages, their own dependencies in turn, and what each requires of dbt.

use super::*;

/// One package as resolution sees it: every requirement on it so far.
pub(super) struct Unpinned {
    first: PackageSpec,
    requirements: Vec<version::Requirement>,
    revisions: Vec<(String, String)>,
    warn_unpinned: bool,
}

/// A package's project name and the packages it asks for itself.
pub(super) struct Metadata {
    name: String,
    specs: Vec<PackageSpec>,
}

/// Resolves `specs` (from the root's `file`) and everything they pull in, in dbt's order: the
/// root's packages first, then each round of their dependencies.
pub(super) fn resolve(
    project: &Root,
    file: &str,
    specs: Vec<PackageSpec>,
    dl: &mut Downloads,
) -> Result<Vec<Pinned>> {
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
pub(super) fn incorporate(
    listing: &mut Vec<(String, Unpinned)>,
    spec: PackageSpec,
    required_by: &str,
) -> Result<bool> {
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
pub(super) fn pin(project: &Root, pkg: &Unpinned, dl: &mut Downloads) -> Result<(Pinned, Metadata)> {
    match &pkg.first.source {
        Source::Local { path } => {
            let dir = project.root.join(path);
            let meta = read_metadata(&dir).map_err(|e| anyhow!("local package `{path}`: {e}"))?;
            let source = PinnedSource::Local { path: path.clone() };
            Ok((pinned(&meta, source), meta))
        }
        Source::Git {
            url,
            unrendered,
            subdirectory,
            ..
        } => {
            let revision = match pkg.revisions.as_slice() {
                [] => None,
                [(r, _)] => Some(r.as_str()),
                [(a, by_a), (b, by_b), ..] => bail!(
                    "git package `{url}` is asked for at two revisions: `{a}` (by {by_a}) and `{b}` (by {by_b}); ask for one"
                ),
            };
            if pkg.warn_unpinned && revision.is_none_or(|r| ["HEAD", "main", "master"].contains(&r)) {
                let warning = format!(
                    "Warning: the git package `{url}` is not pinned, using {} (the default branch). Pin a tag or commit with `revision:`, or set `warn-unpinned: false`.",
                    revision.unwrap_or("HEAD")
                );
                eprintln!("{}", crate::log::scrub(&warning));
            }
            let (dir, sha) = dl.git(url, revision, subdirectory.as_deref())?;
            let meta = read_metadata(&dir).map_err(|e| anyhow!("git package `{url}`: {e}"))?;
            let source = PinnedSource::Git {
                url: unrendered.clone(),
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
pub(super) fn project_name(project: &Root, p: &Pinned, dl: &mut Downloads) -> Result<String> {
    Ok(match &p.source {
        PinnedSource::Local { path } => read_metadata(&project.root.join(path))?.name,
        PinnedSource::Git {
            url,
            revision,
            subdirectory,
        } => {
            read_metadata(
                &dl.git(&spec::rendered_url(url)?, Some(revision), subdirectory.as_deref())?
                    .0,
            )?
            .name
        }
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

pub(super) fn pinned(meta: &Metadata, source: PinnedSource) -> Pinned {
    Pinned {
        name: meta.name.clone(),
        source,
    }
}

/// Whether a hub version's `require_dbt_version` admits dbt `dbt`; none means any.
pub(super) fn dbt_compatible(info: &Value, dbt: &semver::Version) -> bool {
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
pub(super) fn read_metadata(dir: &Path) -> Result<Metadata> {
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
