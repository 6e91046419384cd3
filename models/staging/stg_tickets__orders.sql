-- Ticket orders with revenue in roubles: tenge converted at the order day's rate,
-- revenue * curs / nominal, where curs is the price of `nominal` (100) tenge in roubles (origin 001).
select
    o.order_id,
    o.user_id,
    o.order_ts,
    cast(o.order_ts as date) as order_date,
    o.device_type_canonical,
    o.revenue,
    o.currency_code,
    cast(
        case
            when o.currency_code = 'kzt' then o.revenue * r.curs / r.nominal
            else o.revenue
        end as decimal(14, 2)
    ) as revenue_rub,
    o.tickets_count,
    o.event_type_main,
    o.region_name,
    o.city_name,
    o.service_name
from {{ ref('ticket_orders') }} as o
left join {{ ref('fx_rates') }} as r
    on r.rate_date = cast(o.order_ts as date)
