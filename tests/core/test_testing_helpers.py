"""build_context() for calling asset functions directly, materialize(resources=...), and the README's
"Testing your assets" example, run by pytest as a user would run it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import (
    ConfigurableResource, DailyPartitions, PartitionRange, asset, build_context, materialize,
)
from orchestrator.errors import DefinitionError

README = Path(__file__).resolve().parents[2] / "README.md"


class Api(ConfigurableResource):
    url: str
    calls: list = []

    def teardown(self) -> None:
        self.calls.append("closed")


@asset(partitions=DailyPartitions("2024-01-01"))
def fetched(context, api: Api) -> dict:
    context.log.info("fetching %s", context.partition_key)
    context.add_metadata(source=api.url)
    context.add_dynamic_partitions("customers", ["acme", "acme", "globex"])
    return {"day": context.partition_key, "url": api.url}


@asset(partitions=DailyPartitions("2024-01-01"))
def counted(fetched: dict, extra: int = 0) -> int:
    return len(fetched) + extra


def test_build_context_gives_partition_resources_log_and_metadata():
    api = Api(url="http://local", calls=[])
    with build_context(partition_key="2024-01-03", resources={"api": api}) as context:
        value = fetched(context=context)
        assert api.calls == []  # torn down when the block ends
    assert value == {"day": "2024-01-03", "url": "http://local"}
    assert context.partition_range == PartitionRange("2024-01-03", "2024-01-03")
    assert [e.message for e in context.events] == ["fetching 2024-01-03"]
    assert context.metadata == {"source": "http://local"}
    assert context.dynamic_partitions == {"customers": ["acme", "globex"]}
    assert api.calls == ["closed"]


def test_direct_calls_take_upstream_values_as_arguments():
    assert counted({"a": 1, "b": 2}) == 2
    assert counted({"a": 1}, extra=5) == 6
    with pytest.raises(DefinitionError, match="context=build_context"):
        fetched(api=Api(url="x"))


def test_a_range_context():
    context = build_context(partition_key="2024-01-01...2024-01-07")
    assert context.partition_range == PartitionRange("2024-01-01", "2024-01-07")


def test_materialize_with_resources_runs_in_memory():
    result = materialize([fetched, counted], partition="2024-01-02",
                         resources={"api": Api(url="http://test")})
    assert result.success, result.causes
    assert result.value("fetched")["url"] == "http://test"
    assert result.value("counted") == 2


def test_the_readme_testing_example_passes_under_pytest(tmp_path):
    section = README.read_text().split("## Testing your assets", 1)[1].split("\n## ", 1)[0]
    code = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(code) == 1 and "def test_" in code[0]
    (tmp_path / "test_my_assets.py").write_text(code[0])
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "test_my_assets.py"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout
