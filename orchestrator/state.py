"""The state of a graph, to compare a project with a previous one (slim CI: `state:modified+`).

Pure: `graph_state(graph, schemas)` reads only what it is given; saving and loading the JSON is
the CLI's (`orch state save DIR`, `--state DIR`). Per asset it keeps fingerprints, not code:

    body        the code: a dbt node's checksum, a Python function's code_version
    configs     the config (dbt's), tags, IO manager and partitions
    macros      the dbt macros the node uses, transitively (metadata `dbt_macros_checksum`)
    deps        its upstream keys
    schema      its columns: documented (metadata `columns`), and the Arrow schema recorded by its
                latest materialization (`schemas`, kept apart: each is compared only when both
                states know it, so a fresh CI store does not make everything modified)

`StateComparison(previous, current).select(value)` is what `state:<value>` selects: `new`, `old`,
`modified` (new, or any aspect changed, or an upstream's schema changed), `modified.<aspect>`
(body, configs, macros, deps, schema, upstream_schema) and `unmodified`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import SelectionError, did_you_mean
from orchestrator.graph import AssetGraph
from orchestrator.keys import AssetKey

STATE_FORMAT = 1
ASPECTS = ("body", "configs", "macros", "deps", "schema")
STATE_VALUES = ("new", "old", "modified", "unmodified", *(f"modified.{a}" for a in (*ASPECTS, "upstream_schema")))


def _hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


@dataclass(frozen=True, slots=True)
class AssetState:
    body: str | None
    configs: str
    macros: str | None
    deps: tuple[str, ...]
    schema: str | None
    recorded: str | None = None

    def aspect(self, name: str) -> Any:
        return getattr(self, name)


@dataclass(frozen=True)
class GraphState:
    assets: Mapping[AssetKey, AssetState]
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "metadata": dict(self.metadata),
                "assets": {str(k): {"body": s.body, "configs": s.configs, "macros": s.macros,
                                    "deps": list(s.deps), "schema": s.schema, "recorded": s.recorded}
                           for k, s in sorted(self.assets.items(), key=lambda item: str(item[0]))}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "the state") -> GraphState:
        if not isinstance(data, Mapping) or data.get("format") != STATE_FORMAT or "assets" not in data:
            raise SelectionError(f"{where} is not an orchestrator state (format {STATE_FORMAT}): "
                                 "write it with `orch state save DIR`.")
        assets = {AssetKey.parse(k): AssetState(v.get("body"), v.get("configs", ""), v.get("macros"),
                                                tuple(v.get("deps") or ()), v.get("schema"), v.get("recorded"))
                  for k, v in data["assets"].items()}
        return cls(assets, dict(data.get("metadata") or {}))


def graph_state(graph: AssetGraph, schemas: Mapping[AssetKey, Any] | None = None,
                metadata: Mapping[str, Any] | None = None) -> GraphState:
    """The fingerprints of every asset of `graph`; `schemas` are recorded Arrow schemas by key."""
    found = {}
    for key, asset in graph.assets.items():
        documented = asset.metadata.get("columns")
        recorded = (schemas or {}).get(key)
        configs = _hash([asset.config, sorted(asset.tags), asset.io_manager, repr(asset.partitions)])
        found[key] = AssetState(asset.code_version, configs, asset.metadata.get("dbt_macros_checksum"),
                                tuple(sorted(str(d.key) for d in asset.deps)),
                                _hash(documented) if documented else None, _hash(recorded) if recorded else None)
    return GraphState(found, dict(metadata or {}))


def _differs(before: AssetState, now: AssetState, aspect: str) -> bool:
    if aspect != "schema":
        return before.aspect(aspect) != now.aspect(aspect)
    # unknown on one side is no evidence of a change
    return any(None not in (old, new) and old != new
               for old, new in ((before.schema, now.schema), (before.recorded, now.recorded)))


class StateComparison:
    """What `state:` selects, comparing the current graph's state with a previous one."""

    def __init__(self, previous: GraphState, current: GraphState) -> None:
        self.previous = previous
        self.current = current
        self._changed: dict[str, set[AssetKey]] = {}

    def changed(self, aspect: str) -> set[AssetKey]:
        if aspect not in self._changed:
            self._changed[aspect] = {key for key, now in self.current.assets.items()
                                     if key in self.previous.assets
                                     and _differs(self.previous.assets[key], now, aspect)}
        return self._changed[aspect]

    def upstream_schema(self) -> set[AssetKey]:
        changed = {str(k) for k in self.changed("schema")}
        return {k for k, s in self.current.assets.items() if any(d in changed for d in s.deps)}

    def reasons(self, key: AssetKey) -> list[str]:
        """Why `key` is modified (empty when it is not)."""
        if key not in self.previous.assets:
            return ["new"]
        found = [a for a in ASPECTS if key in self.changed(a)]
        return found + (["upstream_schema"] if key in self.upstream_schema() else [])

    def select(self, value: str) -> set[AssetKey]:
        current, previous = set(self.current.assets), set(self.previous.assets)
        if value == "new":
            return current - previous
        if value == "old":
            return current & previous
        if value.startswith("modified."):
            aspect = value.removeprefix("modified.")
            if aspect == "upstream_schema":
                return self.upstream_schema()
            if aspect in ASPECTS:
                return self.changed(aspect)
        elif value in ("modified", "unmodified"):
            modified = (current - previous).union(*(self.changed(a) for a in ASPECTS), self.upstream_schema())
            return modified if value == "modified" else current - modified
        raise SelectionError(f"Unknown state selector 'state:{value}'.{did_you_mean(value, STATE_VALUES)} "
                             f"Use one of: {', '.join('state:' + v for v in STATE_VALUES)}.")
