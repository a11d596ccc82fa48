"""manifest.json -> assets and checks. Reads JSON only: no dbt import.

Models, seeds and snapshots become dbt assets (ephemeral models are graph nodes, not steps);
sources become external assets, unless a Python asset has the same key and produces them (a
source that is a seed's table is downstream of the seed); data and unit tests become checks on
the node they test, source freshness a check on the source (checks.py); exposures become
non-executable assets downstream of what they use (models behind a metric included); the semantic
layer is metadata on its models (semantic.py). Disabled nodes are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from integrations.dbt.checks import data_and_unit_tests, freshness_checks
from integrations.dbt.semantic import MacroChecksums, metric_models, seeds_behind_sources, semantic_metadata
from integrations.dbt.translator import DbtTranslator
from orchestrator.assets import AssetCheckDefinition, AssetDefinition, AssetDep
from orchestrator.errors import DefinitionError
from orchestrator.keys import AssetKey
from orchestrator.partitions import TimeWindowPartitions

GRAINS = {"hour": "hourly", "day": "daily", "week": "weekly", "month": "monthly"}

DBT_KIND = "dbt"
SUPPORTED_SCHEMAS = ("v12",)
ASSET_TYPES = ("model", "seed", "snapshot")


class ManifestError(DefinitionError):
    """A manifest that is missing, malformed or from an unsupported dbt version."""


@dataclass(frozen=True)
class DbtNodes:
    """What a manifest yields: assets, checks, and the unique_id <-> key maps the runner uses."""

    assets: tuple[AssetDefinition, ...]
    checks: tuple[AssetCheckDefinition, ...]
    key_of: Mapping[str, AssetKey]
    selector_of: Mapping[AssetKey, str]
    """How dbt selects each executable asset exactly (`fqn:...`, `source:...`)."""
    check_of: Mapping[str, AssetCheckDefinition]
    project_name: str
    adapter: str
    deps_of: Mapping[AssetKey, tuple[AssetDep, ...]]
    tested_sources: Mapping[AssetKey, str]
    """Sources that have tests, with the selector that runs those tests."""
    seed_of: Mapping[AssetKey, AssetKey] = field(default_factory=dict)
    """Sources that are a seed's table -> that seed (dbt does not order them: the runner does)."""


def read_manifest(path: Path) -> dict[str, Any]:
    """Load and validate a manifest.json; errors name the file and the command that fixes it."""
    fix = "Run `orch dbt parse` (or `dbt parse`) in the dbt project to write it."
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(f"No dbt manifest at '{path}'. {fix}") from None
    try:
        manifest = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ManifestError(f"The dbt manifest '{path}' is not valid JSON ({exc}). {fix}") from None
    check_manifest(manifest, path)
    return manifest


def check_manifest(manifest: Any, path: Path | str) -> None:
    if not isinstance(manifest, dict) or "metadata" not in manifest or "nodes" not in manifest:
        raise ManifestError(
            f"'{path}' is not a dbt manifest (no 'metadata' or 'nodes'). "
            "Run `orch dbt parse` to write a fresh one."
        )
    schema = str(manifest["metadata"].get("dbt_schema_version", ""))
    version = manifest["metadata"].get("dbt_version", "unknown")
    if not any(schema.endswith(f"/{v}.json") for v in SUPPORTED_SCHEMAS):
        raise ManifestError(
            f"'{path}' has manifest schema '{schema.rsplit('/', 1)[-1] or schema}' from dbt {version}; "
            f"supported: {', '.join(SUPPORTED_SCHEMAS)} (dbt 1.8 - 1.11). "
            "Re-parse the project with a supported dbt."
        )


def _enabled(node: Mapping[str, Any]) -> bool:
    return (node.get("config") or {}).get("enabled", True) is not False


def _selector(node: Mapping[str, Any]) -> str:
    if node["resource_type"] == "source":
        return f"source:{node['source_name']}.{node['name']}"
    return "fqn:" + ".".join(node["fqn"])


