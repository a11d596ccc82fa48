with source as (

    select * from {{ source('raw', 'customers') }}

),

renamed as (

    select
        id as customer_id,
        * exclude (id, email, country, signup_date),
        first_name || ' ' || last_name as full_name,
        lower(trim(email)) as email,
        upper(trim(country)) as country_code,
        cast(signup_date as date) as signup_date

    from source

)

select * from renamed
