//! `mallard deps` against a package hub, git repositories and tarballs made by the test: a
//! loopback HTTP server (127.0.0.1, tiny_http) serving hub JSON and `.tar.gz` files, and git
//! repositories in temporary folders. No test reaches the internet.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One file the hub serves, and how long it waits before answering.
#[derive(Clone)]
struct Route {
    body: Vec<u8>,
    delay: Duration,
}

/// A package hub on 127.0.0.1: `api/v1/index.json`, `api/v1/<org>/<name>.json` and tarballs.
struct Hub {
    url: String,
    server: Arc<tiny_http::Server>,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    requests: Arc<Mutex<Vec<String>>>,
    /// Hub packages: `org/name` to version to (project name, tarball path, extra JSON).
    packages: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
}

impl Hub {
    fn start() -> Hub {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1"));
        let url = format!("http://{}/", server.server_addr());
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let (s, r, q) = (server.clone(), routes.clone(), requests.clone());
        std::thread::spawn(move || {
            for request in s.incoming_requests() {
                let path = request.url().trim_start_matches('/').to_string();
                q.lock().unwrap().push(path.clone());
                let route = r.lock().unwrap().get(&path).cloned();
                std::thread::spawn(move || match route {
                    Some(route) => {
                        std::thread::sleep(route.delay);
                        let _ = request.respond(tiny_http::Response::from_data(route.body));
                    }
                    None => {
                        let _ = request
                            .respond(tiny_http::Response::from_string("not found").with_status_code(404));
                    }
                });
            }
        });
        Hub {
            url,
            server,
            routes,
            requests,
            packages: BTreeMap::new(),
        }
    }

    fn serve(&self, path: &str, body: Vec<u8>) {
        self.routes.lock().unwrap().insert(
            path.to_string(),
            Route {
                body,
                delay: Duration::ZERO,
            },
        );
    }

    fn delay(&self, path: &str, delay: Duration) {
        self.routes
            .lock()
            .unwrap()
            .get_mut(path)
            .expect("served path")
            .delay = delay;
    }

    /// Publishes `package` (`org/name`) at `version`, whose tarball holds `dir` under one top
    /// folder as GitHub's do; `meta` is merged into the version's JSON (`packages`,
    /// `require_dbt_version`).
    fn publish(&mut self, package: &str, version: &str, dir: Option<&Path>, meta: serde_json::Value) {
        let short = package.rsplit('/').next().unwrap();
        let tar_path = format!("tarballs/{short}-{version}.tar.gz");
        let body = match dir {
            Some(dir) => tarball(dir, &format!("{}-{version}", short.replace('_', "-"))),
            None => b"this is not a tarball".to_vec(),
        };
        self.serve(&tar_path, body);
        let mut entry = serde_json::json!({
            "id": format!("{package}/{version}"),
            "name": short,
            "version": version,
            "packages": [],
            "downloads": {"tarball": format!("{}{tar_path}", self.url)},
        });
        for (k, v) in meta.as_object().unwrap() {
            entry[k] = v.clone();
        }
        self.packages
            .entry(package.to_string())
            .or_default()
            .insert(version.to_string(), entry);
        let index: Vec<&String> = self.packages.keys().collect();
        self.serve("api/v1/index.json", serde_json::to_vec(&index).unwrap());
        let (org, name) = package.split_once('/').unwrap();
        let doc = serde_json::json!({"name": name, "namespace": org, "versions": self.packages[package]});
        self.serve(
            &format!("api/v1/{package}.json"),
            serde_json::to_vec(&doc).unwrap(),
        );
    }

    fn requested(&self, path: &str) -> bool {
        self.requests.lock().unwrap().iter().any(|p| p == path)
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// A `.tar.gz` of `dir` under the top folder `top`, with writable modes.
fn tarball(dir: &Path, top: &str) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(true);
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(dir).unwrap();
        let name = Path::new(top).join(rel);
        let mut header = tar::Header::new_gnu();
        if entry.file_type().is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            tar.append_data(&mut header, &name, std::io::empty()).unwrap();
        } else {
            let data = std::fs::read(entry.path()).unwrap();
            header.set_mode(0o644);
            header.set_size(data.len() as u64);
            tar.append_data(&mut header, &name, data.as_slice()).unwrap();
        }
    }
    tar.into_inner().unwrap().finish().unwrap()
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/realworld")
}

