"""What column lineage needs from a dbt manifest, read once and cached beside it by its checksum.

Each model, seed, snapshot and source becomes a `DbtNode`: its asset key (the project's
translator decides, as for the assets), its relation (normalized parts; an ephemeral model gets
`__dbt__.ephemeral.<name>`, what the SQL walk turns `__dbt__cte__<name>` into), its parents, the
compiled SQL when the manifest has it, its documented columns, and `compile_key`, which changes
whenever its compiled SQL could: the node's checksum and config, its parents' relations, the
project's macros and dbt_project.yml.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from integrations.dbt.manifest import read_manifest
from integrations.dbt.project import DbtProject
from integrations.dbt.semantic import seeds_behind_sources
from integrations.lineage.declared import DECLARED_KEY
from integrations.lineage.prepare import (
    EPHEMERAL_CATALOG,
    EPHEMERAL_DB,
    EXTERNAL_DB,
    normalize_name,
    relation_parts,
    table_function_sql,
)
from orchestrator.io.files import atomic_write_bytes
from orchestrator.memory import paused_gc

DIGEST_FORMAT = 5
RESOURCE_TYPES = ("model", "seed", "snapshot", "source")
DIALECTS = {"duckdb": "duckdb", "postgres": "postgres", "redshift": "redshift", "snowflake": "snowflake",
            "bigquery": "bigquery", "databricks": "databricks", "spark": "spark", "trino": "trino",
            "athena": "athena", "clickhouse": "clickhouse", "sqlserver": "tsql", "fabric": "tsql"}


@dataclass(frozen=True)
class DbtNode:
    uid: str
    key: str
    resource_type: str
    name: str
    relation: tuple[str, ...] | None
    materialized: str | None
    parents: tuple[str, ...]
    checksum: str
    compiled: str | None
    documented: Mapping[str, str]
    compile_key: str
    language: str = "sql"
    seed_file: str | None = None
    column_types: Mapping[str, str] = field(default_factory=dict)
    snapshot: Mapping[str, Any] = field(default_factory=dict)
    fqn: tuple[str, ...] = ()
    raw_code: str | None = None
    """The Jinja SQL of a model or snapshot (what `render` compiles without dbt)."""
    relation_name: str | None = None
    """The manifest's relation_name: how `ref`, `source` and `this` render."""
    source_name: str | None = None
    declared: Any = None
    """A `column_lineage` declaration in the node's config or meta (dbt Python models use it)."""

    @property
    def is_ephemeral(self) -> bool:
        return self.resource_type == "model" and self.materialized == "ephemeral"

    @property
    def has_sql(self) -> bool:
        return self.resource_type in ("model", "snapshot") and self.language == "sql"


@dataclass(frozen=True)
class DbtDigest:
    project_dir: str
    dialect: str
    nodes: Mapping[str, DbtNode]
    relations: Mapping[tuple[str, ...], str]
    """relation parts -> asset key, ephemeral models included."""
    manifest_checksum: str
    functions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Sources read in place: their relation_name, a table function call (normalized SQL) -> parts."""

    def by_key(self) -> dict[str, DbtNode]:
        return {n.key: n for n in self.nodes.values()}


def load_digest(project: DbtProject) -> DbtDigest:
    """The digest of the project's current manifest (re-parsing first when it is stale)."""
    state = project.manifest_state()
    translator = type(project.translator).__name__
    cache = project.target_path / f"orch_lineage_digest.{state.checksum}.{translator}.pickle"
    if cache.exists():
        try:
            cached = pickle.loads(cache.read_bytes())
            if cached.get("format") == DIGEST_FORMAT:
                return cached["digest"]
        except Exception:  # a corrupt cache is rebuilt, never trusted
            pass
    with paused_gc():  # a manifest is 100,000s of new objects, none garbage: 4x faster unwatched
        digest = build_digest(project, read_manifest(state.path), state.checksum)
    for old in project.target_path.glob("orch_lineage_digest.*"):
        old.unlink(missing_ok=True)
    atomic_write_bytes(cache, pickle.dumps({"format": DIGEST_FORMAT, "digest": digest},
                                            protocol=pickle.HIGHEST_PROTOCOL))
    return digest


