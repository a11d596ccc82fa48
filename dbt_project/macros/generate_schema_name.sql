{#-
    Use a node's custom schema as-is (`staging`, `marts`, ...) instead of dbt's default
    `<target schema>_<custom schema>`, so the warehouse has the same schemas in every target and
    the orchestrator can name relations `schema.table` without knowing the target.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