/// Runs `mallard deps ARGS` in `dir` against `hub`.
fn deps(dir: &Path, hub: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mallard"))
        .arg("deps")
        .args(args)
        .current_dir(dir)
        .env("DBT_PACKAGE_HUB_URL", hub)
        .env_remove("DBT_PROJECT_DIR")
        .output()
        .expect("run mallard")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every file under `dir` with its bytes, by path relative to `dir`.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().to_string_lossy().to_string();
            (rel, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

/// The package folders of an install path (dot-files aside) and their files; a symlinked
/// (local) package is its target's files, symlinks inside it not followed.
fn installed(dir: &Path) -> BTreeMap<String, BTreeMap<String, Vec<u8>>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| {
            (
                e.file_name().to_string_lossy().to_string(),
                tree(&e.path().canonicalize().unwrap()),
            )
        })
        .collect()
}

/// Asserts that `got` holds the packages of `expected`: the same files, except that a local
/// package dbt would link to a folder (the corpus keeps a copy of the package's files) must
/// be a symlink to a folder holding every file of the copy.
fn assert_same_install(got: &Path, expected: &Path, name: &str) {
    let want = installed(expected);
    let have = installed(got);
    assert_eq!(
        have.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{name}"
    );
    for (pkg, files) in &want {
        let link = got.join(pkg).symlink_metadata().unwrap().file_type().is_symlink();
        if link {
            for (path, bytes) in files {
                assert_eq!(
                    have[pkg].get(path),
                    Some(bytes),
                    "{name}: local package {pkg}, file {path}"
                );
            }
        } else {
            let differing: Vec<&String> = files
                .keys()
                .chain(have[pkg].keys())
                .filter(|f| files.get(*f) != have[pkg].get(*f))
                .collect();
            assert!(
                differing.is_empty(),
                "{name}: package {pkg} differs from dbt's install in {differing:?}"
            );
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let dest = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            let mut perms = std::fs::metadata(&dest).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
            std::fs::set_permissions(&dest, perms).unwrap();
        } else {
            std::fs::write(&dest, std::fs::read(entry.path()).unwrap()).unwrap();
        }
    }
}

/// A hub with the versions the corpus projects pinned, built from their installed folders,
/// plus decoys that a correct resolver never picks: a version in range that needs a newer
/// dbt, and a newer version out of every range whose tarball is not a tarball.
fn corpus_hub() -> Hub {
    let mut hub = Hub::start();
    let rw = corpus();
    let utils = [
        ("1.0.0", "adventureworks/dbt_packages/dbt_utils"),
        (
            "1.1.1",
            "dbt_audit_helper/integration_tests/dbt_packages/dbt_utils",
        ),
        (
            "1.4.1",
            "dbt_project_evaluator/integration_tests/dbt_packages/dbt_utils",
        ),
    ];
    for (v, dir) in utils {
        let meta = serde_json::json!({"require_dbt_version": [">=1.3.0", "<2.0.0"]});
        hub.publish("dbt-labs/dbt_utils", v, Some(&rw.join(dir)), meta);
    }
    let newer_dbt = serde_json::json!({"require_dbt_version": [">=99.0.0"]});
    let utils_dir = rw.join(utils[0].1);
    hub.publish(
        "dbt-labs/dbt_utils",
        "1.99.0",
        Some(&utils_dir),
        newer_dbt.clone(),
    );
    hub.publish("dbt-labs/dbt_utils", "99.0.0", None, serde_json::json!({}));
    let date = rw.join("dbt_expectations/integration_tests/dbt_packages/dbt_date");
    hub.publish(
        "godatadriven/dbt_date",
        "0.21.0",
        Some(&date),
        serde_json::json!({}),
    );
    hub.publish("godatadriven/dbt_date", "0.99.0", Some(&date), newer_dbt);
    hub.publish("godatadriven/dbt_date", "1.0.0", None, serde_json::json!({}));
    hub
}

