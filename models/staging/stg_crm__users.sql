-- CRM users with their activity tier (origin 004 step 1): 1 settlement Light, 2-5 Regular, 6+ Power.
select
    user_id,
    region_id,
    push_on,
    total_settle_cnt,
    notification_blocked_at,
    case
        when total_settle_cnt >= 6 then 'Power'
        when total_settle_cnt >= 2 then 'Regular'
        else 'Light'
    end as tier
from {{ ref('crm_users') }}
