-- Paying users of the habit app (subscription_status 'paid') by activity over the 4 weeks
-- ending on `app_as_of_date` (origin 003): active with 3+ active days a week on average, dead
-- with less than 1, inactive in between. One row per activity status.
{% set as_of = var('app_as_of_date') %}

with paying as (
    select user_id from {{ ref('stg_app__users') }} where subscription_status = 'paid'
),

activity as (
    select
        p.user_id,
        count(s.occurred_date) / 4.0 as active_days_per_week
    from paying as p
    left join {{ ref('int_app_session_days') }} as s
        on s.user_id = p.user_id
        and s.occurred_date between date '{{ as_of }}' - 27 and date '{{ as_of }}'
    group by p.user_id
),

classified as (
    select
        *,
        case
            when active_days_per_week >= 3 then 'active'
            when active_days_per_week < 1 then 'dead'
            else 'inactive'
        end as activity_status
    from activity
),

statuses as (
    select * from (values (1, 'active'), (2, 'inactive'), (3, 'dead')) as t(sort_order, activity_status)
)

select
    s.activity_status,
    count(c.user_id) as users,
    count(c.user_id) / nullif((select count(*) from classified), 0) as share_of_paying,
    avg(c.active_days_per_week) as avg_active_days_per_week
from statuses as s
left join classified as c on c.activity_status = s.activity_status
group by s.sort_order, s.activity_status
order by s.sort_order
