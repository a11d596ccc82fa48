"""DbtTranslator: how a dbt node becomes an asset's key, group and metadata. Subclass to change it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.keys import AssetKey

META_NAMESPACE = "orchestrator"
"""`meta: {orchestrator: {key: "a/b", group: "g"}}` on a dbt node overrides the defaults."""


def _override(node: Mapping[str, Any], field: str) -> Any:
    meta = node.get("meta") or (node.get("config") or {}).get("meta") or {}
    return (meta.get(META_NAMESPACE) or {}).get(field)


class DbtTranslator:
    """Default mapping from manifest nodes to assets.

    Keys: a model is its fqn without the project (`marts/fct_orders`); a seed `seeds/<name>`; a
    snapshot `snapshots/<name>`; a source `<source_name>/<table>`, so that a Python asset with that
    key *is* the source; an exposure `exposures/<name>`.
    """

    def key(self, node: Mapping[str, Any]) -> AssetKey:
        override = _override(node, "key")
        if override:
            return AssetKey.coerce(override)
        kind = node["resource_type"]
        if kind == "source":
            return AssetKey((node["source_name"], node["name"]))
        if kind == "model":
            return AssetKey(tuple(node["fqn"][1:]))
        if kind == "seed":
            return AssetKey(("seeds", *node["fqn"][1:]))
        if kind == "snapshot":
            return AssetKey(("snapshots", node["name"]))
        return AssetKey((f"{kind}s", node["name"]))

    def group(self, node: Mapping[str, Any]) -> str:
        override = _override(node, "group")
        if override:
            return override
        if node.get("group"):
            return node["group"]
        kind = node["resource_type"]
        if kind == "model" and len(node["fqn"]) > 2:
            return node["fqn"][1]
        if kind == "source":
            return node["source_name"]
        return f"{kind}s"

    def description(self, node: Mapping[str, Any]) -> str | None:
        return node.get("description") or None

    def metadata(self, node: Mapping[str, Any]) -> dict[str, Any]:
        config = node.get("config") or {}
        metadata: dict[str, Any] = {
            "dbt_unique_id": node["unique_id"],
            "dbt_resource_type": node["resource_type"],
        }
        if node.get("relation_name"):
            metadata["relation_name"] = node["relation_name"]
        if config.get("materialized"):
            metadata["materialized"] = config["materialized"]
        if node["resource_type"] == "source":
            metadata["dbt_source_name"] = node["source_name"]
        columns = node.get("columns") or {}
        if columns:
            metadata["columns"] = {
                name: {k: col[k] for k in ("description", "data_type") if col.get(k)}
                for name, col in columns.items()
            }
        meta = node.get("meta") or config.get("meta")
        if meta:
            metadata["meta"] = meta
        return metadata
