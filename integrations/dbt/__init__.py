"""dbt as first-class assets: the manifest becomes assets and checks in the one graph.

    project = DbtProject("dbt_project")
    defs = Definitions(assets=[raw_orders, *dbt_assets(project), revenue_forecast])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from integrations.dbt.manifest import DBT_KIND, DbtNodes, ManifestError, load_nodes, read_manifest
from integrations.dbt.profile import DbtTarget, duckdb_path
from integrations.dbt.project import DbtProject
from integrations.dbt.runner import DbtRunner
from integrations.dbt.translator import DbtTranslator
from orchestrator.assets import AssetCheckDefinition, AssetDefinition


def dbt_assets(
    project: DbtProject,
    *,
    backend: str = "inprocess",
    dbt_executable: str | None = None,
    extra_args: Sequence[str] = (),
    pool: str | None = None,
    automation: Any = None,
) -> list[AssetDefinition | AssetCheckDefinition]:
    """The project's models, seeds, snapshots, sources and exposures as assets, its tests as checks.

    Every executable asset shares one DbtRunner, so a contiguous run of them in a plan is ONE
    `dbt build`. Loading reads manifest.json only (cached by checksum); dbt is imported when a dbt
    step actually runs. `pool` names the slot limit the project's runs hold (a DuckDB warehouse
    takes one writing process); `automation` is the AutomationCondition of every unpartitioned
    model, seed and snapshot whose `meta.automation` sets none.
    """
    runner = DbtRunner(project, backend=backend, dbt_executable=dbt_executable, extra_args=extra_args)
    nodes = project.nodes(runner)
    runner.attach(nodes)
    assets = list(nodes.assets)
    if pool is not None or automation is not None:
        assets = [_with_defaults(a, pool, automation) if a.executable else a for a in assets]
    return [*assets, *nodes.checks]


def _with_defaults(asset: AssetDefinition, pool: str | None, automation: Any) -> AssetDefinition:
    changes: dict[str, Any] = {}
    if pool is not None and asset.pool is None:
        changes["pool"] = pool
    own = ((asset.config or {}).get("meta") or {}).get("automation")
    if automation is not None and own is None and asset.partitions is None:
        changes["automation"] = automation
    return asset.with_changes(**changes) if changes else asset


__all__ = [
    "DBT_KIND",
    "DbtNodes",
    "DbtProject",
    "DbtRunner",
    "DbtTarget",
    "DbtTranslator",
    "ManifestError",
    "dbt_assets",
    "duckdb_path",
    "load_nodes",
    "read_manifest",
]
