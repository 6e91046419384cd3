"""dbt's built-in macro namespace, called with generated arguments: the oracle of tests/namespace.rs.

    python record.py SITE_PACKAGES PROJECT_DIR

With a file `corpus_packages.txt` in PROJECT_DIR (one folder of ../shared/realworld per line,
each a package), the macros called are those packages' public macros instead (not starting
with `_`, not adapter implementations), as `{{ <package>.<name>(ARGS) }}` with only the
parameters that have no default, each package copied into PROJECT_DIR/dbt_packages while dbt
runs (dbt reads them there, as without `dbt deps`).

Lists every public macro of dbt's global project and of dbt-duckdb (the `{% macro name(...) %}`
definitions under `dbt/include/` in the oracle venv's site-packages; "public": not an adapter
implementation `<adapter>__name` and not a materialization), and writes PROJECT_DIR as a dbt
project with one model per macro, `models/m__<name>.sql`, that prints `{{ dbt.<name>(ARGS) }}`
when it runs (not when dbt parses it).
The arguments are generated from each parameter's name (ARG_BY_PARAM; a few macros get a call of
their own in CALLS): relations are one seed, `people`, that `dbt seed` loads first, or a
relation in a scratch schema for the macros that drop, rename or alter. Then it runs
`dbt seed` and `dbt compile` and writes `expected/compiled.jsonl`, one JSON object per macro:
`{"macro": name, "call": the model's text, "output": compiled text}`, or `"error": true`
when dbt's compile of that model failed (which error is not compared), or `"unprintable": true`
when what dbt printed holds a memory address (`<agate.table.Table object at 0x...>`).
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

# A parameter's generated argument, by the parameter's name.
ARG_BY_PARAM = {
    "relation": "people", "target_relation": "people", "existing_relation": "people",
    "from_relation": "people", "this_relation": "people", "base_relation": "people",
    "old_relation": "people", "source_relation": "people", "target": "people", "source": "people",
    "snapshotted_rel": "people", "current_rel": "people", "staging_relation": "people",
    "intermediate_relation": "people", "backup_relation": "people", "defer_relation": "people",
    "schema_relation": "people", "table": "none", "model": "model", "parsed_model": "model",
    "node": "model", "config": "config", "sql": "'select 1 as id'", "select_sql": "'select 1 as id'",
    "main_sql": "'select 1 as id'", "compiled_code": "'select 1 as id'",
    "snapshot_sql": "'select 1 as id, current_timestamp as updated_at'",
    "source_sql": "'select 1 as id'", "build_sql": "'select 1 as id'",
    "expected_fixture_sql": "'select 1 as id'", "expected_column_names": "['id']",
    "sql_header": "none", "select_sql_header": "none", "limit": "5", "fail_calc": "'count(*)'",
    "warn_if": "'!= 0'", "error_if": "'!= 0'", "column_name": "'id'", "new_column_type": "'bigint'",
    "columns": "columns", "dest_columns": "columns", "source_columns": "columns",
    "target_columns": "columns", "column_names": "['id', 'name']", "add_columns": "none",
    "remove_columns": "none", "unique_key": "'id'", "incremental_predicates": "none",
    "predicates": "none", "include_sql_header": "false", "information_schema": "people.information_schema()",
    "schema": "target.schema", "schemas": "[target.schema]", "relations": "[people]",
    "database": "target.database", "schema_name": "'scratch_schema'", "date_str": "'20240131'",
    "date_fmt": "'%Y%m%d'", "start_date_str": "'20240101'", "end_date_str": "'20240104'",
    "raw_partition_date": "'20240101,20240103'", "hooks": "[]", "inside_transaction": "true",
    "rows": "[{'id': 1, 'name': 'a'}]", "row": "{'id': 1, 'name': 'a'}",
    "column_name_to_data_types": "{'id': 'integer', 'name': 'varchar'}",
    "column_name_to_quoted": "{'id': '\"id\"', 'name': '\"name\"'}", "row_number": "1",
    "grant_config": "{}", "privilege": "'select'", "grantees": "['someone']", "should_revoke": "false",
    "full_refresh_mode": "true", "full_refresh": "false", "timestamp": "'2024-01-01 00:00:00'",
    "args": "['id', 'name']", "identifier": "'snapshotted_data'", "from_identifier": "'source_data'",
    "on_schema_change": "'ignore'", "default": "'ignore'", "loaded_at_field": "'updated_at'",
    "loaded_at_query": "'select max(updated_at) from people'", "filter": "none", "name": "'main'",
    "comment": "'a comment'", "relation_comment": "'a comment'",
    "column_dict": "{'id': {'name': 'id', 'description': 'the key'}}", "existing_column_names": "['id']",
    "merge_update_columns": "none", "merge_exclude_columns": "none", "new_name": "'people_renamed'",
    "index_dict": "{'columns': ['id']}", "index_name": "'people_id_idx'", "location": "'people.parquet'",
    "format": "'parquet'", "options": "{'format': 'parquet'}", "input_model_name": "'people'",
    "field_value": "'x'", "field_name": "'x'", "errors": "[]", "raw": "'id'", "expression": "'id'",
    "temporary": "false", "insert_cols": "['id']", "check_cols_config": "'all'",
    "target_exists": "true", "model_config": "config", "strategy": "none",
    "create_or_truncate_sql": "'select 1'", "insert_sql": "'select 2'", "agate_table": "none",
    "dcl_statement_list": "[]", "get_dcl_macro": "none", "merge_update_condition": "none",
    "merge_insert_condition": "none", "merge_update_set_expressions": "{}", "volatility": "'volatile'",
    "plugin": "none", "partitioned_by": "none", "sorted_by": "none", "dropped": "[]",
    "for_relation": "true", "for_columns": "true", "schema_changes_dict": "{}",
    "merge_clauses": "[]", "clause_type": "'when_matched'", "base_configuration_fields": "[]",
    "custom_alias_name": "none", "custom_schema_name": "none", "custom_database_name": "none",
    "existing": "none", "source_unique_key": "'id'", "target_unique_key": "'id'",
    "configuration_changes": "none", "new_config": "none", "pre_hooks": "[]", "post_hooks": "[]",
    "res": "none", "message": "none", "code": "none", "rows_affected": "none", "fetch_result": "false",
    "arg_dict": "{'target_relation': people, 'temp_relation': scratch, 'unique_key': 'id', "
                "'dest_columns': columns, 'incremental_predicates': none}",
    "auto_begin": "true", "language": "'sql'", "in_fmt": "'%Y%m%d'", "out_fmt": "'%Y%m%d'",
}

# Macros whose call is not the generated one.
CALLS = {
    # These drop, rename, truncate or alter: they get a relation in a schema of their own.
    **{name: "dbt.%s(scratch)" % name for name in [
        "drop_table", "drop_view", "drop_materialized_view", "drop_relation_for_rebuild",
        "get_drop_sql", "get_drop_backup_sql", "refresh_materialized_view", "create_indexes",
        "drop_indexes_on_relation", "drop_foreign_key_dependents", "get_create_backup_sql",
        "get_rename_intermediate_sql", "drop_relation", "drop_relation_if_exists", "truncate_relation",
        "drop_schema", "create_schema",
    ]},
    "reset_csv_table": "dbt.reset_csv_table(model, false, scratch, none)",
    "rename_relation": "dbt.rename_relation(scratch, scratch.incorporate(path={'identifier': 'renamed'}))",
    "alter_column_type": "dbt.alter_column_type(scratch, 'id', 'bigint')",
    "alter_relation_add_remove_columns": "dbt.alter_relation_add_remove_columns(scratch, none, none)",
    "alter_column_comment": "dbt.alter_column_comment(scratch, {})",
    "alter_relation_comment": "dbt.alter_relation_comment(scratch, 'a comment')",
    "statement": "none",
    "run_query": "dbt.run_query('select 1 as one').columns[0].values()",
    "get_where_subquery": "dbt.get_where_subquery(people)",
    "is_incremental": "dbt.is_incremental()",
    # Relation macros that branch on the relation's type get a table (a relation whose type
    # is known, as one the catalog found).
    **{name: "dbt.%s(people_table, 'select 1 as id')" % name for name in [
        "get_create_sql", "get_create_intermediate_sql", "get_replace_sql", "get_replace_table_sql",
    ]},
    **{name: "dbt.%s(people_table, 'people_renamed')" % name for name in [
        "get_rename_sql", "get_rename_table_sql",
    ]},
    "get_rename_view_sql": "dbt.get_rename_view_sql(people_table.incorporate(type='view'), 'people_renamed')",
    "get_replace_view_sql": "dbt.get_replace_view_sql(people_table.incorporate(type='view'), 'select 1 as id')",
    "get_create_backup_sql": "dbt.get_create_backup_sql(people_table)",
    "get_rename_intermediate_sql": "dbt.get_rename_intermediate_sql(people_table)",
    "get_replace_sql": "dbt.get_replace_sql(people_table, people_table, 'select 1 as id')",
    # Cross-database macros, with the arguments tests/fixtures/cross_db gives them.
    "concat": "dbt.concat(['name', \"'x'\"])",
    "array_construct": "dbt.array_construct(['1', '2'], 'integer')",
    "listagg": "dbt.listagg('name', \"', '\", 'order by name', none)",
    "get_powers_of_two": "dbt.get_powers_of_two(8)",
    "get_intervals_between": "dbt.get_intervals_between(\"'2024-01-01'\", \"'2024-01-05'\", 'day')",
    "date_spine": "dbt.date_spine('day', \"cast('2024-01-01' as date)\", \"cast('2024-01-05' as date)\")",
    "get_empty_schema_sql": "dbt.get_empty_schema_sql({'id': {'name': 'id', 'data_type': 'integer'}})",
    "noop_statement": "dbt.noop_statement('main', 'OK', 'OK', 1, none)",
    "strategy_dispatch": "dbt.strategy_dispatch('timestamp')",
}

PROLOGUE = """\
{%- set people = api.Relation.create(database=target.database, schema=target.schema, identifier='people') -%}
{%- set scratch = api.Relation.create(database=target.database, schema='scratch_schema', identifier='scratch') -%}
{%- set columns = adapter.get_columns_in_relation(people) if execute else [] -%}
{%- set people_table = people.incorporate(type='table') -%}
"""


def public_macros(site_packages):
    """{name: [parameter names]} of dbt's global project and dbt-duckdb, first definition wins."""
    found = {}
    pattern = re.compile(r"\{%-?\s*macro\s+(\w+)\s*\((.*?)\)\s*-?%\}", re.S)
    for path in sorted(glob.glob(site_packages + "/dbt/include/**/*.sql", recursive=True)):
        for name, params in pattern.findall(open(path).read()):
            if re.match(r"^(\w+__|materialization_)", name) or name in found:
                continue
            found[name] = [p.split("=")[0].strip() for p in params.split(",") if p.strip()]
    return found