def build_digest(project: DbtProject, manifest: Mapping[str, Any], checksum: str = "") -> DbtDigest:
    meta = manifest.get("metadata") or {}
    adapter = meta.get("adapter_type") or "duckdb"
    dialect = DIALECTS.get(adapter, adapter)
    translator = project.translator
    raw = {uid: n for uid, n in (*manifest["nodes"].items(), *(manifest.get("sources") or {}).items())
           if n.get("resource_type") in RESOURCE_TYPES and _enabled(n)}
    relation_of: dict[str, tuple[str, ...] | None] = {}
    functions: dict[str, tuple[str, ...]] = {}
    for uid, node in raw.items():
        materialized = (node.get("config") or {}).get("materialized")
        if node["resource_type"] == "model" and materialized == "ephemeral":
            relation_of[uid] = (EPHEMERAL_CATALOG, EPHEMERAL_DB, normalize_name(node["name"], dialect))
        elif node.get("relation_name") and (call := table_function_sql(node["relation_name"], dialect)):
            name = normalize_name(f"{node.get('source_name') or node['resource_type']}__{node['name']}", dialect)
            relation_of[uid] = functions[call] = (EPHEMERAL_CATALOG, EXTERNAL_DB, name)
        elif node.get("relation_name"):
            relation_of[uid] = relation_parts(node["relation_name"], dialect)
        else:
            relation_of[uid] = None
    project_hash = _project_hash(project, manifest)
    seeds = seeds_behind_sources(manifest)
    nodes: dict[str, DbtNode] = {}
    for uid, node in raw.items():
        config = node.get("config") or {}
        parents = tuple(p for p in (node.get("depends_on") or {}).get("nodes", ()) if p in raw)
        if uid in seeds and seeds[uid] in raw:
            parents = (seeds[uid],)
        checksum_ = (node.get("checksum") or {}).get("checksum") or ""
        key_material = orjson.dumps([checksum_, config, relation_of[uid], [relation_of[p] for p in parents],
                                     project_hash], option=orjson.OPT_SORT_KEYS, default=str)
        nodes[uid] = DbtNode(
            uid=uid,
            key=str(translator.key(node)),
            resource_type=node["resource_type"],
            name=node["name"],
            relation=relation_of[uid],
            materialized=config.get("materialized"),
            parents=parents,
            checksum=checksum_,
            compiled=node.get("compiled_code") if node.get("compiled") else None,
            documented={name: c.get("data_type") or "UNKNOWN" for name, c in (node.get("columns") or {}).items()},
            compile_key=hashlib.blake2b(key_material, digest_size=16).hexdigest(),
            language=node.get("language") or "sql",
            seed_file=_seed_file(node),
            column_types=dict(config.get("column_types") or {}),
            snapshot=_snapshot_config(node) if node["resource_type"] == "snapshot" else {},
            fqn=tuple(node.get("fqn") or ()),
            raw_code=node.get("raw_code") if node["resource_type"] in ("model", "snapshot") else None,
            relation_name=node.get("relation_name"),
            source_name=node.get("source_name"),
            declared=_declared(node),
        )
    relations = {n.relation: n.key for n in nodes.values() if n.relation}
    return DbtDigest(str(project.project_dir), dialect, nodes, relations, checksum, functions)


def _declared(node: Mapping[str, Any]) -> Any:
    config = node.get("config") or {}
    for holder in (config.get("meta"), node.get("meta"), config):
        if isinstance(holder, Mapping) and holder.get(DECLARED_KEY):
            return holder[DECLARED_KEY]
    return None


def _enabled(node: Mapping[str, Any]) -> bool:
    return (node.get("config") or {}).get("enabled", True) is not False


def _seed_file(node: Mapping[str, Any]) -> str | None:
    if node["resource_type"] != "seed" or not node.get("root_path") or not node.get("original_file_path"):
        return None
    return str(Path(node["root_path"]) / node["original_file_path"])


def _snapshot_config(node: Mapping[str, Any]) -> dict[str, Any]:
    config = node.get("config") or {}
    names = config.get("snapshot_meta_column_names") or {}
    return {
        "strategy": config.get("strategy") or "timestamp",
        "unique_key": config.get("unique_key"),
        "updated_at": config.get("updated_at"),
        "check_cols": config.get("check_cols"),
        "hard_deletes": config.get("hard_deletes"),
        "names": {k: v for k, v in names.items() if v},
    }


def _project_hash(project: DbtProject, manifest: Mapping[str, Any]) -> str:
    """Everything project-wide a compiled SQL depends on: macros, dbt_project.yml and the vars."""
    digest = hashlib.blake2b(digest_size=16)
    for uid in sorted(manifest.get("macros") or {}):
        digest.update(uid.encode())
        digest.update((manifest["macros"][uid].get("macro_sql") or "").encode())
    project_file = project.project_dir / "dbt_project.yml"
    if project_file.exists():
        digest.update(project_file.read_bytes())
    digest.update(project.vars_key.encode())  # DbtProject(vars=...): passed to every compile
    return digest.hexdigest()
