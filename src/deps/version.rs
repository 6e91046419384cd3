//! Version requirements of hub packages, with dbt's semantics (dbt-common's `semver`):
//! a requirement is a version with an optional matcher (`1.0.0`, `=1.0.0`, `>=1.0.0`, `>1.0`,
//! `<2.0.0`, `<=1.2.3`); the requirements on one package, from every project that asks for
//! it, are intersected; the highest published version inside the intersection is installed.
//! Versions may have two groups (`1.0` is `1.0.0`) and a pre-release (`1.0.0-b1`).

use anyhow::{bail, Result};
use semver::Version;
use std::cmp::Ordering;

/// One bound of a [`Range`]: a version and whether the version itself is inside.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bound {
    version: Version,
    inclusive: bool,
}

/// The versions between an optional lower and an optional upper bound.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Range {
    lower: Option<Bound>,
    upper: Option<Bound>,
}

/// Parses a version as dbt writes them: `1.2.3`, `1.2` (= `1.2.0`), `1.2.3-rc1`, `v`-less.
///
/// Errors: text that is not such a version.
pub fn parse_version(text: &str) -> Result<Version> {
    let t = text.trim();
    let (core, rest) = match t.find(['-', '+']) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let core = if core.matches('.').count() == 1 {
        format!("{core}.0")
    } else {
        core.to_string()
    };
    Version::parse(&format!("{core}{rest}")).map_err(|_| {
        anyhow::anyhow!(
            "`{text}` is not a version (expected e.g. `1.2.3`, optionally with a matcher such as `>=`)"
        )
    })
}

impl Range {
    /// The range one requirement string means: `1.0.0` and `=1.0.0` exactly that version,
    /// `>=`/`>` a lower bound, `<=`/`<` an upper bound.
    ///
    /// Errors: an unknown matcher or a malformed version.
    pub fn parse(requirement: &str) -> Result<Range> {
        let t = requirement.trim();
        let (matcher, rest) = [">=", "<=", ">", "<", "="]
            .iter()
            .find_map(|m| t.strip_prefix(m).map(|rest| (*m, rest)))
            .unwrap_or(("=", t));
        let version = parse_version(rest)?;
        let bound = |inclusive| {
            Some(Bound {
                version: version.clone(),
                inclusive,
            })
        };
        Ok(match matcher {
            ">=" => Range {
                lower: bound(true),
                upper: None,
            },
            ">" => Range {
                lower: bound(false),
                upper: None,
            },
            "<=" => Range {
                lower: None,
                upper: bound(true),
            },
            "<" => Range {
                lower: None,
                upper: bound(false),
            },
            _ => Range {
                lower: bound(true),
                upper: bound(true),
            },
        })
    }

    /// The versions in both `self` and `other`.
    pub fn intersect(&self, other: &Range) -> Range {
        fn pick(a: &Option<Bound>, b: &Option<Bound>, want: Ordering) -> Option<Bound> {
            match (a, b) {
                (None, x) | (x, None) => x.clone(),
                (Some(a), Some(b)) => Some(match a.version.cmp(&b.version) {
                    Ordering::Equal => Bound {
                        version: a.version.clone(),
                        inclusive: a.inclusive && b.inclusive,
                    },
                    o if o == want => a.clone(),
                    _ => b.clone(),
                }),
            }
        }
        Range {
            lower: pick(&self.lower, &other.lower, Ordering::Greater),
            upper: pick(&self.upper, &other.upper, Ordering::Less),
        }
    }

    /// Whether no version at all lies in the range.
    pub fn is_empty(&self) -> bool {
        match (&self.lower, &self.upper) {
            (Some(lo), Some(hi)) => match lo.version.cmp(&hi.version) {
                Ordering::Greater => true,
                Ordering::Equal => !(lo.inclusive && hi.inclusive),
                Ordering::Less => false,
            },
            _ => false,
        }
    }

    /// Whether `v` lies in the range.
    pub fn contains(&self, v: &Version) -> bool {
        let above = self.lower.as_ref().is_none_or(|b| match v.cmp(&b.version) {
            Ordering::Greater => true,
            Ordering::Equal => b.inclusive,
            Ordering::Less => false,
        });
        let below = self.upper.as_ref().is_none_or(|b| match v.cmp(&b.version) {
            Ordering::Less => true,
            Ordering::Equal => b.inclusive,
            Ordering::Greater => false,
        });
        above && below
    }
}

