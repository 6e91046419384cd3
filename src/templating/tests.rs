//! Unit tests of the templating layer: rendering, `ref`/`source`/`config` recording, error
//! locations.

use super::*;

fn parse_ctx() -> NodeContext {
    NodeContext::parse_phase(Arc::new(Map::new()), "main", "db")
}

fn input<'a>(src: &'a str) -> RenderInput<'a> {
    RenderInput {
        file: "models/m.sql",
        source: src,
        this: None,
        model: serde_json::json!({}),
        extra: None,
    }
}

#[test]
fn parse_phase_records_calls_in_order() {
    let env = environment(&[], serde_json::json!({})).unwrap();
    let src = "{{ config(materialized='table', tags=['a']) }}select * from {{ ref('b') }} join {{ source('raw', 't') }} join {{ ref('pkg', 'c') }}";
    let (out, rec) = render(&env, &input(src), parse_ctx()).unwrap();
    assert_eq!(
        out,
        "select * from \"db\".\"main\".\"b\" join \"db\".\"raw\".\"t\" join \"db\".\"main\".\"c\""
    );
    assert_eq!(
        rec.refs,
        vec![
            RefCall {
                package: None,
                name: "b".into(),
                version: None,
            },
            RefCall {
                package: Some("pkg".into()),
                name: "c".into(),
                version: None,
            },
        ]
    );
    assert_eq!(rec.sources, vec![("raw".to_string(), "t".to_string())]);
    assert_eq!(rec.configs[0]["materialized"], serde_json::json!("table"));
}

#[test]
fn macros_see_the_calling_nodes_context() {
    let macros = vec![(
        "macros/m.sql".to_string(),
        "{% macro cents(col) %}({{ col }} * 100){% endmacro %}{% macro from_b() %}{{ ref('b') }}{% endmacro %}".to_string(),
    )];
    let env = environment(&macros, serde_json::json!({})).unwrap();
    let (out, rec) = render(
        &env,
        &input("select {{ cents('x') }} from {{ from_b() }}"),
        parse_ctx(),
    )
    .unwrap();
    assert_eq!(out, "select (x * 100) from \"db\".\"main\".\"b\"");
    assert_eq!(rec.refs.len(), 1, "a ref inside a macro is recorded for the node");
}

#[test]
fn each_top_level_macro_block_is_found_with_its_range() {
    let text =
        "{# {% macro commented() %} #}{% set x = 1 %}\n{%- macro a(y) -%}{% macro inner() %}{% endmacro %}\
                {% raw %}{% endmacro %}{% endraw %}{%- endmacro %}\n{% macro b() %}unclosed";
    let blocks = macro_blocks(text);
    let names: Vec<&str> = blocks.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(blocks[0].arguments, ["y"]);
    assert!(text[blocks[0].range.clone()].starts_with("{%- macro a(y)"));
    assert!(text[blocks[0].range.clone()].ends_with("{%- endmacro %}"));
    assert_eq!(
        blocks[1].range.end,
        text.len(),
        "an unclosed block runs to the end"
    );
    assert!(macro_blocks("select 1").is_empty());
}

#[test]
fn a_test_block_is_macro_test_name_with_its_arguments() {
    let text =
        "{% test positive(model, column_name, min=0) %}select 1{% endtest %}\n{% macro m() %}{% endmacro %}";
    let blocks = macro_blocks(text);
    assert_eq!(blocks[0].name, "test_positive");
    assert!(blocks[0].is_test);
    assert_eq!(blocks[0].arguments, ["model", "column_name", "min"]);
    assert!(text[blocks[0].range.clone()].ends_with("{% endtest %}"));
    assert_eq!((blocks[1].name.as_str(), blocks[1].is_test), ("m", false));
}

#[test]
fn macros_do_not_see_the_text_between_blocks() {
    // dbt compiles each macro block of a file on its own: a top-level `set` is seen by no
    // macro (checked with dbt 1.11: `''` and `False`).
    let macros = vec![(
        "macros/m.sql".to_string(),
        "{% set x = 41 %}\n{% macro m() %}'{{ x }}'{% endmacro %}\n{% macro n() %}{{ x is defined }}{% endmacro %}".to_string(),
    )];
    let env = environment(&macros, serde_json::json!({})).unwrap();
    let (out, _) = render(&env, &input("select {{ m() }} as a, {{ n() }} as b"), parse_ctx()).unwrap();
    assert_eq!(out, "select '' as a, False as b");
}

#[test]
fn an_error_in_a_macro_names_its_file_and_line() {
    let macros = vec![(
        "macros/m.sql".to_string(),
        "{% macro a() %}1{% endmacro %}\n\n{% macro b() %}\n{{ missing_fn() }}{% endmacro %}".to_string(),
    )];
    let env = environment(&macros, serde_json::json!({})).unwrap();
    let err = render(&env, &input("select {{ b() }}"), parse_ctx()).unwrap_err();
    let loc = err.location.expect("a location");
    assert_eq!((loc.file.as_str(), loc.line), ("macros/m.sql", 4));
}

