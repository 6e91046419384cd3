-- Cohort lifetime value (origin 003, model_ltv: "LTV = ARPU / churn"), from order_cohorts.
-- Per store, cohort and month since first purchase: cumulative revenue per cohort customer
-- (the LTV curve). Per cohort, repeated on each of its rows, over its observed months 0..K:
--   arpu          = revenue / cohort_size / (K + 1)        monthly revenue per customer
--   arppu         = revenue / buyer-months                  monthly revenue per paying customer
--   monthly_churn = 1 - (buyers_K / buyers_1)^(1 / (K - 1)) geometric monthly loss of buyers
--                   from month 1 to K (month 0 is acquisition, not retention); NULL for K < 2
--   expected_lifetime_months = 1 / monthly_churn, and ltv = arpu * expected_lifetime_months.
-- Revenue is divided as a double: DuckDB turns a decimal quotient into a double by itself,
-- Spark keeps it a decimal of 6 places, so the cast gives both engines the same numbers.
with cohorts as (
    select * from {{ ref('order_cohorts') }}
),

curve as (
    select
        *,
        cast(sum(revenue) over (
            partition by store, cohort_month order by month_number
            rows between unbounded preceding and current row
        ) as double) / cohort_size as cumulative_revenue_per_customer
    from cohorts
),

per_cohort as (
    select
        store,
        cohort_month,
        max(month_number) as observed_months,
        cast(sum(revenue) as double) / any_value(cohort_size) / (max(month_number) + 1) as arpu,
        cast(sum(revenue) as double) / nullif(sum(buyers), 0) as arppu,
        max(buyers) filter (where month_number = 1) as buyers_first_month,
        max_by(buyers, month_number) as buyers_last_month
    from cohorts
    group by store, cohort_month
),

churn as (
    select
        *,
        case when observed_months >= 2 and buyers_first_month > 0 and buyers_last_month > 0 then
            1 - power(buyers_last_month / buyers_first_month, 1.0 / (observed_months - 1))
        end as monthly_churn
    from per_cohort
)

select
    c.cohort_month_key,
    c.store,
    c.cohort_month,
    c.month_number,
    c.cohort_size,
    c.revenue,
    c.cumulative_revenue_per_customer,
    p.arpu,
    p.arppu,
    p.monthly_churn,
    case when p.monthly_churn > 0 then 1 / p.monthly_churn end as expected_lifetime_months,
    case when p.monthly_churn > 0 then p.arpu / p.monthly_churn end as ltv
from curve as c
join churn as p on p.store = c.store and p.cohort_month = c.cohort_month
