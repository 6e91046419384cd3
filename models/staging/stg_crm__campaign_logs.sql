select log_id, user_id, ab_group, is_applied = 1 as is_applied, sent_at
from {{ ref('crm_campaign_logs') }}
