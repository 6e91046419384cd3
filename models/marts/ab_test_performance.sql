-- Origin 004 step 3: did the campaign make high-risk users apply? Population: high-risk users
-- (churn_definition) who had a matching job (personalization_matching) and received the
-- campaign. A user counts as applied if any of their campaign logs is. Statistics per group
-- and against Control from the ab_test_statistics macro (macros/statistics.sql).
with recipients as (
    select user_id, any_value(ab_group) as ab_group, max(is_applied::int) as is_applied
    from {{ ref('stg_crm__campaign_logs') }}
    group by user_id
),

population as (
    select r.*
    from recipients as r
    join {{ ref('churn_definition') }} as c on c.user_id = r.user_id and c.is_high_risk
    where r.user_id in (select user_id from {{ ref('personalization_matching') }})
),

groups as (
    select ab_group, count(*) as users, sum(is_applied) as applications
    from population
    group by ab_group
),

stats as (
    {{ ab_test_statistics('groups') }}
)

select * from stats
