"""Compiled SQL for every model and snapshot, without touching the warehouse.

Used in order: the manifest's `compiled_code` when dbt already compiled the node, our cache
(`target/orch_lineage_compiled.pickle`, keyed by each node's `compile_key`), `render` for the
models that use only ref/source/this/config/is_incremental, else an in-process `dbt compile` of
what is left, given the already parsed manifest, with `--no-introspect --no-populate-cache
--no-write-json`: no connection, no query, no manifest rewrite. The nodes are selected by a tag
set on them in this invocation's manifest copy (one selector, whatever their number). dbt
compiles one node at a time under the GIL (~7 ms a node), so from PARALLEL_COMPILE nodes on, the
work is split across worker processes, one `dbt compile` each.

One node that fails to compile does not sink the others: dbt's compile stops at its first error,
so, for this invocation only, it is told to go on (`CompileTask.raise_on_first_error`), and
every node gets its own result. A node whose Jinja runs a query (`run_query`, `statement`,
`dbt_utils.get_column_values`...) cannot compile without a connection: when the profile's DuckDB
warehouse exists, those nodes are compiled again with introspection, on a copy of the profile that
opens the warehouse read-only (`DbtProject.run_profiles_dir(read_only=True)`: the files
`DbtProject.warehouse()` names; their cache entry is then also keyed by the warehouse file's state);
otherwise they are `NeedsWarehouse`, with the reason, and their lineage is unknown, not failed.

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
CACHE_FORMAT = 2
SELECTION_TAG = "orch_lineage_compile"
PARALLEL_COMPILE = 400
"""Nodes left for dbt from which its compile is split across worker processes."""
IS_INCREMENTAL = ("{% macro is_incremental() %}"
                  "{{ return(model.config.materialized == 'incremental') }}{% endmacro %}")

INTROSPECTION_MARK = "connection never acquired"
"""dbt-adapters' error for a query run while compiling without a connection (--no-introspect)."""

Compiler = Callable[[DbtProject, list[DbtNode]], dict[str, str | Exception]]


class NeedsWarehouse(RuntimeError):
    """A model whose Jinja queries the warehouse, which is not there to be read (the reason says why)."""


def compiled_sql(project: DbtProject, digest: DbtDigest, compiler: Compiler | None = None
                 ) -> dict[str, str | Exception]:
    """uid -> compiled SQL (or the exception that stopped its compilation). A `compiler` given
    compiles every node missing from the caches (`compile_in_process`: all through dbt)."""
    wanted = [n for n in digest.nodes.values() if n.has_sql]
    warehouse = warehouse_stamp(project)
    cache_path = project.target_path / CACHE_NAME
    cache = _read_cache(cache_path)
    found: dict[str, str | Exception] = {}
    missing: list[DbtNode] = []
    for node in wanted:
        if node.compiled is not None and _usable(node, node.compiled):
            found[node.uid] = node.compiled
        elif (hit := cache.get(node.uid)) is not None and hit[0] in (node.compile_key,
                                                                       _with_warehouse(node, warehouse)):
            found[node.uid] = hit[1]  # compiled SQL, or the error it gave for the same inputs
        else:
            missing.append(node)
    if missing:
        compiled = render_simple(missing, digest) if compiler is None else {}
        left = [n for n in missing if n.uid not in compiled]
        if left:
            compiled.update((compiler or compile_parallel)(project, left))
        introspective = [n for n in left if _needs_connection(compiled.get(n.uid))]
        if introspective:
            compiled.update(compile_with_warehouse(project, introspective))
        for node in missing:
            result = compiled.get(node.uid, RuntimeError("dbt compile returned nothing for this node"))
            found[node.uid] = result
            if node.uid in compiled:  # failures too: the same inputs fail the same way
                key = _with_warehouse(node, warehouse) if node in introspective else node.compile_key
                cache[node.uid] = (key, result)
        keep = {n.uid for n in wanted}
        _write_cache(cache_path, {uid: v for uid, v in cache.items() if uid in keep})
    return found


def _needs_connection(result: str | Exception | None) -> bool:
    return isinstance(result, Exception) and INTROSPECTION_MARK in str(result)


def _with_warehouse(node: DbtNode, stamp: str | None) -> str:
    """The cache key of a node compiled against the warehouse: its SQL may depend on the data (and
    without a warehouse it needs one until there is one)."""
    return f"{node.compile_key}@{stamp or 'no warehouse'}"


