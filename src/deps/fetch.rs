//! Getting packages from where they live: dbt hub's JSON API and tarballs over HTTP (ureq),
//! git repositories through the system's `git`, `.tar.gz` archives (flate2 + tar).
//!
//! The hub is `https://hub.getdbt.com/` unless `DBT_PACKAGE_HUB_URL` names another (a company
//! mirror, or a test's loopback server), as in dbt. Its API: `api/v1/index.json` is the list of
//! `org/name` packages; `api/v1/<org>/<name>.json` has `versions`, each with the package's
//! project `name`, its own `packages` and `downloads.tarball`.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The hub's base URL: `DBT_PACKAGE_HUB_URL` (with a trailing `/` added) or dbt hub.
pub fn hub_base_url() -> String {
    let url = std::env::var("DBT_PACKAGE_HUB_URL").unwrap_or_else(|_| "https://hub.getdbt.com/".into());
    if url.ends_with('/') {
        url
    } else {
        format!("{url}/")
    }
}

/// An HTTP client with dbt's 30-second timeout that remembers hub answers for one `deps`.
pub struct Http {
    agent: ureq::Agent,
    hub: String,
    index: Option<Vec<String>>,
    packages: HashMap<String, Map<String, Value>>,
}

impl Default for Http {
    fn default() -> Http {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Http {
            agent,
            hub: hub_base_url(),
            index: None,
            packages: HashMap::new(),
        }
    }
}

impl Http {
    fn get_json(&self, url: &str, package: &str) -> Result<Value> {
        let mut response = self
            .agent
            .get(url)
            .call()
            .map_err(|e| anyhow!("cannot fetch `{url}` for package `{package}`: {e}"))?;
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| anyhow!("cannot read `{url}` for package `{package}`: {e}"))?;
        serde_json::from_str(&text).map_err(|e| {
            anyhow!(
                "the package hub's answer for package `{package}` at `{url}` is not JSON ({e}); check DBT_PACKAGE_HUB_URL or the mirror"
            )
        })
    }

    /// The versions the hub publishes for `package` (`org/name`): version string to its
    /// metadata (`name`, `packages`, `downloads.tarball`, `require_dbt_version`).
    ///
    /// Errors: the hub unreachable, not JSON, without the package, or missing `versions`.
    pub fn hub_versions(&mut self, package: &str) -> Result<&Map<String, Value>> {
        if self.index.is_none() {
            let url = format!("{}api/v1/index.json", self.hub);
            let index = self.get_json(&url, package)?;
            let Some(list) = index.as_array() else {
                bail!("the package hub's index at `{url}` is not a list of packages");
            };
            self.index = Some(
                list.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
            );
        }
        if !self
            .index
            .as_ref()
            .is_some_and(|i| i.iter().any(|p| p == package))
        {
            bail!(
                "package `{package}` is not on the package hub at `{}`; check its name (`org/name`, as on hub.getdbt.com)",
                self.hub
            );
        }
        if !self.packages.contains_key(package) {
            let url = format!("{}api/v1/{package}.json", self.hub);
            let answer = self.get_json(&url, package)?;
            let Some(versions) = answer.get("versions").and_then(Value::as_object) else {
                bail!("the package hub's answer for package `{package}` at `{url}` has no `versions`");
            };
            self.packages.insert(package.to_string(), versions.clone());
        }
        Ok(&self.packages[package])
    }

    /// Downloads `url` into the file `dest`.
    ///
    /// Errors: the URL unreachable or answering with an error status, a write failure.
    pub fn download(&self, url: &str, dest: &Path, package: &str) -> Result<()> {
        let response = self
            .agent
            .get(url)
            .call()
            .map_err(|e| anyhow!("cannot download `{url}` for package `{package}`: {e}"))?;
        let mut reader = response.into_body().into_reader();
        let mut file =
            std::fs::File::create(dest).with_context(|| format!("cannot write `{}`", dest.display()))?;
        std::io::copy(&mut reader, &mut file)
            .map_err(|e| anyhow!("cannot download `{url}` for package `{package}`: {e}"))?;
        Ok(())
    }
}

