{#- dbt's relation macros as dbt-duckdb renders them: the SQL that drops, renames and creates a
    relation by its type, grants, and the catalog and metadata queries. Written for Mallard;
    tests/namespace.rs compares each with dbt's. Public macros dispatch through
    `adapter.dispatch('<name>', 'dbt')`, so a project's `default__<name>` overrides them. -#}
{% macro get_drop_sql(relation) %}{{ return(adapter.dispatch('get_drop_sql', 'dbt')(relation)) }}{% endmacro %}
{% macro default__get_drop_sql(relation) -%}
{%- if relation.is_view -%}{{ drop_view(relation) }}
{%- elif relation.is_table -%}{{ drop_table(relation) }}
{%- elif relation.is_materialized_view -%}{{ drop_materialized_view(relation) }}
{%- else -%}drop {{ relation.type }} if exists {{ relation }} cascade
{%- endif -%}
{%- endmacro %}
{% macro drop_table(relation) %}{{ return(adapter.dispatch('drop_table', 'dbt')(relation)) }}{% endmacro %}
{% macro default__drop_table(relation) %}drop table if exists {{ relation }} cascade{% endmacro %}
{% macro drop_view(relation) %}{{ return(adapter.dispatch('drop_view', 'dbt')(relation)) }}{% endmacro %}
{% macro default__drop_view(relation) %}drop view if exists {{ relation }} cascade{% endmacro %}
{% macro drop_materialized_view(relation) %}{{ return(adapter.dispatch('drop_materialized_view', 'dbt')(relation)) }}{% endmacro %}
{% macro default__drop_materialized_view(relation) %}drop materialized view if exists {{ relation }} cascade{% endmacro %}
{% macro drop_schema_named(schema_name) %}{{ return(adapter.dispatch('drop_schema_named', 'dbt')(schema_name)) }}{% endmacro %}
{% macro default__drop_schema_named(schema_name) -%}
{{ adapter.drop_schema(api.Relation.create(database=target.database, schema=schema_name)) }}
{%- endmacro %}

{% macro get_drop_backup_sql(relation) -%}
{{ get_drop_sql(make_backup_relation(relation, relation.type)) }}
{%- endmacro %}
{% macro get_create_backup_sql(relation) -%}
{%- set backup = make_backup_relation(relation, relation.type) -%}
{{ get_drop_backup_sql(relation) }};
{{ get_rename_sql(relation, backup.identifier) }}
{%- endmacro %}
{% macro get_rename_intermediate_sql(relation) -%}
{{ get_rename_sql(make_intermediate_relation(relation), relation.identifier) }}
{%- endmacro %}
{% macro get_create_intermediate_sql(relation, sql) -%}
{%- set intermediate = make_intermediate_relation(relation) -%}
{{ get_drop_sql(intermediate) }};
{{ get_create_sql(intermediate, sql) }}
{%- endmacro %}

{% macro get_rename_sql(relation, new_name) %}{{ return(adapter.dispatch('get_rename_sql', 'dbt')(relation, new_name)) }}{% endmacro %}
{% macro default__get_rename_sql(relation, new_name) -%}
{%- if relation.is_view -%}{{ get_rename_view_sql(relation, new_name) }}
{%- elif relation.is_table -%}{{ get_rename_table_sql(relation, new_name) }}
{%- elif relation.is_materialized_view -%}{{ get_rename_materialized_view_sql(relation, new_name) }}
{%- else -%}{{ exceptions.raise_compiler_error("get_rename_sql has not been implemented for " ~ relation.type) }}
{%- endif -%}
{%- endmacro %}
{% macro get_rename_table_sql(relation, new_name) %}{{ return(adapter.dispatch('get_rename_table_sql', 'dbt')(relation, new_name)) }}{% endmacro %}
{% macro default__get_rename_table_sql(relation, new_name) %}alter table {{ relation }} rename to {{ new_name }}{% endmacro %}
{% macro get_rename_view_sql(relation, new_name) %}{{ return(adapter.dispatch('get_rename_view_sql', 'dbt')(relation, new_name)) }}{% endmacro %}
{% macro default__get_rename_view_sql(relation, new_name) %}alter view {{ relation }} rename to {{ new_name }}{% endmacro %}
{% macro get_rename_materialized_view_sql(relation, new_name) %}{{ return(adapter.dispatch('get_rename_materialized_view_sql', 'dbt')(relation, new_name)) }}{% endmacro %}
{% macro default__get_rename_materialized_view_sql(relation, new_name) -%}
{{ exceptions.raise_compiler_error("get_rename_materialized_view_sql is not available on " ~ adapter.type() ~ ": it has no materialized views") }}
{%- endmacro %}

{% macro get_create_sql(relation, sql) %}{{ return(adapter.dispatch('get_create_sql', 'dbt')(relation, sql)) }}{% endmacro %}
{% macro default__get_create_sql(relation, sql) -%}
{%- if relation.is_view -%}{{ get_create_view_as_sql(relation, sql) }}
{%- elif relation.is_table -%}{{ get_create_table_as_sql(false, relation, sql) }}
{%- elif relation.is_materialized_view -%}{{ get_create_materialized_view_as_sql(relation, sql) }}
{%- else -%}{{ exceptions.raise_compiler_error("get_create_sql has not been implemented for " ~ relation.type) }}
{%- endif -%}
{%- endmacro %}
{% macro get_create_materialized_view_as_sql(relation, sql) %}{{ return(adapter.dispatch('get_create_materialized_view_as_sql', 'dbt')(relation, sql)) }}{% endmacro %}
{% macro default__get_create_materialized_view_as_sql(relation, sql) -%}
{{ exceptions.raise_compiler_error("get_create_materialized_view_as_sql is not available on " ~ adapter.type() ~ ": it has no materialized views") }}
{%- endmacro %}
{% macro get_select_subquery(sql) %}{{ return(adapter.dispatch('get_select_subquery', 'dbt')(sql)) }}{% endmacro %}
{% macro default__get_select_subquery(sql) -%}
select {{ adapter.dispatch('get_column_names', 'dbt')() }}
from (
{{ sql }}
) as model_subq
{%- endmacro %}
{#- The contract's column list (empty without a contract), as dbt-duckdb's `get_column_names`. -#}
{% macro get_column_names() %}{{ return(adapter.dispatch('get_column_names', 'dbt')()) }}{% endmacro %}
{% macro default__get_column_names() -%}
{%- if config.get('contract', {}).get('enforced') and model.columns -%}
{{ model.columns.values() | map(attribute='name') | map('string') | join(', ') }}
{%- endif -%}
{%- endmacro %}
{% macro can_clone_table() %}{{ return(adapter.dispatch('can_clone_table', 'dbt')()) }}{% endmacro %}
{% macro default__can_clone_table() %}{{ return(false) }}{% endmacro %}
{% macro create_or_replace_clone(this_relation, defer_relation) %}{{ return(adapter.dispatch('create_or_replace_clone', 'dbt')(this_relation, defer_relation)) }}{% endmacro %}
{% macro default__create_or_replace_clone(this_relation, defer_relation) %}create or replace table {{ this_relation }} clone {{ defer_relation }}{% endmacro %}
{% macro load_relation(relation) %}{{ return(load_cached_relation(relation)) }}{% endmacro %}

{#- Grants. DuckDB has none: the SQL renders as dbt-duckdb renders it, and `apply_grants` with
    grants configured warns, as dbt-duckdb's does, and runs nothing. -#}
{% macro copy_grants() %}{{ return(adapter.dispatch('copy_grants', 'dbt')()) }}{% endmacro %}
{% macro default__copy_grants() %}{{ return(true) }}{% endmacro %}
{% macro support_multiple_grantees_per_dcl_statement() %}{{ return(adapter.dispatch('support_multiple_grantees_per_dcl_statement', 'dbt')()) }}{% endmacro %}
{% macro default__support_multiple_grantees_per_dcl_statement() %}{{ return(true) }}{% endmacro %}
{% macro should_revoke(existing_relation, full_refresh_mode=True) -%}
{%- if not existing_relation -%}{{ return(false) }}
{%- elif full_refresh_mode -%}{{ return(copy_grants()) }}
{%- else -%}{{ return(true) }}
{%- endif -%}
{%- endmacro %}
{% macro get_show_grant_sql(relation) %}{{ return(adapter.dispatch('get_show_grant_sql', 'dbt')(relation)) }}{% endmacro %}
{% macro default__get_show_grant_sql(relation) %}show grants on {{ relation }}{% endmacro %}
{% macro get_grant_sql(relation, privilege, grantees) %}{{ return(adapter.dispatch('get_grant_sql', 'dbt')(relation, privilege, grantees)) }}{% endmacro %}
{% macro default__get_grant_sql(relation, privilege, grantees) %}grant {{ privilege }} on {{ relation }} to {{ grantees | join(', ') }}{% endmacro %}
{% macro get_revoke_sql(relation, privilege, grantees) %}{{ return(adapter.dispatch('get_revoke_sql', 'dbt')(relation, privilege, grantees)) }}{% endmacro %}
{% macro default__get_revoke_sql(relation, privilege, grantees) -%}
{%- set quoted = [] -%}{%- for g in grantees -%}{%- do quoted.append(adapter.quote(g)) -%}{%- endfor -%}
revoke {{ privilege }} on {{ relation }} from {{ quoted | join(', ') }}
{%- endmacro %}
{% macro get_dcl_statement_list(relation, grant_config, get_dcl_macro) %}{{ return(adapter.dispatch('get_dcl_statement_list', 'dbt')(relation, grant_config, get_dcl_macro)) }}{% endmacro %}
{% macro default__get_dcl_statement_list(relation, grant_config, get_dcl_macro) -%}
{%- set statements = [] -%}
{%- for privilege, grantees in grant_config.items() if grantees -%}
{%- if support_multiple_grantees_per_dcl_statement() -%}
{%- do statements.append(get_dcl_macro(relation, privilege, grantees)) -%}
{%- else -%}
{%- for grantee in grantees -%}{%- do statements.append(get_dcl_macro(relation, privilege, [grantee])) -%}{%- endfor -%}
{%- endif -%}
{%- endfor -%}
{{ return(statements) }}
{%- endmacro %}
{% macro call_dcl_statements(dcl_statement_list) %}{{ return(adapter.dispatch('call_dcl_statements', 'dbt')(dcl_statement_list)) }}{% endmacro %}
{% macro default__call_dcl_statements(dcl_statement_list) -%}
{%- if dcl_statement_list -%}
{%- call statement('grants') -%}{{ dcl_statement_list | join(';\n') }};{%- endcall -%}
{%- endif -%}
{%- endmacro %}
{% macro apply_grants(relation, grant_config, should_revoke) %}{{ return(adapter.dispatch('apply_grants', 'dbt')(relation, grant_config, should_revoke)) }}{% endmacro %}
{% macro default__apply_grants(relation, grant_config, should_revoke=True) -%}
{%- if grant_config -%}{%- do exceptions.warn('Grants for relations are not supported by DuckDB') -%}{%- endif -%}
{%- endmacro %}

{#- The catalog's answers, over DuckDB's information schema. -#}
{% macro information_schema_name(database) %}{{ return(adapter.dispatch('information_schema_name', 'dbt')(database)) }}{% endmacro %}
{% macro default__information_schema_name(database) -%}
{%- if database -%}{{ database }}.INFORMATION_SCHEMA{%- else -%}INFORMATION_SCHEMA{%- endif -%}
{%- endmacro %}
{% macro list_schemas(database) %}{{ return(adapter.dispatch('list_schemas', 'dbt')(database)) }}{% endmacro %}
{% macro default__list_schemas(database) -%}
{{ return(run_query("select distinct schema_name from information_schema.schemata where catalog_name ilike '" ~ database ~ "'")) }}
{%- endmacro %}
{% macro check_schema_exists(information_schema, schema) %}{{ return(adapter.dispatch('check_schema_exists', 'dbt')(information_schema, schema)) }}{% endmacro %}
{% macro default__check_schema_exists(information_schema, schema) -%}
{{ return(run_query("select count(*) from information_schema.schemata where catalog_name = '" ~ information_schema.database ~ "' and schema_name = '" ~ schema ~ "'")) }}
{%- endmacro %}
{% macro is_core_v2() %}{{ return(false) }}{% endmacro %}
{#- The catalog `docs generate` reads, as an agate table of dbt's catalog columns: of every
    relation in `schemas`, or of `relations`. -#}
{% macro get_catalog(information_schema, schemas) %}{{ return(adapter.dispatch('get_catalog', 'dbt')(information_schema, schemas)) }}{% endmacro %}
{% macro default__get_catalog(information_schema, schemas) -%}
{%- set names = [] -%}{%- for s in schemas -%}{%- do names.append("'" ~ (s | lower) ~ "'") -%}{%- endfor -%}
{{ return(run_query(mallard_catalog_query("lower(t.schema_name) in (" ~ (names | join(', ') or "''") ~ ") and t.database_name = '" ~ information_schema.database ~ "'"))) }}
{%- endmacro %}
{% macro get_catalog_relations(information_schema, relations) %}{{ return(adapter.dispatch('get_catalog_relations', 'dbt')(information_schema, relations)) }}{% endmacro %}
{% macro default__get_catalog_relations(information_schema, relations) -%}
{%- set matches = [] -%}
{%- for r in relations -%}
{%- do matches.append("(t.database_name = '" ~ r.database ~ "' and lower(t.schema_name) = '" ~ (r.schema | lower) ~ "' and lower(t.table_name) = '" ~ (r.identifier | lower) ~ "')") -%}
{%- endfor -%}
{{ return(run_query(mallard_catalog_query(matches | join(' or ') or 'false'))) }}
{%- endmacro %}
{% macro mallard_catalog_query(where) -%}
select t.database_name as table_database, t.schema_name as table_schema, t.table_name,
       t.table_type, t.comment as table_comment, c.column_name, c.column_index,
       c.data_type as column_type, c.comment as column_comment, null as table_owner
from (
    select database_name, schema_name, table_name, 'BASE TABLE' as table_type, comment from duckdb_tables()
    union all
    select database_name, schema_name, view_name, 'VIEW', comment from duckdb_views() where not internal
) t
join duckdb_columns() c
  on c.database_name = t.database_name and c.schema_name = t.schema_name and c.table_name = t.table_name
where {{ where }}
order by t.schema_name, t.table_name, c.column_index
{%- endmacro %}
{#- Replaces `existing_relation` by `target_relation` built from `sql`: by `create or replace`
    when the relation's type allows it, else through an intermediate relation and a backup as
    far as renaming is allowed, else by drop and create (what DuckDB's relations get: dbt-duckdb
    marks none replaceable or renameable). -#}
{% macro get_replace_sql(existing_relation, target_relation, sql) %}{{ return(adapter.dispatch('get_replace_sql', 'dbt')(existing_relation, target_relation, sql)) }}{% endmacro %}
{% macro default__get_replace_sql(existing_relation, target_relation, sql) -%}
{%- set replaceable = existing_relation.type == target_relation.type and existing_relation.can_be_replaced -%}
{%- if replaceable and existing_relation.is_view -%}{{ get_replace_view_sql(target_relation, sql) }}
{%- elif replaceable and existing_relation.is_table -%}{{ get_replace_table_sql(target_relation, sql) }}
{%- elif replaceable and existing_relation.is_materialized_view -%}{{ get_replace_materialized_view_sql(target_relation, sql) }}
{%- elif target_relation.can_be_renamed and existing_relation.can_be_renamed -%}
{{ get_create_intermediate_sql(target_relation, sql) }};
{{ get_create_backup_sql(existing_relation) }};
{{ get_rename_intermediate_sql(target_relation) }};
{{ get_drop_backup_sql(existing_relation) }}
{%- elif target_relation.can_be_renamed -%}
{{ get_create_intermediate_sql(target_relation, sql) }};
{{ get_drop_sql(existing_relation) }};
{{ get_rename_intermediate_sql(target_relation) }}
{%- elif existing_relation.can_be_renamed -%}
{{ get_create_backup_sql(existing_relation) }};
{{ get_create_sql(target_relation, sql) }};
{{ get_drop_backup_sql(existing_relation) }}
{%- else -%}
{{ get_drop_sql(existing_relation) }};
{{ get_create_sql(target_relation, sql) }}
{%- endif -%}
{%- endmacro %}
