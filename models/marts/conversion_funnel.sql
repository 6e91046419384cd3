-- The habit app's funnel (origin 003): registered -> activated_d1 (a session on the day after
-- signup) -> active_d7 (a session on day 7) -> started_trial -> converted_paid -> renewed.
-- Each step counts users who also passed every earlier step; conversion is to the previous
-- step and to registration. Users too recent to have reached a step count as not reaching it.
{% set as_of = var('app_as_of_date') %}

with users as (
    select * from {{ ref('stg_app__users') }}
),

session_days as (
    select * from {{ ref('int_app_session_days') }}
),

flags as (
    select
        u.user_id,
        exists (select 1 from session_days as s where s.user_id = u.user_id and s.occurred_date = u.joined_date + 1) as d1,
        exists (select 1 from session_days as s where s.user_id = u.user_id and s.occurred_date = u.joined_date + 7) as d7,
        u.trial_started_at is not null and cast(u.trial_started_at as date) <= date '{{ as_of }}' as trial,
        u.paid_at is not null and cast(u.paid_at as date) <= date '{{ as_of }}' as paid,
        u.renewals > 0 as renewed
    from users as u
),

steps as (
    select 1 as step_number, 'registered' as step, count(*) as users from flags
    union all select 2, 'activated_d1', count(*) filter (where d1) from flags
    union all select 3, 'active_d7', count(*) filter (where d1 and d7) from flags
    union all select 4, 'started_trial', count(*) filter (where d1 and d7 and trial) from flags
    union all select 5, 'converted_paid', count(*) filter (where d1 and d7 and trial and paid) from flags
    union all select 6, 'renewed', count(*) filter (where d1 and d7 and trial and paid and renewed) from flags
)

select
    step_number,
    step,
    users,
    users / nullif(lag(users) over (order by step_number), 0) as conversion_from_previous,
    users / first_value(users) over (order by step_number) as conversion_from_registered
from steps
