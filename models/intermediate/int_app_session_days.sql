-- The days on which each habit-app user opened the app (had a session_start), up to the as-of
-- date: the activity that every app retention and engagement measure counts (origin 003).
select distinct user_id, occurred_date
from {{ ref('stg_app__events') }}
where event_type = 'session_start' and occurred_date <= date '{{ var("app_as_of_date") }}'
