-- The published facts of the CDNOW data set (DOMAIN.md): 23,570 customers, 69,659 purchases,
-- and first-purchase cohorts of 7,846 (1997-01), 8,476 (1997-02) and 7,248 (1997-03)
-- customers. Returns the facts that do not hold.
with facts as (
    select 'customers' as fact, count(distinct customer_id) as actual, 23570 as expected
    from {{ ref('stg_cdnow__transactions') }}
    union all
    select 'purchases', count(*), 69659
    from {{ ref('stg_cdnow__transactions') }}
    union all
    select 'cohort ' || {{ year_month('cohort_month') }}, cohort_size,
        case {{ year_month('cohort_month') }}
            when '1997-01' then 7846
            when '1997-02' then 8476
            when '1997-03' then 7248
        end
    from {{ ref('order_cohorts') }}
    where store = 'cdnow' and month_number = 0
)
select * from facts where actual is distinct from expected
