-- One row per ticket customer (origin 001's agg_users): the first order's device, region,
-- service and event type; order count, revenue in RUB, average days between orders; is_two
-- (2+ orders) and is_five (5+ orders); and whether the user's revenue lies above the 99th
-- percentile of users' revenue (an outlier, left out of repeat_purchases).
with orders as (
    select * from {{ ref('stg_tickets__orders') }}
),

firsts as (
    select
        user_id,
        device_type_canonical as first_device,
        region_name as first_region,
        service_name as first_service,
        event_type_main as first_event_type,
        order_ts as first_order_ts
    from orders
    qualify row_number() over (partition by user_id order by order_ts, order_id) = 1
),

totals as (
    select
        user_id,
        count(*) as total_orders,
        -- In order order, so that the DOUBLE sum is the same bits on every run.
        sum(revenue_rub order by order_id) as revenue_rub,
        sum(tickets_count) as tickets,
        max(order_ts) as last_order_ts
    from orders
    group by user_id
),

profiles as (
    select
        f.user_id,
        f.first_device,
        f.first_region,
        f.first_service,
        f.first_event_type,
        f.first_order_ts,
        t.last_order_ts,
        t.total_orders,
        t.tickets,
        t.revenue_rub,
        case when t.total_orders > 1 then
            date_diff('second', f.first_order_ts, t.last_order_ts) / 86400.0 / (t.total_orders - 1)
        end as avg_days_between_orders,
        t.total_orders >= 2 as is_two,
        t.total_orders >= 5 as is_five
    from firsts as f
    join totals as t on t.user_id = f.user_id
)

select
    *,
    revenue_rub > (select quantile_cont(revenue_rub, 0.99) from profiles) as is_revenue_outlier
from profiles
