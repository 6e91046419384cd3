select original_category, similar_category
from {{ ref('crm_category_map') }}
