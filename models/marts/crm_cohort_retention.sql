-- Origin 004 step 4: does the campaign's short-term effect last? Post cohort: matched
-- recipients, starting at their first campaign message; pre cohort: repeat users (2+
-- settlements) outside the campaign, starting at their last settlement before the campaign
-- date. Activity: settlements and applied campaign messages. Retention in week 1 (days +1..+7
-- after the start), week 2 (+8..+14) and week 4 (+22..+28), inclusive. Rows: the pre cohort,
-- the post cohort, and the post cohort by A/B group.
{% set campaign_date = var('crm_campaign_date') %}

with recipients as (
    select user_id, any_value(ab_group) as ab_group, min(sent_at) as start_at
    from {{ ref('stg_crm__campaign_logs') }}
    group by user_id
),

post_cohort as (
    select user_id, ab_group, start_at
    from recipients
    where user_id in (select user_id from {{ ref('personalization_matching') }})
),

pre_cohort as (
    select s.user_id, max(s.settled_at) as start_at
    from {{ ref('stg_crm__settlements') }} as s
    where s.settled_at < timestamp '{{ campaign_date }}'
        and s.user_id not in (select user_id from recipients)
    group by s.user_id
    having count(*) >= 2
),

members as (
    select 'post' as cohort, ab_group, user_id, start_at from post_cohort
    union all
    select 'pre', null, user_id, start_at from pre_cohort
),

activity as (
    select user_id, settled_at as active_at from {{ ref('stg_crm__settlements') }}
    union all
    select user_id, sent_at from {{ ref('stg_crm__campaign_logs') }} where is_applied
),

member_weeks as (
    select
        m.cohort,
        m.ab_group,
        m.user_id,
        bool_or(cast(a.active_at as date) - cast(m.start_at as date) between 1 and 7) as week1,
        bool_or(cast(a.active_at as date) - cast(m.start_at as date) between 8 and 14) as week2,
        bool_or(cast(a.active_at as date) - cast(m.start_at as date) between 22 and 28) as week4
    from members as m
    left join activity as a on a.user_id = m.user_id and a.active_at > m.start_at
    group by m.cohort, m.ab_group, m.user_id
),

by_group as (
    select cohort, ab_group, user_id, week1, week2, week4 from member_weeks where cohort = 'post'
),

cells as (
    select cohort, null as ab_group, count(*) as users,
        count(*) filter (where week1) as retained_week1,
        count(*) filter (where week2) as retained_week2,
        count(*) filter (where week4) as retained_week4
    from member_weeks
    group by cohort
    union all
    select cohort, ab_group, count(*),
        count(*) filter (where week1),
        count(*) filter (where week2),
        count(*) filter (where week4)
    from by_group
    group by cohort, ab_group
)

select
    cohort || coalesce(':' || ab_group, '') as cohort_key,
    cohort,
    ab_group,
    users,
    retained_week1,
    retained_week2,
    retained_week4,
    retained_week1 / users as retention_rate_week1,
    retained_week2 / users as retention_rate_week2,
    retained_week4 / users as retention_rate_week4
from cells
