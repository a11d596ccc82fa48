"""Every SQL case in tests/fixtures/lineage/: `NN_name.sql` has the lineage in `NN_name.json`.

The JSON holds `columns` (each output column, in order, with its upstream [table, column, kind]),
`filters` ([table, column, clause]) or `error` (a part of the message), and `options`:
`self_table` (an incremental model's own relation), `dbt` (set dbt's ephemeral CTEs aside),
`schema` (instead of the shared schema.json), `functions` (table function calls that are dbt
sources read in place -> their table), `exact` (tables whose column lists are complete).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from integrations.lineage.model import KIND_NAMES
from integrations.lineage.prepare import SqlLineageError, parse
from integrations.lineage.query import analyze
from tests.conftest import FIXTURES

CASES = FIXTURES / "lineage"
SCHEMA = json.loads((CASES / "schema.json").read_text())


def _cases() -> list[Path]:
    return sorted(CASES.glob("[0-9][0-9]_*.sql"))


def test_there_are_at_least_sixty_cases_each_with_its_expectation():
    cases = _cases()
    assert len(cases) >= 60
    assert all(c.with_suffix(".json").exists() for c in cases)


@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.stem)
def test_sql_case(case: Path):
    expected = json.loads(case.with_suffix(".json").read_text())
    options = expected.get("options", {})
    schema = options.get("schema", SCHEMA)
    sql = case.read_text()
    functions = {call: tuple(parts) for call, parts in options.get("functions", {}).items()}
    run = {"self_table": options.get("self_table"), "dbt": options.get("dbt", False), "functions": functions,
           "exact": options.get("exact")}
    if "error" in expected:
        with pytest.raises(SqlLineageError, match=expected["error"]):
            analyze(parse(sql), schema, **run)
        return
    found = analyze(parse(sql), schema, **run)
    columns = {c: sorted([t, col, KIND_NAMES[k]] for (t, col), k in s.items()) for c, s in found.columns.items()}
    assert list(columns) == list(expected["columns"]), "output columns (in order)"
    assert columns == expected["columns"]
    assert sorted(list(f) for f in found.filters) == expected["filters"]
    assert found.warnings == []