/// Extracts the `.tar.gz` at `archive` into `into` (which must not exist) and returns the
/// folder holding the package: the archive's single top folder (as GitHub's tarballs have
/// one), else `into` itself. Entries that would land outside `into` are refused by `tar`.
///
/// Errors: not gzip, not tar, or an unwritable destination, naming the package.
pub fn untar(archive: &Path, into: &Path, package: &str, url: &str) -> Result<PathBuf> {
    let file = std::fs::File::open(archive)?;
    let mut gz = flate2::read::GzDecoder::new(file);
    let mut probe = [0u8; 1];
    if let Err(e) = gz.read(&mut probe) {
        bail!("the download of package `{package}` from `{url}` is not a gzip-compressed tar archive ({e})");
    }
    let file = std::fs::File::open(archive)?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    std::fs::create_dir_all(into)?;
    tar.unpack(into).map_err(|e| {
        anyhow!("the download of package `{package}` from `{url}` is not a readable tar.gz archive: {e}")
    })?;
    // Archives may hold read-only folders; make them removable with the scratch folder.
    for entry in walkdir::WalkDir::new(into).into_iter().flatten() {
        if entry.file_type().is_dir() {
            let mut perms = entry.metadata()?.permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
            std::fs::set_permissions(entry.path(), perms)?;
        }
    }
    let entries: Vec<PathBuf> = std::fs::read_dir(into)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    Ok(match entries.as_slice() {
        [only] if only.is_dir() => only.clone(),
        _ => into.to_path_buf(),
    })
}

/// Clones `url` into `dest` and checks out `revision` (a tag, branch or commit; `None` is the
/// default branch), returning the commit SHA checked out.
///
/// Errors: a URL or revision that begins with `-` (git would read it as an option, such as
/// `--upload-pack=...`), refused before git runs; `git` missing, the repository not clonable,
/// the revision not in it; each names the package and what `git` said.
pub fn git_checkout(url: &str, revision: Option<&str>, dest: &Path) -> Result<String> {
    for (what, value) in [("git URL", Some(url)), ("revision", revision)] {
        if let Some(v) = value.filter(|v| v.trim_start().starts_with('-')) {
            bail!("the {what} `{v}` begins with `-`, which git would read as an option: write the repository's URL or a tag, branch or commit");
        }
    }
    let run = |args: &[&str], dir: Option<&Path>| -> Result<String> {
        let mut cmd = Command::new("git");
        cmd.args(args).env("GIT_TERMINAL_PROMPT", "0");
        if let Some(d) = dir {
            cmd.current_dir(d);
        }
        let out = cmd.output().map_err(|e| {
            anyhow!("cannot run `git` for package `{url}` ({e}); install git to use git packages")
        })?;
        if !out.status.success() {
            bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let target = dest.to_string_lossy().to_string();
    // `--` ends git's options: what follows is only ever the URL and the folder.
    run(&["clone", "--quiet", "--", url, &target], None)
        .map_err(|e| anyhow!("cannot clone package `{url}`: {e}"))?;
    if let Some(rev) = revision {
        // `<rev> --`: the revision, and no path after it.
        run(&["checkout", "--quiet", rev, "--"], Some(dest)).map_err(|_| {
            anyhow!("revision `{rev}` of package `{url}` is not a tag, branch or commit of that repository")
        })?;
    }
    run(&["rev-parse", "HEAD"], Some(dest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_or_revision_that_git_would_read_as_an_option_is_refused() {
        let dest = std::env::temp_dir().join("mallard-never-cloned");
        let url = git_checkout("--upload-pack=touch /tmp/pwned", None, &dest).unwrap_err();
        assert!(url.to_string().contains("begins with `-`"), "{url}");
        let rev = git_checkout("https://example.invalid/x.git", Some("--output=/tmp/x"), &dest).unwrap_err();
        assert!(rev.to_string().contains("revision `--output=/tmp/x`"), "{rev}");
        assert!(!dest.exists());
    }
}
