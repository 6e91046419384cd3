-- Daily engagement of the habit app (origin 003): DAU is the number of distinct users with a
-- session_start that day; MAU the distinct users with one in the 30 days ending that day;
-- stickiness = DAU / MAU. One row per day from the first session to the as-of date.
--
-- Incremental, as a nightly run would build it: a day's figures depend only on sessions up to
-- that day, so a run with a later `app_as_of_date` computes the new days and, for sessions that
-- arrive late, recomputes the last `engagement_lookback_days` days it had (delete+insert on
-- activity_date). `--full-refresh` rebuilds every day.
{{ config(materialized='incremental', unique_key='activity_date', on_schema_change='fail') }}
{% set as_of = var('app_as_of_date') %}

with session_days as (
    select * from {{ ref('int_app_session_days') }}
),

calendar as (
    select cast(d as date) as activity_date
    from range(
{% if is_incremental() %}
        (select max(activity_date) - {{ var('engagement_lookback_days', 3) }} + 1 from {{ this }}),
{% else %}
        (select min(occurred_date) from session_days),
{% endif %}
        date '{{ as_of }}' + 1,
        interval 1 day
    ) as t(d)
),

daily as (
    select
        c.activity_date,
        count(distinct s.user_id) filter (where s.occurred_date = c.activity_date) as dau,
        count(distinct s.user_id) as mau
    from calendar as c
    left join session_days as s
        on s.occurred_date between c.activity_date - 29 and c.activity_date
    group by c.activity_date
)

select
    activity_date,
    dau,
    mau,
    case when mau > 0 then dau / mau end as stickiness
from daily
