//! Snapshots: the `{% snapshot %}` blocks of `snapshots/` files, each a node.

use anyhow::Result;
use serde_json::json;

use super::{located_calls, Parser};
use crate::config::materialized::SnapshotConfig;
use crate::error::{Diagnostic, Location};
use crate::manifest::{Node, ResourceType};
use crate::project::properties::NodeProps;
use crate::project::ProjectFile;
use crate::templating::{self, find_call_line};

impl Parser<'_> {
    /// Adds one `{% snapshot %}` block (see [`snapshot_blocks`]): rendered in the parse phase
    /// like a model, with the `snapshots:` config tree and `snapshot` as its materialization.
    /// `target_schema` (and `target_database`) name the schema exactly, as in dbt; `schema`
    /// goes through the default schema naming.
    ///
    /// Errors: a Jinja error; a missing or invalid strategy, unique key, `updated_at` or
    /// `check_cols`, at the `config()` call.
    pub(super) fn snapshot(&mut self, f: &ProjectFile, props: Option<&NodeProps>) -> Result<()> {
        let name = f.stem().to_string();
        let unique_id = format!("snapshot.{}.{}", self.project.name, name);
        let fqn = self.fqn(f, &name);
        let mut config = self.base_config(json!({"materialized": "snapshot"}), |p| &p.snapshots_tree, &fqn);
        if let Some(np) = props {
            config.merge(&self.rendered_config(&np.config, &np.file)?);
        }
        let this = self.relation(&config, &name, || {
            self.node_for_macros("snapshot", &name, &fqn, Some(f), &config)
        })?;
        let input = self.parse_input(f, &name, &unique_id, "snapshot", Some(this));
        let (_, recorded) = templating::render(self.env, &input, self.parse_context())?;
        for layer in &recorded.configs {
            config.merge(layer);
        }
        if !config.enabled() {
            return Ok(());
        }
        if let Err(d) = SnapshotConfig::from_config(&config) {
            let loc = find_call_line(&f.contents, "config", "")
                .map(|(l, c)| Location::in_source(&f.original_file_path, &f.contents, l, Some(c)))
                .unwrap_or_else(|| Location::in_source(&f.original_file_path, &f.contents, 1, None));
            let mut d = Diagnostic {
                message: format!("snapshot `{name}`: {}", d.message),
                ..d
            };
            d.location = Some(loc);
            return Err(d.into());
        }
        self.claim_name(&name, &unique_id, f)?;
        let mut relation = self.relation(&config, &name, || {
            self.node_for_macros("snapshot", &name, &fqn, Some(f), &config)
        })?;
        if let Some(schema) = config.get_str("target_schema") {
            relation.schema = schema.to_string();
        }
        if let Some(database) = config.get_str("target_database") {
            relation.database = database.to_string();
        }
        let (refs, sources) = located_calls(f, &recorded);
        self.add(Node {
            patch_path: props.map(|p| p.file.clone()),
            description: props.map(|p| p.description.clone()).unwrap_or_default(),
            columns: props
                .map(|p| self.columns(&p.columns))
                .transpose()?
                .unwrap_or_default(),
            fqn,
            config,
            refs,
            sources,
            relation: Some(relation),
            ..self.file_node(f, ResourceType::Snapshot, unique_id, name)
        });
        Ok(())
    }

    /// The snapshots of the project: each `{% snapshot %}` block of `files`, with the
    /// properties of its `snapshots:` entry, and each `snapshots:` entry with a `relation:`
    /// (dbt 1.9's snapshots in YAML: `select * from {{ <relation> }}`, defined in its property
    /// file), then the generic tests of their columns. A `snapshots:` entry with neither is
    /// reported as properties of nothing.
    ///
    /// Errors: a block or an entry that fails to parse (see [`Self::snapshot`]); a YAML snapshot
    /// with the name of a block.
    pub(super) fn snapshots(&mut self, files: &[ProjectFile], props: &[NodeProps]) -> Result<()> {
        let mut blocks = Vec::new();
        for f in files {
            blocks.extend(snapshot_blocks(f)?);
        }
        for block in &blocks {
            let name = block.stem();
            self.snapshot(block, props.iter().find(|np| np.name == name))?;
        }
        for np in props {
            let defined = blocks.iter().any(|b| b.stem() == np.name);
            match &np.relation {
                Some(_) if defined => {
                    return Err(Diagnostic::new(format!(
                        "snapshot `{}` is defined twice: by a `{{% snapshot %}}` block and with `relation:` in `{}`",
                        np.name, np.file
                    ))
                    .at(np.location.clone())
                    .into())
                }
                Some(relation) => {
                    let file = ProjectFile {
                        original_file_path: np.file.clone(),
                        path: format!("{}.sql", np.name),
                        contents: format!("select * from {{{{ {relation} }}}}"),
                    };
                    self.snapshot(&file, Some(np))?;
                    // dbt's `path` of a snapshot in YAML: under its property file's name.
                    let in_folder = np.file.split_once('/').map_or(np.file.as_str(), |(_, rest)| rest);
                    let unique_id = format!("snapshot.{}.{}", self.project.name, np.name);
                    if let Some(node) = self.manifest.nodes.get_mut(&unique_id) {
                        node.path = format!("{in_folder}/{}.sql", np.name);
                    }
                }
                None if defined => {}
                None => {
                    self.orphan_props.insert(("snapshot".to_string(), np.name.clone()), np.clone());
                    continue;
                }
            }
            self.generic_tests_of(np, "snapshot", &np.name, &np.name)?;
        }
        Ok(())
    }
}

