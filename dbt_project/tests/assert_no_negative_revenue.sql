-- Singular test: a day's revenue is never negative. Returns the offending days.
select
    order_date,
    revenue

from {{ ref('fct_daily_revenue') }}
where revenue < 0
