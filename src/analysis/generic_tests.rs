//! dbt's four generic tests in static analysis: checked against the columns of the relations
//! analysis shaped, read with one catalog query, without rendering or binding each test.

use super::{Analyser, Verdict};
use crate::adapter::Column;
use crate::manifest::Node;
use crate::relation::Relation;

impl Analyser<'_> {
    /// Reads the columns of every relation in the shapes database whose columns are not known
    /// yet (the models made by `create ... as`), with one catalog query. Nothing on an error:
    /// those relations' tests are then bound instead.
    pub(super) fn read_shaped_columns(&mut self) {
        let databases: Vec<String> = self
            .schemas
            .iter()
            .map(|(d, _)| d.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let shapes = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        let Ok(Some(relations)) = shapes.catalog(&databases) else {
            return;
        };
        drop(shapes);
        for r in relations {
            let relation = Relation::new(&r.database, &r.schema, &r.name);
            self.shaped_columns.entry(relation).or_insert_with(|| {
                r.columns
                    .into_iter()
                    .map(|(name, data_type, _)| Column { name, data_type })
                    .collect()
            });
        }
    }

    /// dbt's four generic tests on a plain column of a model this analysis shaped: checked
    /// against the model's columns without binding (`None` for any other node, or when the
    /// column is an expression): an unknown column is an error at the test's line.
    pub(super) fn check_generic_test(&self, node: &Node) -> Option<Verdict> {
        let meta = node.test_metadata.as_ref()?;
        let column = meta.kwargs.get("column_name")?.as_str()?;
        let plain = |c: &str| !c.is_empty() && c.chars().all(|c| c.is_alphanumeric() || c == '_');
        let column = column.trim_matches('"');
        if !plain(column) {
            return None;
        }
        let model = node
            .attached_node
            .as_ref()
            .and_then(|id| self.manifest.nodes.get(id))?;
        let relation = model.relation.as_ref()?;
        let columns = self.shaped_columns.get(relation)?;
        let mut mismatches = vec![(column, &model.name, columns)];
        if meta.name == "relationships" {
            let field = meta
                .kwargs
                .get("field")
                .and_then(|f| f.as_str())
                .map(|f| f.trim_matches('"'))?;
            let to = node
                .depends_on
                .iter()
                .find(|d| Some(*d) != node.attached_node.as_ref())?;
            let parent_node = self.manifest.nodes.get(to)?;
            let parent = parent_node.relation.as_ref()?;
            if !plain(field) {
                return None;
            }
            mismatches.push((field, &parent_node.name, self.shaped_columns.get(parent)?));
        }
        for (name, of, have) in mismatches {
            if !have.iter().any(|c| c.name.eq_ignore_ascii_case(name)) {
                let names: Vec<&str> = have.iter().map(|c| c.name.as_str()).collect();
                let listed: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
                return Some(Verdict::Error {
                    message: format!(
                        "`{of}` has no column \"{name}\" (its columns: {})",
                        listed.join(", ")
                    ),
                    at: node
                        .defined_at
                        .clone()
                        .unwrap_or_else(|| node.original_file_path.clone()),
                    help: crate::error::did_you_mean(name, names.iter().copied())
                        .map(|s| format!("did you mean `{s}`?")),
                });
            }
        }
        Some(Verdict::Bound(Vec::new()))
    }
}
