-- The `ab_test_performance` mart as Parquet for the dashboard (see exports.yml).
select * from {{ ref('ab_test_performance') }}
