{#-
    Web events per day and type, built with dbt's microbatch strategy: one batch per month of
    `event_date`, and dbt filters `stg_events` (whose `event_time` is `event_date`) to each batch.
    Rebuild a range with `--event-time-start 2024-03-01 --event-time-end 2024-05-01`. Monthly
    batches: without a range dbt runs every batch from `begin` to today, which at a daily grain is
    a thousand batches.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='microbatch',
        event_time='event_date',
        batch_size='month',
        begin='2024-01-01',
        lookback=1,
        concurrent_batches=false,
        tags=['marketing'],
        meta={'partition': {'column': 'event_date', 'grain': 'month'}},
    )
}}

select
    event_date,
    event_type,
    count(*) as event_count,
    count(distinct session_id) as session_count,
    count(distinct customer_id) as customer_count,
    count(*) filter (where is_anonymous) as anonymous_event_count

from {{ ref('stg_events') }}
group by event_date, event_type
