"""dbt's tests as checks: data tests and unit tests on the node they test, source freshness on sources.

- A data test is a check on the node it is attached to (severity error = blocking).
- A unit test is a blocking check on its model, `test_type` "unit": dbt runs it before the model
  in the same `dbt build`, and a failing one stops the model, like a failing test.
- A source with `freshness:` and a `loaded_at_field` (or `loaded_at_query`) gets a check named
  `freshness`: `dbt source freshness` for that source, passing while the newest row is within
  `error_after` (status `warn` past `warn_after`). Sources are not built, so nothing runs it as part
  of a materialization: `orch dbt freshness`, or anything that evaluates checks, calls it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.assets import AssetCheckDefinition, CheckResult
from orchestrator.keys import AssetKey

FRESHNESS_CHECK = "freshness"
FRESHNESS_KIND = "dbt_freshness"


def _enabled(node: Mapping[str, Any]) -> bool:
    return (node.get("config") or {}).get("enabled", True) is not False


def data_and_unit_tests(manifest: Mapping[str, Any], key_of: Mapping[str, AssetKey]) -> list[AssetCheckDefinition]:
    checks = [_data_test(uid, node, key_of) for uid, node in manifest["nodes"].items()
              if node["resource_type"] == "test" and _enabled(node)]
    checks += [_unit_test(uid, node, key_of) for uid, node in (manifest.get("unit_tests") or {}).items()
               if _enabled(node)]
    return [c for c in checks if c is not None]


def _data_test(uid: str, node: Mapping[str, Any], key_of: Mapping[str, AssetKey]) -> AssetCheckDefinition | None:
    parents = [p for p in (node.get("depends_on") or {}).get("nodes", ()) if p in key_of]
    attached = node.get("attached_node") or (parents[-1] if parents else None)
    if attached not in key_of:
        return None
    target = key_of[attached]
    test_meta = node.get("test_metadata") or {}
    config = node.get("config") or {}
    return AssetCheckDefinition(
        name=node["name"],
        asset=target,
        blocking=str(config.get("severity", "error")).lower() == "error",
        description=node.get("description") or None,
        kind="dbt",
        extra_deps=tuple(key_of[p] for p in parents if key_of[p] != target),
        metadata={
            "dbt_unique_id": uid,
            "test_type": "generic" if test_meta else "singular",
            "test_name": test_meta.get("name") or node["name"],
            "column_name": node.get("column_name"),
            "path": node.get("original_file_path"),
        },
    )


def _unit_test(uid: str, node: Mapping[str, Any], key_of: Mapping[str, AssetKey]) -> AssetCheckDefinition | None:
    models = [p for p in (node.get("depends_on") or {}).get("nodes", ()) if p in key_of]
    if not models:
        return None
    given = [g.get("input") for g in node.get("given") or () if isinstance(g, Mapping)]
    return AssetCheckDefinition(
        name=node["name"],
        asset=key_of[models[0]],
        blocking=True,
        description=node.get("description") or None,
        kind="dbt",
        metadata={
            "dbt_unique_id": uid,
            "test_type": "unit",
            "test_name": node["name"],
            "given": [g for g in given if g],
            "path": node.get("original_file_path"),
        },
    )


@dataclass(eq=False)
class SourceFreshness:
    """The function of a source's freshness check: `dbt source freshness --select source:s.t`
    through the project's runner (set when the assets are attached to it)."""

    selector: str
    runner: Any = None

    def __call__(self) -> CheckResult:
        if self.runner is None:
            raise RuntimeError(f"The freshness check of {self.selector} has no dbt runner: load it with dbt_assets().")
        return self.runner.freshness([self.selector])[self.selector]


def freshness_checks(sources: Mapping[str, Any], key_of: Mapping[str, AssetKey]) -> list[AssetCheckDefinition]:
    checks = []
    for uid, source in sources.items():
        freshness = source.get("freshness") or {}
        criteria = {k: freshness.get(k) for k in ("warn_after", "error_after") if _period(freshness.get(k))}
        if uid not in key_of or not criteria or not (source.get("loaded_at_field") or source.get("loaded_at_query")):
            continue
        selector = f"source:{source['source_name']}.{source['name']}"
        checks.append(AssetCheckDefinition(
            name=FRESHNESS_CHECK,
            asset=key_of[uid],
            fn=SourceFreshness(selector),
            blocking=False,
            description=f"dbt source freshness of {source['source_name']}.{source['name']}: "
                        + ", ".join(f"{k} {v['count']} {v['period']}(s)" for k, v in criteria.items()),
            kind=FRESHNESS_KIND,
            metadata={"dbt_unique_id": uid, "test_type": "freshness", "selector": selector,
                      "loaded_at_field": source.get("loaded_at_field"), **criteria},
        ))
    return checks


def _period(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value.get("count")) and bool(value.get("period"))


def freshness_result(status: str, max_loaded_at: Any, age: float | None, criteria: Mapping[str, Any],
                     message: str | None = None) -> CheckResult:
    """A dbt freshness outcome as a check result: it passes unless dbt says `error` (or could not
    tell: `runtime error`); `warn` passes with its status in the metadata."""
    metadata: dict[str, Any] = {"status": status, **criteria}
    if max_loaded_at is not None:
        metadata["max_loaded_at"] = str(max_loaded_at)
    if age is not None:
        metadata["age_seconds"] = round(float(age), 1)
    if message:
        metadata["message"] = message
    return CheckResult(status in ("pass", "warn"), metadata, message)
