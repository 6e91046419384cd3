{#- The SQL helpers of dbt's materializations as dbt-duckdb renders them: incremental strategies
    and merges, schema changes, snapshots, data and unit tests, hooks and seeds. Written for
    Mallard, for projects whose own materializations and strategies call them (Mallard's
    built-in materializations are its own code); tests/namespace.rs compares each with dbt's. -#}

{#- Incremental strategies: `arg_dict` holds target_relation, temp_relation, unique_key,
    dest_columns and incremental_predicates. -#}
{% macro get_incremental_append_sql(arg_dict) %}{{ return(adapter.dispatch('get_incremental_append_sql', 'dbt')(arg_dict)) }}{% endmacro %}
{% macro default__get_incremental_append_sql(arg_dict) -%}
{{ return(get_insert_into_sql(arg_dict["target_relation"], arg_dict["temp_relation"], arg_dict["dest_columns"])) }}
{%- endmacro %}
{% macro get_incremental_delete_insert_sql(arg_dict) %}{{ return(adapter.dispatch('get_incremental_delete_insert_sql', 'dbt')(arg_dict)) }}{% endmacro %}
{% macro default__get_incremental_delete_insert_sql(arg_dict) -%}
{{ return(get_delete_insert_merge_sql(arg_dict["target_relation"], arg_dict["temp_relation"], arg_dict["unique_key"], arg_dict["dest_columns"], arg_dict["incremental_predicates"])) }}
{%- endmacro %}
{% macro get_incremental_default_sql(arg_dict) %}{{ return(adapter.dispatch('get_incremental_default_sql', 'dbt')(arg_dict)) }}{% endmacro %}
{% macro default__get_incremental_default_sql(arg_dict) -%}
{%- if arg_dict["unique_key"] -%}{{ return(get_incremental_delete_insert_sql(arg_dict)) }}
{%- else -%}{{ return(get_incremental_append_sql(arg_dict)) }}
{%- endif -%}
{%- endmacro %}
{% macro get_incremental_merge_sql(arg_dict) %}{{ return(adapter.dispatch('get_incremental_merge_sql', 'dbt')(arg_dict)) }}{% endmacro %}
{% macro default__get_incremental_merge_sql(arg_dict) -%}
{{ return(get_merge_sql(arg_dict["target_relation"], arg_dict["temp_relation"], arg_dict["unique_key"], arg_dict["dest_columns"], arg_dict.get("incremental_predicates"))) }}
{%- endmacro %}
{% macro get_incremental_insert_overwrite_sql(arg_dict) %}{{ return(adapter.dispatch('get_incremental_insert_overwrite_sql', 'dbt')(arg_dict)) }}{% endmacro %}
{% macro default__get_incremental_insert_overwrite_sql(arg_dict) -%}
{{ return(get_insert_overwrite_merge_sql(arg_dict["target_relation"], arg_dict["temp_relation"], arg_dict["dest_columns"], arg_dict["incremental_predicates"])) }}
{%- endmacro %}

{#- dbt-duckdb's `delete+insert`: delete the target's rows whose key the new rows have, then
    insert the new rows. -#}
{% macro get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) %}{{ return(adapter.dispatch('get_delete_insert_merge_sql', 'dbt')(target, source, unique_key, dest_columns, incremental_predicates)) }}{% endmacro %}
{% macro default__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) -%}
{%- set columns = get_quoted_csv(dest_columns | map(attribute="name")) -%}
{%- set predicates = [] if incremental_predicates is none else [] + incremental_predicates -%}
{%- if unique_key -%}
{%- if unique_key is sequence and unique_key is not string -%}
delete from {{ target }} using {{ source }}
where (
{%- for key in unique_key %}
{{ source }}.{{ key }} = {{ target }}.{{ key }}{{ " and " if not loop.last }}
{%- endfor %}
{%- if predicates %} and {{ predicates | join(' and ') }}{% endif %}
);
{%- else -%}
delete from {{ target }}
where ({{ unique_key }}) in (select ({{ unique_key }}) from {{ source }})
{%- if predicates %} and {{ predicates | join(' and ') }}{% endif %};
{%- endif %}
{% endif -%}
insert into {{ target }} ({{ columns }})
(
select {{ columns }}
from {{ source }}
)
{%- endmacro %}

{#- dbt-duckdb's `merge`: `ON` the unique key (or `USING` merge_on_using_columns), then
    `UPDATE BY NAME` / `INSERT BY NAME`, or an explicit update list when merge_update_columns,
    merge_exclude_columns or merge_update_set_expressions are configured. -#}
{% macro get_merge_sql(target, source, unique_key, dest_columns, incremental_predicates=none) %}{{ return(adapter.dispatch('get_merge_sql', 'dbt')(target, source, unique_key, dest_columns, incremental_predicates)) }}{% endmacro %}
{% macro default__get_merge_sql(target, source, unique_key, dest_columns, incremental_predicates=none) -%}
{%- if config.get('merge_clauses') -%}
{{ exceptions.raise_compiler_error("merge_clauses is not available in Mallard's get_merge_sql; configure merge_update_columns, merge_exclude_columns or merge_update_set_expressions instead") }}
{%- endif -%}
{%- set predicates = normalize_incremental_predicates(incremental_predicates) -%}
{%- set using_columns = config.get('merge_on_using_columns') or [] -%}
{%- set include = config.get('merge_update_columns') or [] -%}
{%- set exclude = config.get('merge_exclude_columns') or [] -%}
{%- set set_expressions = config.get('merge_update_set_expressions') or {} -%}
{%- set keys = [] if not unique_key else ([unique_key] if unique_key is string else unique_key) -%}
{%- set on = [] -%}
{%- for key in keys -%}{%- do on.append("DBT_INTERNAL_SOURCE." ~ key ~ " = DBT_INTERNAL_DEST." ~ key) -%}{%- endfor -%}
{%- if not keys -%}{%- do on.append("FALSE") -%}{%- endif -%}
{%- set sql_header = config.get('sql_header') -%}
{{ sql_header if sql_header is not none }}
MERGE INTO {{ target }} AS DBT_INTERNAL_DEST
USING {{ source }} AS DBT_INTERNAL_SOURCE
{% if using_columns -%}
USING ({{ using_columns | join(', ') }}){% if predicates %} ON ({{ predicates | join(') AND (') }}){% endif %}
{%- else -%}
ON ({{ (on + predicates) | join(') AND (') }})
{%- endif %}
WHEN MATCHED THEN
{%- if include or exclude or set_expressions %}
{%- set assigned = [] -%}
{%- for column, expression in set_expressions.items() -%}{%- do assigned.append(column ~ " = " ~ expression) -%}{%- endfor -%}
{%- for column in get_merge_update_columns(include or none, exclude or none, dest_columns) -%}
{%- if column.replace('"', '').replace("'", "") not in set_expressions -%}{%- do assigned.append(column ~ " = DBT_INTERNAL_SOURCE." ~ column) -%}{%- endif -%}
{%- endfor %} UPDATE SET {{ assigned | join(', ') }}
{%- else %} UPDATE BY NAME
{%- endif %}
WHEN NOT MATCHED THEN INSERT BY NAME
{%- endmacro %}
{% macro get_merge_unique_key_match(source_unique_key, target_unique_key) -%}
({{ source_unique_key }} = {{ target_unique_key }})
{%- endmacro %}
{% macro get_merge_update_columns(merge_update_columns, merge_exclude_columns, dest_columns) %}{{ return(adapter.dispatch('get_merge_update_columns', 'dbt')(merge_update_columns, merge_exclude_columns, dest_columns)) }}{% endmacro %}
{% macro default__get_merge_update_columns(merge_update_columns, merge_exclude_columns, dest_columns) -%}
{%- if merge_update_columns and merge_exclude_columns -%}
{{ exceptions.raise_compiler_error("Model cannot specify merge_update_columns and merge_exclude_columns. Please update model to use only one config") }}
{%- elif merge_update_columns -%}{{ return(merge_update_columns) }}
{%- endif -%}
{%- set excluded = (merge_exclude_columns or []) | map('lower') | list -%}
{%- set kept = [] -%}
{%- for column in dest_columns if column.name | lower not in excluded -%}{%- do kept.append(column.quoted) -%}{%- endfor -%}
{{ return(kept) }}
{%- endmacro %}
{#- insert_overwrite as a merge that matches nothing: rows the new data lacks are deleted and
    every new row is inserted. -#}
{% macro get_insert_overwrite_merge_sql(target, source, dest_columns, predicates, include_sql_header=false) %}{{ return(adapter.dispatch('get_insert_overwrite_merge_sql', 'dbt')(target, source, dest_columns, predicates, include_sql_header)) }}{% endmacro %}
{% macro default__get_insert_overwrite_merge_sql(target, source, dest_columns, predicates, include_sql_header) -%}
{%- set columns = get_quoted_csv(dest_columns | map(attribute="name")) -%}
{%- set sql_header = config.get('sql_header') if include_sql_header else none -%}
{{ sql_header if sql_header is not none }}
merge into {{ target }} as DBT_INTERNAL_DEST
using {{ source }} as DBT_INTERNAL_SOURCE
on FALSE
when not matched by source
{%- if predicates %} and {{ predicates | join(' and ') }}{% endif %}
then delete
when not matched then insert ({{ columns }})
values ({{ columns }})
{%- endmacro %}
{% macro normalize_incremental_predicates(incremental_predicates) -%}
{%- if incremental_predicates is none -%}{{ return([]) }}
{%- elif incremental_predicates is string -%}{{ return([incremental_predicates]) }}
{%- else -%}{{ return([] + incremental_predicates) }}
{%- endif -%}
{%- endmacro %}
{% macro normalize_string_or_list(raw, field_name) -%}
{%- if raw is none -%}{{ return([]) }}
{%- elif raw is string -%}{{ return([raw]) }}
{%- elif raw is sequence and raw is not mapping -%}{{ return([] + raw) }}
{%- else -%}{{ exceptions.raise_compiler_error(field_name ~ " must be a string or a list of strings") }}
{%- endif -%}
{%- endmacro %}

{#- Schema changes of an incremental model (`on_schema_change`). -#}
{% macro incremental_validate_on_schema_change(on_schema_change, default='ignore') -%}
{%- if on_schema_change not in ['sync_all_columns', 'append_new_columns', 'fail', 'ignore'] -%}
{%- do log("Invalid value for on_schema_change (" ~ on_schema_change ~ ") specified. Setting default value of " ~ default ~ ".") -%}
{{ return(default) }}
{%- endif -%}
{{ return(on_schema_change) }}
{%- endmacro %}
{% macro diff_columns(source_columns, target_columns) -%}
{%- set target_names = target_columns | map(attribute='column') | list -%}
{%- set missing = [] -%}
{%- for column in source_columns if column.column not in target_names -%}{%- do missing.append(column) -%}{%- endfor -%}
{{ return(missing) }}
{%- endmacro %}
{% macro diff_column_data_types(source_columns, target_columns) -%}
{%- set changed = [] -%}
{%- for s in source_columns -%}
{%- for t in target_columns if t.name == s.name and t.data_type != s.data_type -%}
{%- do changed.append({'column_name': t.name, 'new_type': s.data_type}) -%}
{%- endfor -%}
{%- endfor -%}
{{ return(changed) }}
{%- endmacro %}
{% macro check_for_schema_changes(source_relation, target_relation) -%}
{%- set source_columns = adapter.get_columns_in_relation(source_relation) -%}
{%- set target_columns = adapter.get_columns_in_relation(target_relation) -%}
{%- set source_not_in_target = diff_columns(source_columns, target_columns) -%}
{%- set target_not_in_source = diff_columns(target_columns, source_columns) -%}
{%- set new_target_types = diff_column_data_types(source_columns, target_columns) -%}
{%- set changed = (source_not_in_target | length > 0) or (target_not_in_source | length > 0) or (new_target_types | length > 0) -%}
{{ return({'schema_changed': changed, 'source_not_in_target': source_not_in_target, 'target_not_in_source': target_not_in_source, 'source_columns': source_columns, 'target_columns': target_columns, 'new_target_types': new_target_types}) }}
{%- endmacro %}
{% macro process_schema_changes(on_schema_change, source_relation, target_relation) -%}
{%- if on_schema_change == 'ignore' -%}{{ return({}) }}{%- endif -%}
{%- set changes = check_for_schema_changes(source_relation, target_relation) -%}
{%- if changes['schema_changed'] -%}
{%- if on_schema_change == 'fail' -%}
{{ exceptions.raise_compiler_error("The source and target schemas on this incremental model are out of sync! Set on_schema_change to append_new_columns or sync_all_columns, or re-run with --full-refresh.") }}
{%- endif -%}
{%- do sync_column_schemas(on_schema_change, target_relation, changes) -%}
{%- endif -%}
{{ return(changes['source_columns']) }}
{%- endmacro %}
{% macro sync_column_schemas(on_schema_change, target_relation, schema_changes_dict) -%}
{%- set add = schema_changes_dict.get('source_not_in_target', []) -%}
{%- set remove = schema_changes_dict.get('target_not_in_source', []) if on_schema_change == 'sync_all_columns' else [] -%}
{%- if on_schema_change in ['append_new_columns', 'sync_all_columns'] and (add or remove) -%}
{%- do alter_relation_add_remove_columns(target_relation, add, remove) -%}
{%- endif -%}
{%- if on_schema_change == 'sync_all_columns' -%}
{%- for change in schema_changes_dict.get('new_target_types', []) -%}
{%- do alter_column_type(target_relation, change['column_name'], change['new_type']) -%}
{%- endfor -%}
{%- endif -%}
{%- endmacro %}
{% macro alter_relation_add_remove_columns(relation, add_columns=none, remove_columns=none) %}{{ return(adapter.dispatch('alter_relation_add_remove_columns', 'dbt')(relation, add_columns, remove_columns)) }}{% endmacro %}
{% macro default__alter_relation_add_remove_columns(relation, add_columns, remove_columns) -%}
{%- for column in add_columns or [] -%}
{%- do run_query("alter table " ~ relation ~ " add column " ~ adapter.quote(column.name) ~ " " ~ column.data_type) -%}
{%- endfor -%}
{%- for column in remove_columns or [] -%}
{%- do run_query("alter table " ~ relation ~ " drop column " ~ adapter.quote(column.name)) -%}
{%- endfor -%}
{%- endmacro %}
{% macro alter_column_type(relation, column_name, new_column_type) %}{{ return(adapter.dispatch('alter_column_type', 'dbt')(relation, column_name, new_column_type)) }}{% endmacro %}
{% macro default__alter_column_type(relation, column_name, new_column_type) -%}
{%- do run_query("alter table " ~ relation ~ " alter column " ~ adapter.quote(column_name) ~ " type " ~ new_column_type) -%}
{%- endmacro %}

{#- Data tests and unit tests. -#}
{% macro get_where_subquery(relation) %}{{ return(adapter.dispatch('get_where_subquery', 'dbt')(relation)) }}{% endmacro %}
{% macro default__get_where_subquery(relation) -%}
{%- set where = config.get('where') -%}
{%- if where -%}{{ return("(select * from " ~ relation ~ " where " ~ where ~ ") dbt_subquery") }}
{%- else -%}{{ return(relation) }}
{%- endif -%}
{%- endmacro %}
{% macro get_test_sql(main_sql, fail_calc, warn_if, error_if, limit) %}{{ return(adapter.dispatch('get_test_sql', 'dbt')(main_sql, fail_calc, warn_if, error_if, limit)) }}{% endmacro %}
{% macro default__get_test_sql(main_sql, fail_calc, warn_if, error_if, limit) -%}
select
  {{ fail_calc }} as failures,
  {{ fail_calc }} {{ warn_if }} as should_warn,
  {{ fail_calc }} {{ error_if }} as should_error
from (
{{ main_sql }}
{{ "limit " ~ limit if limit is not none }}
) dbt_internal_test
{%- endmacro %}
{% macro get_unit_test_sql(main_sql, expected_fixture_sql, expected_column_names) %}{{ return(adapter.dispatch('get_unit_test_sql', 'dbt')(main_sql, expected_fixture_sql, expected_column_names)) }}{% endmacro %}
{% macro default__get_unit_test_sql(main_sql, expected_fixture_sql, expected_column_names) -%}
{%- set columns = expected_column_names | join(', ') -%}
with dbt_internal_unit_test_actual as (
  select {{ columns }}, {{ dbt.string_literal("actual") }} as {{ adapter.quote("actual_or_expected") }}
  from (
{{ main_sql }}
  ) _dbt_internal_unit_test_actual
),
dbt_internal_unit_test_expected as (
  select {{ columns }}, {{ dbt.string_literal("expected") }} as {{ adapter.quote("actual_or_expected") }}
  from (
{{ expected_fixture_sql }}
  ) _dbt_internal_unit_test_expected
)
select * from dbt_internal_unit_test_actual
union all
select * from dbt_internal_unit_test_expected
{%- endmacro %}
{% macro should_store_failures() -%}
{%- set configured = config.get('store_failures') -%}
{{ return(flags.STORE_FAILURES if configured is none else configured) }}
{%- endmacro %}
{% macro get_limit_subquery_sql(sql, limit) %}{{ return(adapter.dispatch('get_limit_subquery_sql', 'dbt')(sql, limit)) }}{% endmacro %}
{% macro default__get_limit_subquery_sql(sql, limit) -%}
{{ sql }}
limit {{ limit }}
{%- endmacro %}
{% macro get_show_sql(compiled_code, sql_header, limit) -%}
{{ sql_header if sql_header is not none }}
{%- if limit is not none %}{{ get_limit_subquery_sql(compiled_code, limit) }}{% else %}{{ compiled_code }}{% endif %}
{%- endmacro %}

{#- Hooks. -#}
{% macro make_hook_config(sql, inside_transaction) %}{{ tojson({"sql": sql, "transaction": inside_transaction}) }}{% endmacro %}
{% macro before_begin(sql) %}{{ make_hook_config(sql, inside_transaction=False) }}{% endmacro %}
{% macro in_transaction(sql) %}{{ make_hook_config(sql, inside_transaction=True) }}{% endmacro %}
{% macro after_commit(sql) %}{{ make_hook_config(sql, inside_transaction=False) }}{% endmacro %}
{#- Runs the hooks (strings or `{"sql": ..., "transaction": ...}`) of the wanted side of the
    transaction; DuckDB runs them all in one, so both sides run. -#}
{% macro run_hooks(hooks, inside_transaction=True) -%}
{%- for hook in hooks if (hook.transaction if hook is mapping else true) == inside_transaction -%}
{%- set sql = hook.sql if hook is mapping else hook -%}
{%- if sql | trim -%}{%- do run_query(sql) -%}{%- endif -%}
{%- endfor -%}
{%- endmacro %}

{#- Seeds. -#}
{% macro get_batch_size() %}{{ return(adapter.dispatch('get_batch_size', 'dbt')()) }}{% endmacro %}
{% macro default__get_batch_size() %}{{ return(10000) }}{% endmacro %}
{% macro get_binding_char() %}{{ return(adapter.dispatch('get_binding_char', 'dbt')()) }}{% endmacro %}
{% macro default__get_binding_char() %}{{ return('?') }}{% endmacro %}
{% macro get_csv_sql(create_or_truncate_sql, insert_sql) %}{{ return(adapter.dispatch('get_csv_sql', 'dbt')(create_or_truncate_sql, insert_sql)) }}{% endmacro %}
{% macro default__get_csv_sql(create_or_truncate_sql, insert_sql) -%}
{{ create_or_truncate_sql }};
-- dbt seed --
{{ insert_sql }}
{%- endmacro %}
{% macro get_seed_column_quoted_csv(model, column_names) -%}
{%- set quote_columns = config.get('quote_columns', none) -%}
{%- set quoted = [] -%}
{%- for name in column_names -%}{%- do quoted.append(adapter.quote_seed_column(name, quote_columns)) -%}{%- endfor -%}
{{ return(quoted | join(', ')) }}
{%- endmacro %}
{% macro reset_csv_table(model, full_refresh, old_relation, agate_table) %}{{ return(adapter.dispatch('reset_csv_table', 'dbt')(model, full_refresh, old_relation, agate_table)) }}{% endmacro %}
{% macro default__reset_csv_table(model, full_refresh, old_relation, agate_table) -%}
{%- if full_refresh -%}
{%- do adapter.drop_relation(old_relation) -%}
{{ return(create_csv_table(model, agate_table)) }}
{%- endif -%}
{%- do adapter.truncate_relation(old_relation) -%}
{{ return("truncate table " ~ old_relation) }}
{%- endmacro %}