#[test]
fn missing_var_is_an_error_at_its_line() {
    let env = environment(&[], serde_json::json!({})).unwrap();
    let err = render(
        &env,
        &input("select 1\nwhere d = '{{ var(\"as_of\") }}'"),
        parse_ctx(),
    )
    .unwrap_err();
    assert!(
        err.message.contains("required var `as_of` not found"),
        "{}",
        err.message
    );
    assert_eq!(err.location.unwrap().line, 2);
}

#[test]
fn macros_are_renamed_and_empty_literals_made_mutable() {
    assert_eq!(
        rename_macros("{% macro a() %}x{% endmacro %}{%- macro  b(x) -%}"),
        "{% macro mallard_macro__a() %}x{% endmacro %}{%- macro  mallard_macro__b(x) -%}"
    );
    assert_eq!(
        rename_macros("{%- test positive(model, column_name) -%}x{%- endtest %}"),
        "{%- macro mallard_macro__test_positive(model, column_name) -%}x{%- endmacro %}"
    );
    assert_eq!(
        mutable_literals("{% set a = [] %}{%- set b={} -%}{% set c = [1] %}{{ [] }}"),
        "{% set a = mallard_list([]) %}{%- set b=mallard_dict({}) -%}{% set c = mallard_list([1]) %}{{ mallard_list([]) }}"
    );
    // Subscripts, slices, strings, comments and raw blocks stay as they are.
    assert_eq!(
        mutable_literals("{{ a[0] ~ b['[x]'][1:] }}{# [c] #}{% raw %}{{ [d] }}{% endraw %}{% do x.update({'k': [1, f(2)[0]]}) %}"),
        "{{ a[0] ~ b['[x]'][1:] }}{# [c] #}{% raw %}{{ [d] }}{% endraw %}{% do x.update(mallard_dict({'k': mallard_list([1, f(2)[0]])})) %}"
    );
    assert_eq!(mutable_literals("select a[1] from t"), "select a[1] from t");
    assert_eq!(
        arith::timedelta_arithmetic("set d = (x.today() - modules.datetime.timedelta(days=10)) "),
        "set d = (mallard_datetime_arith(x.today(), '-', modules.datetime.timedelta(days=10))) "
    );
    assert_eq!(
        arith::timedelta_arithmetic("set took = modules.datetime.datetime.now() - start_time "),
        "set took = mallard_datetime_arith(modules.datetime.datetime.now(), '-', start_time) "
    );
    assert_eq!(
        arith::timedelta_arithmetic("set n = now() - 1"),
        "set n = now() - 1"
    );
    // In a template that uses timedeltas, two names added may be timedeltas; other sums stay.
    let src = "{% set d = modules.datetime.timedelta(seconds=1) %}{% set t = d + d %}{{ t.total_seconds() }} \
               {% set n = 2 %}{{ n + n }} {{ 1 + n * 2 }} {% set s = 'a' %}{{ s + s }} {{ {'k': d + d}['k'].seconds }}";
    let rewritten = mutable_literals(src);
    assert!(
        rewritten.contains("set t = mallard_datetime_arith(d, '+', d)"),
        "{rewritten}"
    );
    assert!(rewritten.contains("{{ 1 + n * 2 }}"), "{rewritten}");
    let env = environment(&[], serde_json::json!({})).unwrap();
    let (out, _) = render(&env, &input(src), parse_ctx()).unwrap();
    assert_eq!(out, "2.0 4 5 aa 2");
}

#[test]
fn return_ends_the_macro_even_from_a_sibling() {
    let macros = vec![(
        "macros/m.sql".to_string(),
        "{% macro inner() %}{{ return(1) }}never{% endmacro %}{% macro outer() %}{% set x = inner() %}{{ return(x + 1) }}{% endmacro %}"
            .to_string(),
    )];
    let env = environment(&macros, serde_json::json!({})).unwrap();
    let (out, _) = render(&env, &input("{{ outer() }}"), parse_ctx()).unwrap();
    assert_eq!(out, "2");
    let err = render(&env, &input("{{ return(3) }}"), parse_ctx()).unwrap_err();
    assert!(err.message.contains("outside a macro"), "{}", err.message);
}

#[test]
fn a_macro_called_with_a_block_or_handed_a_macro_calls_it_back() {
    let macros = vec![(
        "macros/m.sql".to_string(),
        "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}|{{ caller('again') }}</{{ tag }}>{% endmacro %}\
         {% macro apply(f, x) %}{{ f(x) }}{% endmacro %}"
            .to_string(),
    )];
    let env = environment(&macros, serde_json::json!({})).unwrap();
    let src = "{% call(word='body') wrap('b') %}{{ word }}{% endcall %} \
               {% macro shout(s) %}{{ s | upper }}{% endmacro %}{{ apply(shout, 'hi') }} \
               {{ render('{{ 1 + 1 }}') }} {% do context.update({'k': 'v'}) %}{{ context.get('k') }}";
    let (out, _) = render(&env, &input(src), parse_ctx()).unwrap();
    assert_eq!(out, "<b>body|again</b> HI 2 v");
}

#[test]
fn finds_the_line_of_a_call() {
    let src = "select 1\nfrom {{ my_ref('a') }}\njoin {{ ref('a') }}";
    assert_eq!(find_call_line(src, "ref", "a"), Some((3, 9)));
    assert_eq!(find_call_line(src, "ref", "zzz"), Some((3, 9)));
    assert_eq!(find_call_line("select 1", "ref", "a"), None);
}