def partition_spec(node: Mapping[str, Any]) -> dict[str, str] | None:
    """How a dbt model is partitioned: `meta.partition` {column, grain, start} (the model filters on
    the vars `start`/`end`), or dbt's microbatch config (event_time, batch_size, begin)."""
    config = node.get("config") or {}
    meta = (config.get("meta") or node.get("meta") or {}).get("partition")
    microbatch = config.get("incremental_strategy") == "microbatch"
    spec = {
        "column": (meta or {}).get("column") or config.get("event_time"),
        "grain": (meta or {}).get("grain") or config.get("batch_size"),
        "start": (meta or {}).get("start") or config.get("begin"),
        "via": "event_time" if microbatch else "vars",
    }
    if not (meta or microbatch):
        return None
    missing = [k for k in ("column", "grain", "start") if not spec[k]]
    if missing or spec["grain"] not in GRAINS:
        raise ManifestError(
            f"dbt model {node['unique_id']} declares partitions but lacks {missing or ['a known grain']}: "
            "set meta.partition = {column, grain (hour|day|week|month), start} or microbatch's "
            "event_time, batch_size and begin."
        )
    spec["start"] = str(spec["start"])[:10]
    return spec


def _owners(node: Mapping[str, Any], groups: Mapping[str, Any]) -> tuple[str, ...]:
    owner = node.get("owner")
    if owner is None and node.get("group"):
        owner = next((g.get("owner") for g in groups.values() if g.get("name") == node["group"]), None)
    if not owner:
        return ()
    found = owner.get("email") or owner.get("name")
    return (found,) if found else ()


def load_nodes(
    manifest: Mapping[str, Any],
    translator: DbtTranslator | None = None,
    runner: Any = None,
) -> DbtNodes:
    """Build the assets and checks of a validated manifest."""
    t = translator or DbtTranslator()
    meta = manifest["metadata"]
    groups = manifest.get("groups") or {}
    nodes = manifest["nodes"]
    sources = manifest.get("sources") or {}
    key_of: dict[str, AssetKey] = {}
    for uid, node in (*nodes.items(), *sources.items()):
        if (node["resource_type"] in ASSET_TYPES or node["resource_type"] == "source") and _enabled(node):
            key_of[uid] = t.key(node)

    checks = data_and_unit_tests(manifest, key_of)
    freshness = freshness_checks(sources, key_of)
    seed_of = {uid: seed for uid, seed in seeds_behind_sources(manifest).items() if uid in key_of and seed in key_of}
    semantic = semantic_metadata(manifest)
    macros = MacroChecksums(manifest)
    test_types: dict[AssetKey, set[str]] = {}
    for check in (*checks, *freshness):  # recorded on each asset for `test_type:` selection
        test_types.setdefault(check.asset, set()).add(check.metadata["test_type"])
    shared = _Interner()
    assets: list[AssetDefinition] = []
    selector_of: dict[AssetKey, str] = {}
    for uid, node in (*nodes.items(), *sources.items()):
        if uid not in key_of:
            continue
        key = key_of[uid]
        config = node.get("config") or {}
        is_source = node["resource_type"] == "source"
        executable = not is_source and config.get("materialized") != "ephemeral"
        parents = [*(node.get("depends_on") or {}).get("nodes", ()), *([seed_of[uid]] if uid in seed_of else [])]
        deps = tuple(AssetDep(key_of[parent]) for parent in parents if parent in key_of)
        spec = partition_spec(node) if node["resource_type"] == "model" else None
        metadata = t.metadata(node)
        if spec:
            metadata.update(partition_column=spec["column"], partition_grain=spec["grain"],
                            partition_via=spec["via"])
        if key in test_types:
            metadata["test_types"] = sorted(test_types[key])
        if uid in semantic:
            metadata.update(semantic[uid])
        if (macro_checksum := macros.of(node)) is not None:
            metadata["dbt_macros_checksum"] = macro_checksum
        if uid in seed_of:
            metadata["seed"] = str(key_of[seed_of[uid]])
        assets.append(
            AssetDefinition(
                key=key,
                kind=DBT_KIND,
                deps=deps,
                group=t.group(node),
                tags=shared.value(frozenset(node.get("tags") or ())),
                kinds=shared.value(frozenset({"dbt", meta.get("adapter_type") or "sql"})),
                owners=_owners(node, groups),
                description=t.description(node),
                metadata=metadata,
                partitions=TimeWindowPartitions(start=spec["start"], grain=GRAINS[spec["grain"]]) if spec else None,
                code_version=(node.get("checksum") or {}).get("checksum") or None,
                io_manager="warehouse",
                path=node.get("original_file_path"),
                resource_type=node["resource_type"],
                fqn=tuple(node.get("fqn") or ()),
                config=shared.mapping(config),
                origin=f"dbt {node['resource_type']} {uid} ({node.get('original_file_path')})",
                executable=executable,
                runner=runner if executable else None,
            )
        )
        if executable:
            selector_of[key] = _selector(node)

    assets.extend(_exposures(manifest, key_of, t, groups))
    checks = [*checks, *freshness]
    source_selector = {key_of[uid]: _selector(s) for uid, s in sources.items() if uid in key_of}
    return DbtNodes(
        assets=tuple(assets),
        checks=tuple(checks),
        key_of=key_of,
        selector_of=selector_of,
        check_of={c.metadata["dbt_unique_id"]: c for c in checks if c.kind == DBT_KIND},
        project_name=meta.get("project_name") or "",
        adapter=meta.get("adapter_type") or "",
        deps_of={a.key: a.deps for a in assets},
        tested_sources={c.asset: source_selector[c.asset] for c in checks
                        if c.asset in source_selector and c.kind == DBT_KIND},
        seed_of={key_of[uid]: key_of[seed] for uid, seed in seed_of.items()},
    )


