"""Column lineage precision and recall on an external golden corpus: sqllineage's test cases.

    .venv/bin/python benchmarks/lineage_golden.py [--show-misses 10]

The corpus is `benchmarks/lineage_corpus/sqllineage_cases.json`: every column-lineage assertion of
sqllineage 1.5.9's own test suite (tests/sql/column/, MIT licence, see SQLLINEAGE_LICENSE),
extracted from its PyPI sdist by lineage_corpus/extract_sqllineage.py (nothing is fetched here).
A case is a statement (INSERT ... SELECT, CREATE TABLE AS, MERGE, UPDATE, in several dialects),
sometimes with table schemas, and the expected edges source_table.column -> target_table.column.

Scored, on the same cases: ours (`integrations.lineage.column_lineage_of_sql`: value edges of every
kind) and plain `sqlglot.lineage.lineage(column, sql, schema)` for each output column (its leaf
nodes). The target columns are the query's output columns, or the column list of the INSERT, by
position; statements a tool cannot analyze give it no edges (they count against its recall).
Micro precision / recall over all edges, plus the share of cases answered exactly. Never asserts.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import sqlglot  # noqa: E402
from sqlglot import exp  # noqa: E402

from integrations.lineage import column_lineage_of_sql  # noqa: E402

CORPUS = HERE / "lineage_corpus" / "sqllineage_cases.json"
DIALECTS = {"ansi": None, "sparksql": "spark", "non-validating": None}

Edge = tuple[str, str, str, str]


def _dialect(name: str) -> str | None:
    return DIALECTS.get(name, name)


def _schema(case: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for table, columns in case["schemas"].items():
        level = nested
        parts = table.lower().split(".")
        for part in parts[:-1]:
            level = level.setdefault(part, {})
        level[parts[-1]] = {c.lower(): "UNKNOWN" for c in columns}
    return nested


def _target(sql: str, dialect: str | None) -> tuple[str | None, list[str] | None]:
    """The written table and the INSERT's column list (None when it names none)."""
    try:
        statement = sqlglot.parse(sql, dialect=dialect)[-1]
    except Exception:
        return None, None
    node = statement
    if isinstance(node, (exp.Insert, exp.Create)):
        this = node.this
        columns = None
        if isinstance(this, exp.Schema):
            columns = [c.name.lower() for c in this.expressions]
            this = this.this
        if isinstance(this, exp.Table):
            return ".".join(p.name.lower() for p in this.parts), columns
    return None, None


def _name(table: str | None) -> str:
    return (table or "").lower().removeprefix("<default>.")


def _output_names(case: dict[str, Any], names: list[str]) -> list[str]:
    """The corpus's convention: an unaliased expression (not a bare column) is named by its text."""
    try:
        statement = sqlglot.parse(case["sql"], dialect=_dialect(case["dialect"]))[-1]
        query = statement.expression if isinstance(statement, (exp.Insert, exp.Create)) else statement
        selects = query.selects if isinstance(query, exp.Query) else []
    except Exception:
        return names
    if len(selects) != len(names) or any(isinstance(s, exp.Star) for s in selects):
        return names
    return [n if isinstance(s, (exp.Alias, exp.Column)) else s.sql(dialect=_dialect(case["dialect"])).lower()
            for n, s in zip(names, selects)]


def ours(case: dict[str, Any]) -> set[Edge]:
    dialect = _dialect(case["dialect"]) or "duckdb"
    target, columns = _target(case["sql"], _dialect(case["dialect"]))
    if target is None:
        return set()
    try:
        found = column_lineage_of_sql(case["sql"], _schema(case), dialect=dialect)
    except Exception:
        return set()
    names = _output_names(case, list(found))
    edges = set()
    for i, name in enumerate(list(found)):
        out = columns[i] if columns and i < len(columns) else names[i]
        for table, column, _kind in found[name]:
            edges.add((_name(table), column.lower(), target, out.lower()))
    return edges


def plain_sqlglot(case: dict[str, Any]) -> set[Edge]:
    from sqlglot.lineage import lineage

    dialect = _dialect(case["dialect"])
    target, columns = _target(case["sql"], dialect)
    if target is None:
        return set()
    try:
        statement = sqlglot.parse(case["sql"], dialect=dialect)[-1]
        query = statement.expression if isinstance(statement, (exp.Insert, exp.Create)) else statement
        if not isinstance(query, exp.Query):
            return set()
        names = [s.alias_or_name for s in query.selects]
    except Exception:
        return set()
    edges = set()
    schema = _schema(case) or None
    outputs = _output_names(case, names)
    for i, name in enumerate(names):
        out = columns[i] if columns and i < len(columns) else outputs[i]
        try:
            root = lineage(name, query, schema=schema, dialect=dialect)
        except Exception:
            continue
        for node in root.walk():
            if node.downstream or not isinstance(node.source, exp.Table):
                continue
            table = ".".join(p.name.lower() for p in node.source.parts)
            if not table:
                continue
            edges.add((_name(table), node.name.rsplit(".", 1)[-1].lower(), target, out.lower()))
    return edges


def score(cases: list[dict[str, Any]], tool, show: int) -> dict[str, Any]:
    found = true = hit = exact = 0
    misses: list[str] = []
    started = time.perf_counter()
    for case in cases:
        want = {(_name(s), sc.lower(), _name(t), tc.lower()) for s, sc, t, tc in case["lineage"]}
        got = tool(case)
        found, true, hit = found + len(got), true + len(want), hit + len(got & want)
        exact += got == want
        if got != want and len(misses) < show:
            misses.append(f"{case['file']}::{case['test']}: missed {sorted(want - got)[:3]} extra {sorted(got - want)[:3]}")
    return {"precision": round(hit / found, 4) if found else 0.0, "recall": round(hit / true, 4) if true else 1.0,
            "edges_found": found, "edges_true": true, "cases_exact": exact, "cases": len(cases),
            "seconds": round(time.perf_counter() - started, 2), "misses": misses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-misses", type=int, default=0)
    args = parser.parse_args()
    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # "falling back to parsing as a Command"
    corpus = json.loads(CORPUS.read_text())
    cases = corpus["cases"]
    rows = {"ours": score(cases, ours, args.show_misses), "sqlglot.lineage": score(cases, plain_sqlglot, args.show_misses)}
    print(f"corpus: {corpus['source']} ({corpus['licence']}), {len(cases)} cases, "
          f"{rows['ours']['edges_true']} expected edges")
    for name, row in rows.items():
        print(f"  {name:<16} precision {row['precision']:.4f}  recall {row['recall']:.4f}  "
              f"exact cases {row['cases_exact']}/{row['cases']}  ({row['edges_found']} edges found, {row['seconds']} s)")
        for miss in row["misses"]:
            print(f"      {miss}")
    print(json.dumps({"benchmark": "lineage_golden", "sqlglot": sqlglot.__version__,
                      "rows": {k: {x: y for x, y in v.items() if x != "misses"} for k, v in rows.items()}}))


if __name__ == "__main__":
    main()
