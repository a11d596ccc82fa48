{{ config(tags=['finance']) }}

-- Singular test: every shipped or completed order is paid in full by its successful payments.
select
    order_id,
    order_amount,
    amount_paid

from {{ ref('fct_orders') }}
where amount_paid <> order_amount
