//! Resolving each node's `ref()` and `source()` calls to the nodes they name, once every
//! node is in: dependencies, relations for ephemeral models, and errors with the closest name.

use super::*;

impl Parser<'_> {
    /// Resolves every recorded ref and source to a `unique_id` and fills `depends_on`.
    pub(super) fn resolve(&mut self) -> Result<()> {
        let source_ids: BTreeMap<(String, String), String> = self
            .manifest
            .sources
            .values()
            .map(|s| ((s.source_name.clone(), s.name.clone()), s.unique_id.clone()))
            .collect();
        for node in self.manifest.nodes.values_mut() {
            let mut deps: BTreeSet<String> = node.depends_on.drain(..).collect();
            for r in &node.refs {
                if let Some(pkg) = &r.value.package {
                    if !self.manifest.package_roots.contains_key(pkg) {
                        let known: Vec<&str> =
                            self.manifest.package_roots.keys().map(String::as_str).collect();
                        return Err(Diagnostic::new(format!(
                            "unknown package `{pkg}` in `ref('{pkg}', '{}')`",
                            r.value.name
                        ))
                        .at(r.location.clone())
                        .help(format!(
                            "the project and its packages are: {}; add the package to packages.yml (a `local:` one) or to {}/",
                            known.join(", "),
                            self.root.packages_install_path
                        ))
                        .into());
                    }
                }
                let found = Self::find_named(
                    &self.names,
                    &self.root.name,
                    &node.package_name,
                    r.value.package.as_deref(),
                    &r.value.key(),
                );
                match found {
                    Some(id) => {
                        deps.insert(id);
                    }
                    None => {
                        let mut d = Diagnostic::new(format!(
                            "`{}` refers to `{}`, which is not a model or seed of this project",
                            node.name, r.value.name
                        ))
                        .at(r.location.clone());
                        d = match did_you_mean(&r.value.name, self.names.keys().map(|(_, n)| n.as_str())) {
                            Some(s) => d.help(format!("did you mean `{s}`?")),
                            None => d.help("check the name, or add the model (or seed) it refers to"),
                        };
                        return Err(d.into());
                    }
                }
            }
            for s in &node.sources {
                match source_ids.get(&s.value) {
                    Some(id) => {
                        deps.insert(id.clone());
                    }
                    None => {
                        let (src, table) = &s.value;
                        let known: Vec<String> = source_ids.keys().map(|(a, b)| format!("{a}.{b}")).collect();
                        let wanted = format!("{src}.{table}");
                        let mut d = Diagnostic::new(format!(
                            "`{}` refers to source `{wanted}`, which is not declared",
                            node.name
                        ))
                        .at(s.location.clone());
                        d = match did_you_mean(&wanted, known.iter().map(String::as_str)) {
                            Some(sug) => d.help(format!("did you mean `{sug}`?")),
                            None => d.help(format!("declare it under `sources:` in a property file: `- name: {src}` with `tables: [{{name: {table}}}]`")),
                        };
                        return Err(d.into());
                    }
                }
            }
            node.depends_on = deps.into_iter().collect();
        }
        Ok(())
    }
}
