{#- Orders with their successful payments rolled up; ephemeral, so it is inlined as a CTE. -#}
{%- set payment_methods = ['credit_card', 'bank_transfer', 'gift_card', 'coupon'] -%}

with orders as (

    select * from {{ ref('stg_orders') }}

),

payments as (

    select * from {{ ref('stg_payments') }}
    where payment_status = 'success'

),

order_payments as (

    select
        order_id,
        {% for method in payment_methods -%}
        sum(case when payment_method = '{{ method }}' then amount else 0 end) as {{ method }}_amount,
        {% endfor -%}
        sum(amount) as amount_paid,
        count(*) as payment_count,
        max(paid_at) as last_paid_at

    from payments
    group by order_id

)

select
    orders.*,
    {% for method in payment_methods -%}
    coalesce(order_payments.{{ method }}_amount, 0) as {{ method }}_amount,
    {% endfor -%}
    coalesce(order_payments.amount_paid, 0) as amount_paid,
    coalesce(order_payments.payment_count, 0) as payment_count,
    order_payments.last_paid_at

from orders
left join order_payments using (order_id)
