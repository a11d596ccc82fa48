with source as (

    select * from {{ source('raw', 'payments') }}

),

renamed as (

    select
        id as payment_id,
        order_id,
        payment_method,
        status as payment_status,
        -- amounts land in cents
        cast(amount_cents / 100 as decimal(12, 2)) as amount,
        created_at as paid_at,
        case
            when payment_method in ('gift_card', 'coupon') then 'store_credit'
            else 'cash'
        end as payment_kind

    from source

)

select * from renamed
