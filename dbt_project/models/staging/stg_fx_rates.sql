{#- Exchange rates read straight from the Parquet file a Python asset wrote (source lake.fx_rates). -#}
select
    rate_date,
    currency,
    usd_per_unit,
    1 / usd_per_unit as units_per_usd
from {{ source('lake', 'fx_rates') }}
