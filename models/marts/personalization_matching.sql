-- Origin 004 step 2: job posts to offer each user. From the user's last settlement before the
-- campaign date: candidate categories are the same one and its similar ones (category map);
-- posts in the user's region paying at least 10% more per hour than that settlement.
-- One row per (user, job), the same-category match preferred, then the larger uplift.
{% set campaign_date = var('crm_campaign_date') %}

with last_settlement as (
    select s.user_id, s.category_id, s.hourly_rate as last_hourly_rate, u.region_id
    from {{ ref('stg_crm__settlements') }} as s
    join {{ ref('stg_crm__users') }} as u on u.user_id = s.user_id
    where s.settled_at < timestamp '{{ campaign_date }}'
    qualify row_number() over (partition by s.user_id order by s.settled_at desc, s.settlement_id desc) = 1
),

candidates as (
    select user_id, category_id as candidate_category, 'same' as match_type
    from last_settlement
    union all
    select l.user_id, m.similar_category, 'similar'
    from last_settlement as l
    join {{ ref('stg_crm__category_map') }} as m on m.original_category = l.category_id
),

matches as (
    select
        l.user_id,
        j.job_id,
        c.match_type,
        l.category_id as last_category_id,
        j.category_id as job_category_id,
        l.region_id,
        l.last_hourly_rate,
        j.hourly_rate as job_hourly_rate,
        j.hourly_rate - l.last_hourly_rate as wage_uplift,
        (j.hourly_rate - l.last_hourly_rate) / l.last_hourly_rate as wage_uplift_pct
    from last_settlement as l
    join candidates as c on c.user_id = l.user_id
    join {{ ref('stg_crm__job_posts') }} as j
        on j.category_id = c.candidate_category
        and j.region_id = l.region_id
        and j.hourly_rate >= 1.10 * l.last_hourly_rate
        and j.posted_at < timestamp '{{ campaign_date }}'
    qualify row_number() over (
        partition by l.user_id, j.job_id
        order by (c.match_type = 'same') desc, j.hourly_rate - l.last_hourly_rate desc
    ) = 1
)

select
    cast(user_id as varchar) || ':' || cast(job_id as varchar) as match_key,
    *,
    row_number() over (
        partition by user_id
        order by (match_type = 'same') desc, wage_uplift desc, job_id
    ) as match_rank
from matches