class _Interner:
    """One shared object per distinct value: most nodes of a folder carry the very same config, so
    sharing it shrinks memory and the node cache (pickle writes a repeated object once)."""

    def __init__(self) -> None:
        self._seen: dict[Any, Any] = {}

    def value(self, hashable: Any) -> Any:
        return self._seen.setdefault(hashable, hashable)

    def mapping(self, mapping: dict[str, Any]) -> dict[str, Any]:
        return self._seen.setdefault(orjson.dumps(mapping, option=orjson.OPT_SORT_KEYS), mapping)


def _exposures(
    manifest: Mapping[str, Any], key_of: Mapping[str, AssetKey], t: DbtTranslator, groups: Mapping[str, Any]
) -> list[AssetDefinition]:
    found = []
    behind = metric_models(manifest)
    for uid, exposure in (manifest.get("exposures") or {}).items():
        if not _enabled(exposure):
            continue
        parents = [m for p in exposure["depends_on"].get("nodes", ()) for m in behind.get(p, (p,))]
        found.append(
            AssetDefinition(
                key=t.key(exposure),
                kind=DBT_KIND,
                deps=tuple(AssetDep(key_of[p]) for p in dict.fromkeys(parents) if p in key_of),
                group=t.group(exposure),
                tags=frozenset(exposure.get("tags") or ()),
                kinds=frozenset({"dbt", exposure.get("type") or "exposure"}),
                owners=_owners(exposure, groups),
                description=exposure.get("description") or exposure.get("label") or None,
                metadata={"dbt_unique_id": uid, "url": exposure.get("url"), "type": exposure.get("type")},
                path=exposure.get("original_file_path"),
                resource_type="exposure",
                fqn=tuple(exposure.get("fqn") or ()),
                origin=f"dbt exposure {uid}",
                executable=False,
            )
        )
    return found
