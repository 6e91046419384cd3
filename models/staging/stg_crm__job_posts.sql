select job_id, category_id, region_id, hourly_rate, posted_at
from {{ ref('crm_job_posts') }}