def warehouse_file(project: DbtProject) -> Path | None:
    """The DuckDB file of the profile's target, or None (another adapter, or in memory)."""
    try:
        target = project.warehouse()
    except Exception:  # a profile we cannot render: dbt will say what is wrong with it
        return None
    return target.path if target is not None else None


def warehouse_stamp(project: DbtProject) -> str | None:
    path = warehouse_file(project)
    if path is None or not path.exists():
        return None
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def compile_with_warehouse(project: DbtProject, nodes: list[DbtNode]) -> dict[str, str | Exception]:
    """Nodes whose Jinja runs queries, compiled with a read-only connection to the profile's DuckDB
    warehouse; without one, each is NeedsWarehouse with the reason."""
    path = warehouse_file(project)
    names = ", ".join(sorted(n.name for n in nodes)[:5])
    if path is None:
        target = _target_adapter(project)
        reason = (f"needs the warehouse: its Jinja runs queries, and only a DuckDB warehouse is opened "
                  f"(read-only) to compile it; this target's adapter is {target}")
        return {n.uid: NeedsWarehouse(reason) for n in nodes}
    if not path.exists():
        reason = (f"needs the warehouse: its Jinja runs queries against '{path}', which does not exist "
                  "yet; once the warehouse is built, the model is compiled with a read-only connection")
        return {n.uid: NeedsWarehouse(reason) for n in nodes}
    read_only = project.run_profiles_dir(read_only=True)
    found = compile_in_process(project, nodes, introspect=True, profiles_dir=read_only)
    for uid, result in found.items():
        if isinstance(result, Exception):
            found[uid] = NeedsWarehouse(f"needs the warehouse: compiling it read-only against '{path}' "
                                        f"failed: {str(result).removeprefix('dbt compile failed: ')}")
    if not found:
        return {n.uid: NeedsWarehouse(f"needs the warehouse: {names} could not be compiled") for n in nodes}
    return found


def _target_adapter(project: DbtProject) -> str:
    try:
        target = project.warehouse()
    except Exception as exc:
        return f"unknown ({exc})"
    return target.adapter if target is not None else "unknown (no profile)"


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


def compile_in_process(project: DbtProject, nodes: list[DbtNode], introspect: bool = False,
                       profiles_dir: Path | None = None) -> dict[str, str | Exception]:
    """ONE `dbt compile` of `nodes` with the parsed manifest; see the module docstring. `profiles_dir`:
    the project's run_profiles_dir() by default."""
    from dbt.task.compile import CompileTask

    from integrations.dbt.runner import dbt_args, fresh_manifest, invoke_dbt, one_invocation

    manifest = fresh_manifest(project)
    for macro in manifest.macros.values():
        if macro.name == "is_incremental":
            macro.macro_sql = IS_INCREMENTAL
    for node in nodes:  # this copy only: selects exactly these nodes with one selector
        manifest.nodes[node.uid].tags.append(SELECTION_TAG)
    profiles_dir = profiles_dir or project.run_profiles_dir()
    args = ["compile", *dbt_args(project, profiles_dir=profiles_dir), "--select", f"tag:{SELECTION_TAG}",
            "--indirect-selection", "empty", "--introspect" if introspect else "--no-introspect",
            "--no-populate-cache", "--no-write-json", "--log-level", "none", "--quiet"]
    with one_invocation(project if introspect else None):  # --no-introspect opens no database
        stop_at_first_error = CompileTask.raise_on_first_error
        CompileTask.raise_on_first_error = _go_on  # this invocation only: under the invocation lock
        try:
            result = invoke_dbt(args, manifest)
        finally:
            CompileTask.raise_on_first_error = stop_at_first_error
    found: dict[str, str | Exception] = {}
    skipped: set[str] = set()
    for item in getattr(result.result, "results", None) or ():
        node = item.node
        code = getattr(node, "compiled_code", None)
        status = str(getattr(item, "status", "")).lower()
        if code is not None and status == "success":
            found[node.unique_id] = code
        else:
            found[node.unique_id] = RuntimeError(f"dbt compile failed: {item.message or item.status}")
            if status == "skipped":
                skipped.add(node.unique_id)
    if not found and result.exception is not None:
        failure = RuntimeError(f"dbt compile failed: {result.exception}")
        return {n.uid: failure for n in nodes}
    if skipped and len(skipped) < len(nodes):
        # dbt skips the children of a node that failed; they compile on their own (an ephemeral
        # parent that failed fails them again, with its reason)
        found.update(compile_in_process(project, [n for n in nodes if n.uid in skipped], introspect,
                                        profiles_dir))
    return found


def _go_on(task: object) -> bool:
    return False
