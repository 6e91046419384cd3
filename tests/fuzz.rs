//! Property tests of everything that reads user text: the selector parser and selection, the
//! project and property YAML loaders, and template rendering. The property is the same for
//! all: any input gives `Ok` or an error, never a panic; errors render as text.
//!
//! `cargo test` runs 256 cases of each; for a long run:
//! `PROPTEST_CASES=100000 bash scripts/test --test fuzz`.

use std::sync::{Arc, OnceLock};

use mallard::graph::{selector, Graph};
use mallard::manifest::Manifest;
use mallard::project::properties::Properties;
use mallard::project::{Project, ProjectFile};
use mallard::templating::{self, NodeContext, Recorded, RenderInput};
use proptest::prelude::*;

/// The chain fixture, parsed once: a manifest and graph to select from.
fn chain() -> &'static (Manifest, Graph) {
    static CHAIN: OnceLock<(Manifest, Graph)> = OnceLock::new();
    CHAIN.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chain");
        let project = Project::load(&root, &Default::default()).unwrap();
        let dirs = vec![root.clone()];
        let target =
            mallard::project::profile::load_target(&dirs, "fixture", None, &root, None, &Default::default())
                .unwrap();
        let macros: Vec<(String, String)> = project
            .macros
            .iter()
            .map(|f| (f.original_file_path.clone(), f.contents.clone()))
            .collect();
        let env = templating::environment(&macros, target.jinja_value()).unwrap();
        let manifest = mallard::manifest::parse::parse(&project, &target, &env).unwrap();
        let graph = Graph::build(&manifest).unwrap();
        (manifest, graph)
    })
}

/// Selector-shaped text: graph operators, methods, names, wildcards, commas and spaces.
fn selector_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("+".to_string()),
        Just("@".to_string()),
        Just(",".to_string()),
        Just(" ".to_string()),
        Just(":".to_string()),
        Just("*".to_string()),
        Just(".".to_string()),
        Just("/".to_string()),
        "[0-9]{1,3}",
        "(tag|path|fqn|config\\.materialized|resource_type|source|test_type|file|package|tagg)",
        "(stg_orders|customer_revenue|marts|shop|models/marts|raw_orders|nightly|table)",
        "\\PC{0,4}",
    ];
    prop::collection::vec(token, 0..10).prop_map(|t| t.concat())
}

/// YAML-shaped text built from a dbt vocabulary, so the loaders see deep, plausible trees.
fn yaml_text() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        "(name|profile|models|seeds|sources|tables|columns|data_tests|tests|config|vars|description)",
        "(\\+materialized|\\+schema|\\+tags|\\+enabled|\\+column_types|arguments|values|to|field|version)",
        "(model-paths|seed-paths|test-paths|target-path|severity|where|quote|identifier|schema)",
        "[a-z_]{1,8}",
    ];
    let scalar = prop_oneof![
        "[a-z_]{0,8}",
        Just("true".to_string()),
        Just("null".to_string()),
        "-?[0-9]{1,4}",
        Just("\"{{ env_var('HOME') }}\"".to_string()),
        Just("ref('x')".to_string()),
        Just("[a, b]".to_string()),
        Just("{a: 1}".to_string()),
        "\\PC{0,6}",
    ];
    let line = (0usize..4, any::<bool>(), key, prop::option::of(scalar)).prop_map(|(indent, dash, k, v)| {
        format!(
            "{}{}{}:{}",
            "  ".repeat(indent),
            if dash { "- " } else { "" },
            k,
            v.map(|v| format!(" {v}")).unwrap_or_default()
        )
    });
    prop::collection::vec(line, 0..14).prop_map(|lines| lines.join("\n"))
}

/// Jinja-shaped text: blocks, expressions, calls of the dbt context, filters, and noise.
fn template_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{{ ".to_string()),
        Just(" }}".to_string()),
        Just("{% ".to_string()),
        Just(" %}".to_string()),
        Just("{# ".to_string()),
        Just(" #}".to_string()),
        Just("ref('raw_orders')".to_string()),
        Just("ref('shop', 'x', 'y')".to_string()),
        Just("source('s', 't')".to_string()),
        Just("config(materialized='table')".to_string()),
        Just("config.get('x', 1)".to_string()),
        Just("var('v', 2)".to_string()),
        Just("var()".to_string()),
        Just("env_var('NOPE')".to_string()),
        Just("this".to_string()),
        Just("this.schema".to_string()),
        Just("target.name".to_string()),
        Just("cents_to_dollars('a')".to_string()),
        Just("if x".to_string()),
        Just("endif".to_string()),
        Just("for i in range(3)".to_string()),
        Just("endfor".to_string()),
        Just("macro m(a)".to_string()),
        Just("endmacro".to_string()),
        Just("set x = 1".to_string()),
        Just(" | upper".to_string()),
        Just("exceptions.raise_compiler_error('boom')".to_string()),
        Just("test t(model, column_name)".to_string()),
        Just("endtest".to_string()),
        Just("set l = []".to_string()),
        Just("set d = {}".to_string()),
        Just("do l.append(1)".to_string()),
        Just("do d.update({'a': 1})".to_string()),
        Just("return(1)".to_string()),
        Just("'a b'.split()".to_string()),
        "select [a-z]{1,5} from t\n",
        "\\PC{0,5}",
    ];
    prop::collection::vec(piece, 0..16).prop_map(|p| p.concat())
}

