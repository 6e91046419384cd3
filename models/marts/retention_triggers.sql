-- The retention triggers of origin 003 that fire for each app user on `app_as_of_date`: the
-- queue a sender would read (delivery is out of scope). One row per (user, trigger).
--   inactivity_3_days      no session for 3+ days            high    telegram, email
--   streak_at_risk         habit streak >= 3, none today     high    telegram
--   trial_expiring         trial ends in 1-3 days            high    in_app, telegram, email
--   win_back               30+ days without a session        medium  email (30% discount offer)
--   first_week_completed   lifecycle day 7, 5+ active days   medium  in_app
--   monthly_report         lifecycle day a multiple of 30    medium  in_app
{% set as_of = var('app_as_of_date') %}

with profile as (
    select * from {{ ref('user_segments') }}
),

habit_days as (
    select distinct user_id, occurred_date
    from {{ ref('stg_app__events') }}
    where event_type = 'habit_completed' and occurred_date <= date '{{ as_of }}'
),

-- Runs of consecutive habit days: a run's days share `occurred_date - row_number`.
habit_runs as (
    select
        user_id,
        max(occurred_date) as run_end,
        count(*) as run_length
    from (
        select user_id, occurred_date,
            occurred_date - cast(row_number() over (partition by user_id order by occurred_date) as integer) as run_id
        from habit_days
    )
    group by user_id, run_id
),

streaks as (
    -- The streak alive at the start of the as-of day: a run ending yesterday.
    select user_id, run_length as streak
    from habit_runs
    where run_end = date '{{ as_of }}' - 1
),

trials as (
    select user_id, cast(trial_ends_at as date) - date '{{ as_of }}' as trial_days_left
    from {{ ref('stg_app__users') }}
    where subscription_status = 'trial'
),

fired as (
    select user_id, 'inactivity_3_days' as trigger_type, 'high' as priority, 'telegram,email' as channels,
        days_inactive as detail_value
    from profile where days_inactive >= 3
    union all
    select s.user_id, 'streak_at_risk', 'high', 'telegram', s.streak
    from streaks as s
    where s.streak >= 3
    union all
    select user_id, 'trial_expiring', 'high', 'in_app,telegram,email', trial_days_left
    from trials where trial_days_left between 1 and 3
    union all
    select user_id, 'win_back', 'medium', 'email', days_inactive
    from profile where days_inactive >= 30
    union all
    select user_id, 'first_week_completed', 'medium', 'in_app', days_active_30
    from profile where lifecycle_day = 7 and days_active_30 >= 5
    union all
    select user_id, 'monthly_report', 'medium', 'in_app', lifecycle_day // 30
    from profile where lifecycle_day > 0 and lifecycle_day % 30 = 0
)

select
    cast(user_id as varchar) || ':' || trigger_type as trigger_key,
    user_id,
    trigger_type,
    priority,
    channels,
    case when trigger_type = 'win_back' then '30% discount' end as offer,
    -- What the trigger is about: days inactive, streak length, trial days left, active days,
    -- or the month number of the report.
    detail_value
from fired
