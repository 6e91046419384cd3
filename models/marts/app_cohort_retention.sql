-- Signup cohorts of the habit app, by day and by ISO week (Monday start). Exact-day retention
-- D1, D3, D7, D14, D30: the share of the cohort with a session on day N after signup (the
-- "return on" definition of Amplitude); rolling retention: a session on day N or later
-- (origin 000). A cell is NULL where some member of the cohort has not reached day N by the
-- as-of date. churn_dN = 1 - retention_dN.
{% set as_of = var('app_as_of_date') %}
{% set days = [1, 3, 7, 14, 30] %}

with members as (
    select user_id, joined_date, 'day' as cohort_type, joined_date as cohort_start
    from {{ ref('stg_app__users') }}
    union all
    select user_id, joined_date, 'week', cast(date_trunc('week', joined_date) as date)
    from {{ ref('stg_app__users') }}
),

session_days as (
    select * from {{ ref('int_app_session_days') }}
),

member_days as (
    select
        m.cohort_type,
        m.cohort_start,
        m.user_id,
        m.joined_date,
        {% for n in days %}
        bool_or(s.occurred_date - m.joined_date = {{ n }}) as on_d{{ n }},
        bool_or(s.occurred_date - m.joined_date >= {{ n }}) as after_d{{ n }}{{ "," if not loop.last }}
        {% endfor %}
    from members as m
    left join session_days as s on s.user_id = m.user_id
    group by m.cohort_type, m.cohort_start, m.user_id, m.joined_date
),

cohorts as (
    select
        cohort_type,
        cohort_start,
        count(*) as users,
        max(joined_date) as last_joined_date,
        {% for n in days %}
        count(*) filter (where on_d{{ n }}) as returned_d{{ n }},
        count(*) filter (where after_d{{ n }}) as rolling_returned_d{{ n }}{{ "," if not loop.last }}
        {% endfor %}
    from member_days
    group by cohort_type, cohort_start
)

select
    cohort_type || ':' || strftime(cohort_start, '%Y-%m-%d') as cohort_key,
    cohort_type,
    cohort_start,
    users,
    {% for n in days %}
    case when last_joined_date + {{ n }} <= date '{{ as_of }}' then returned_d{{ n }} / users end as retention_d{{ n }},
    {% endfor %}
    {% for n in days %}
    case when last_joined_date + {{ n }} <= date '{{ as_of }}' then rolling_returned_d{{ n }} / users end as rolling_retention_d{{ n }},
    {% endfor %}
    {% for n in days %}
    case when last_joined_date + {{ n }} <= date '{{ as_of }}' then 1 - returned_d{{ n }} / users end as churn_d{{ n }}{{ "," if not loop.last }}
    {% endfor %}
from cohorts
