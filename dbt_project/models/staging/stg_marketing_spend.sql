{#- Marketing spend read straight from the Iceberg table a Python asset wrote (source lake.marketing_spend). -#}
select
    spend_date,
    channel,
    cast(spend_usd as decimal(12, 2)) as spend_usd
from {{ source('lake', 'marketing_spend') }}
