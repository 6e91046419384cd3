-- Origin 004 step 5: did the campaign annoy people? Per group, all campaign recipients and
-- those who blocked notifications after the campaign date; the blocking rate in percent, its
-- difference to Control in points with a pooled two-proportion z-test, and the stop rules:
-- stop if blocking exceeds Control's by more than 2 points, or if the group's apply-rate
-- uplift (ab_test_performance) is below +5 points.
{% set campaign_date = var('crm_campaign_date') %}

with recipients as (
    select l.user_id, any_value(l.ab_group) as ab_group
    from {{ ref('stg_crm__campaign_logs') }} as l
    group by l.user_id
),

groups as (
    select
        r.ab_group,
        count(*) as recipients,
        count(*) filter (where u.notification_blocked_at > timestamp '{{ campaign_date }}') as blocked
    from recipients as r
    join {{ ref('stg_crm__users') }} as u on u.user_id = r.user_id
    group by r.ab_group
),

control as (
    select recipients as n0, blocked as x0, blocked / recipients as p0
    from groups
    where ab_group = 'Control'
),

compared as (
    select
        g.ab_group,
        g.recipients,
        g.blocked,
        100.0 * g.blocked / g.recipients as blocking_rate_pct,
        100.0 * (g.blocked / g.recipients - c.p0) as blocking_delta_pts,
        case when g.ab_group <> 'Control' then
            (g.blocked / g.recipients - c.p0) / sqrt(
                ((g.blocked + c.x0) / (g.recipients + c.n0))
                * (1 - (g.blocked + c.x0) / (g.recipients + c.n0))
                * (1.0 / g.recipients + 1.0 / c.n0)
            )
        end as z_score
    from groups as g
    cross join control as c
)

select
    c.ab_group,
    c.recipients,
    c.blocked,
    c.blocking_rate_pct,
    c.blocking_delta_pts,
    c.z_score,
    {{ p_value_two_sided('c.z_score') }} as p_value,
    100.0 * a.uplift_vs_control as apply_uplift_pts,
    c.ab_group <> 'Control' and c.blocking_delta_pts > 2 as stop_for_blocking,
    c.ab_group <> 'Control' and 100.0 * a.uplift_vs_control < 5 as stop_for_low_uplift,
    case
        when c.ab_group = 'Control' then 'baseline'
        when c.blocking_delta_pts > 2 or 100.0 * a.uplift_vs_control < 5 then 'stop'
        else 'continue'
    end as decision
from compared as c
left join {{ ref('ab_test_performance') }} as a on a.ab_group = c.ab_group
