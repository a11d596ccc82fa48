{{ config(tags=['finance']) }}

{#- Revenue orders (shipped or completed) with their payments, from the ephemeral model. -#}
with order_payments as (

    select * from {{ ref('int_order_payments') }}

)

select
    order_id,
    customer_id,
    order_date,
    ordered_at,
    status,
    order_amount,
    amount_paid,
    credit_card_amount,
    bank_transfer_amount,
    gift_card_amount + coupon_amount as store_credit_amount,
    payment_count,
    last_paid_at,
    amount_paid >= order_amount as is_fully_paid

from order_payments
where is_revenue
