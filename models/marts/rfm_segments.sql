-- RFM scores and named segments of every CDNOW customer as of `cdnow_as_of_date`.
-- Scores are NTILE(5) buckets with the customer id as tie-breaker, so that equal values are
-- split the same way on every run; 5 is best (most recent, most frequent, highest spend).
{% set as_of = var('cdnow_as_of_date') %}

with customers as (
    select
        customer_id,
        max(order_date) as last_order_date,
        count(*) as frequency,
        sum(revenue_usd) as monetary_usd
    from {{ ref('stg_cdnow__transactions') }}
    where order_date < date '{{ as_of }}'
    group by customer_id
),

scored as (
    select
        customer_id,
        last_order_date,
        {{ dbt.datediff('last_order_date', "date '" ~ as_of ~ "'", 'day') }} as recency_days,
        frequency,
        monetary_usd,
        ntile(5) over (order by last_order_date, customer_id) as r_score,
        ntile(5) over (order by frequency, customer_id) as f_score,
        ntile(5) over (order by monetary_usd, customer_id) as m_score
    from customers
)

select
    customer_id,
    last_order_date,
    recency_days,
    frequency,
    monetary_usd,
    r_score,
    f_score,
    m_score,
    cast(r_score as {{ dbt.type_string() }}) || cast(f_score as {{ dbt.type_string() }}) || cast(m_score as {{ dbt.type_string() }}) as rfm_cell,
    case
        when r_score >= 4 and (f_score + m_score) / 2 >= 4 then 'champions'
        when r_score >= 3 and (f_score + m_score) / 2 >= 3 then 'loyal'
        when r_score >= 4 then 'potential_loyalists'
        when r_score = 3 then 'needs_attention'
        when (f_score + m_score) / 2 >= 3 then 'at_risk'
        when r_score = 2 then 'hibernating'
        else 'lost'
    end as segment
from scored
