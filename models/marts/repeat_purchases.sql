-- Who comes back to buy tickets again (origin 001): users by a trait of their first order,
-- with the share ordering twice or more (is_two) and five times or more (is_five), average
-- orders, revenue in RUB and days between orders. Users above the 99th percentile of revenue
-- are left out. Segment `overall` holds everyone; the others split by one first-order trait.
with users as (
    select * from {{ ref('int_ticket_user_profiles') }} where not is_revenue_outlier
),

by_segment as (
    select 'overall' as segment_type, 'all' as segment_value, * from users
    union all select 'first_device', first_device, * from users
    union all select 'first_region', first_region, * from users
    union all select 'first_service', first_service, * from users
    union all select 'first_event_type', first_event_type, * from users
)

select
    segment_type || ':' || segment_value as segment_key,
    segment_type,
    segment_value,
    count(*) as users,
    count(*) filter (where is_two) as repeat_users,
    avg(is_two::int) as repeat_share,
    avg(is_five::int) as five_plus_share,
    avg(total_orders) as avg_orders,
    -- DOUBLE averages summed in user order: DuckDB's parallel partial sums would otherwise
    -- differ in the last bits from run to run.
    avg(revenue_rub order by user_id) as avg_revenue_rub,
    avg(avg_days_between_orders order by user_id) as avg_days_between_orders
from by_segment
group by segment_type, segment_value
