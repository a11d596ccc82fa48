with source as (

    select * from {{ source('raw', 'events') }}

),

cleaned as (

    select
        * exclude (event_type, page, event_date),
        lower(event_type) as event_type,
        coalesce(nullif(trim(page), ''), '/') as page,
        cast(event_date as date) as event_date,
        customer_id is null as is_anonymous

    from source

)

select * from cleaned
