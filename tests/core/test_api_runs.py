"""Runs from the Python API are recorded when a store is given or ORCH_HOME is set (or home=),
where `orch runs list` finds them; otherwise they stay in memory."""

from __future__ import annotations

import json

from click.testing import CliRunner

from orchestrator import Definitions, MemoryEventStore, asset, asset_check, materialize
from orchestrator.cli import main


@asset
def numbers() -> list[int]:
    return [1, 2, 3]


@asset
def total(numbers: list[int]) -> int:
    return sum(numbers)


@asset_check(asset=total)
def total_positive(total: int) -> bool:
    return total > 0


def _cli_runs(home) -> list[dict]:
    result = CliRunner().invoke(main, ["--home", str(home), "runs", "list", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_with_orch_home_set_a_run_is_recorded_where_the_cli_looks(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ORCH_STORAGE_URL", raising=False)
    result = materialize([numbers, total], "+total")
    assert result.success and result.value("total") == 6
    runs = _cli_runs(tmp_path / "home")
    assert [r["run_id"] for r in runs] == [result.run_id]
    assert runs[0]["selection"] == "+total"
    assert (tmp_path / "home" / "storage" / "total" / "data.pickle").exists()  # Parquet IO manager's home


def test_with_home_given_the_run_is_recorded_under_it(tmp_path, monkeypatch):
    monkeypatch.delenv("ORCH_HOME", raising=False)
    monkeypatch.delenv("ORCH_STORAGE_URL", raising=False)
    result = materialize([numbers, total], home=tmp_path / "h")
    assert [r["run_id"] for r in _cli_runs(tmp_path / "h")] == [result.run_id]


def test_with_a_store_given_the_run_goes_there(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCH_HOME", str(tmp_path / "home"))
    store = MemoryEventStore()
    result = materialize(Definitions(assets=[numbers, total], asset_checks=[total_positive]), store=store)
    assert store.get_run(result.run_id).status.value == "succeeded"
    assert not (tmp_path / "home" / "orch.db").exists()


def test_without_either_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv("ORCH_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert materialize([numbers, total]).value("total") == 6
    assert list(tmp_path.iterdir()) == []
