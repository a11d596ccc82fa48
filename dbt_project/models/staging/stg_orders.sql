with source as (

    select * from {{ source('raw', 'orders') }}

),

renamed as (

    select
        id as order_id,
        customer_id,
        cast(order_date as date) as order_date,
        ordered_at,
        lower(status) as status,
        cast(order_total as decimal(12, 2)) as order_amount,
        lower(status) in ('shipped', 'completed') as is_revenue

    from source

)

select * from renamed