#[test]
fn deps_installs_what_dbt_installed_for_every_corpus_project() {
    if !corpus().is_dir() {
        eprintln!("skipped: ../shared/realworld is not beside the repository");
        return;
    }
    let hub = corpus_hub();
    // (project folder to copy, the dbt project inside it)
    let cases = [
        ("adventureworks", ""),
        ("dbt_activity_schema", "integration_tests"),
        ("dbt_audit_helper", "integration_tests"),
        ("dbt_date", "integration_tests"),
        ("dbt_expectations", "integration_tests"),
        ("dbt_project_evaluator", "integration_tests"),
        ("dbt_utils", "integration_tests"),
    ];
    for (name, sub) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let copy = tmp.path().join(name);
        copy_dir(&corpus().join(name), &copy);
        let project = copy.join(sub);
        std::fs::remove_dir_all(project.join("dbt_packages")).unwrap();
        let out = deps(&project, &hub.url, &[]);
        assert!(out.status.success(), "{name}: {}", text(&out));
        let expected = corpus().join(name).join(sub).join("dbt_packages");
        assert_same_install(&project.join("dbt_packages"), &expected, name);
        // A second `deps` finds everything as locked and installs nothing.
        let again = deps(&project, &hub.url, &[]);
        assert!(text(&again).contains("nothing to do"), "{name}: {}", text(&again));
    }
}

#[test]
fn the_lock_file_is_dbts_and_pins_what_a_later_deps_installs() {
    let mut hub = corpus_hub();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::write(
        root.join("dbt_project.yml"),
        "name: proj\nversion: '1.0'\nconfig-version: 2\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("child")).unwrap();
    std::fs::write(
        root.join("child/dbt_project.yml"),
        "name: child\nversion: '1.0'\n",
    )
    .unwrap();
    std::fs::write(
        root.join("child/packages.yml"),
        "packages:\n  - package: dbt-labs/dbt_utils\n    version: [\">=1.1.0\"]\n",
    )
    .unwrap();
    std::fs::write(
        root.join("packages.yml"),
        "packages:\n  - package: dbt-labs/dbt_utils\n    version: [\">=1.0.0\", \"<2.0.0\"]\n  - local: child\n",
    )
    .unwrap();
    let out = deps(root, &hub.url, &[]);
    assert!(out.status.success(), "{}", text(&out));
    // The child's range narrows the root's; 1.99.0 needs dbt 99, so 1.4.1 is the newest.
    let lock = std::fs::read_to_string(root.join("package-lock.yml")).unwrap();
    assert_eq!(
        lock,
        "packages:\n  - name: dbt_utils\n    package: dbt-labs/dbt_utils\n    version: 1.4.1\n  - local: child\n    name: child\nsha1_hash: f4be48e78b2f582fb47360ba371f09d83fe5c633\n"
    );
    // A newer release appears: the lock still installs 1.4.1 until `--upgrade`.
    let utils = corpus().join("adventureworks/dbt_packages/dbt_utils");
    if utils.is_dir() {
        hub.publish("dbt-labs/dbt_utils", "1.5.0", Some(&utils), serde_json::json!({}));
        std::fs::remove_dir_all(root.join("dbt_packages")).unwrap();
        let out = deps(root, &hub.url, &[]);
        assert!(
            text(&out).contains("Installed from version 1.4.1"),
            "{}",
            text(&out)
        );
        let out = deps(root, &hub.url, &["--upgrade"]);
        assert!(
            text(&out).contains("Installed from version 1.5.0"),
            "{}",
            text(&out)
        );
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn git_packages_pin_a_commit_by_tag_branch_or_sha_with_a_subdirectory() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(repo.join("pkg")).unwrap();
    std::fs::write(
        repo.join("pkg/dbt_project.yml"),
        "name: sub_pkg\nversion: '1.0'\n",
    )
    .unwrap();
    std::fs::write(repo.join("dbt_project.yml"), "name: root_pkg\nversion: '1.0'\n").unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "one"]);
    git(&repo, &["tag", "v1"]);
    let v1 = git(&repo, &["rev-parse", "HEAD"]);
    let project = tmp.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("dbt_project.yml"), "name: proj\nversion: '1.0'\n").unwrap();
    let url = repo.display().to_string();
    std::fs::write(
        project.join("packages.yml"),
        format!("packages:\n  - git: {url}\n    revision: v1\n    subdirectory: pkg\n  - git: \"file://{url}\"\n    revision: main\n    warn-unpinned: false\n"),
    )
    .unwrap();
    let out = deps(&project, "http://127.0.0.1:9/", &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("not pinned"), "{}", text(&out));
    let lock = std::fs::read_to_string(project.join("package-lock.yml")).unwrap();
    assert!(
        lock.contains(&format!(
            "    name: sub_pkg\n    revision: {v1}\n    subdirectory: pkg\n"
        )),
        "{lock}"
    );
    assert!(project.join("dbt_packages/sub_pkg/dbt_project.yml").is_file());
    assert!(project
        .join("dbt_packages/root_pkg/pkg/dbt_project.yml")
        .is_file());
    // The branch moves on; the lock keeps installing the pinned commit.
    std::fs::write(repo.join("dbt_project.yml"), "name: root_pkg\nversion: '2.0'\n").unwrap();
    git(&repo, &["commit", "-qam", "two"]);
    let two = git(&repo, &["rev-parse", "HEAD"]);
    std::fs::remove_dir_all(project.join("dbt_packages")).unwrap();
    assert!(deps(&project, "http://127.0.0.1:9/", &[]).status.success());
    let installed = std::fs::read_to_string(project.join("dbt_packages/root_pkg/dbt_project.yml")).unwrap();
    assert!(installed.contains("'1.0'"), "{installed}");
    let out = deps(&project, "http://127.0.0.1:9/", &["--upgrade"]);
    assert!(
        text(&out).contains(&format!("Installed from revision {two}")),
        "{}",
        text(&out)
    );
    // A commit SHA as the revision.
    std::fs::write(
        project.join("packages.yml"),
        format!("packages:\n  - git: {url}\n    revision: {v1}\n"),
    )
    .unwrap();
    let out = deps(&project, "http://127.0.0.1:9/", &[]);
    assert!(
        text(&out).contains(&format!("Installed from revision {v1}")),
        "{}",
        text(&out)
    );
}

