-- One row per CDNOW purchase, with the month it falls in.
select
    customer_id,
    order_date,
    cd_count,
    revenue_usd,
    cast(date_trunc('month', order_date) as date) as order_month
from {{ ref('cdnow_transactions') }}
