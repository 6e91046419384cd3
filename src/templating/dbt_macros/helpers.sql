{#- dbt's snapshot helpers, date helpers of its `etc` folder, and dbt-duckdb's own helpers, as
    dbt-duckdb renders them. Written for Mallard; tests/namespace.rs compares each with dbt's. -#}

{#- Snapshots. -#}
{% macro snapshot_get_time() %}{{ return(adapter.dispatch('snapshot_get_time', 'dbt')()) }}{% endmacro %}
{% macro default__snapshot_get_time() %}{{ current_timestamp() }}::timestamp{% endmacro %}
{% macro get_snapshot_get_time_data_type() -%}
{%- set column = (get_column_schema_from_query("select " ~ snapshot_get_time() ~ " as snapshot_time") or [none])[0] -%}
{{ return(column.dtype if column else none) }}
{%- endmacro %}
{% macro snapshot_string_as_time(timestamp) %}{{ return(adapter.dispatch('snapshot_string_as_time', 'dbt')(timestamp)) }}{% endmacro %}
{% macro default__snapshot_string_as_time(timestamp) %}{{ return("'" ~ timestamp ~ "'::timestamp") }}{% endmacro %}
{% macro snapshot_hash_arguments(args) %}{{ return(adapter.dispatch('snapshot_hash_arguments', 'dbt')(args)) }}{% endmacro %}
{% macro default__snapshot_hash_arguments(args) -%}
{%- set parts = [] -%}
{%- for arg in args -%}{%- do parts.append("coalesce(cast(" ~ arg ~ " as varchar), '')") -%}{%- endfor -%}
md5({{ parts | join(" || '|' || ") }})
{%- endmacro %}
{% macro get_true_sql() %}{{ return(adapter.dispatch('get_true_sql', 'dbt')()) }}{% endmacro %}
{% macro default__get_true_sql() %}{{ return('TRUE') }}{% endmacro %}
{#- The names of the snapshot's meta columns, `snapshot_meta_column_names` applied. -#}
{% macro get_snapshot_table_column_names() -%}
{%- set names = config.get('snapshot_meta_column_names') or {} -%}
{{ return({'dbt_valid_to': names.dbt_valid_to or 'dbt_valid_to', 'dbt_valid_from': names.dbt_valid_from or 'dbt_valid_from', 'dbt_scd_id': names.dbt_scd_id or 'dbt_scd_id', 'dbt_updated_at': names.dbt_updated_at or 'dbt_updated_at', 'dbt_is_deleted': names.dbt_is_deleted or 'dbt_is_deleted'}) }}
{%- endmacro %}
{% macro unique_key_fields(unique_key) -%}
{%- if unique_key is sequence and unique_key is not string -%}
{%- for key in unique_key %}{{ key }} as dbt_unique_key_{{ loop.index }}{{ ", " if not loop.last }}{% endfor -%}
{%- else -%}{{ unique_key }} as dbt_unique_key
{%- endif -%}
{%- endmacro %}
{% macro unique_key_join_on(unique_key, identifier, from_identifier) -%}
{%- if unique_key is sequence and unique_key is not string -%}
{%- for key in unique_key %}{{ identifier }}.dbt_unique_key_{{ loop.index }} = {{ from_identifier }}.dbt_unique_key_{{ loop.index }}{{ " and " if not loop.last }}{% endfor -%}
{%- else -%}{{ identifier }}.dbt_unique_key = {{ from_identifier }}.dbt_unique_key
{%- endif -%}
{%- endmacro %}
{% macro unique_key_is_null(unique_key, identifier) -%}
{%- if unique_key is sequence and unique_key is not string -%}{{ identifier }}.dbt_unique_key_1 is null
{%- else -%}{{ identifier }}.dbt_unique_key is null
{%- endif -%}
{%- endmacro %}
{% macro unique_key_is_not_null(unique_key, identifier) -%}
{%- if unique_key is sequence and unique_key is not string -%}{{ identifier }}.dbt_unique_key_1 is not null
{%- else -%}{{ identifier }}.dbt_unique_key is not null
{%- endif -%}
{%- endmacro %}
{#- Closes the changed versions and inserts the new ones from a staging table's rows. -#}
{% macro snapshot_merge_sql(target, source, insert_cols) %}{{ return(adapter.dispatch('snapshot_merge_sql', 'dbt')(target, source, insert_cols)) }}{% endmacro %}
{% macro default__snapshot_merge_sql(target, source, insert_cols) -%}
{%- set columns = get_snapshot_table_column_names() -%}
update {{ target }} as DBT_INTERNAL_TARGET
set {{ columns.dbt_valid_to }} = DBT_INTERNAL_SOURCE.{{ columns.dbt_valid_to }}
from {{ source }} as DBT_INTERNAL_SOURCE
where DBT_INTERNAL_SOURCE.{{ columns.dbt_scd_id }}::text = DBT_INTERNAL_TARGET.{{ columns.dbt_scd_id }}::text
  and DBT_INTERNAL_SOURCE.dbt_change_type::text in ('update'::text, 'delete'::text)
  and DBT_INTERNAL_TARGET.{{ columns.dbt_valid_to }} is null;

insert into {{ target }} ({{ insert_cols | join(', ') }})
select {% for column in insert_cols -%}DBT_INTERNAL_SOURCE.{{ column }}{{ ", " if not loop.last }}{%- endfor %}
from {{ source }} as DBT_INTERNAL_SOURCE
where DBT_INTERNAL_SOURCE.dbt_change_type::text = 'insert'::text;
{%- endmacro %}
{% macro post_snapshot(staging_relation) %}{{ return(adapter.dispatch('post_snapshot', 'dbt')(staging_relation)) }}{% endmacro %}
{% macro default__post_snapshot(staging_relation) %}{% do adapter.drop_relation(staging_relation) %}{% endmacro %}

{#- Dates (dbt's `etc/datetime.sql`): strings of dates in a format, and ranges of them. -#}
{% macro convert_datetime(date_str, date_fmt) -%}
{%- set error = "The provided partition date '" ~ date_str ~ "' does not match the expected format '" ~ date_fmt ~ "'" -%}
{%- set parsed = modules.datetime.datetime.strptime(date_str, date_fmt) -%}
{{ return(parsed) }}
{%- endmacro %}
{% macro dates_in_range(start_date_str, end_date_str=none, in_fmt="%Y%m%d", out_fmt="%Y%m%d") -%}
{%- set end_date_str = start_date_str if end_date_str is none else end_date_str -%}
{%- set start_date = convert_datetime(start_date_str, in_fmt) -%}
{%- set end_date = convert_datetime(end_date_str, in_fmt) -%}
{#- minijinja has no `-` of two datetimes: Mallard's datetime arithmetic, as templates that use
    timedeltas are rewritten to call. -#}
{%- set days = mallard_datetime_arith(end_date, '-', start_date).days -%}
{%- set dates = [] -%}
{%- for n in range(days + 1) -%}
{%- do dates.append(mallard_datetime_arith(start_date, '+', modules.datetime.timedelta(days=n)).strftime(out_fmt)) -%}
{%- endfor -%}
{{ return(dates) }}
{%- endmacro %}
{% macro partition_range(raw_partition_date, date_fmt='%Y%m%d') -%}
{%- set bounds = raw_partition_date.split(",") -%}
{%- if bounds | length == 1 -%}{{ return(dates_in_range(bounds[0], none, date_fmt, date_fmt)) }}
{%- elif bounds | length == 2 -%}{{ return(dates_in_range(bounds[0], bounds[1], date_fmt, date_fmt)) }}
{%- else -%}{{ exceptions.raise_compiler_error("Invalid partition time. Expected format: {Start Date}[,{End Date}]. Got: " ~ raw_partition_date) }}
{%- endif -%}
{%- endmacro %}

{#- Columns. -#}
{% macro get_column_schema_from_query(select_sql, select_sql_header=none) -%}
{{ return(adapter.get_column_schema_from_query(get_empty_subquery_sql(select_sql, select_sql_header))) }}
{%- endmacro %}
{% macro get_list_of_column_names(columns) -%}
{{ return(columns | map(attribute='name') | list) }}
{%- endmacro %}
{% macro format_columns(columns) -%}
{%- set formatted = [] -%}
{%- for column in columns -%}
{%- do formatted.append({'name': column.name, 'data_type': column.dtype, 'formatted': column.name ~ " " ~ column.dtype}) -%}
{%- endfor -%}
{{ return(formatted) }}
{%- endmacro %}

{#- dbt-duckdb's own helpers. -#}
{% macro duckdb_escape_comment(comment) -%}
{%- if "$dbt_comment_literal_block$" in comment -%}
{{ exceptions.raise_compiler_error("The string '$dbt_comment_literal_block$' is not allowed in comments.") }}
{%- endif -%}
{{ return("$dbt_comment_literal_block$" ~ comment ~ "$dbt_comment_literal_block$") }}
{%- endmacro %}
{% macro alter_relation_comment(relation, relation_comment) %}{{ return(adapter.dispatch('alter_relation_comment', 'dbt')(relation, relation_comment)) }}{% endmacro %}
{% macro default__alter_relation_comment(relation, relation_comment) -%}
comment on {{ relation.type }} {{ relation }} is {{ duckdb_escape_comment(relation_comment) }};
{%- endmacro %}
{% macro alter_column_comment(relation, column_dict) %}{{ return(adapter.dispatch('alter_column_comment', 'dbt')(relation, column_dict)) }}{% endmacro %}
{% macro default__alter_column_comment(relation, column_dict) -%}
{%- for name, column in column_dict.items() if column.description -%}
{%- do run_query("comment on column " ~ relation ~ "." ~ adapter.quote(name) ~ " is " ~ duckdb_escape_comment(column.description)) -%}
{%- endfor -%}
{%- endmacro %}
{% macro external_location(relation, config) -%}
{%- if config.get('options', {}).get('partition_by') is none -%}
{{ adapter.external_root() }}/{{ relation.identifier }}.{{ config.get('format', 'parquet') }}
{%- else -%}
{{ adapter.external_root() }}/{{ relation.identifier }}
{%- endif -%}
{%- endmacro %}
{% macro has_foreign_key_constraints(relation=none) %}{{ return(false) }}{% endmacro %}
{% macro may_be_foreign_key_target(relation=none) %}{{ return(false) }}{% endmacro %}
{% macro enforced_constraint_types() %}{{ return([]) }}{% endmacro %}
{% macro existing_constraint_types(relation) %}{{ return([]) }}{% endmacro %}
{% macro drop_foreign_key_dependents(relation) %}{{ return([]) }}{% endmacro %}
{% macro restore_foreign_key_dependents(dropped) %}{% endmacro %}
{% macro drop_indexes_on_relation(relation) %}{% endmacro %}
{% macro create_indexes(relation) %}{% endmacro %}
{% macro resolve_model_name(input_model_name) %}{{ input_model_name | string }}{% endmacro %}
{% macro merge_clause_defaults(merge_update_condition, merge_insert_condition, merge_update_columns=[], merge_exclude_columns=[], merge_update_set_expressions={}) -%}
{{ return({
    'when_matched_update_by_name': {'action': 'update', 'condition': merge_update_condition, 'mode': 'by_name'},
    'when_not_matched_insert_by_name': {'action': 'insert', 'condition': merge_insert_condition, 'mode': 'by_name'},
    'when_matched_update_explicit': {'action': 'update', 'condition': merge_update_condition, 'mode': 'explicit',
        'update': {'include': merge_update_columns, 'exclude': merge_exclude_columns, 'set_expressions': merge_update_set_expressions}},
}) }}
{%- endmacro %}
{% macro location_exists(location) -%}
{{ return(run_query("select count(*) > 0 from glob('" ~ (location | replace("'", "''")) ~ "')").columns[0].values()[0]) }}
{%- endmacro %}
{% macro _split_part_negative(string_text, delimiter_text, part_number) -%}
split_part({{ string_text }}, {{ delimiter_text }}, length({{ string_text }}) - length(replace({{ string_text }}, {{ delimiter_text }}, '')) + 2 + {{ part_number }})
{%- endmacro %}
{% macro generate_latest_version_pointer_alias(custom_alias_name=none, node=none) %}{{ return(adapter.dispatch('generate_latest_version_pointer_alias', 'dbt')(custom_alias_name, node)) }}{% endmacro %}
{% macro default__generate_latest_version_pointer_alias(custom_alias_name=none, node=none) -%}
{%- if custom_alias_name -%}{{ custom_alias_name | trim }}{%- else -%}{{ node.name }}{%- endif -%}
{%- endmacro %}

{#- Docs persisted as comments (`persist_docs`), for the columns the relation has. -#}
{% macro persist_docs(relation, model, for_relation=true, for_columns=true) %}{{ return(adapter.dispatch('persist_docs', 'dbt')(relation, model, for_relation, for_columns)) }}{% endmacro %}
{% macro default__persist_docs(relation, model, for_relation, for_columns) -%}
{%- set persist = config.get('persist_docs') or {} -%}
{%- if for_relation and persist.get('relation') and model.description -%}
{%- do run_query(alter_relation_comment(relation, model.description)) -%}
{%- endif -%}
{%- if for_columns and persist.get('columns') and model.columns -%}
{%- set existing = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
{%- do alter_column_comment(relation, validate_doc_columns(relation, model.columns, existing)) -%}
{%- endif -%}
{%- endmacro %}
{% macro validate_doc_columns(relation, column_dict, existing_column_names) -%}
{%- set existing_lower = existing_column_names | map('lower') | list -%}
{%- set kept = {} -%}
{%- set missing = [] -%}
{%- for name in column_dict -%}
{%- set present = (name in existing_column_names) if column_dict[name]['quote'] else ((name | lower) in existing_lower) -%}
{%- if present -%}{%- do kept.update({name: column_dict[name]}) -%}{%- else -%}{%- do missing.append(name) -%}{%- endif -%}
{%- endfor -%}
{%- if missing -%}
{%- do exceptions.warn("In relation " ~ relation ~ ": The following columns are specified in the schema but are not present in the database: " ~ missing | join(", ")) -%}
{%- endif -%}
{{ return(kept) }}
{%- endmacro %}
{#- dbt-duckdb's write options of an external model: `options`, each rendered, with the legacy
    top-level `format` and `delimiter`. -#}
{% macro render_write_options(config) -%}
{%- set options = config.get('options', {}) -%}
{%- if options is not mapping -%}{{ exceptions.raise_compiler_error("The options argument must be a dictionary") }}{%- endif -%}
{%- set rendered = {} -%}
{%- for key in options -%}{%- do rendered.update({key: render(options[key])}) -%}{%- endfor -%}
{%- for key in ['format', 'delimiter'] if config.get(key) -%}{%- do rendered.update({key: render(config.get(key))}) -%}{%- endfor -%}
{{ return(rendered) }}
{%- endmacro %}
{#- Mallard registers the external models a model reads before it runs: nothing is left to do. -#}
{% macro register_upstream_external_models() %}{% endmacro %}

{#- The snapshot strategies' pieces. -#}
{% macro snapshot_timestamp_strategy(node, snapshotted_rel, current_rel, model_config, target_exists) -%}
{%- set primary_key = config.get('unique_key') -%}
{%- set updated_at = config.get('updated_at') -%}
{%- set hard_deletes = adapter.get_hard_deletes_behavior(config) -%}
{%- set columns = config.get('snapshot_table_column_names') or get_snapshot_table_column_names() -%}
{%- set keys = (primary_key if primary_key is sequence and primary_key is not string else [primary_key]) -%}
{{ return({
    'unique_key': primary_key,
    'updated_at': updated_at,
    'row_changed': "(" ~ snapshotted_rel ~ "." ~ columns.dbt_valid_from ~ " < " ~ current_rel ~ "." ~ updated_at ~ ")",
    'scd_id': snapshot_hash_arguments(keys + [updated_at]),
    'invalidate_hard_deletes': hard_deletes == 'invalidate',
    'hard_deletes': hard_deletes,
}) }}
{%- endmacro %}
{% macro get_dbt_valid_to_current(strategy, columns) -%}
coalesce(nullif({{ strategy.updated_at }}, {{ strategy.updated_at }}), {{ config.get('dbt_valid_to_current') or "null" }}) as {{ columns.dbt_valid_to }}
{%- endmacro %}
{% macro get_updated_at_column_data_type(snapshot_sql) -%}
{%- set updated_at = config.get('updated_at') -%}
{%- if not updated_at -%}{{ return(none) }}{%- endif -%}
{%- for column in get_column_schema_from_query(snapshot_sql) if column.name == updated_at -%}{{ return(column.dtype) }}{%- endfor -%}
{{ return(none) }}
{%- endmacro %}
{#- Warns when the snapshot's `updated_at` and the time dbt stamps rows with differ in type. -#}
{% macro check_time_data_types(sql) -%}
{%- set updated_at_type = get_updated_at_column_data_type(sql) -%}
{%- set now_type = get_snapshot_get_time_data_type() -%}
{%- if updated_at_type is not none and now_type is not none and updated_at_type != now_type -%}
{%- do exceptions.warn("Data type of snapshot table timestamp columns (" ~ now_type ~ ") doesn't match derived column 'updated_at' (" ~ updated_at_type ~ ")") -%}
{%- endif -%}
{%- endmacro %}
{#- A select of typed nulls for `columns` (name -> {name, data_type, quote}), as contracts check. -#}
{% macro get_empty_schema_sql(columns) %}{{ return(adapter.dispatch('get_empty_schema_sql', 'dbt')(columns)) }}{% endmacro %}
{% macro default__get_empty_schema_sql(columns) -%}
{%- set untyped = [] -%}
{%- set naked = [] -%}
{%- set selected = [] -%}
{%- for key in columns -%}
{%- set column = columns[key] -%}
{%- if column['data_type'] is not defined -%}{%- do untyped.append(column['name']) -%}
{%- elif column['data_type'].strip().lower() in ('numeric', 'decimal', 'number') -%}{%- do naked.append(column['name']) -%}
{%- endif -%}
{%- do selected.append(cast('null', column['data_type']) ~ " as " ~ (adapter.quote(column['name']) if column.get('quote') else column['name'])) -%}
{%- endfor -%}
{%- if untyped -%}
{{ exceptions.raise_compiler_error("Contracted models require data_type to be defined for each column. Please ensure that the column name and data_type are defined within the YAML configuration for the " ~ untyped ~ " column(s).") }}
{%- elif naked -%}
{%- do exceptions.warn("Detected columns with numeric type and unspecified precision/scale, this can lead to unintended rounding: " ~ naked ~ "`") -%}
{%- endif -%}
select {{ selected | join(', ') }}
{%- endmacro %}
