select
    user_id,
    event_type,
    feature,
    occurred_at,
    cast(occurred_at as date) as occurred_date
from {{ ref('app_events') }}
