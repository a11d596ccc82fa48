"""Code versions, data versions and staleness. Pure: functions of the graph and materialization facts.

Every materialization records its asset's code version and the data version of each upstream asset
it read (`input_versions`). An asset is stale when its code version changed, or an upstream's data
version changed, since its last materialization; or when an upstream is itself stale. A data version
is what the IO manager reports (Parquet: SHA-256 of the file; Iceberg: snapshot id; DuckDB: a content
hash); without one (in-memory values, dbt models), each materialization is a new version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.graph import AssetGraph
from orchestrator.keys import AssetKey


@dataclass(frozen=True, slots=True)
class MaterializationInfo:
    event_id: int
    timestamp: float
    run_id: str
    partition: str | None
    data_version: str
    code_version: str | None
    input_versions: Mapping[str, str] | None
    """None: recorded before input versions were recorded (then only times can be compared)."""


def data_version_of(data: Mapping[str, Any], run_id: str, timestamp: float) -> str:
    """The data version an event's data declares, else the identity of the materialization itself."""
    declared = (data.get("metadata") or {}).get("data_version")
    return str(declared) if declared else f"{run_id}@{timestamp!r}"


def info_from_event(event: Any) -> MaterializationInfo:
    data = event.data or {}
    inputs = data.get("input_versions")
    return MaterializationInfo(
        event_id=event.id or 0, timestamp=event.timestamp, run_id=event.run_id, partition=event.partition,
        data_version=data_version_of(data, event.run_id, event.timestamp),
        code_version=data.get("code_version"),
        input_versions=dict(inputs) if isinstance(inputs, Mapping) else None,
    )


def fingerprint(code_version: str | None, inputs: Mapping[str, str]) -> str:
    """One short string for a code version and a set of input versions."""
    payload = json.dumps([code_version, sorted(inputs.items())], separators=(",", ":"))
    return hashlib.blake2b(payload.encode(), digest_size=10).hexdigest()


def short(version: str | None) -> str:
    return "none" if version is None else version if len(version) <= 14 else version[:12] + "…"


def own_stale_causes(key: AssetKey, graph: AssetGraph, infos: Mapping[AssetKey, MaterializationInfo]) -> list[str]:
    """Why `key` is stale by itself (not counting stale upstreams); [] when it is not, or is missing."""
    info = infos.get(key)
    if info is None:
        return []
    causes = []
    current_code = graph.assets[key].code_version
    if current_code and info.code_version and current_code != info.code_version:
        causes.append(f"code version changed ({short(info.code_version)} → {short(current_code)})")
    for parent in graph.inputs(key):
        upstream = infos.get(parent)
        if upstream is None:
            continue  # missing or external: reported as missing upstream, not as staleness
        if info.input_versions is None:
            if upstream.timestamp > info.timestamp:
                causes.append(f"upstream '{parent}' was materialized after it")
            continue
        consumed = info.input_versions.get(str(parent))
        if consumed is None:
            causes.append(f"upstream '{parent}' was not an input of its last materialization")
        elif consumed != upstream.data_version:
            causes.append(f"upstream '{parent}' has a new data version "
                          f"({short(consumed)} → {short(upstream.data_version)})")
    return causes


def stale_causes(graph: AssetGraph, infos: Mapping[AssetKey, MaterializationInfo],
                 order: list[AssetKey]) -> dict[AssetKey, list[str]]:
    """Causes per stale asset (in `order`, a topological order), stale upstreams included."""
    stale: dict[AssetKey, list[str]] = {}
    for key in order:
        if key not in infos:
            continue
        causes = own_stale_causes(key, graph, infos)
        causes += [f"upstream '{p}' is stale" for p in graph.inputs(key)
                   if p in stale and not any(str(p) in c for c in causes)]
        if causes:
            stale[key] = causes
    return stale
