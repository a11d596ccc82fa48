{{ config(tags=['finance', 'slow']) }}

with customers as (

    select * from {{ ref('dim_customers') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

per_customer as (

    select
        customer_id,
        sum(amount_paid) as lifetime_value,
        count(*) as revenue_orders,
        avg(amount_paid) as avg_order_value,
        max(order_date) as last_revenue_order_date

    from orders
    group by customer_id

),

valued as (

    select
        customers.customer_id,
        customers.country_code,
        customers.region,
        coalesce(per_customer.lifetime_value, 0) as lifetime_value,
        coalesce(per_customer.revenue_orders, 0) as revenue_orders,
        per_customer.avg_order_value,
        per_customer.last_revenue_order_date

    from customers
    left join per_customer using (customer_id)

)

select
    *,
    rank() over (partition by region order by lifetime_value desc) as region_rank,
    ntile(10) over (order by lifetime_value desc, customer_id) as value_decile,
    sum(lifetime_value) over (
        order by lifetime_value desc, customer_id
        rows between unbounded preceding and current row
    ) / nullif(sum(lifetime_value) over (), 0) as cumulative_share

from valued