/// One project's requirement on a hub package: the requirement as written and who wrote it.
#[derive(Debug, Clone)]
pub struct Requirement {
    pub text: String,
    /// The project (or `packages.yml`) that asked for it, for error messages.
    pub required_by: String,
}

/// The highest of `available` (hub version strings) that satisfies every requirement;
/// pre-releases only when `prerelease` is set or a requirement names one. Returns the chosen
/// version string as the hub spells it, and the highest installable version (for "update
/// available" notes).
///
/// Errors: requirements that no version can satisfy together (naming the two that conflict and
/// who asked for each), a malformed requirement, and no published version in the range.
pub fn resolve(
    package: &str,
    requirements: &[Requirement],
    available: &[String],
    prerelease: bool,
) -> Result<(String, Option<String>)> {
    let mut ranges = Vec::with_capacity(requirements.len());
    for r in requirements {
        let range = Range::parse(&r.text)
            .map_err(|e| anyhow::anyhow!("package `{package}` (required by {}): {e}", r.required_by))?;
        ranges.push(range);
    }
    // Intervals on a line that meet pairwise meet together, so a conflict shows in a pair.
    for (i, a) in ranges.iter().enumerate() {
        for (j, b) in ranges.iter().enumerate().skip(i + 1) {
            if a.intersect(b).is_empty() {
                bail!(
                    "version requirements on package `{package}` conflict: `{}` (required by {}) and `{}` (required by {})",
                    requirements[i].text,
                    requirements[i].required_by,
                    requirements[j].text,
                    requirements[j].required_by
                );
            }
        }
    }
    let range = ranges.iter().fold(Range::default(), |acc, r| acc.intersect(r));
    let prerelease = prerelease || requirements.iter().any(|r| r.text.contains('-'));
    let mut installable: Vec<(Version, &String)> = available
        .iter()
        .filter_map(|s| parse_version(s).ok().map(|v| (v, s)))
        .filter(|(v, _)| prerelease || v.pre.is_empty())
        .collect();
    installable.sort();
    let latest = installable.last().map(|(_, s)| s.to_string());
    match installable.iter().rev().find(|(v, _)| range.contains(v)) {
        Some((_, s)) => Ok((s.to_string(), latest)),
        None => bail!(
            "no version of package `{package}` matches {}: the hub has {}",
            requirements
                .iter()
                .map(|r| format!("`{}` (required by {})", r.text, r.required_by))
                .collect::<Vec<_>>()
                .join(" and "),
            if installable.is_empty() {
                "no installable version".to_string()
            } else {
                installable
                    .iter()
                    .map(|(_, s)| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str, by: &str) -> Requirement {
        Requirement {
            text: text.into(),
            required_by: by.into(),
        }
    }

    fn versions(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn picks_the_highest_version_in_every_range() {
        let available = versions(&["0.9.0", "1.0.0", "1.1.1", "1.3.0", "2.0.0", "1.4.0-b1"]);
        let (v, latest) = resolve(
            "dbt-labs/dbt_utils",
            &[req(">=1.0.0", "a"), req("<2.0.0", "a"), req(">=0.9.0", "b")],
            &available,
            false,
        )
        .unwrap();
        assert_eq!(v, "1.3.0");
        assert_eq!(latest.as_deref(), Some("2.0.0"));
        let (v, _) = resolve("p", &[req("1.1.1", "a"), req("<2.0.0", "b")], &available, false).unwrap();
        assert_eq!(v, "1.1.1");
        let (v, _) = resolve("p", &[req(">1.3", "a")], &available, true).unwrap();
        assert_eq!(v, "2.0.0");
        let (v, _) = resolve(
            "p",
            &[req(">=1.4.0-a", "a"), req("<2.0.0", "a")],
            &available,
            false,
        )
        .unwrap();
        assert_eq!(v, "1.4.0-b1");
    }

    #[test]
    fn conflicting_ranges_name_both_requirers() {
        let err = resolve(
            "dbt-labs/dbt_utils",
            &[
                req(">=1.0.0", "my_project"),
                req("<2.0.0", "my_project"),
                req("0.9.0", "audit_helper"),
            ],
            &versions(&["0.9.0", "1.0.0"]),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`>=1.0.0` (required by my_project)"), "{err}");
        assert!(err.contains("`0.9.0` (required by audit_helper)"), "{err}");
    }

    #[test]
    fn no_published_version_in_range_is_an_error() {
        let err = resolve("p", &[req(">=3.0.0", "a")], &versions(&["1.0.0"]), false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no version of package `p`"), "{err}");
        assert!(Range::parse("~1.0").is_err());
    }
}
