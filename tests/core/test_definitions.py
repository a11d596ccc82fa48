"""Definitions' names follow Dagster's where the concept is the same: assets=, asset_checks=,
resources= (checks= stays as the older name, and checks may ride in assets=)."""

from __future__ import annotations

from orchestrator import Definitions, MemoryIOManager, asset, asset_check, materialize
from orchestrator.keys import AssetKey


@asset
def total() -> int:
    return 6


@asset_check(asset=total)
def positive(total: int) -> bool:
    return total > 0


@asset_check(asset=total)
def even(total: int) -> bool:
    return total % 2 == 0


@asset_check(asset=total)
def small(total: int) -> bool:
    return total < 10


def test_asset_checks_checks_and_checks_in_assets_all_count():
    defs = Definitions(assets=[total, small], asset_checks=[positive], checks=[even])
    assert sorted(c.name for c in defs.graph.checks_for(AssetKey.coerce("total"))) == ["even", "positive", "small"]
    assert materialize(defs).success


def test_resources_carry_io_managers():
    memory = MemoryIOManager()
    defs = Definitions(assets=[total], resources={"io_manager": memory})
    assert defs.io_managers == {"io_manager": memory}
    result = materialize(defs, io_managers={})  # io_managers given: no in-memory default
    assert result.success and memory.has(AssetKey.coerce("total"))
