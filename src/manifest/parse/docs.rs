//! Descriptions: `{{ doc('name') }}` blocks resolved in the descriptions of nodes, columns
//! and sources.

use super::*;

impl Parser<'_> {
    /// Records the `{% docs name %}` blocks of file `f` as `doc.<package>.<name>`.
    ///
    /// Errors: a block without its `{% enddocs %}`, at the line of its start.
    pub(super) fn doc_blocks(&mut self, f: &ProjectFile) -> Result<()> {
        let mut from = 0;
        while let Some((start, end, args)) = find_tag(&f.contents, from, "docs") {
            let Some((close, close_end, _)) = find_tag(&f.contents, end, "enddocs") else {
                let line = f.contents[..start].matches('\n').count() + 1;
                return Err(Diagnostic::new(format!(
                    "`{{% docs {} %}}` has no `{{% enddocs %}}`",
                    args.trim()
                ))
                .at(Location::in_source(
                    &f.original_file_path,
                    &f.contents,
                    line,
                    None,
                ))
                .into());
            };
            let id = format!("doc.{}.{}", self.project.name, args.trim());
            let text = f.contents[end..close].trim().to_string();
            self.manifest
                .docs
                .insert(id, (f.original_file_path.clone(), text));
            from = close_end;
        }
        Ok(())
    }

    /// Renders the descriptions that use `{{ doc('name') }}` (or `doc('package', 'name')`) with
    /// the text of that `{% docs %}` block, as dbt does at parse time.
    ///
    /// Errors: a description naming a doc block that does not exist, or with a Jinja error.
    pub(super) fn render_descriptions(&mut self) -> Result<()> {
        let mut env = Environment::new();
        let docs = Arc::new(self.manifest.docs.clone());
        let root = self.root.name.clone();
        env.add_function(
            "doc",
            move |a: String, b: Option<String>| -> Result<String, minijinja::Error> {
                let (package, name) = match b {
                    Some(name) => (Some(a), name),
                    None => (None, a),
                };
                let found = docs.iter().find(|(id, _)| {
                    let mut parts = id.splitn(3, '.').skip(1);
                    let (pkg, n) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
                    n == name && package.as_deref().is_none_or(|p| p == pkg)
                });
                let preferred = docs
                    .get(&format!("doc.{root}.{name}"))
                    .filter(|_| package.is_none());
                match preferred.or(found.map(|(_, v)| v)) {
                    Some((_, text)) => Ok(text.clone()),
                    None => Err(minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!(
                            "no `{{% docs {name} %}}` block: write one in a .md file under the models folder"
                        ),
                    )),
                }
            },
        );
        // `what` names the description in an error; it is only built for one that fails.
        let render = |text: &mut String, what: &dyn Fn() -> String| -> Result<(), Diagnostic> {
            if text.contains("{{") || text.contains("{%") {
                *text = env.render_str(text, ()).map_err(|e| {
                    Diagnostic::new(format!(
                        "cannot render the description of {}: {}",
                        what(),
                        e.detail().unwrap_or(&e.to_string())
                    ))
                })?;
            }
            Ok(())
        };
        for node in self.manifest.nodes.values_mut() {
            let file = node.patch_path.as_deref().unwrap_or(&node.original_file_path);
            let what = || format!("`{}` ({file})", node.name);
            render(&mut node.description, &what)?;
            for c in &mut node.columns {
                render(&mut c.description, &|| {
                    format!("column `{}` of {}", c.name, what())
                })?;
            }
        }
        for source in self.manifest.sources.values_mut() {
            let what = || {
                format!(
                    "source `{}.{}` ({})",
                    source.source_name, source.name, source.original_file_path
                )
            };
            render(&mut source.description, &what)?;
            for c in &mut source.columns {
                render(&mut c.description, &|| {
                    format!("column `{}` of {}", c.name, what())
                })?;
            }
        }
        Ok(())
    }
}
