-- The `guardrail_metrics` mart as Parquet for the dashboard (see exports.yml).
select * from {{ ref('guardrail_metrics') }}
