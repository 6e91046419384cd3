//! `--resource-type` / `--exclude-resource-type`: the kinds of node dbt names there, and how
//! they narrow what a command runs.

use clap::ValueEnum;

use crate::manifest::ResourceType;

/// A value of `--resource-type` / `--exclude-resource-type` on `build` and `test`, as dbt
/// names them; the kinds Mallard has no nodes of (`source`, `analysis`, `metric`,
/// `semantic_model`, `saved_query`, `function`) select nothing to run, as in dbt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResourceTypeArg {
    Model,
    Seed,
    Test,
    #[value(name = "unit_test")]
    UnitTest,
    Snapshot,
    Exposure,
    Source,
    Analysis,
    Metric,
    #[value(name = "semantic_model")]
    SemanticModel,
    #[value(name = "saved_query")]
    SavedQuery,
    Function,
    /// Every kind (dbt's default set).
    Default,
    /// Every kind.
    All,
}

impl ResourceTypeArg {
    /// `kinds` narrowed to those `include` names (all when it is empty), less those `exclude`
    /// names: `--resource-type` and `--exclude-resource-type` applied.
    pub fn narrow(
        kinds: &[ResourceType],
        include: &[ResourceTypeArg],
        exclude: &[ResourceTypeArg],
    ) -> Vec<ResourceType> {
        kinds
            .iter()
            .copied()
            .filter(|t| include.is_empty() || include.iter().any(|a| a.matches(*t)))
            .filter(|t| !exclude.iter().any(|a| a.matches(*t)))
            .collect()
    }

    /// Whether `t` is of this kind.
    pub fn matches(self, t: ResourceType) -> bool {
        match self {
            ResourceTypeArg::Default | ResourceTypeArg::All => true,
            ResourceTypeArg::Model => t == ResourceType::Model,
            ResourceTypeArg::Seed => t == ResourceType::Seed,
            ResourceTypeArg::Test => t == ResourceType::Test,
            ResourceTypeArg::UnitTest => t == ResourceType::UnitTest,
            ResourceTypeArg::Snapshot => t == ResourceType::Snapshot,
            ResourceTypeArg::Exposure => t == ResourceType::Exposure,
            ResourceTypeArg::Source => t == ResourceType::Source,
            _ => false,
        }
    }
}
