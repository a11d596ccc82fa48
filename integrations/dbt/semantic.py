"""What a manifest says beyond nodes: the semantic layer as metadata, seeds behind sources.

- Semantic models, metrics and saved queries are not assets: each model carries, in its
  metadata, the semantic models built on it (entities, dimensions, measures), the metrics made of
  those and the saved queries that use the metrics. An exposure that depends on a metric depends
  on the models behind it.
- A source whose relation is a seed's (the same database, schema and identifier) is that seed's
  table: the source gets the seed as its upstream, so the seed is built before what reads it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any


def _parents(node: Mapping[str, Any]) -> list[str]:
    return list((node.get("depends_on") or {}).get("nodes") or ())


def semantic_metadata(manifest: Mapping[str, Any]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """model uid -> {"semantic_models": [...], "metrics": [...], "saved_queries": [...]}."""
    semantic = manifest.get("semantic_models") or {}
    metrics = manifest.get("metrics") or {}
    saved = manifest.get("saved_queries") or {}
    models_of = metric_models(manifest)
    found: dict[str, dict[str, list[dict[str, Any]]]] = {}

    def add(model: str, kind: str, entry: dict[str, Any]) -> None:
        items = found.setdefault(model, {}).setdefault(kind, [])
        if entry not in items:
            items.append(entry)

    for sm in semantic.values():
        entry = {
            "name": sm["name"],
            "description": sm.get("description") or None,
            "entities": [{"name": e["name"], "type": e.get("type")} for e in sm.get("entities") or ()],
            "dimensions": [{"name": d["name"], "type": d.get("type")} for d in sm.get("dimensions") or ()],
            "measures": [{"name": m["name"], "agg": m.get("agg"), "expr": m.get("expr")}
                         for m in sm.get("measures") or ()],
        }
        for model in _parents(sm):
            add(model, "semantic_models", entry)
    for uid, metric in metrics.items():
        entry = {"name": metric["name"], "label": metric.get("label"), "type": metric.get("type"),
                 "description": metric.get("description") or None}
        for model in models_of.get(uid, ()):
            add(model, "metrics", entry)
    for query in saved.values():
        entry = {"name": query["name"], "metrics": list((query.get("query_params") or {}).get("metrics") or ()),
                 "description": query.get("description") or None}
        for model in {m for p in _parents(query) for m in models_of.get(p, ())}:
            add(model, "saved_queries", entry)
    return found


def metric_models(manifest: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """metric, semantic model or saved query uid -> the model uids under it (metrics may be made
    of other metrics)."""
    semantic = manifest.get("semantic_models") or {}
    metrics = manifest.get("metrics") or {}
    saved = manifest.get("saved_queries") or {}
    resolved: dict[str, tuple[str, ...]] = {uid: tuple(_parents(sm)) for uid, sm in semantic.items()}

    def models(uid: str, seen: frozenset[str] = frozenset()) -> tuple[str, ...]:
        if uid in resolved:
            return resolved[uid]
        node = metrics.get(uid) or saved.get(uid)
        if node is None or uid in seen:
            return (uid,) if uid.startswith(("model.", "seed.", "snapshot.")) else ()
        found = tuple(dict.fromkeys(m for p in _parents(node) for m in models(p, seen | {uid})))
        resolved[uid] = found
        return found

    for uid in (*metrics, *saved):
        models(uid)
    return resolved


def _relation(name: str | None) -> str | None:
    return name.replace('"', "").replace("`", "").lower() if name else None


def seeds_behind_sources(manifest: Mapping[str, Any]) -> dict[str, str]:
    """source uid -> the uid of the seed whose relation it is."""
    seeds = {_relation(n.get("relation_name")): uid for uid, n in manifest["nodes"].items()
             if n.get("resource_type") == "seed" and n.get("relation_name")}
    return {uid: seeds[rel] for uid, source in (manifest.get("sources") or {}).items()
            if (rel := _relation(source.get("relation_name"))) in seeds}


class MacroChecksums:
    """A checksum of the macros a node uses, transitively, for `state:modified.macros`. dbt's own
    macros and its adapter's (packages `dbt`, `dbt_<adapter>`) change with dbt, not the project:
    they are left out."""

    def __init__(self, manifest: Mapping[str, Any]) -> None:
        adapter = (manifest.get("metadata") or {}).get("adapter_type") or ""
        self.internal = {"dbt", f"dbt_{adapter}"}
        self.macros = manifest.get("macros") or {}
        self._closure: dict[str, frozenset[str]] = {}

    def _uses(self, uid: str, seen: frozenset[str] = frozenset()) -> frozenset[str]:
        if uid in self._closure:
            return self._closure[uid]
        macro = self.macros.get(uid)
        if macro is None or macro.get("package_name") in self.internal or uid in seen:
            return frozenset()
        found = frozenset({uid}).union(*(self._uses(m, seen | {uid}) for m in _macro_deps(macro)))
        self._closure[uid] = found
        return found

    def of(self, node: Mapping[str, Any]) -> str | None:
        used = sorted(frozenset().union(*(self._uses(m) for m in _macro_deps(node))))
        if not used:
            return None
        digest = hashlib.blake2b(digest_size=12)
        for uid in used:
            digest.update(uid.encode())
            digest.update((self.macros[uid].get("macro_sql") or "").encode())
        return digest.hexdigest()


def _macro_deps(node: Mapping[str, Any]) -> list[str]:
    return list((node.get("depends_on") or {}).get("macros") or ())
