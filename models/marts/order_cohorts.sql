-- Monthly first-purchase cohorts of CDNOW (USD) and of the ticket service (RUB): for each
-- cohort and each month since its first purchase, how many of its customers bought, how often
-- and for how much. Every (cohort, month) up to
-- the last month of data has a row, with zeros where nobody bought.
with orders as (
    select
        'cdnow' as store,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        order_month,
        revenue_usd as revenue
    from {{ ref('stg_cdnow__transactions') }}
    union all
    select
        'tickets',
        cast(user_id as {{ dbt.type_string() }}),
        cast(date_trunc('month', order_date) as date),
        revenue_rub
    from {{ ref('stg_tickets__orders') }}
),

first_purchases as (
    select store, customer_id, min(order_month) as cohort_month
    from orders
    group by store, customer_id
),

cohorts as (
    select store, cohort_month, count(*) as cohort_size
    from first_purchases
    group by store, cohort_month
),

last_months as (
    select store, max(order_month) as last_month
    from orders
    group by store
),

grid as (
    select c.store, c.cohort_month, c.cohort_size, m.month_number
    from cohorts as c
    join last_months as l on l.store = c.store
    cross join range(0, 240) as m(month_number)
    where m.month_number <= {{ dbt.datediff('c.cohort_month', 'l.last_month', 'month') }}
),

activity as (
    select
        o.store,
        f.cohort_month,
        {{ dbt.datediff('f.cohort_month', 'o.order_month', 'month') }} as month_number,
        count(distinct o.customer_id) as buyers,
        count(*) as orders,
        sum(o.revenue) as revenue
    from orders as o
    join first_purchases as f on f.store = o.store and f.customer_id = o.customer_id
    group by all
)

select
    g.store || ':' || {{ year_month('g.cohort_month') }} || ':' || cast(g.month_number as {{ dbt.type_string() }}) as cohort_month_key,
    g.store,
    g.cohort_month,
    cast(g.month_number as integer) as month_number,
    g.cohort_size,
    coalesce(a.buyers, 0) as buyers,
    coalesce(a.buyers, 0) / g.cohort_size as buyer_share,
    coalesce(a.orders, 0) as orders,
    coalesce(a.revenue, 0) as revenue
from grid as g
left join activity as a
    on a.store = g.store and a.cohort_month = g.cohort_month and a.month_number = g.month_number
