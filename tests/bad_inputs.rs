//! The catalogue of bad inputs in `tests/fixtures/bad_inputs/cases/`: each case changes a
//! few files of the valid project `tests/fixtures/bad_inputs/base/` and names the command
//! and the exit code it expects. For every case the message is snapshotted, nothing panics,
//! and the database built from the base project is left exactly as it was.
//!
//! A case file: `# what is wrong`, `args: ["build", ...]` (JSON), `exit: N`, then sections
//! `-- path --` followed by the file's new text, or `-- delete path --`.

mod common;

use std::path::Path;

use common::{versions, Project};

struct Case {
    name: String,
    description: String,
    args: Vec<String>,
    exit: i32,
    /// Files to write (`Some(text)`) or delete (`None`).
    files: Vec<(String, Option<String>)>,
}

fn parse_case(name: &str, text: &str) -> Case {
    let mut description = String::new();
    let mut args = Vec::new();
    let mut exit = None;
    let mut files: Vec<(String, Option<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(header) = line.strip_prefix("-- ").and_then(|l| l.strip_suffix(" --")) {
            match header.strip_prefix("delete ") {
                Some(path) => files.push((path.to_string(), None)),
                None => files.push((header.to_string(), Some(String::new()))),
            }
        } else if let Some((_, Some(body))) = files.last_mut() {
            body.push_str(line);
            body.push('\n');
        } else if let Some(d) = line.strip_prefix("# ") {
            description = d.to_string();
        } else if let Some(a) = line.strip_prefix("args: ") {
            args = serde_json::from_str(a).unwrap_or_else(|e| panic!("{name}: bad args: {e}"));
        } else if let Some(e) = line.strip_prefix("exit: ") {
            exit = Some(
                e.trim()
                    .parse()
                    .unwrap_or_else(|e| panic!("{name}: bad exit: {e}")),
            );
        }
    }
    Case {
        name: name.to_string(),
        description,
        args,
        exit: exit.unwrap_or_else(|| panic!("{name}: no `exit:`")),
        files,
    }
}

fn cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad_inputs/cases");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| {
            parse_case(
                &p.file_stem().unwrap().to_string_lossy(),
                &std::fs::read_to_string(p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_bad_input_gets_a_clear_error_and_changes_nothing() {
    let cases = cases();
    assert!(cases.len() >= 30, "the catalogue has {} cases", cases.len());
    for case in cases {
        let p = Project::fixture("bad_inputs/base");
        let base = p.run(&["build"]);
        assert_eq!(base.code, 0, "the base project must build:\n{}", base.text(&p));
        let db = p.path().join("test.duckdb");
        let before = versions(&db);

        for (path, body) in &case.files {
            match body {
                Some(text) => p.write(path, text),
                None => std::fs::remove_file(p.path().join(path)).unwrap(),
            }
        }
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let run = p.run(&args);
        let text = run.text(&p);
        assert!(
            !text.contains("panicked"),
            "{}: mallard panicked:\n{text}",
            case.name
        );
        assert_eq!(run.code, case.exit, "{}: exit code\n{text}", case.name);
        assert_eq!(versions(&db), before, "{}: the database changed", case.name);
        insta::with_settings!({
            description => case.description.as_str(),
            omit_expression => true,
            filters => vec![
                (r"in \d+\.\d+s", "in [T]s"),
                // DuckDB's out-of-memory messages name block sizes that vary from run to run.
                (r"block of size [\d.]+ \w+", "block of size [SIZE]"),
                (r"\([\d.]+ \w+/[\d.]+ \w+ used\)", "([SIZE] used)"),
            ],
        }, {
            insta::assert_snapshot!(case.name.as_str(), format!("$ mallard {}\nexit code {}\n{text}", case.args.join(" "), run.code));
        });
    }
}
