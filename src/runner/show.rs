//! `show`: the first rows of selected models, seeds and snapshots, or of inline SQL.

use std::sync::{Arc, Mutex};

use anyhow::Result;

use crate::adapter::Rows;
use crate::error::Diagnostic;
use crate::manifest::ResourceType;
use crate::session::{Selection, Session};

/// What `show` previews: the selected nodes, or a query given on the command line.
pub enum Preview<'a> {
    Nodes(&'a Selection<'a>),
    Inline(&'a str),
}

/// The first `limit` rows of each previewed node (or of the inline query), read from the
/// target's existing database: `(what, columns, rows)` with `what` as dbt prints it (`node
/// 'orders'`, `inline query`). A view or table is read as it is; an ephemeral model is
/// compiled and run as a query.
///
/// Errors: the database does not exist yet; nothing is selected; a query fails (naming what
/// was previewed).
pub fn previews(session: &Session, preview: Preview, limit: usize) -> Result<Vec<(String, Rows)>> {
    let adapter = session.open_existing_read_only("show", "build the project first (`mallard build`)")?;
    let shared = Arc::new(Mutex::new(adapter.try_clone()?));
    let compiler = session.compiler();
    let mut queries: Vec<(String, String)> = Vec::new();
    match preview {
        Preview::Inline(inline) => {
            let sql = compiler.render_project_hook(inline, Some(&shared), minijinja::Value::from(()))?;
            queries.push(("inline query".to_string(), sql));
        }
        Preview::Nodes(selection) => {
            let plan = session.plan(
                selection,
                &[ResourceType::Model, ResourceType::Seed, ResourceType::Snapshot],
                false,
                false,
            )?;
            if plan.order.is_empty() {
                return Err(Diagnostic::new("`show` needs a model: nothing was selected")
                    .help("pass `--select my_model` or `--inline \"select ...\"`")
                    .into());
            }
            for id in &plan.order {
                let node = &session.manifest.nodes[id];
                let sql = if node.materialization.is_ephemeral() {
                    compiler.compile(node, false, Some(&shared))?
                } else {
                    format!(
                        "select * from {}",
                        node.relation.as_ref().expect("has a relation")
                    )
                };
                queries.push((format!("node '{}'", node.name), sql));
            }
        }
    }
    queries
        .into_iter()
        .map(|(what, sql)| {
            let limited = format!(
                "select * from (\n{}\n) as preview limit {limit}",
                sql.trim().trim_end_matches(';'),
            );
            let rows = adapter
                .query_rows(&limited)
                .map_err(|e| Diagnostic::new(format!("cannot preview {what}: {e}")))?;
            Ok((what, rows))
        })
        .collect()
}
