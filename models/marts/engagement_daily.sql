-- Daily engagement of the habit app (origin 003): DAU is the number of distinct users with a
-- session_start that day; MAU the distinct users with one in the 30 days ending that day;
-- stickiness = DAU / MAU. One row per day from the first session to the as-of date.
{% set as_of = var('app_as_of_date') %}

with session_days as (
    select * from {{ ref('int_app_session_days') }}
),

calendar as (
    select cast(d as date) as activity_date
    from range(
        (select min(occurred_date) from session_days),
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
