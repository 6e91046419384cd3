//! Warnings for what a project asks and Mallard does not apply (nothing is ignored without a
//! word): `grants` in configs, `flags:` of dbt_project.yml it does not honour, functions.

use serde_json::{Map, Value};

use super::super::{Manifest, Node};
use super::Parser;
use crate::project::Project;

/// Not silently: `grants` on any node get one warning naming how many and the first, as
/// dbt-duckdb warns once that DuckDB has no grants (Mallard applies them on no engine).
pub(super) fn warn_of_grants(manifest: &mut Manifest) {
    let granted: Vec<&Node> = manifest
        .nodes
        .values()
        .filter(|n| {
            n.config
                .0
                .get("grants")
                .is_some_and(|g| g.as_object().is_some_and(|m| !m.is_empty()))
        })
        .collect();
    if let Some(first) = granted.first() {
        let warning = format!(
            "Grants for relations are not supported by Mallard (DuckDB has none; dbt-duckdb warns the same): the `grants` of {} node(s), first `{}` ({}), are not applied",
            granted.len(),
            first.unique_id,
            first.original_file_path
        );
        manifest.warnings.push(warning);
    }
}

/// Project `flags:` with no effect in Mallard whatever their value (it sends no usage data,
/// parses the whole project each time, checks no version, ...).
const FLAGS_WITHOUT_EFFECT: &[&str] = &[
    "send_anonymous_usage_stats",
    "partial_parse",
    "static_parser",
    "use_experimental_parser",
    "version_check",
    "printer_width",
    "use_colors",
    "use_colors_file",
    "populate_cache",
    "cache_selected_only",
    "write_json",
];

/// dbt 1.11's behavior flags and the value Mallard behaves as (dbt 1.11's default).
const BEHAVIOR_FLAGS: &[(&str, bool)] = &[
    ("require_batched_execution_for_custom_microbatch_strategy", false),
    ("require_event_names_in_deprecations", false),
    (
        "require_explicit_package_overrides_for_builtin_materializations",
        true,
    ),
    ("require_resource_names_without_spaces", true),
    ("source_freshness_run_project_hooks", true),
    ("skip_nodes_if_on_run_start_fails", false),
    ("state_modified_compare_more_unrendered_values", false),
    ("state_modified_compare_vars", false),
    ("require_yaml_configuration_for_mf_time_spines", false),
    ("require_nested_cumulative_type_params", false),
    ("validate_macro_args", false),
    ("require_all_warnings_handled_by_warn_error", false),
    ("require_generic_test_arguments_property", true),
    ("require_unique_project_resource_names", false),
    ("require_ref_searches_node_package_before_root", false),
];

/// Not silently: one warning naming the `flags:` of dbt_project.yml that Mallard does not
/// honour: settings it reads from the command line only (`fail_fast`, `warn_error`, ...), and
/// behavior flags set to another value than the one it behaves as; `None` when there are none.
pub(super) fn unhonoured_flags(flags: &Map<String, Value>) -> Option<String> {
    let unhonoured: Vec<String> = flags
        .iter()
        .filter(|(name, _)| !FLAGS_WITHOUT_EFFECT.contains(&name.as_str()))
        .filter(
            |(name, value)| match BEHAVIOR_FLAGS.iter().find(|(f, _)| f == name) {
                Some((_, default)) => value.as_bool() != Some(*default),
                None => true,
            },
        )
        .map(|(name, value)| format!("`{name}: {value}`"))
        .collect();
    (!unhonoured.is_empty()).then(|| {
        format!(
            "`flags:` of dbt_project.yml that Mallard does not honour: {} (settings are read from the command line and DBT_ variables; behavior flags keep dbt 1.11's defaults)",
            unhonoured.join(", ")
        )
    })
}

impl Parser<'_> {
    /// Warns of what `project` has that Mallard does not apply: the root project's `flags:`
    /// that Mallard does not honour (dbt ignores a package's), and dbt 1.11 functions.
    pub(super) fn warn_of_unapplied(&mut self, project: &Project) {
        // The root project's flags apply; dbt ignores a package's.
        let is_root = std::ptr::eq(project, self.root);
        if let Some(warning) = unhonoured_flags(&project.flags).filter(|_| is_root) {
            self.manifest.warnings.push(warning);
        }
        if let Some(first) = project.function_files.first() {
            self.manifest.warnings.push(format!(
            "{} dbt 1.11 function(s) in `{}` (first: `{}`) are not built: Mallard does not support user-defined functions yet (dbt-duckdb 1.11 cannot create them either: its `CREATE FUNCTION ... RETURNS` is not DuckDB SQL); a model calling `function()` fails",
            project.function_files.len(),
            first.original_file_path.split('/').next().unwrap_or("functions"),
            first.original_file_path
        ));
        }
    }
}