def call_of(name, params):
    if name in CALLS:
        return CALLS[name]
    args = [ARG_BY_PARAM.get(p, "none") for p in params if not p.startswith("*")]
    return "dbt.%s(%s)" % (name, ", ".join(args))


# A package macro's generated argument, by parameter name, before ARG_BY_PARAM: packages mean
# a relation by `model`, and name columns, dates and queries in their own words.
PACKAGE_ARG_BY_PARAM = {
    "model": "people", "relation": "people", "a_relation": "people", "b_relation": "people",
    "from": "people", "table": "people", "column": "'id'", "column_name": "'id'",
    "columns": "['id', 'name']", "field_list": "['id', 'name']", "cols": "['id', 'name']",
    "field": "'id'", "expression": "'id'", "expr": "'id'", "value": "'x'", "string": "'name'",
    "primary_key": "'id'", "primary_key_columns": "['id']", "unique_id_column": "'id'",
    "date": "\"cast('2024-01-15' as date)\"", "timestamp": "\"cast('2024-01-15 10:00:00' as timestamp)\"",
    "ts": "\"cast('2024-01-15 10:00:00' as timestamp)\"", "start_date": "\"'2024-01-01'\"",
    "end_date": "\"'2024-01-31'\"", "datepart": "'day'", "date_part": "'day'", "period": "'day'",
    "n": "2", "upper_bound": "10", "year": "2024", "month": "1", "day": "15",
    "a_query": "'select id, name from ' ~ people", "b_query": "'select id, name from ' ~ people",
    "query": "'select id, name from ' ~ people", "query_a": "'select id, name from ' ~ people",
    "query_b": "'select id, name from ' ~ people", "sql": "'select id, name from ' ~ people",
    "min_value": "0", "max_value": "10", "numerator": "'id'", "denominator": "'id'",
    "prefix": "'p_'", "suffix": "'_s'", "schema": "target.schema", "database": "target.database",
    "schema_pattern": "target.schema", "table_pattern": "'peop%'", "where": "'id > 0'",
    "exclude": "['name']", "except": "['name']", "dates": "['2024-01-01']", "interval": "1",
    "quantile": "0.5", "values": "[1, 2]", "x": "'id'", "position": "1", "delimiter": "','",
    "format": "'%Y-%m-%d'", "tz": "'UTC'", "regexp": "'a'", "shift_year": "1",
}