/// The `{% snapshot name %} ... {% endsnapshot %}` blocks of snapshot file `f`, each as a file
/// of its own named `<name>.sql` beside `f`, whose text is the block's body preceded by as many
/// newlines as there are lines before it, so that errors keep `f`'s line numbers.
///
/// Errors: a block without its `{% endsnapshot %}`, or without a name.
pub(super) fn snapshot_blocks(f: &ProjectFile) -> Result<Vec<ProjectFile>, Diagnostic> {
    let text = &f.contents;
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = find_tag(text, from, "snapshot") {
        let (tag_start, tag_end, args) = open;
        let line = text[..tag_start].matches('\n').count() + 1;
        let name = args.trim();
        let valid = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !valid {
            return Err(Diagnostic::new(format!(
                "`{{% snapshot {name} %}}` needs a name made of letters, digits and `_`"
            ))
            .at(Location::in_source(&f.original_file_path, text, line, None)));
        }
        let Some((close_start, close_end, _)) = find_tag(text, tag_end, "endsnapshot") else {
            return Err(
                Diagnostic::new(format!("snapshot `{name}` has no `{{% endsnapshot %}}`"))
                    .at(Location::in_source(&f.original_file_path, text, line, None))
                    .help("end the block with `{% endsnapshot %}`"),
            );
        };
        let body = &text[tag_end..close_start];
        let before = text[..tag_end].matches('\n').count();
        let folder = f
            .path
            .rsplit_once('/')
            .map(|(d, _)| format!("{d}/"))
            .unwrap_or_default();
        out.push(ProjectFile {
            original_file_path: f.original_file_path.clone(),
            path: format!("{folder}{name}.sql"),
            contents: format!("{}{body}", "\n".repeat(before)),
        });
        from = close_end;
    }
    Ok(out)
}

/// The first `{% <word> ... %}` tag at or after byte `from` (with optional `-` trim markers), as
/// `(start, end, text after the word)`.
pub(super) fn find_tag<'a>(text: &'a str, from: usize, word: &str) -> Option<(usize, usize, &'a str)> {
    let mut at = from;
    while let Some(pos) = text[at..].find("{%") {
        let start = at + pos;
        let end = start + text[start..].find("%}")? + 2;
        let inner = text[start + 2..end - 2].trim_matches('-').trim();
        if let Some(rest) = inner.strip_prefix(word) {
            if rest.is_empty() || rest.starts_with(char::is_whitespace) {
                return Some((start, end, rest));
            }
        }
        at = end;
    }
    None
}
