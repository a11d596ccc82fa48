"""Column lineage of whole projects: the `orchestrator.lineage` entry point and the dbt-only API.

The CLI (`orch lineage --columns`, `orch lineage column ...`) never imports this package: it loads
the `columns` entry point of the `orchestrator.lineage` group, which is `column_lineage`, and calls
it with the loaded Definitions. The dbt projects are found through the dbt assets' runners.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from integrations.dbt.project import DbtProject
from integrations.lineage.compile import Compiler, compiled_sql
from integrations.lineage.dbt_manifest import DbtDigest, load_digest
from integrations.lineage.dbt_units import dbt_units
from integrations.lineage.duck import METADATA_KEY
from integrations.lineage.engine import Unit, compute
from integrations.lineage.graph import ColumnLineageGraph
from integrations.lineage.iceberg_schemas import iceberg_hook
from integrations.lineage.python_assets import python_units
from integrations.lineage.schemas import (
    CatalogSchemas,
    DocumentedSchemas,
    HookSchemas,
    Layers,
    RecordedSchemas,
    SchemaSource,
    SeedFileSchemas,
    WarehouseSchemas,
    latest_metadata,
)
from integrations.lineage.store import FILE_NAME, LineageStore
from orchestrator.memory import paused_gc

IcebergHook = Callable[[str, "tuple[str, ...] | None"], "dict[str, str] | None"]


@paused_gc()  # caches, results: 100,000s of objects built, none garbage
def column_lineage(defs: Any, *, store: Any = None, home: str | Path | None = None,
                   recorded_schemas: Mapping[str, Any] | None = None, warehouse: str | Path | None = None,
                   iceberg: IcebergHook | None = None, workers: int | None = None,
                   compiler: Compiler | None = None) -> ColumnLineageGraph:
    """The column lineage of every asset of `defs` (dbt models, Python assets, sources...).

    Schemas, in order of trust: `recorded_schemas` (`{asset: [[name, type], ...]}`) or those the
    event `store` recorded; the DuckDB `warehouse` (default: the first DuckDBIOManager's file);
    Iceberg table schemas (default: through the IcebergIOManagers of `defs`, see
    `iceberg_schemas`); each dbt project's catalog.json; seed CSV headers; documented columns.
    Results are saved in `home` (ORCH_HOME) when given, else in the dbt project's target dir.
    """
    started = time.perf_counter()
    projects = dbt_projects(defs.assets)
    latest = latest_metadata(store)
    if recorded_schemas is None:
        recorded_schemas = {k: m["schema"] for k, m in latest.items() if m.get("schema")}
    recorded = RecordedSchemas(recorded_schemas)
    units: dict[str, Unit] = {}
    digests: list[DbtDigest] = []
    for project in projects:
        digest = load_digest(project)
        digests.append(digest)
        for unit in dbt_units(digest, compiled_sql(project, digest, compiler)):
            units[unit.asset] = unit
    others = [a for a in defs.assets if a.kind != "dbt"]
    for unit in python_units(others, {k: m[METADATA_KEY] for k, m in latest.items() if m.get(METADATA_KEY)}):
        known = units.get(unit.asset)
        # a dbt source produced by a Python asset is that asset; keep the source's relation
        units[unit.asset] = _with_relation(unit, known.relation) if known is not None else unit
    if iceberg is None:
        iceberg = iceberg_hook(defs, digests)
    layers = Layers(schema_layers(projects, digests, recorded, warehouse or _warehouse(defs, projects), iceberg,
                                  _documented_python(others)))
    path = Path(home) / FILE_NAME if home else (projects[0].target_path / FILE_NAME if projects else None)
    saved = LineageStore(path)
    results = compute(units.values(), layers, saved, workers)
    results.update(rejected_by_warehouse(results, store))
    stats = {"seconds": round(time.perf_counter() - started, 3), "assets": len(results),
             "recomputed": saved.misses, "reused": saved.hits}
    return ColumnLineageGraph(results, stats, {k: u.sql for k, u in units.items() if u.sql})


REJECTED = ("Parser Error", "syntax error", "Binder Error", "Catalog Error", "SQL compilation error",
            "Syntax error")
"""What warehouses say when they refuse a query's SQL (DuckDB, PostgreSQL, Snowflake, Trino...)."""


def rejected_by_warehouse(results: Mapping[str, Any], store: Any) -> dict[str, Any]:
    """Assets whose newest run failed because the warehouse refused their SQL, after their last
    materialization: that is said as a warning on the asset (sqlglot may read what the warehouse
    rejects, on any adapter)."""
    if store is None or not hasattr(store, "latest_failures"):
        return {}
    from dataclasses import replace

    newest = {}
    for (key, _partition), event in store.latest_failures().items():
        if str(key) in results and any(mark in (event.message or "") for mark in REJECTED):
            if event.timestamp > newest.get(str(key), (0.0, None))[0]:
                newest[str(key)] = (event.timestamp, event)
    materialized: dict[str, float] = {}
    for (asset, _partition), event in (store.latest_materializations() if newest else {}).items():
        materialized[str(asset)] = max(materialized.get(str(asset), 0.0), event.timestamp)
    found = {}
    for key, (when, event) in newest.items():
        if materialized.get(key, 0.0) >= when:  # built since: the failure is history
            continue
        lineage = results[key]
        message = " ".join((event.message or "").split())[:500]
        found[key] = replace(lineage, warnings=(*lineage.warnings,
                                                f"the warehouse rejected its SQL in run {event.run_id[:8]}: {message}"))
    return found


@paused_gc()  # caches, results: 100,000s of objects built, none garbage
def dbt_column_lineage(project: DbtProject | str | Path, *, recorded_schemas: Mapping[str, Any] | None = None,
                       warehouse: str | Path | None = None, iceberg: IcebergHook | None = None,
                       store: str | Path | None | bool = True, workers: int | None = None,
                       compiler: Compiler | None = None) -> ColumnLineageGraph:
    """The column lineage of one dbt project, saved in its target dir (`store=False`: not saved)."""
    project = project if isinstance(project, DbtProject) else DbtProject(project)
    started = time.perf_counter()
    digest = load_digest(project)
    digested_at = time.perf_counter()
    compiled = compiled_sql(project, digest, compiler)
    compiled_at = time.perf_counter()
    layers = Layers(schema_layers([project], [digest], RecordedSchemas(recorded_schemas),
                                  warehouse or profile_warehouse([project]), iceberg, {}))
    path = project.target_path / FILE_NAME if store is True else (Path(store) if store else None)
    saved = LineageStore(path)
    results = compute(dbt_units(digest, compiled), layers, saved, workers)
    done = time.perf_counter()
    stats = {"seconds": round(done - started, 3), "digest_seconds": round(digested_at - started, 3),
             "compile_seconds": round(compiled_at - digested_at, 3), "lineage_seconds": round(done - compiled_at, 3),
             "save_seconds": round(saved.save_seconds, 3), "assets": len(results),
             "recomputed": saved.misses, "reused": saved.hits}
    return ColumnLineageGraph(results, stats)


def schema_layers(projects: list[DbtProject], digests: list[DbtDigest], recorded: RecordedSchemas,
                  warehouse: str | Path | WarehouseSchemas | None, iceberg: IcebergHook | None,
                  documented: Mapping[str, Mapping[str, str]]) -> list[SchemaSource]:
    seeds: dict[str, tuple[Path, Mapping[str, str]]] = {}
    docs: dict[str, Mapping[str, str]] = dict(documented)
    for digest in digests:
        for node in digest.nodes.values():
            if node.seed_file:
                seeds[node.key] = (Path(node.seed_file), node.column_types)
            if node.documented and node.key not in docs:
                docs[node.key] = node.documented
    return [
        recorded,
        warehouse if isinstance(warehouse, WarehouseSchemas) else WarehouseSchemas(warehouse),
        HookSchemas("iceberg", iceberg),
        *(CatalogSchemas(p.target_path / "catalog.json") for p in projects),
        SeedFileSchemas(seeds),
        DocumentedSchemas(docs),
    ]


def dbt_projects(assets: Iterable[Any]) -> list[DbtProject]:
    """The dbt projects behind the assets' runners (as `orch dbt` finds them)."""
    found: dict[str, DbtProject] = {}
    for definition in assets:
        project = getattr(getattr(definition, "runner", None), "project", None)
        if isinstance(project, DbtProject):
            found.setdefault(str(project.project_dir), project)
    return list(found.values())


def _warehouse(defs: Any, projects: list[DbtProject]) -> Path | WarehouseSchemas | None:
    """The DuckDB warehouse: the first DuckDBIOManager's file, else ORCH_WAREHOUSE_PATH, else the
    one the dbt projects' profile targets (with its attached databases)."""
    for manager in (getattr(defs, "io_managers", None) or {}).values():
        if type(manager).__name__ == "DuckDBIOManager" and getattr(manager, "path", None):
            return Path(manager.path)
    env = os.environ.get("ORCH_WAREHOUSE_PATH")
    return Path(env) if env else profile_warehouse(projects)


def profile_warehouse(projects: list[DbtProject]) -> WarehouseSchemas | None:
    """The DuckDB database (and attached ones) of the first project whose profile targets one."""
    for project in projects:
        try:
            target = project.warehouse()
        except Exception:  # an unrenderable profile: dbt itself reports it
            continue
        if target is not None and target.path is not None:
            return WarehouseSchemas(target.path, [(a.path, a.alias) for a in target.attached])
    return None


def _documented_python(assets: Iterable[Any]) -> dict[str, dict[str, str]]:
    docs = {}
    for definition in assets:
        columns = definition.metadata.get("columns")
        if isinstance(columns, Mapping) and columns:
            docs[str(definition.key)] = {name: (c or {}).get("data_type") or "UNKNOWN" if isinstance(c, Mapping)
                                         else "UNKNOWN" for name, c in columns.items()}
    return docs


def _with_relation(unit: Unit, relation: tuple[str, ...] | None) -> Unit:
    if relation is None or unit.relation is not None:
        return unit
    from dataclasses import replace

    return replace(unit, relation=relation)