fn render_parse_phase(source: &str) -> Result<(String, Recorded), mallard::error::Diagnostic> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        let macros = vec![(
            "macros/m.sql".to_string(),
            "{% macro cents_to_dollars(c) %}({{ c }} / 100){% endmacro %}".to_string(),
        )];
        templating::environment(&macros, serde_json::json!({"name": "dev"})).unwrap()
    });
    let node = NodeContext::parse_phase(Arc::new(Default::default()), "main", "db");
    let input = RenderInput {
        file: "models/m.sql",
        source,
        this: None,
        model: serde_json::json!({}),
        extra: None,
    };
    templating::render(env, &input, node)
}

proptest! {
    /// Macro files are rewritten before minijinja sees them (macro renaming, `{% test %}`
    /// blocks, mutable literals); whatever they hold, loading them errs or succeeds.
    #[test]
    fn macro_files_never_panic(text in template_text()) {
        let macros = vec![("macros/m.sql".to_string(), text)];
        let _ = templating::environment(&macros, serde_json::json!({"name": "dev"})).map(|_| ()).map_err(|e| e.to_string());
    }

    #[test]
    fn selectors_never_panic(text in prop_oneof![selector_text(), "\\PC{0,30}"]) {
        let (manifest, graph) = chain();
        let _ = selector::parse_atom(&text).map_err(|e| e.to_string());
        let _ = selector::select(manifest, graph, std::slice::from_ref(&text), &[], None).map_err(|e| e.to_string());
        let _ = selector::select(manifest, graph, &[], std::slice::from_ref(&text), None).map_err(|e| e.to_string());
    }

    #[test]
    fn project_files_never_panic(text in prop_oneof![yaml_text(), "\\PC{0,60}"]) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dbt_project.yml"), &text).unwrap();
        let _ = Project::load(dir.path(), &Default::default()).map_err(|e| e.to_string());
        std::fs::write(dir.path().join("profiles.yml"), &text).unwrap();
        let dirs = vec![dir.path().to_path_buf()];
        let _ = mallard::project::profile::load_target(&dirs, "name", None, dir.path(), None, &Default::default()).map_err(|e| e.to_string());
    }

    #[test]
    fn property_files_never_panic(text in prop_oneof![yaml_text(), "\\PC{0,60}"]) {
        let file = ProjectFile { original_file_path: "models/x.yml".into(), path: "x.yml".into(), contents: text };
        let _ = Properties::load(&[file]).map_err(|e| e.to_string());
    }

    #[test]
    fn templates_never_panic(text in prop_oneof![template_text(), "\\PC{0,60}"]) {
        let _ = render_parse_phase(&text).map_err(|e| e.to_string());
    }
}

/// Recursion (direct and mutual, with and without an end), deep nesting of blocks and large
/// loops never abort the process: each renders or ends in an error. Rendered on a thread with
/// the stack every rendering thread of Mallard has.
#[test]
fn recursion_nesting_and_loops_never_abort() {
    let cases: Vec<(String, String)> = vec![
        (
            "{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}".into(),
            "{{ r(0) }}".into(),
        ),
        (
            "{% macro a(n) %}{{ b(n) }}{% endmacro %}{% macro b(n) %}{{ a(n) }}{% endmacro %}".into(),
            "{{ a(0) }}".into(),
        ),
        (
            "{% macro r(n) %}{% if n > 0 %}{{ r(n - 1) }}{% endif %}{% endmacro %}".into(),
            "{{ r(150) }}{{ r(199) }}{{ r(100000) }}".into(),
        ),
        (
            String::new(),
            format!("{}x{}", "{% if true %}".repeat(150), "{% endif %}".repeat(150)),
        ),
        (
            String::new(),
            "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}".into(),
        ),
    ];
    for (macros, model) in cases {
        let outcome = std::thread::Builder::new()
            .stack_size(templating::RENDER_STACK_SIZE)
            .spawn(move || {
                let env = templating::environment(
                    &[("macros/m.sql".to_string(), macros)],
                    serde_json::json!({"name": "dev"}),
                )
                .map_err(|e| e.to_string())?;
                let node = NodeContext::parse_phase(Arc::new(Default::default()), "main", "db");
                let input = RenderInput {
                    file: "models/m.sql",
                    source: &model,
                    this: None,
                    model: serde_json::json!({}),
                    extra: None,
                };
                templating::render(&env, &input, node)
                    .map(|_| ())
                    .map_err(|e| e.message)
            })
            .unwrap()
            .join();
        let outcome = outcome.expect("rendering never panics or aborts");
        if let Err(message) = outcome {
            assert!(!message.is_empty());
        }
    }
}
