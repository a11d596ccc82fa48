"""Simple models compile without dbt, to exactly what `dbt compile` gives; the others go to dbt."""

from __future__ import annotations

import re

import pytest

from integrations.lineage.compile import compile_in_process, compile_parallel
from integrations.lineage.dbt_manifest import load_digest
from integrations.lineage.render import NotSimple, inject_ctes, render, render_simple


def _echo(call: str) -> str:
    return f"<{call}>"


def test_refs_sources_and_this_are_substituted_and_config_renders_empty():
    raw = "{{ config(materialized='incremental') }}\nselect * from {{ ref('a') }} join {{ source('s', 't') }}"
    assert render(raw, _echo, incremental=False) == "\nselect * from <ref('a')> join <source('s', 't')>"


def test_is_incremental_branches_follow_the_materialization():
    raw = "select 1 {% if is_incremental() %}where d > (select max(d) from {{ this }}){% else %}-- full{% endif %}"
    assert render(raw, _echo, incremental=True) == "select 1 where d > (select max(d) from <this>)"
    assert render(raw, _echo, incremental=False) == "select 1 -- full"
    assert render("{% if not is_incremental() %}x{% endif %}", _echo, incremental=False) == "x"


def test_whitespace_control_and_comments():
    assert render("a  {{- ref('b') -}}  c {# note #} d", _echo, incremental=False) == "a<ref('b')>c  d"


@pytest.mark.parametrize("raw", [
    "select {{ var('x') }}",
    "{% set a = 1 %}select 1",
    "select {{ ref('a') | upper }}",
    "{% for x in [1] %}{{ x }}{% endfor %}",
    "select {{ ref('a', v=2) }}",
    "{% if is_incremental() %}unclosed",
    "select '{{' as broken",
])
def test_anything_else_is_left_to_dbt(raw):
    with pytest.raises(NotSimple):
        render(raw, _echo, incremental=False)


def test_ephemeral_ctes_are_injected_first_in_the_with_or_with_a_new_with():
    ctes = [" __dbt__cte__e as (\nselect 1\n)"]
    assert inject_ctes("with x as (select 1) select * from x", ctes) == \
        "with  __dbt__cte__e as (\nselect 1\n), x as (select 1) select * from x"
    assert inject_ctes("select * from __dbt__cte__e", ctes) == \
        "with  __dbt__cte__e as (\nselect 1\n) select * from __dbt__cte__e"


def test_the_demo_project_renders_what_dbt_compiles_and_leaves_macro_users_to_dbt(lakehouse):
    digest = load_digest(lakehouse.project)
    nodes = [n for n in digest.nodes.values() if n.has_sql]
    rendered = render_simple(nodes, digest)
    by_dbt = compile_in_process(lakehouse.project, nodes)
    assert rendered, "some demo models are simple"
    left = {digest.nodes[uid].name for uid in by_dbt} - {digest.nodes[uid].name for uid in rendered}
    assert {"int_order_payments", "fct_daily_revenue"} <= left  # a loop, var(): dbt's job
    for uid, sql in rendered.items():
        assert " ".join(sql.split()) == " ".join(str(by_dbt[uid]).split()), digest.nodes[uid].name


def test_a_compile_split_across_processes_gives_what_one_compile_gives(lakehouse):
    digest = load_digest(lakehouse.project)
    nodes = [n for n in digest.nodes.values() if n.has_sql]
    alone = compile_in_process(lakehouse.project, nodes)
    split = compile_parallel(lakehouse.project, nodes, workers=2, minimum=1)
    assert set(alone) == set(split) == {n.uid for n in nodes}  # exactly the nodes asked for
    assert all(isinstance(sql, str) for sql in split.values())
    assert _no_invocation_ids(split) == _no_invocation_ids(alone)


def _no_invocation_ids(compiled):  # fct_daily_revenue selects dbt's invocation_id, new per compile
    uuid = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    return {uid: uuid.sub("<id>", sql) for uid, sql in compiled.items()}
