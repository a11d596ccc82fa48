"""Against the truth the benchmark's generator writes: every edge right, nothing extra.

A 150-model project (every construct of the generator: CTE chains, ephemeral models, incremental
models, joins ON and USING, unions, semi-joins, scalar subqueries, windows, QUALIFY, GROUP BY ALL,
star EXCLUDE / REPLACE), compiled by dbt in process, then scored. The 1,000-model project is
scored by benchmarks/column_lineage.py.
"""

from __future__ import annotations

import json

import pytest

from benchmarks.dbt_gen.generate import generate_project
from integrations.dbt import DbtProject
from integrations.lineage import dbt_column_lineage


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    made = generate_project(tmp_path_factory.mktemp("gen") / "project", models=150, seed=3)
    project = DbtProject(made.root)
    project.parse()
    return project, json.loads(made.lineage_path.read_text())


def test_value_and_filter_edges_match_the_truth_exactly(generated):
    project, truth = generated
    graph = dbt_column_lineage(project)
    assert graph.errors() == [] and graph.warnings() == []
    got = {(e.source.asset, e.source.column, e.target.asset, e.target.column, e.kind) for e in graph.edges()}
    want = {(e["source"]["asset"], e["source"]["column"], e["target"]["asset"], e["target"]["column"], e["kind"])
            for e in truth["edges"]}
    assert got - want == set(), "edges the truth does not have"
    assert want - got == set(), "edges missed"
    got_filters = {(e.source.asset, e.source.column, e.target.asset, e.clause) for e in graph.filter_edges()}
    want_filters = {(e["source"]["asset"], e["source"]["column"], e["target"]["asset"], e["kind"])
                    for e in truth["filter_edges"]}
    assert got_filters == want_filters
    for key, asset in truth["assets"].items():
        assert graph.columns(key) == asset["columns"], key
    kinds = {e["kind"] for e in truth["filter_edges"]}
    assert {"where", "join", "group_by", "qualify", "window", "incremental"} <= kinds


def test_nothing_changed_means_nothing_recomputed(generated):
    project, _ = generated
    dbt_column_lineage(project)
    again = dbt_column_lineage(project)
    assert again.stats["recomputed"] == 0 and again.stats["reused"] == 150


def test_every_edge_joins_columns_that_exist(generated):
    """Properties of the whole generated project's lineage, whatever the generator drew: an edge
    never names a column its asset lacks, a window edge is also a window filter edge of its
    model, and no model reads itself."""
    project, _ = generated
    graph = dbt_column_lineage(project)
    columns = {key: set(lineage.column_names or ()) for key, lineage in graph.assets.items()}
    edges = graph.edges()
    assert edges
    for edge in edges:
        assert edge.source.column in columns[edge.source.asset], edge
        assert edge.target.column in columns[edge.target.asset], edge
        assert edge.source.asset != edge.target.asset, edge
    window_filters = {(e.source.asset, e.source.column, e.target.asset) for e in graph.filter_edges()
                      if e.clause == "window"}
    windows = [(e.source.asset, e.source.column, e.target.asset) for e in edges if e.kind == "window"]
    assert windows and set(windows) <= window_filters
