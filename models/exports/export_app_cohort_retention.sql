-- The `app_cohort_retention` mart as Parquet for the dashboard (see exports.yml).
select * from {{ ref('app_cohort_retention') }}
