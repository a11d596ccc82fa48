"""A dbt project's nodes as engine units: models and snapshots are SQL, seeds and sources leaves,
Python models declared or unknown.

A model reads each parent by its relation (an ephemeral parent by `__dbt__.ephemeral.<name>`),
and its own relation (`{{ this }}`) is the self table whose reads are stripped. A snapshot gets
dbt's meta columns after those of its SELECT.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from integrations.lineage.compile import NeedsWarehouse
from integrations.lineage.dbt_manifest import DbtDigest, DbtNode
from integrations.lineage.declared import DECLARED_KEY, declared_lineage
from integrations.lineage.engine import Unit
from integrations.lineage.model import DIRECT, TRANSFORM, AssetLineage, merge_into
from integrations.lineage.prepare import EPHEMERAL_PREFIX

SNAPSHOT_COLUMNS = ("dbt_scd_id", "dbt_updated_at", "dbt_valid_from", "dbt_valid_to")


def dbt_units(digest: DbtDigest, compiled: Mapping[str, str | Exception]) -> list[Unit]:
    tables = {".".join(parts): key for parts, key in digest.relations.items()}
    return [_unit(node, digest, compiled, tables) for node in digest.nodes.values()]


def _unit(node: DbtNode, digest: DbtDigest, compiled: Mapping[str, str | Exception],
          tables: Mapping[str, str]) -> Unit:
    parents = [digest.nodes[p] for p in node.parents]
    parent_keys = tuple(p.key for p in parents)
    parent_relations = {p.relation for p in parents}
    if node.resource_type == "source" and parents and node.relation_name:
        seed = parents[0]  # a source that is a seed's table: its columns are the seed's
        return Unit(node.key, parent_keys, sql=f"select * from {seed.relation_name}", dialect=digest.dialect,
                    reads={seed.key: seed.relation}, relation=node.relation)
    if node.resource_type in ("seed", "source"):
        return Unit(node.key, relation=node.relation)
    if node.language != "sql":
        return _code_model(node, parent_keys)
    sql = compiled.get(node.uid)
    if isinstance(sql, NeedsWarehouse):  # expected without a warehouse: unknown, not failed
        return Unit(node.key, parent_keys, relation=node.relation, origin="unknown", reason=str(sql))
    if not isinstance(sql, str):
        failed = AssetLineage(node.key, None, error=str(sql or "not compiled"), origin="sql")
        return Unit(node.key, parent_keys, relation=node.relation, given=failed)
    post, post_key = None, ""
    if node.resource_type == "snapshot":
        post = functools.partial(snapshot_columns, config=dict(node.snapshot))
        post_key = json.dumps(node.snapshot, sort_keys=True, default=str)
    return Unit(
        node.key,
        parent_keys,
        sql=sql,
        parse_sql=blank_ephemeral_bodies(sql, [(p.name, compiled.get(p.uid)) for p in parents if p.is_ephemeral]),
        dialect=digest.dialect,
        reads={p.key: p.relation for p in parents if p.relation},
        functions={call: parts for call, parts in digest.functions.items() if parts in parent_relations},
        tables=tables,
        self_table=".".join(node.relation) if node.relation and not node.is_ephemeral else None,
        relation=node.relation,
        post=post,
        post_key=post_key,
    )


def blank_ephemeral_bodies(sql: str, ephemerals: list[tuple[str, Any]]) -> str | None:
    """The SQL with each inlined ephemeral parent's body (dbt's `__dbt__cte__<name> as (...)`,
    which lineage sets aside: the ephemeral model is analyzed on its own) blanked to `select 1`
    and as many line breaks, so it is not parsed again and positions after it stay; None when no
    body is found verbatim (nested ephemerals, another dbt)."""
    lean = sql
    for name, body in ephemerals:
        if not isinstance(body, str) or len(body) < 64:
            continue
        written = f"{EPHEMERAL_PREFIX}{name} as (\n{body}\n)"
        if written in lean:
            blank = "select 1" + "\n" * body.count("\n")
            lean = lean.replace(written, f"{EPHEMERAL_PREFIX}{name} as (\n{blank}\n)", 1)
    return lean if lean is not sql else None


def _code_model(node: DbtNode, parents: tuple[str, ...]) -> Unit:
    """A dbt Python model: no SQL to read, so its lineage is what its config declares (completed
    with the columns the schema layers know), else unknown, with its columns from the layers."""
    if node.declared:
        declared = declared_lineage(node.key, node.declared)
        return Unit(node.key, parents, relation=node.relation, given=declared, origin="declared",
                    complete=False)
    reason = (f"a dbt {node.language} model: its lineage is not derived from code; declare it with "
              f"config(meta={{'{DECLARED_KEY}': {{...}}}})")
    return Unit(node.key, parents, relation=node.relation, origin="unknown", reason=reason)


def snapshot_columns(lineage: AssetLineage, config: Mapping[str, Any]) -> AssetLineage:
    """dbt's snapshot meta columns: with the timestamp strategy, `updated_at` is copied into
    dbt_updated_at / dbt_valid_from / dbt_valid_to and hashed with the unique key into dbt_scd_id;
    with the check strategy they are the snapshot's time (no upstream) and the key's hash."""
    if lineage.columns is None:
        return lineage
    columns = {c: dict(s) for c, s in lineage.columns.items()}
    names = {c: (config.get("names") or {}).get(c, c) for c in (*SNAPSHOT_COLUMNS, "dbt_is_deleted")}
    keys = config.get("unique_key") or []
    keys = [keys] if isinstance(keys, str) else list(keys)
    key_sources: dict = {}
    for key in keys:
        merge_into(key_sources, columns.get(key, {}), TRANSFORM)
    updated: dict = {}
    if config.get("strategy", "timestamp") == "timestamp" and config.get("updated_at"):
        merge_into(updated, columns.get(config["updated_at"], {}), DIRECT)
    scd: dict = dict(key_sources)
    merge_into(scd, updated, TRANSFORM)
    columns[names["dbt_scd_id"]] = scd
    for meta in ("dbt_updated_at", "dbt_valid_from", "dbt_valid_to"):
        columns[names[meta]] = dict(updated)
    if config.get("hard_deletes") == "new_record":
        columns[names["dbt_is_deleted"]] = {}
    return replace(lineage, columns=columns)