def package_macros(package_dir):
    """(package name, {name: [(parameter, has default)]}) of a package's public macros."""
    text = open(os.path.join(package_dir, "dbt_project.yml")).read()
    package = re.search(r"^name:\s*['\"]?([\w]+)", text, re.M).group(1)
    found = {}
    pattern = re.compile(r"\{%-?\s*macro\s+(\w+)\s*\((.*?)\)\s*-?%\}", re.S)
    for path in sorted(glob.glob(package_dir + "/macros/**/*.sql", recursive=True)):
        for name, params in pattern.findall(open(path).read()):
            if re.match(r"^(\w+__|_)", name) or name in found:
                continue
            found[name] = [(p.split("=")[0].strip(), "=" in p) for p in params.split(",") if p.strip()]
    return package, found


def package_call_of(package, name, params):
    args = [PACKAGE_ARG_BY_PARAM.get(p, ARG_BY_PARAM.get(p, "none"))
            for p, has_default in params if not has_default and not p.startswith("*")]
    return "%s.%s(%s)" % (package, name, ", ".join(args))


def main():
    site_packages, project = sys.argv[1], os.path.abspath(sys.argv[2])
    models = os.path.join(project, "models")
    shutil.rmtree(models, ignore_errors=True)
    os.makedirs(models)
    calls = {}
    listed = os.path.join(project, "corpus_packages.txt")
    if os.path.exists(listed):
        corpus = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../shared/realworld")
        shutil.rmtree(os.path.join(project, "dbt_packages"), ignore_errors=True)
        for folder in open(listed).read().split():
            package, macros = package_macros(os.path.join(corpus, folder))
            shutil.copytree(os.path.join(corpus, folder), os.path.join(project, "dbt_packages", package),
                            ignore=shutil.ignore_patterns("integration_tests", "integration-tests*", ".git"))
            for name, params in macros.items():
                calls[package + "." + name] = package_call_of(package, name, params)
    else:
        for name, params in public_macros(site_packages).items():
            calls[name] = call_of(name, [p for p in params])
    for name, call in sorted(calls.items()):
        with open(os.path.join(models, "m__%s.sql" % name.replace(".", "__")), "w") as f:
            f.write(PROLOGUE + "{%% if execute %%}{{ %s }}{%% endif %%}\n" % call)
    env = dict(os.environ, DBT_PROFILES_DIR=project)
    for path in glob.glob(os.path.join(project, "*.duckdb")):
        os.remove(path)
    shutil.rmtree(os.path.join(project, "target"), ignore_errors=True)
    dbt = os.path.join(os.path.dirname(sys.executable), "dbt")
    subprocess.run([dbt, "seed"], cwd=project, env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([dbt, "compile", "--threads", "1"], cwd=project, env=env, stdout=subprocess.DEVNULL)
    name = re.search(r"^name:\s*(\w+)", open(os.path.join(project, "dbt_project.yml")).read(), re.M).group(1)
    compiled = os.path.join(project, "target", "compiled", name, "models")
    os.makedirs(os.path.join(project, "expected"), exist_ok=True)
    with open(os.path.join(project, "expected", "compiled.jsonl"), "w") as out:
        for name, call in sorted(calls.items()):
            path = os.path.join(compiled, "m__%s.sql" % name.replace(".", "__"))
            case = {"macro": name, "call": call}
            output = open(path).read() if os.path.exists(path) else None
            if output is not None and " object at 0x" in output:
                case["unprintable"] = True
            elif output is not None:
                case["output"] = output
            else:
                case["error"] = True
            out.write(json.dumps(case) + "\n")
    shutil.rmtree(os.path.join(project, "target"), ignore_errors=True)
    shutil.rmtree(os.path.join(project, "logs"), ignore_errors=True)
    shutil.rmtree(os.path.join(project, "dbt_packages"), ignore_errors=True)
    for path in glob.glob(os.path.join(project, "*.duckdb")):
        os.remove(path)


if __name__ == "__main__":
    main()
