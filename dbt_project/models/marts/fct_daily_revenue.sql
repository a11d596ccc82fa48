{#-
    Revenue per day, built incrementally with delete+insert on `order_date`.

    - `--vars '{start: 2024-03-01, end: 2024-03-08}'` rebuilds exactly [start, end): the days in
      range are deleted and inserted again (either bound may be given alone).
    - Otherwise an incremental run reprocesses the newest day already in the table and adds every
      later day (re-running the newest day is safe with delete+insert and picks up late orders).
    - `dbt_invocation_id` records which dbt invocation last wrote each day.
-#}
{{
    config(
        materialized='incremental',
        unique_key='order_date',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        tags=['finance'],
        meta={'partition': {'column': 'order_date', 'grain': 'day', 'start': '2024-01-01'}},
    )
}}

{%- set start = var('start', none) -%}
{%- set end = var('end', none) -%}

with orders as (

    select * from {{ ref('fct_orders') }}
    where true
    {%- if start %}
      and order_date >= cast('{{ start }}' as date)
    {%- endif %}
    {%- if end %}
      and order_date < cast('{{ end }}' as date)
    {%- endif %}
    {%- if is_incremental() and not (start or end) %}
      and order_date >= (select coalesce(max(order_date), date '1900-01-01') from {{ this }})
    {%- endif %}

)

select
    order_date,
    count(*) as order_count,
    count(distinct customer_id) as customer_count,
    sum(amount_paid) as revenue,
    sum(store_credit_amount) as store_credit_revenue,
    cast(sum(amount_paid) / count(*) as decimal(12, 2)) as avg_order_value,
    '{{ invocation_id }}' as dbt_invocation_id

from orders
group by order_date
