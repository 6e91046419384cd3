select
    user_id,
    joined_at,
    cast(joined_at as date) as joined_date,
    subscription_status,
    trial_started_at,
    trial_ends_at,
    paid_at,
    renewals
from {{ ref('app_users') }}