#[test]
fn add_package_writes_packages_yml_as_dbt_does_and_installs_it() {
    let hub = corpus_hub();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::write(root.join("dbt_project.yml"), "name: proj\nversion: '1.0'\n").unwrap();
    std::fs::write(
        root.join("packages.yml"),
        "packages:\n  - git: https://github.com/dbt-labs/dbt-utils.git\n    revision: 0.9.0\n",
    )
    .unwrap();
    let out = deps(
        root,
        &hub.url,
        &["--add-package", "dbt-labs/dbt_utils@>=1.0.0,<1.2.0"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(root.join("packages.yml")).unwrap(),
        "packages:\n  - package: dbt-labs/dbt_utils\n    version:\n      - '>=1.0.0'\n      - <1.2.0\n"
    );
    assert!(
        text(&out).contains("Installed from version 1.1.1"),
        "{}",
        text(&out)
    );
    let out = deps(root, &hub.url, &["--add-package", "dbt-labs/dbt_utils"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// A project with a good install of `dbt_utils` 1.0.0, for the failure tests.
fn installed_project(hub: &Hub) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::write(root.join("dbt_project.yml"), "name: proj\nversion: '1.0'\n").unwrap();
    std::fs::write(
        root.join("packages.yml"),
        "packages:\n  - package: dbt-labs/dbt_utils\n    version: 1.0.0\n",
    )
    .unwrap();
    let out = deps(root, &hub.url, &[]);
    assert!(out.status.success(), "{}", text(&out));
    tmp
}

#[test]
fn bad_package_specs_and_sources_leave_the_install_and_lock_alone() {
    let mut hub = corpus_hub();
    hub.serve("not-json/api/v1/index.json", b"<html>maintenance</html>".to_vec());
    let not_json = format!("{}not-json/", hub.url);
    let utils = corpus().join("adventureworks/dbt_packages/dbt_utils");
    hub.publish("dbt-labs/not_gzip", "1.0.0", None, serde_json::json!({}));
    let tmp = installed_project(&hub);
    let root = tmp.path();
    let before = installed(&root.join("dbt_packages"));
    let lock_before = std::fs::read_to_string(root.join("package-lock.yml")).unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("dbt_project.yml"), "name: r\n").unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "one"]);
    let cases: Vec<(String, &str, &str)> = vec![
        (
            "  - package: dbt-labs/dbt_utils\n    version: 1.0.0\n    verison: 2\n".into(),
            hub.url.as_str(),
            "unknown key `verison` in package `dbt-labs/dbt_utils`",
        ),
        (
            format!("  - git: {}\n    revision: v9\n", repo.display()),
            hub.url.as_str(),
            "revision `v9` of package",
        ),
        (
            "  - tarball: http://127.0.0.1:9/pkg.tar.gz\n    name: pkg\n".into(),
            hub.url.as_str(),
            "cannot download `http://127.0.0.1:9/pkg.tar.gz` for package `pkg`",
        ),
        (
            "  - package: dbt-labs/not_gzip\n    version: 1.0.0\n".into(),
            hub.url.as_str(),
            "the download of package `dbt-labs/not_gzip`",
        ),
        (
            "  - package: dbt-labs/dbt_utils\n    version: [\"1.0.0\"]\n".into(),
            not_json.as_str(),
            "is not JSON",
        ),
        (
            "  - package: dbt-labs/dbt_utils\n    version: [\">=1.0.0\"]\n  - local: child\n".into(),
            hub.url.as_str(),
            "conflict: `>=1.0.0` (required by packages.yml) and `<1.0.0` (required by package `child`)",
        ),
    ];
    std::fs::create_dir_all(root.join("child")).unwrap();
    std::fs::write(root.join("child/dbt_project.yml"), "name: child\n").unwrap();
    std::fs::write(
        root.join("child/packages.yml"),
        "packages:\n  - package: dbt-labs/dbt_utils\n    version: \"<1.0.0\"\n",
    )
    .unwrap();
    for (spec, hub_url, message) in cases {
        std::fs::write(root.join("packages.yml"), format!("packages:\n{spec}")).unwrap();
        let out = deps(root, hub_url, &[]);
        assert_eq!(out.status.code(), Some(2), "{spec}: {}", text(&out));
        assert!(text(&out).contains(message), "{spec}: {}", text(&out));
        assert_eq!(installed(&root.join("dbt_packages")), before, "{spec}");
        assert_eq!(
            std::fs::read_to_string(root.join("package-lock.yml")).unwrap(),
            lock_before
        );
        let leftovers: Vec<String> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.contains("mallard"))
            .collect();
        assert!(leftovers.is_empty(), "{spec}: {leftovers:?}");
    }
    drop(utils);
}

