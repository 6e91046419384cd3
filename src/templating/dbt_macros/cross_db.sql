{#- dbt's cross-database and utility macros as dbt-duckdb renders them, reached as `dbt.<name>` and,
    as in dbt, unqualified. Written for Mallard; tests/fixtures/cross_db checks each against
    dbt-duckdb. Each public macro dispatches through `adapter.dispatch('<name>', 'dbt')`, as dbt's
    do, so a `dispatch:` search order for the `dbt` namespace (or a package's `duckdb__<name>` /
    `default__<name>`) overrides it; `duckdb__` / `default__` here are the built-in forms.
    A project's own macro of the same name wins where it is called unqualified. -#}
{% macro concat(fields) %}{{ return(adapter.dispatch('concat', 'dbt')(fields)) }}{% endmacro %}
{% macro default__concat(fields) %}{{ fields | join(' || ') }}{% endmacro %}

{% macro hash(field) %}{{ return(adapter.dispatch('hash', 'dbt')(field)) }}{% endmacro %}
{% macro default__hash(field) %}md5(cast({{ field }} as {{ dbt.type_string() }})){% endmacro %}

{% macro safe_cast(field, type) %}{{ return(adapter.dispatch('safe_cast', 'dbt')(field, type)) }}{% endmacro %}
{% macro default__safe_cast(field, type) %}cast({{ field }} as {{ type }}){% endmacro %}

{% macro cast(field, type) %}{{ return(adapter.dispatch('cast', 'dbt')(field, type)) }}{% endmacro %}
{% macro default__cast(field, type) %}cast({{ field }} as {{ type }}){% endmacro %}

{% macro cast_bool_to_text(field) %}{{ return(adapter.dispatch('cast_bool_to_text', 'dbt')(field)) }}{% endmacro %}
{% macro default__cast_bool_to_text(field) %}cast({{ field }} as {{ dbt.type_string() }}){% endmacro %}

{% macro string_literal(value) %}{{ return(adapter.dispatch('string_literal', 'dbt')(value)) }}{% endmacro %}
{% macro default__string_literal(value) %}'{{ value }}'{% endmacro %}

{% macro escape_single_quotes(expression) %}{{ return(adapter.dispatch('escape_single_quotes', 'dbt')(expression)) }}{% endmacro %}
{% macro default__escape_single_quotes(expression) %}{{ expression | replace("'", "''") }}{% endmacro %}

{% macro replace(field, old_chars, new_chars) %}{{ return(adapter.dispatch('replace', 'dbt')(field, old_chars, new_chars)) }}{% endmacro %}
{% macro default__replace(field, old_chars, new_chars) %}replace({{ field }}, {{ old_chars }}, {{ new_chars }}){% endmacro %}

{% macro length(expression) %}{{ return(adapter.dispatch('length', 'dbt')(expression)) }}{% endmacro %}
{% macro default__length(expression) %}length({{ expression }}){% endmacro %}

{% macro right(string_text, length_expression) %}{{ return(adapter.dispatch('right', 'dbt')(string_text, length_expression)) }}{% endmacro %}
{% macro default__right(string_text, length_expression) %}right({{ string_text }}, {{ length_expression }}){% endmacro %}

{% macro position(substring_text, string_text) %}{{ return(adapter.dispatch('position', 'dbt')(substring_text, string_text)) }}{% endmacro %}
{% macro default__position(substring_text, string_text) %}position({{ substring_text }} in {{ string_text }}){% endmacro %}

{% macro split_part(string_text, delimiter_text, part_number) %}{{ return(adapter.dispatch('split_part', 'dbt')(string_text, delimiter_text, part_number)) }}{% endmacro %}
{% macro duckdb__split_part(string_text, delimiter_text, part_number) %}string_split({{ string_text }}, {{ delimiter_text }})[{{ part_number }}]{% endmacro %}
{% macro spark__split_part(string_text, delimiter_text, part_number) %}split_part({{ string_text }}, {{ delimiter_text }}, {{ part_number }}){% endmacro %}

{% macro any_value(expression) %}{{ return(adapter.dispatch('any_value', 'dbt')(expression)) }}{% endmacro %}
{% macro duckdb__any_value(expression) %}arbitrary({{ expression }}){% endmacro %}
{% macro spark__any_value(expression) %}any_value({{ expression }}){% endmacro %}

{% macro bool_or(expression) %}{{ return(adapter.dispatch('bool_or', 'dbt')(expression)) }}{% endmacro %}
{% macro default__bool_or(expression) %}bool_or({{ expression }}){% endmacro %}

{% macro listagg(measure, delimiter_text="','", order_by_clause=none, limit_num=none) %}{{ return(adapter.dispatch('listagg', 'dbt')(measure, delimiter_text, order_by_clause, limit_num)) }}{% endmacro %}
{% macro duckdb__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
{%- if limit_num -%}
list_aggr((array_agg({{ measure }} {{ order_by_clause or '' }}))[1:{{ limit_num }}], 'string_agg', {{ delimiter_text }})
{%- else -%}
string_agg({{ measure }}, {{ delimiter_text }} {{ order_by_clause or '' }})
{%- endif -%}
{%- endmacro %}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
{%- if order_by_clause or limit_num -%}
{{ exceptions.raise_compiler_error("listagg with order_by_clause or limit_num is not implemented on Spark by Mallard") }}
{%- else -%}
array_join(collect_list({{ measure }}), {{ delimiter_text }})
{%- endif -%}
{%- endmacro %}

{% macro except() %}{{ return(adapter.dispatch('except', 'dbt')()) }}{% endmacro %}
{% macro default__except() %}except{% endmacro %}

{% macro intersect() %}{{ return(adapter.dispatch('intersect', 'dbt')()) }}{% endmacro %}
{% macro default__intersect() %}intersect{% endmacro %}

{% macro equals(expr1, expr2) %}{{ return(adapter.dispatch('equals', 'dbt')(expr1, expr2)) }}{% endmacro %}
{% macro default__equals(expr1, expr2) %}({{ expr1 }} = {{ expr2 }}){% endmacro %}

{% macro array_construct(inputs=[], data_type='integer') %}{{ return(adapter.dispatch('array_construct', 'dbt')(inputs, data_type)) }}{% endmacro %}
{% macro default__array_construct(inputs, data_type) -%}
{%- if inputs | length > 0 -%}array[ {{ inputs | join(' , ') }} ]{%- else -%}array[]::{{ data_type }}[]{%- endif -%}
{%- endmacro %}

{% macro array_append(array, new_element) %}{{ return(adapter.dispatch('array_append', 'dbt')(array, new_element)) }}{% endmacro %}
{% macro default__array_append(array, new_element) %}array_append({{ array }}, {{ new_element }}){% endmacro %}

{% macro array_concat(array_1, array_2) %}{{ return(adapter.dispatch('array_concat', 'dbt')(array_1, array_2)) }}{% endmacro %}
{% macro default__array_concat(array_1, array_2) %}array_cat({{ array_1 }}, {{ array_2 }}){% endmacro %}

{% macro current_timestamp() %}{{ return(adapter.dispatch('current_timestamp', 'dbt')()) }}{% endmacro %}
{% macro duckdb__current_timestamp() %}now(){% endmacro %}
{% macro spark__current_timestamp() %}current_timestamp(){% endmacro %}

{% macro date(year, month, day) %}{{ return(adapter.dispatch('date', 'dbt')(year, month, day)) }}{% endmacro %}
{% macro duckdb__date(year, month, day) %}make_date({{ year }}, {{ month }}, {{ day }}){% endmacro %}
{% macro spark__date(year, month, day) %}make_date({{ year }}, {{ month }}, {{ day }}){% endmacro %}

{% macro date_trunc(datepart, date) %}{{ return(adapter.dispatch('date_trunc', 'dbt')(datepart, date)) }}{% endmacro %}
{% macro default__date_trunc(datepart, date) %}date_trunc('{{ datepart }}', {{ date }}){% endmacro %}

{% macro dateadd(datepart, interval, from_date_or_timestamp) %}{{ return(adapter.dispatch('dateadd', 'dbt')(datepart, interval, from_date_or_timestamp)) }}{% endmacro %}
{% macro duckdb__dateadd(datepart, interval, from_date_or_timestamp) -%}
{%- set unit = datepart | lower -%}
{%- if unit == 'quarter' -%}
({{ from_date_or_timestamp }} + (cast({{ interval }} as bigint) * 3) * interval 1 month)
{%- elif unit == 'week' -%}
({{ from_date_or_timestamp }} + (cast({{ interval }} as bigint) * 7) * interval 1 day)
{%- else -%}
({{ from_date_or_timestamp }} + cast({{ interval }} as bigint) * interval 1 {{ unit }})
{%- endif -%}
{%- endmacro %}
{#- Spark: timestampadd gives a timestamp, as DuckDB's date + interval does. -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
timestampadd({{ datepart | upper }}, cast({{ interval }} as bigint), cast({{ from_date_or_timestamp }} as timestamp))
{%- endmacro %}

{% macro datediff(first_date, second_date, datepart) %}{{ return(adapter.dispatch('datediff', 'dbt')(first_date, second_date, datepart)) }}{% endmacro %}
{% macro duckdb__datediff(first_date, second_date, datepart) -%}
{%- if datepart == 'week' -%}
({{ dbt.datediff(first_date, second_date, 'day') }} // 7 + case
    when date_part('dow', ({{ first_date }})::timestamp) <= date_part('dow', ({{ second_date }})::timestamp)
        then case when {{ first_date }} <= {{ second_date }} then 0 else -1 end
    else case when {{ first_date }} <= {{ second_date }} then 1 else 0 end
end)
{%- else -%}
(date_diff('{{ datepart }}', {{ first_date }}::timestamp, {{ second_date }}::timestamp))
{%- endif -%}
{%- endmacro %}
{#- Spark: the number of `datepart` boundaries crossed from the first date to the second, as
    DuckDB's date_diff counts them (months: 2024-01-31 to 2024-02-01 is 1). -#}
{% macro spark__datediff(first_date, second_date, datepart) -%}
{%- set unit = datepart | lower -%}
{%- if unit == 'day' -%}
datediff(cast({{ second_date }} as date), cast({{ first_date }} as date))
{%- elif unit == 'month' -%}
((year({{ second_date }}) * 12 + month({{ second_date }})) - (year({{ first_date }}) * 12 + month({{ first_date }})))
{%- elif unit == 'quarter' -%}
((year({{ second_date }}) * 4 + quarter({{ second_date }})) - (year({{ first_date }}) * 4 + quarter({{ first_date }})))
{%- elif unit == 'year' -%}
(year({{ second_date }}) - year({{ first_date }}))
{%- elif unit in ['hour', 'minute', 'second'] -%}
{%- set seconds = {'hour': 3600, 'minute': 60, 'second': 1}[unit] -%}
((unix_timestamp(date_trunc('{{ unit }}', {{ second_date }})) - unix_timestamp(date_trunc('{{ unit }}', {{ first_date }}))) div {{ seconds }})
{%- else -%}
{{ exceptions.raise_compiler_error("datediff by '" ~ datepart ~ "' is not implemented on Spark by Mallard: use day, month, quarter, year, hour, minute or second") }}
{%- endif -%}
{%- endmacro %}

{% macro last_day(date, datepart) %}{{ return(adapter.dispatch('last_day', 'dbt')(date, datepart)) }}{% endmacro %}
{% macro default_last_day(date, datepart) -%}
cast({{ dbt.dateadd('day', '-1', dbt.dateadd(datepart, '1', dbt.date_trunc(datepart, date))) }} as date)
{%- endmacro %}
{% macro spark__last_day(date, datepart) -%}
{%- if datepart == 'month' -%}
last_day({{ date }})
{%- else -%}
{{ dbt.duckdb__last_day(date, datepart) }}
{%- endif -%}
{%- endmacro %}
{% macro duckdb__last_day(date, datepart) -%}
{%- if datepart == 'quarter' -%}
cast({{ dbt.dateadd('day', '-1', dbt.dateadd('month', '3', dbt.date_trunc(datepart, date))) }} as date)
{%- else -%}
{{ dbt.default_last_day(date, datepart) }}
{%- endif -%}
{%- endmacro %}

{% macro generate_series(upper_bound) %}{{ return(adapter.dispatch('generate_series', 'dbt')(upper_bound)) }}{% endmacro %}
{% macro duckdb__generate_series(upper_bound) %}
    select generate_series as generated_number from generate_series(1, {{ upper_bound }})
{% endmacro %}
{% macro spark__generate_series(upper_bound) %}
    select id as generated_number from range(1, {{ upper_bound }} + 1)
{% endmacro %}

{% macro get_powers_of_two(upper_bound) %}{{ return(adapter.dispatch('get_powers_of_two', 'dbt')(upper_bound)) }}{% endmacro %}
{% macro default__get_powers_of_two(upper_bound) -%}
{%- if upper_bound <= 0 -%}{{ exceptions.raise_compiler_error("upper bound must be positive") }}{%- endif -%}
{%- for n in range(1, 100) -%}{%- if upper_bound <= 2 ** n -%}{{ return(n) }}{%- endif -%}{%- endfor -%}
{%- endmacro %}

{% macro get_intervals_between(start_date, end_date, datepart) %}{{ return(adapter.dispatch('get_intervals_between', 'dbt')(start_date, end_date, datepart)) }}{% endmacro %}
{% macro default__get_intervals_between(start_date, end_date, datepart) -%}
{%- call statement('get_intervals_between', fetch_result=True) %}select {{ dbt.datediff(start_date, end_date, datepart) }}{%- endcall -%}
{%- set found = load_result('get_intervals_between') -%}
{%- if found and found['data'] -%}{{ return((found['data'] | map(attribute=0) | list)[0]) }}{%- else -%}{{ return(1) }}{%- endif -%}
{%- endmacro %}

{% macro date_spine(datepart, start_date, end_date) %}{{ return(adapter.dispatch('date_spine', 'dbt')(datepart, start_date, end_date)) }}{% endmacro %}
{% macro default__date_spine(datepart, start_date, end_date) %}
    with rawdata as (
        {{ dbt.generate_series(dbt.get_intervals_between(start_date, end_date, datepart)) }}
    ),
    all_periods as (
        select ({{ dbt.dateadd(datepart, "row_number() over (order by 1) - 1", start_date) }}) as date_{{ datepart }}
        from rawdata
    ),
    filtered as (
        select * from all_periods where date_{{ datepart }} <= {{ end_date }}
    )
    select * from filtered
{% endmacro %}

{% macro type_string() %}{{ return(adapter.dispatch('type_string', 'dbt')()) }}{% endmacro %}
{% macro default__type_string() %}TEXT{% endmacro %}
{% macro spark__type_string() %}string{% endmacro %}
{% macro type_timestamp() %}{{ return(adapter.dispatch('type_timestamp', 'dbt')()) }}{% endmacro %}
{% macro default__type_timestamp() %}timestamp{% endmacro %}
{% macro type_int() %}{{ return(adapter.dispatch('type_int', 'dbt')()) }}{% endmacro %}
{% macro default__type_int() %}integer{% endmacro %}
{% macro type_bigint() %}{{ return(adapter.dispatch('type_bigint', 'dbt')()) }}{% endmacro %}
{% macro default__type_bigint() %}bigint{% endmacro %}
{% macro type_float() %}{{ return(adapter.dispatch('type_float', 'dbt')()) }}{% endmacro %}
{% macro default__type_float() %}float{% endmacro %}
{% macro type_numeric() %}{{ return(adapter.dispatch('type_numeric', 'dbt')()) }}{% endmacro %}
{% macro default__type_numeric() %}numeric(28,6){% endmacro %}
{% macro type_boolean() %}{{ return(adapter.dispatch('type_boolean', 'dbt')()) }}{% endmacro %}
{% macro default__type_boolean() %}boolean{% endmacro %}

{#- dbt's default naming of relations, for projects whose overrides call them. -#}
{% macro default__generate_schema_name(custom_schema_name, node) -%}
{%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ target.schema }}_{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
{% macro generate_schema_name_for_env(custom_schema_name, node) -%}
{%- if target.name == 'prod' and custom_schema_name is not none -%}{{ custom_schema_name | trim }}{%- else -%}{{ target.schema }}{%- endif -%}
{%- endmacro %}
{% macro default__generate_alias_name(custom_alias_name=none, node=none) -%}
{%- if custom_alias_name -%}{{ custom_alias_name | trim }}{%- elif node.version -%}{{ node.name ~ "_v" ~ (node.version | replace(".", "_")) }}{%- else -%}{{ node.name }}{%- endif -%}
{%- endmacro %}
{% macro default__generate_database_name(custom_database_name=none, node=none) -%}
{%- if custom_database_name is none -%}{{ target.database }}{%- else -%}{{ custom_database_name | trim }}{%- endif -%}
{%- endmacro %}

{#- The public naming macros dispatch, as dbt's do: a root project's `generate_schema_name` replaces
    one, and its `default__generate_schema_name` (or `duckdb__...`) is what the built-in calls. -#}
{% macro generate_schema_name(custom_schema_name=none, node=none) -%}
{{ return(adapter.dispatch('generate_schema_name', 'dbt')(custom_schema_name, node)) }}
{%- endmacro %}
{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
{{ return(adapter.dispatch('generate_alias_name', 'dbt')(custom_alias_name, node)) }}
{%- endmacro %}
{% macro generate_database_name(custom_database_name=none, node=none) -%}
{{ return(adapter.dispatch('generate_database_name', 'dbt')(custom_database_name, node)) }}
{%- endmacro %}

{#- Schemas and relations, over the adapter's methods. -#}
{% macro create_schema(relation) %}{{ return(adapter.dispatch('create_schema', 'dbt')(relation)) }}{% endmacro %}
{% macro default__create_schema(relation) %}{% do adapter.create_schema(relation) %}{% endmacro %}
{% macro drop_schema(relation) %}{{ return(adapter.dispatch('drop_schema', 'dbt')(relation)) }}{% endmacro %}
{% macro default__drop_schema(relation) %}{% do adapter.drop_schema(relation) %}{% endmacro %}
{% macro drop_relation(relation) %}{{ return(adapter.dispatch('drop_relation', 'dbt')(relation)) }}{% endmacro %}
{% macro default__drop_relation(relation) %}{% do adapter.drop_relation(relation) %}{% endmacro %}
{% macro drop_relation_if_exists(relation) %}{% if relation is not none %}{% do adapter.drop_relation(relation) %}{% endif %}{% endmacro %}
{% macro truncate_relation(relation) %}{{ return(adapter.dispatch('truncate_relation', 'dbt')(relation)) }}{% endmacro %}
{% macro default__truncate_relation(relation) %}{% do adapter.truncate_relation(relation) %}{% endmacro %}
{% macro rename_relation(from_relation, to_relation) %}{{ return(adapter.dispatch('rename_relation', 'dbt')(from_relation, to_relation)) }}{% endmacro %}
{% macro default__rename_relation(from_relation, to_relation) %}{% do adapter.rename_relation(from_relation, to_relation) %}{% endmacro %}
{% macro get_columns_in_relation(relation) %}{{ return(adapter.dispatch('get_columns_in_relation', 'dbt')(relation)) }}{% endmacro %}
{% macro default__get_columns_in_relation(relation) %}{{ return(adapter.get_columns_in_relation(relation)) }}{% endmacro %}
{% macro list_relations_without_caching(schema_relation) %}{{ return(adapter.dispatch('list_relations_without_caching', 'dbt')(schema_relation)) }}{% endmacro %}
{#- As dbt-duckdb's: an agate table of `database`, `name`, `schema`, `type` (`table`/`view`). -#}
{% macro default__list_relations_without_caching(schema_relation) -%}
{{ return(run_query("select table_catalog as database, table_name as name, table_schema as schema, case when table_type = 'VIEW' then 'view' else 'table' end as type from information_schema.tables where table_schema ilike '" ~ schema_relation.schema ~ "' and table_catalog ilike '" ~ schema_relation.database ~ "'")) }}
{%- endmacro %}
{% macro load_cached_relation(relation) %}{{ return(adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier)) }}{% endmacro %}
{% macro get_or_create_relation(database, schema, identifier, type) -%}
{%- set found = adapter.get_relation(database=database, schema=schema, identifier=identifier) -%}
{%- if found is not none -%}{{ return([true, found]) }}{%- endif -%}
{{ return([false, api.Relation.create(database=database, schema=schema, identifier=identifier, type=type)]) }}
{%- endmacro %}
{% macro make_temp_relation(base_relation, suffix='__dbt_tmp') %}{{ return(adapter.dispatch('make_temp_relation', 'dbt')(base_relation, suffix)) }}{% endmacro %}
{% macro default__make_temp_relation(base_relation, suffix) %}{{ return(base_relation.incorporate(path={"identifier": base_relation.identifier ~ suffix})) }}{% endmacro %}
{% macro duckdb__make_temp_relation(base_relation, suffix) %}{{ return(base_relation.incorporate(path={"identifier": base_relation.identifier ~ suffix ~ py_current_timestring(), "schema": none, "database": none})) }}{% endmacro %}
{% macro make_intermediate_relation(base_relation, suffix='__dbt_tmp') %}{{ return(base_relation.incorporate(path={"identifier": base_relation.identifier ~ suffix})) }}{% endmacro %}
{% macro make_backup_relation(base_relation, backup_relation_type, suffix='__dbt_backup') %}{{ return(base_relation.incorporate(path={"identifier": base_relation.identifier ~ suffix})) }}{% endmacro %}
{% macro should_full_refresh() -%}
{%- set from_config = config.get('full_refresh') -%}
{{ return(flags.FULL_REFRESH if from_config is none else from_config) }}
{%- endmacro %}

{#- SQL text dbt's materializations are made of, as dbt-duckdb writes it. -#}
{% macro get_empty_subquery_sql(select_sql, select_sql_header=none) %}{{ return(adapter.dispatch('get_empty_subquery_sql', 'dbt')(select_sql, select_sql_header)) }}{% endmacro %}
{% macro default__get_empty_subquery_sql(select_sql, select_sql_header=none) -%}
{%- if select_sql_header is not none -%}{{ select_sql_header }}{%- endif %}
select * from (
{{ select_sql }}
) as __dbt_sbq
where false
limit 0
{%- endmacro %}
{% macro get_columns_in_query(select_sql) %}{{ return(adapter.dispatch('get_columns_in_query', 'dbt')(select_sql)) }}{% endmacro %}
{% macro default__get_columns_in_query(select_sql) -%}
{%- set result = run_query(get_empty_subquery_sql(select_sql)) -%}
{{ return([] if result is none else result.columns | map(attribute='name') | list) }}
{%- endmacro %}
{% macro get_quoted_csv(column_names) -%}
{%- set quoted = [] -%}{%- for name in column_names -%}{%- do quoted.append(adapter.quote(name)) -%}{%- endfor -%}
{{ return(quoted | join(', ')) }}
{%- endmacro %}
{% macro get_create_table_as_sql(temporary, relation, sql) %}{{ return(adapter.dispatch('get_create_table_as_sql', 'dbt')(temporary, relation, sql)) }}{% endmacro %}
{% macro default__get_create_table_as_sql(temporary, relation, sql) %}{{ return(create_table_as(temporary, relation, sql)) }}{% endmacro %}
{#- dbt-duckdb's signature, with `partitioned_by` and `sorted_by` (DuckLake's table options,
    which a DuckDB file has not: refused by name when set). -#}
{% macro create_table_as(temporary, relation, compiled_code, language='sql', partitioned_by=none, sorted_by=none) -%}
{%- if partitioned_by is not none or sorted_by is not none -%}
{{ exceptions.raise_compiler_error("create_table_as: partitioned_by and sorted_by are DuckLake's table options, which Mallard does not support") }}
{%- endif -%}
{{ return(adapter.dispatch('create_table_as', 'dbt')(temporary, relation, compiled_code, language)) }}
{%- endmacro %}
{% macro default__create_table_as(temporary, relation, compiled_code, language='sql') -%}
create {% if temporary %}temporary {% endif %}table {{ relation.include(database=(not temporary), schema=(not temporary)) }} as (
{{ compiled_code }}
);
{%- endmacro %}
{% macro get_create_view_as_sql(relation, sql) %}{{ return(adapter.dispatch('get_create_view_as_sql', 'dbt')(relation, sql)) }}{% endmacro %}
{% macro default__get_create_view_as_sql(relation, sql) %}{{ return(create_view_as(relation, sql)) }}{% endmacro %}
{% macro create_view_as(relation, sql) %}{{ return(adapter.dispatch('create_view_as', 'dbt')(relation, sql)) }}{% endmacro %}
{% macro default__create_view_as(relation, sql) -%}
create view {{ relation }} as (
{{ sql }}
);
{%- endmacro %}
{% macro get_insert_into_sql(target_relation, temp_relation, dest_columns) -%}
{%- set columns = get_quoted_csv(dest_columns | map(attribute='name')) -%}
insert into {{ target_relation }} ({{ columns }})
(
select {{ columns }}
from {{ temp_relation }}
)
{%- endmacro %}
{% macro current_timestamp_backcompat() %}{{ return(adapter.dispatch('current_timestamp_backcompat', 'dbt')()) }}{% endmacro %}
{% macro default__current_timestamp_backcompat() %}current_timestamp::timestamp{% endmacro %}
{% macro current_timestamp_in_utc_backcompat() %}{{ return(adapter.dispatch('current_timestamp_in_utc_backcompat', 'dbt')()) }}{% endmacro %}
{% macro default__current_timestamp_in_utc_backcompat() %}current_timestamp::timestamp{% endmacro %}
{% macro py_current_timestring() %}{{ return(modules.datetime.datetime.now().strftime("%Y%m%d%H%M%S%f")) }}{% endmacro %}
