{#- Where DuckDB's SQL and Spark's differ, the marts call these, and `adapter.dispatch` picks the
    engine's form by `target.type` (see docs/scale-out.md). -#}

{#- `date` as `YYYY-MM` text. -#}
{% macro year_month(date) %}{{ return(adapter.dispatch('year_month')(date)) }}{% endmacro %}
{% macro default__year_month(date) %}strftime({{ date }}, '%Y-%m'){% endmacro %}
{% macro spark__year_month(date) %}date_format({{ date }}, 'yyyy-MM'){% endmacro %}
