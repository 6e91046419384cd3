select settlement_id, user_id, category_id, settled_at, hourly_rate
from {{ ref('crm_settlements') }}
