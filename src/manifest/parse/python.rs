//! Python models (`models/**/*.py`) as nodes of the graph, as dbt parses them: their
//! `dbt.ref(...)`, `dbt.source(...)` and `dbt.config(...)` calls are what they depend on and how
//! they are configured. Mallard cannot run them (see `compile`): a project with one builds
//! what it selects around it.

use super::*;

impl Parser<'_> {
    /// Adds Python model file `f` (identity `id`, properties `props`): configured and
    /// depending as its calls say (read by [`python_calls`]), materialized `table` unless
    /// configured otherwise (dbt's default for Python models), with its Python code as the
    /// node's code.
    ///
    /// Errors: a bad argument of a call (a `ref` to no model is found when refs resolve).
    pub(super) fn python_model(
        &mut self,
        f: &ProjectFile,
        id: &ModelId,
        props: Option<&NodeProps>,
    ) -> Result<()> {
        let calls = ProjectFile {
            contents: python_calls(&f.contents),
            ..f.clone()
        };
        let (mut config, recorded) = self.render_model(&calls, id, props)?;
        if config.materialized() == "view" {
            config.0.insert("materialized".into(), Value::from("table"));
        }
        self.model(&calls, id, props, config, recorded)?;
        if let Some(node) = self.manifest.nodes.get_mut(&id.unique_id(&self.project.name)) {
            node.raw_code = f.contents.trim_end().to_string();
            node.checksum = super::file_text_checksum(&f.contents);
            node.python = true;
        }
        Ok(())
    }
}

/// The `dbt.ref(...)`, `dbt.source(...)` and `dbt.config(...)` calls of Python model code
/// `code` as a Jinja template that makes the same calls (`{{ ref(...) }}`), each on the line
/// of the call, so that errors and recorded calls keep the file's lines. Python's call syntax
/// for literal arguments is Jinja's too. Code without calls gives a template that renders
/// nothing but is not empty.
pub(super) fn python_calls(code: &str) -> String {
    let mut out = String::from("{#- a Python model: its dbt calls -#}");
    let mut at = 0;
    let bytes = code.as_bytes();
    while at < code.len() {
        let rest = &code[at..];
        let call = ["dbt.ref(", "dbt.source(", "dbt.config("]
            .into_iter()
            .find(|c| rest.starts_with(c) && (at == 0 || !is_name_byte(bytes[at - 1])));
        let Some(call) = call else {
            match bytes[at] {
                b'\n' => out.push('\n'),
                b'#' => {
                    // A comment runs to the end of the line.
                    at += rest.find('\n').unwrap_or(rest.len());
                    continue;
                }
                quote @ (b'"' | b'\'') => {
                    at = string_end(code, at, quote);
                    continue;
                }
                _ => {}
            }
            at += 1;
            continue;
        };
        let open = at + call.len() - 1;
        let Some(close) = close_paren(code, open) else {
            break;
        };
        let name = &call["dbt.".len()..call.len() - 1];
        let args = code[open + 1..close].replace('\n', " ");
        out.push_str(&format!("{{{{ {name}({args}) }}}}"));
        // The lines the call spans stay lines of the template.
        out.push_str(&"\n".repeat(code[at..close].matches('\n').count()));
        at = close + 1;
    }
    out
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.'
}

/// The index just past the Python string starting at `start` (quote `quote`, possibly
/// tripled), or the end of `code`.
fn string_end(code: &str, start: usize, quote: u8) -> usize {
    let bytes = code.as_bytes();
    let triple = bytes.get(start..start + 3) == Some(&[quote, quote, quote][..]);
    let mut i = start + if triple { 3 } else { 1 };
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b if b == quote && !triple => return i + 1,
            b if b == quote && bytes.get(i..i + 3) == Some(&[quote, quote, quote][..]) => return i + 3,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The index of the `)` closing the `(` at `open`, skipping strings; `None` when unclosed.
fn close_paren(code: &str, open: usize) -> Option<usize> {
    let bytes = code.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            q @ (b'"' | b'\'') => {
                i = string_end(code, i, q);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::python_calls;

    #[test]
    fn a_python_models_dbt_calls_become_jinja_calls_on_their_lines() {
        let code = "import pandas as pd\n\ndef model(dbt, session):\n    dbt.config(materialized=\"table\", packages=[\"pandas\"])\n    # dbt.ref('commented')\n    orders = dbt.ref(\"orders\").df()\n    raw = dbt.source(\n        'shop', 'customers')\n    s = \"dbt.ref('in_a_string')\"\n    return orders\n";
        assert_eq!(
            python_calls(code),
            "{#- a Python model: its dbt calls -#}\n\n\n{{ config(materialized=\"table\", packages=[\"pandas\"]) }}\n\n{{ ref(\"orders\") }}\n{{ source(         'shop', 'customers') }}\n\n\n\n"
        );
    }
}
