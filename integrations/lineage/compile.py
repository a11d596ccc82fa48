"""Compiled SQL for every model and snapshot, without touching the warehouse.

Used in order: the manifest's `compiled_code` when dbt already compiled the node, our cache
(`target/orch_lineage_compiled.pickle`, keyed by each node's `compile_key`), `render` for the
models that use only ref/source/this/config/is_incremental, else an in-process `dbt compile` of
what is left, given the already parsed manifest, with `--no-introspect --no-populate-cache
--no-write-json`: no connection, no query, no manifest rewrite. The nodes are selected by a tag
set on them in this invocation's manifest copy (one selector, whatever their number). dbt
compiles one node at a time under the GIL (~7 ms a node), so from PARALLEL_COMPILE nodes on, the
work is split across worker processes, one `dbt compile` each.

Incremental models are compiled as if the table existed: `is_incremental()` is replaced, in the
manifest copy of this one invocation, by `materialized == 'incremental'`. Their SQL then carries
the `{{ this }}` filter, which the walk turns into `incremental` filter edges and strips from the
value lineage, so the lineage is the same whatever the state of the warehouse.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from integrations.dbt.project import DbtProject
from integrations.lineage.dbt_manifest import DbtDigest, DbtNode
from integrations.lineage.parallel import process_context
from integrations.lineage.render import render_simple
from orchestrator.io.files import atomic_write_bytes

CACHE_NAME = "orch_lineage_compiled.pickle"
CACHE_FORMAT = 1
SELECTION_TAG = "orch_lineage_compile"
PARALLEL_COMPILE = 400
"""Nodes left for dbt from which its compile is split across worker processes."""
IS_INCREMENTAL = ("{% macro is_incremental() %}"
                  "{{ return(model.config.materialized == 'incremental') }}{% endmacro %}")

Compiler = Callable[[DbtProject, list[DbtNode]], dict[str, str | Exception]]


def compiled_sql(project: DbtProject, digest: DbtDigest, compiler: Compiler | None = None
                 ) -> dict[str, str | Exception]:
    """uid -> compiled SQL (or the exception that stopped its compilation). A `compiler` given
    compiles every node missing from the caches (`compile_in_process`: all through dbt)."""
    wanted = [n for n in digest.nodes.values() if n.has_sql]
    cache_path = project.target_path / CACHE_NAME
    cache = _read_cache(cache_path)
    found: dict[str, str | Exception] = {}
    missing: list[DbtNode] = []
    for node in wanted:
        if node.compiled is not None and _usable(node, node.compiled):
            found[node.uid] = node.compiled
        elif (hit := cache.get(node.uid)) is not None and hit[0] == node.compile_key:
            found[node.uid] = hit[1]
        else:
            missing.append(node)
    if missing:
        compiled = render_simple(missing, digest) if compiler is None else {}
        left = [n for n in missing if n.uid not in compiled]
        if left:
            compiled.update((compiler or compile_parallel)(project, left))
        for node in missing:
            result = compiled.get(node.uid, RuntimeError("dbt compile returned nothing for this node"))
            found[node.uid] = result
            if isinstance(result, str):
                cache[node.uid] = (node.compile_key, result)
        keep = {n.uid for n in wanted}
        _write_cache(cache_path, {uid: v for uid, v in cache.items() if uid in keep})
    return found


def _usable(node: DbtNode, sql: str) -> bool:
    """dbt's own compiled code, unless an incremental model was compiled without its filter."""
    if node.materialized != "incremental" or not node.relation:
        return True
    return node.relation[-1].lower() in sql.lower()


def _read_cache(path: Path) -> dict[str, tuple[str, str]]:
    if not path.exists():
        return {}
    try:
        cached = pickle.loads(path.read_bytes())
    except Exception:
        return {}
    return cached.get("sql", {}) if cached.get("format") == CACHE_FORMAT else {}


def _write_cache(path: Path, sql: Mapping[str, tuple[str, str]]) -> None:
    atomic_write_bytes(path, pickle.dumps({"format": CACHE_FORMAT, "sql": dict(sql)},
                                           protocol=pickle.HIGHEST_PROTOCOL))


def compile_parallel(project: DbtProject, nodes: list[DbtNode], workers: int | None = None,
                     minimum: int = PARALLEL_COMPILE) -> dict[str, str | Exception]:
    """`compile_in_process` of `nodes`, split across `workers` processes (default: one per core)
    when there are at least `minimum` of them; each worker unpickles its own manifest."""
    workers = workers or os.cpu_count() or 1
    if workers <= 1 or len(nodes) < minimum:
        return compile_in_process(project, nodes)
    shards = [nodes[i::workers] for i in range(workers)]
    found: dict[str, str | Exception] = {}
    with ProcessPoolExecutor(workers, mp_context=process_context()) as pool:
        for part in pool.map(compile_in_process, [project] * workers, shards):
            found.update(part)
    return found


def compile_in_process(project: DbtProject, nodes: list[DbtNode]) -> dict[str, str | Exception]:
    """ONE `dbt compile` of `nodes` with the parsed manifest; see the module docstring."""
    from integrations.dbt.runner import dbt_args, fresh_manifest, invoke_dbt, one_invocation

    manifest = fresh_manifest(project)
    for macro in manifest.macros.values():
        if macro.name == "is_incremental":
            macro.macro_sql = IS_INCREMENTAL
    for node in nodes:  # this copy only: selects exactly these nodes with one selector
        manifest.nodes[node.uid].tags.append(SELECTION_TAG)
    args = ["compile", *dbt_args(project), "--select", f"tag:{SELECTION_TAG}",
            "--indirect-selection", "empty", "--no-introspect", "--no-populate-cache", "--no-write-json",
            "--log-level", "none", "--quiet"]
    with one_invocation():
        result = invoke_dbt(args, manifest)
    found: dict[str, str | Exception] = {}
    for item in getattr(result.result, "results", None) or ():
        node = item.node
        code = getattr(node, "compiled_code", None)
        if code is not None and str(getattr(item, "status", "")).lower() == "success":
            found[node.unique_id] = code
        else:
            found[node.unique_id] = RuntimeError(f"dbt compile failed: {item.message or item.status}")
    if not found and result.exception is not None:
        failure = RuntimeError(f"dbt compile failed: {result.exception}")
        return {n.uid: failure for n in nodes}
    return found
