-- Per habit-app user as of `app_as_of_date` (origin 003, calculate_user_segment and
-- calculate_churn_risk). Activity windows are the 30 days ending on the as-of date.
-- Segment, by the first rule that holds: enthusiast (20+ active days and feature diversity
-- >= 0.7), quiet_user (4-10 active days and diversity < 0.4), test_driver (lifecycle day >= 7,
-- 5+ active days in the first week and fewer than 5 in the last 30), returned (came back
-- after more than 7 inactive days), new_user (lifecycle day < 7), else quiet_user.
-- Churn risk score 0-100: days since the last session >= 7: 35, >= 3: 20, >= 1: 5; in the
-- first week, a broken streak 25 and no AI coach message 20; a trial with fewer than 4 active
-- days 20. Level: critical >= 60, high >= 40, medium >= 20, else low.
{% set as_of = var('app_as_of_date') %}

with users as (
    select user_id, joined_date, subscription_status,
        date '{{ as_of }}' - joined_date as lifecycle_day
    from {{ ref('stg_app__users') }}
),

events as (
    select * from {{ ref('stg_app__events') }} where occurred_date <= date '{{ as_of }}'
),

session_days as (
    select * from {{ ref('int_app_session_days') }}
),

gaps as (
    select user_id, occurred_date - lag(occurred_date) over (partition by user_id order by occurred_date) - 1 as inactive_days
    from session_days
),

activity as (
    select
        u.user_id,
        count(distinct s.occurred_date) filter (where s.occurred_date > date '{{ as_of }}' - 30) as days_active_30,
        count(distinct s.occurred_date) filter (where s.occurred_date <= u.joined_date + 7) as first_week_active_days,
        max(s.occurred_date) as last_active_date
    from users as u
    left join session_days as s on s.user_id = u.user_id
    group by u.user_id
),

features as (
    select user_id, count(distinct feature) / 6 as feature_diversity
    from events
    where event_type = 'feature_used' and occurred_date > date '{{ as_of }}' - 30
    group by user_id
),

signals as (
    select
        u.user_id,
        (select count(*) from gaps as g where g.user_id = u.user_id and g.inactive_days > 7) as return_count,
        exists (select 1 from events as e where e.user_id = u.user_id and e.event_type = 'streak_broken') as streak_broken,
        exists (select 1 from events as e where e.user_id = u.user_id and e.event_type = 'ai_coach_message') as wrote_ai_coach
    from users as u
),

profile as (
    select
        u.user_id,
        u.joined_date,
        u.subscription_status,
        u.lifecycle_day,
        a.days_active_30,
        a.first_week_active_days,
        coalesce(f.feature_diversity, 0) as feature_diversity,
        a.last_active_date,
        date '{{ as_of }}' - a.last_active_date as days_inactive,
        s.return_count,
        s.streak_broken,
        s.wrote_ai_coach
    from users as u
    join activity as a on a.user_id = u.user_id
    join signals as s on s.user_id = u.user_id
    left join features as f on f.user_id = u.user_id
),

scored as (
    select
        *,
        case
            when days_active_30 >= 20 and feature_diversity >= 0.7 then 'enthusiast'
            when days_active_30 between 4 and 10 and feature_diversity < 0.4 then 'quiet_user'
            when lifecycle_day >= 7 and first_week_active_days >= 5 and days_active_30 < 5 then 'test_driver'
            when return_count > 0 then 'returned'
            when lifecycle_day < 7 then 'new_user'
            else 'quiet_user'
        end as segment,
        case
            when days_inactive >= 7 then 35
            when days_inactive >= 3 then 20
            when days_inactive >= 1 then 5
            else 0
        end
        + case when lifecycle_day <= 7 and streak_broken then 25 else 0 end
        + case when lifecycle_day <= 7 and not wrote_ai_coach then 20 else 0 end
        + case when subscription_status = 'trial' and days_active_30 < 4 then 20 else 0 end
            as churn_risk_score
    from profile
)

select
    *,
    case
        when churn_risk_score >= 60 then 'critical'
        when churn_risk_score >= 40 then 'high'
        when churn_risk_score >= 20 then 'medium'
        else 'low'
    end as churn_risk_level
from scored
