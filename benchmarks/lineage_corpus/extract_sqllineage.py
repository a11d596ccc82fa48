"""Extract the column-lineage cases of sqllineage's test suite (MIT, see SQLLINEAGE_LICENSE) into
`sqllineage_cases.json`, the checked-in corpus benchmarks/lineage_golden.py scores against.

    pip download sqllineage==1.5.9 --no-deps --no-binary :all: -d /tmp/sl && tar xzf /tmp/sl/*.tar.gz -C /tmp/sl
    .venv/bin/python benchmarks/lineage_corpus/extract_sqllineage.py /tmp/sl/sqllineage-1.5.9

Each test module under tests/sql/column/ is executed with sqllineage's helpers replaced by
recorders: every `assert_column_lineage_equal(sql, [(source, target), ...], dialect=...,
metadata_provider=...)` call becomes a case {file, test, sql, dialect, schemas, lineage}, where
`lineage` lists [source_table, source_column, target_table, target_column]. Nothing of
sqllineage itself runs; its parser is not needed.
"""

from __future__ import annotations

import json
import sys
import types
from collections import namedtuple
from pathlib import Path

HERE = Path(__file__).resolve().parent
ColumnQualifierTuple = namedtuple("ColumnQualifierTuple", "column qualifier")


class _Provider:
    def __init__(self, schemas=None):
        self.schemas = {k: list(v) for k, v in (schemas or {}).items()}


def _install_stubs(cases: list[dict], where: dict) -> None:
    entities = types.ModuleType("sqllineage.utils.entities")
    entities.ColumnQualifierTuple = ColumnQualifierTuple
    provider = types.ModuleType("sqllineage.core.metadata_provider")
    provider.MetaDataProvider = _Provider
    for name in ("sqllineage", "sqllineage.utils", "sqllineage.core"):
        sys.modules[name] = types.ModuleType(name)
    sys.modules["sqllineage.utils.entities"] = entities
    sys.modules["sqllineage.core.metadata_provider"] = provider

    def record(sql, column_lineages=None, dialect="ansi", metadata_provider=None, **_):
        pairs = []
        for source, target in column_lineages or ():
            pairs.append([source.qualifier, source.column, target.qualifier, target.column])
        cases.append({**where, "sql": sql, "dialect": dialect,
                      "schemas": getattr(metadata_provider, "schemas", {}) or {}, "lineage": pairs})

    helpers = types.ModuleType("corpus_helpers")
    helpers.assert_column_lineage_equal = record
    helpers.generate_metadata_providers = lambda schemas: [_Provider(schemas)]
    helpers.assert_table_lineage_equal = lambda *args, **kwargs: None  # table lineage: not scored
    sys.modules["corpus_helpers"] = helpers


def extract(root: Path) -> list[dict]:
    cases: list[dict] = []
    where: dict = {}
    _install_stubs(cases, where)
    conftest = types.ModuleType("corpus_conftest")
    exec(compile((root / "tests" / "conftest.py").read_text().replace("from .helpers import", "from corpus_helpers import"),
                 "conftest.py", "exec"), conftest.__dict__)
    shared = _Provider(conftest.__dict__.get("_data_warehouse_schemas"))  # the `provider` fixture
    for path in sorted((root / "tests" / "sql" / "column").glob("test_*.py")):
        source = path.read_text().replace("from ...helpers import", "from corpus_helpers import")
        module = types.ModuleType(path.stem)
        exec(compile(source, str(path), "exec"), module.__dict__)
        for name, test in sorted(vars(module).items()):
            if not name.startswith("test_") or not callable(test):
                continue
            where.clear()
            where.update(file=path.name, test=name)
            params = getattr(test, "pytestmark", [])
            argsets = [()]
            for mark in params:
                if mark.name == "parametrize":
                    names = [n.strip() for n in mark.args[0].split(",")] if isinstance(mark.args[0], str) else mark.args[0]
                    argsets = [dict(zip(names, v if isinstance(v, tuple) and len(names) > 1 else (v,)))
                               for v in mark.args[1]]
            wants_provider = "provider" in test.__code__.co_varnames[:test.__code__.co_argcount]
            for args in argsets:
                args = dict(args) if isinstance(args, dict) else {}
                if wants_provider and "provider" not in args:
                    args["provider"] = shared
                try:
                    test(**args)
                except Exception as exc:  # a test that needs sqllineage itself: left out
                    print(f"skipped {path.name}::{name}: {type(exc).__name__}: {exc}", file=sys.stderr)
    return cases


def main() -> None:
    root = Path(sys.argv[1])
    cases = extract(root)
    version = root.name.rsplit("-", 1)[-1]
    out = {"source": f"sqllineage {version} (PyPI sdist), tests/sql/column/", "licence": "MIT",
           "cases": cases}
    (HERE / "sqllineage_cases.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"{len(cases)} cases")


if __name__ == "__main__":
    main()