#[test]
fn a_killed_deps_leaves_the_previous_install_whole() {
    let mut hub = corpus_hub();
    let tmp = installed_project(&hub);
    let root = tmp.path();
    let before = installed(&root.join("dbt_packages"));
    // Ask for 1.1.1, whose download the hub holds back until the process is killed.
    let utils = corpus().join("dbt_audit_helper/integration_tests/dbt_packages/dbt_utils");
    hub.publish("dbt-labs/dbt_utils", "1.1.1", Some(&utils), serde_json::json!({}));
    hub.delay("tarballs/dbt_utils-1.1.1.tar.gz", Duration::from_secs(60));
    std::fs::write(
        root.join("packages.yml"),
        "packages:\n  - package: dbt-labs/dbt_utils\n    version: 1.1.1\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mallard"))
        .arg("deps")
        .current_dir(root)
        .env("DBT_PACKAGE_HUB_URL", &hub.url)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !hub.requested("tarballs/dbt_utils-1.1.1.tar.gz") {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "deps never asked for the tarball"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(installed(&root.join("dbt_packages")), before);
    // The next deps cleans up what the killed one left and installs.
    hub.delay("tarballs/dbt_utils-1.1.1.tar.gz", Duration::ZERO);
    let out = deps(root, &hub.url, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Installed from version 1.1.1"),
        "{}",
        text(&out)
    );
}
