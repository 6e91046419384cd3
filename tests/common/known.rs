//! Lists of known differences from dbt (`known_differences.jsonl`: one JSON object per line,
//! the case under `key` and why it differs under `reason`), shared by the differential tests.

use std::collections::BTreeSet;
use std::path::Path;

/// The JSON objects of file `path`, one per line (none when the file is missing). Panics,
/// naming the file and line, on a line that does not parse as a `T`.
pub fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

/// Checks the differences found, `(case, what differs)` pairs, against the list at `list`:
/// fails when a case differs that is not listed (a regression) or a listed one no longer
/// differs (progress: shorten the list), or when an entry gives no reason. With environment
/// variable `bless` set, rewrites the list from `differing` instead, keeping the reasons
/// written and marking new entries `not yet explained`. `what` names the differences in the
/// failure message.
pub fn check(list: &Path, key: &str, differing: &[(String, String)], bless: &str, what: &str) {
    let listed: Vec<(String, String)> = std::fs::read_to_string(list)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let entry: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", list.display()));
            let field = |f: &str| entry[f].as_str().unwrap_or_default().to_string();
            (field(key), field("reason"))
        })
        .collect();
    if std::env::var_os(bless).is_some() {
        let text: String = differing
            .iter()
            .map(|(case, _)| {
                let reason = listed
                    .iter()
                    .find(|(k, _)| k == case)
                    .map_or("not yet explained", |(_, r)| r.as_str());
                serde_json::json!({ key: case, "reason": reason }).to_string() + "\n"
            })
            .collect();
        std::fs::write(list, text).unwrap();
        return;
    }
    assert!(
        listed.iter().all(|(_, reason)| !reason.trim().is_empty()),
        "every known difference gives its reason"
    );
    let known: BTreeSet<&str> = listed.iter().map(|(k, _)| k.as_str()).collect();
    let found: BTreeSet<&str> = differing.iter().map(|(k, _)| k.as_str()).collect();
    let new: Vec<&str> = differing
        .iter()
        .filter(|(k, _)| !known.contains(k.as_str()))
        .map(|(_, shown)| shown.as_str())
        .collect();
    let gone: Vec<&&str> = known.iter().filter(|k| !found.contains(*k)).collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "{what} changed.\nnew ({}):\n  {}\ngone (remove from {}): {gone:#?}\n({bless}=1 rewrites the list)",
        new.len(),
        new.join("\n  "),
        list.display()
    );
}
