-- Origin 004 step 1: who is at high risk of churning on the campaign date.
-- Per CRM user: settlements before the campaign date, the average settlement cycle
-- (last - first) / (count - 1) in days (NULL with one settlement), recency in days, the tier's
-- threshold, and `is_high_risk = recency_days > threshold_p75`.
{% set campaign_date = var('crm_campaign_date') %}

with settlements as (
    select user_id, settled_at
    from {{ ref('stg_crm__settlements') }}
    where settled_at < timestamp '{{ campaign_date }}'
),

per_user as (
    select
        u.user_id,
        u.tier,
        u.total_settle_cnt,
        count(s.settled_at) as settle_count,
        min(s.settled_at) as first_settled_at,
        max(s.settled_at) as last_settled_at
    from {{ ref('stg_crm__users') }} as u
    left join settlements as s on s.user_id = u.user_id
    group by u.user_id, u.tier, u.total_settle_cnt
),

cycles as (
    select
        *,
        -- Whole days between the dates, as MySQL's DATEDIFF in the original.
        case when settle_count > 1 then
            (cast(last_settled_at as date) - cast(first_settled_at as date)) / (settle_count - 1)
        end as avg_settle_cycle_days,
        date '{{ campaign_date }}' - cast(last_settled_at as date) as recency_days
    from per_user
),

quartiles as (
    select
        *,
        case when avg_settle_cycle_days is not null then
            ntile(4) over (partition by tier order by avg_settle_cycle_days, user_id)
        end as cycle_quartile
    from cycles
),

thresholds as (
    select
        tier,
        -- The original's "Q3": the smallest cycle of the third NTILE(4) bucket, which sits
        -- near the median rather than the 75th percentile.
        min(avg_settle_cycle_days) filter (where cycle_quartile = 3) as threshold_ntile,
        quantile_cont(avg_settle_cycle_days, 0.75) as threshold_p75
    from quartiles
    group by tier
)

select
    q.user_id,
    q.tier,
    q.total_settle_cnt,
    q.settle_count,
    q.first_settled_at,
    q.last_settled_at,
    q.avg_settle_cycle_days,
    q.recency_days,
    t.threshold_ntile,
    t.threshold_p75,
    coalesce(q.recency_days > t.threshold_p75, false) as is_high_risk,
    coalesce(q.recency_days > t.threshold_ntile, false) as is_high_risk_ntile
from quartiles as q
join thresholds as t on t.tier = q.tier
