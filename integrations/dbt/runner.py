"""DbtRunner: one dbt invocation per plan step, through one of two backends.

- `inprocess` (default): dbt's `dbtRunner`, given the already parsed Manifest, so nothing is
  re-parsed. A parsed Manifest cannot be reused across invocations, so each invocation gets a fresh
  copy, unpickled from a cache written at parse time. dbt is not safe for parallel invocations in
  one process: a process-wide lock runs them one at a time.
- `subprocess`: any `dbt` executable, `--log-format json`, results read line by line.

Both open the DuckDB files the profile names relative to the project directory: the subprocess
runs in it, and dbt in this process gets `DbtProject.run_profiles_dir()` (absolute paths; never a
chdir, which all threads would see). A parse keeps the user's profiles (dbt's partial parse hashes
the connection values, and a parse opens no database).

This is the one module that imports dbt, and only inside functions: loading definitions stays fast.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from integrations.dbt import manifest_pickle
from integrations.dbt.manifest import DbtNodes, ManifestError
from integrations.dbt.project import DbtProject
from integrations.dbt.results import NodeResultHandler, keeps_log
from integrations.dbt.state import defer_args
from orchestrator.errors import ExecutionError
from orchestrator.io.files import atomic_write_bytes
from orchestrator.execution.context import BatchContext

BACKENDS = ("inprocess", "subprocess")
_INVOCATION_LOCK = threading.Lock()  # dbt: one in-process invocation at a time
_PARSED_PREFIX = "orch_parsed_manifest."


def _dbt_version() -> str:
    from dbt.version import __version__

    return str(__version__)


@contextlib.contextmanager
def one_invocation(project: DbtProject | None = None) -> Iterator[None]:
    """Around every in-process dbt invocation: dbt is not safe for parallel invocations in one
    process, so they run one at a time; dbt-duckdb's database is closed after each. With the
    `project` of an invocation that opens its warehouse, this process's other users of those
    DuckDB files (a Python step's DuckDBIOManager) wait until it ends (`using_files`)."""
    from orchestrator.io.duckdb import using_files  # imports duckdb and pyarrow: not on loading definitions

    files = project.warehouse_files() if project is not None else ()
    with _INVOCATION_LOCK, using_files(files):
        try:
            yield
        finally:
            close_duckdb_database()


def invoke_dbt(args: Sequence[str], manifest: Any = None, callbacks: Sequence[Any] = ()) -> Any:
    """`dbtRunner(manifest, callbacks).invoke(args)`; call it inside `one_invocation()`."""
    from dbt.cli.main import dbtRunner

    return dbtRunner(manifest=manifest, callbacks=list(callbacks)).invoke(list(args))


def dbt_args(project: DbtProject, vars: dict[str, Any] | None = None,
             profiles_dir: Path | None = None) -> list[str]:
    """The flags that point dbt at `project` (directories, target, the project's vars and `vars`).
    `profiles_dir`: dbt run in this process that opens the warehouse passes
    `project.run_profiles_dir()`; a parse and a subprocess keep the project's own."""
    args = ["--project-dir", str(project.project_dir), "--profiles-dir", str(profiles_dir or project.profiles_dir),
            "--target-path", str(project.target_path)]
    if project.target:
        args += ["--target", project.target]
    merged = {**project.vars, **(vars or {})}
    if merged:
        args += ["--vars", json.dumps(merged, default=str)]
    return args


def install_packages(project: DbtProject) -> None:
    """`dbt deps` in-process: local packages install offline; hub and git packages need a network."""
    with one_invocation():
        result = invoke_dbt(["deps", "--project-dir", str(project.project_dir),
                             "--profiles-dir", str(project.profiles_dir), "--log-level", "none"])
    if not result.success:
        files = ", ".join(p.name for p in project.package_files())
        raise ManifestError(f"dbt deps of '{project.project_dir}' failed ({files}): "
                            f"{result.exception or 'see the dbt log under the project logs/'}")


def parse_project(project: DbtProject) -> Any:
    """`dbt parse` in-process (partial parsing when possible); caches the Manifest object. The
    packages are installed first when packages.yml names some that are not."""
    if project.needs_deps():
        install_packages(project)
    sources = project.source_fingerprint()  # before dbt reads them: an edit during the parse counts
    with one_invocation():
        result = invoke_dbt(["parse", *dbt_args(project), "--log-level", "none"])
    if not result.success:
        reason = result.exception or "see the dbt log under the project's logs/"
        raise ManifestError(f"dbt parse of '{project.project_dir}' failed: {reason}")
    manifest = result.result
    used = set(getattr(manifest, "env_vars", None) or {})
    atomic_write_bytes(project.parse_env_path, json.dumps(project.parse_env(used)).encode())
    atomic_write_bytes(project.parse_vars_path, project.vars_key.encode())
    project.record_parsed_sources(sources)
    state = project.manifest_state(ensure=False)
    for old in project.target_path.glob(f"{_PARSED_PREFIX}*"):
        old.unlink(missing_ok=True)
    atomic_write_bytes(_parsed_cache(project, state.checksum), manifest_pickle.dumps(manifest))
    return manifest


def _parsed_cache(project: DbtProject, checksum: str) -> Path:
    return project.target_path / f"{_PARSED_PREFIX}{checksum}.{_dbt_version()}.pickle"


def fresh_manifest(project: DbtProject) -> Any:
    """A fresh copy of the parsed Manifest for one invocation: unpickled, or parsed once."""
    state = project.manifest_state()
    cache = _parsed_cache(project, state.checksum)
    if cache.exists():
        try:
            return manifest_pickle.loads(cache.read_bytes())
        except Exception:
            cache.unlink(missing_ok=True)
    parse_project(project)
    return manifest_pickle.loads(_parsed_cache(project, project.manifest_state().checksum).read_bytes())


class DbtRunner:
    """Runs a step's dbt assets (and their tests) as ONE `dbt build`."""

    batches = True

    def __init__(self, project: DbtProject, backend: str = "inprocess", dbt_executable: str | None = None,
                 extra_args: Sequence[str] = ()) -> None:
        if backend not in BACKENDS:
            raise ExecutionError(f"Unknown dbt backend '{backend}'. Use one of {BACKENDS}.")
        self.project = project
        self.backend = backend
        self.dbt_executable = dbt_executable or "dbt"
        self.extra_args = tuple(extra_args)
        self._nodes: DbtNodes | None = None
        self._windows: dict[Any, tuple[Any, str | None]] = {}

    def __repr__(self) -> str:
        return f"DbtRunner({self.project!r}, backend={self.backend!r})"

    def prepare_process(self) -> None:
        """Import dbt now, in a process that forks run processes (the daemon's fork server): each
        dbt run then starts without paying dbt's import (seconds). dbt starts no thread on import."""
        if self.backend == "inprocess":
            import dbt.cli.main  # noqa: F401

    @property
    def nodes(self) -> DbtNodes:
        self._ensure_attached()
        assert self._nodes is not None
        return self._nodes

    @property
    def windows(self) -> dict[Any, tuple[Any, str | None]]:
        """Partitioned assets: key -> (their partitions, how dbt receives a range)."""
        self._ensure_attached()
        return self._windows

    def _ensure_attached(self) -> None:
        if self._nodes is None:  # a runner made on its own, not by dbt_assets()
            self.attach(self.project.nodes())

    def attach(self, nodes: DbtNodes) -> None:
        """Run these nodes. The runner keeps what it needs of the asset definitions, not the
        definitions: they hold the runner, and that reference cycle would keep a whole project
        alive after its definitions are dropped (a load freezes its objects; see paused_gc)."""
        self._windows = {a.key: (a.partitions, a.metadata.get("partition_via"))
                         for a in nodes.assets if a.partitions is not None}
        self._nodes = dataclasses.replace(nodes, assets=())

    def selectors(self, context: BatchContext) -> list[str]:
        """Explicit node selection: each asset of the step, plus parent sources that have tests
        (so a source's tests run right after the Python asset that produced it)."""
        nodes = self.nodes
        chosen = [nodes.selector_of[k] for k in context.assets if k in nodes.selector_of]
        parents = {dep.key for k in context.assets for dep in nodes.deps_of.get(k, ())}
        chosen += sorted(nodes.tested_sources[k] for k in parents if k in nodes.tested_sources)
        return chosen

    def build_args(self, context: BatchContext, assets: Sequence[Any] | None = None) -> list[str]:
        range_args, range_vars = self.range_args(context)
        selected = context if assets is None else dataclasses.replace(context, assets=tuple(assets))
        profiles = self.project.run_profiles_dir() if self.backend == "inprocess" else None
        args = ["build", *dbt_args(self.project, range_vars, profiles), "--select", *self.selectors(selected),
                "--indirect-selection", "buildable", "--no-write-json", *defer_args(self.project),
                *self.extra_args]
        return args + range_args

    def range_args(self, context: BatchContext) -> tuple[list[str], dict[str, str]]:
        """A partition range as ONE invocation: `--event-time-start/--event-time-end` for microbatch
        models, the vars `start`/`end` (end exclusive, merged into the project's vars) for models
        that filter on them."""
        if context.partition_key is None:
            return [], {}
        windows_of = self.windows
        partitioned = [windows_of[k] for k in context.assets if k in windows_of]
        if not partitioned:
            return [], {}
        first, _, last = context.partition_key.partition("...")
        last = last or first
        args: list[str] = []
        vias = {via for _, via in partitioned}
        windows = partitioned[0][0]
        start = windows.parse(first)
        end = windows.end_exclusive(last)
        if "event_time" in vias:
            args += ["--event-time-start", start.strftime("%Y-%m-%d %H:%M:%S"),
                     "--event-time-end", end.strftime("%Y-%m-%d %H:%M:%S")]
        if "vars" in vias:
            return args, {"start": start.strftime("%Y-%m-%d"), "end": end.strftime("%Y-%m-%d")}
        return args, {}

    def run(self, context: BatchContext) -> None:
        handler = NodeResultHandler(context, self.nodes)
        for wave in self.waves(context.assets):
            if context.cancel.is_set():
                return
            args = self.build_args(context, wave)
            if self.backend == "inprocess":
                self._run_inprocess(args, handler, context)
            else:
                self._run_subprocess(args, handler, context)

    def waves(self, assets: Sequence[Any]) -> list[list[Any]]:
        """The step's assets as successive dbt invocations: one, unless a model reads a source that
        is a seed of this step (dbt does not know that edge): then the seeds' wave goes first."""
        nodes = self.nodes
        chosen = set(assets)
        wave: dict[Any, int] = {}
        for key in assets:  # in plan order: parents first
            level = 0
            for dep in nodes.deps_of.get(key, ()):
                if dep.key in wave:
                    level = max(level, wave[dep.key])
                seed = nodes.seed_of.get(dep.key)
                if seed in chosen:
                    level = max(level, wave.get(seed, 0) + 1)
            wave[key] = level
        grouped: dict[int, list[Any]] = {}
        for key in assets:
            grouped.setdefault(wave[key], []).append(key)
        return [grouped[level] for level in sorted(grouped)]

    def freshness(self, selectors: Sequence[str]) -> dict[str, Any]:
        """`dbt source freshness` of the sources `selectors` name (`source:s.t`), in one
        invocation: selector -> CheckResult (checks.freshness_result)."""
        from integrations.dbt.checks import freshness_result

        criteria = {c.metadata.get("selector"): {k: c.metadata[k] for k in ("warn_after", "error_after")
                                                 if k in c.metadata}
                    for c in self.project.nodes().checks if c.kind == "dbt_freshness"}
        manifest = fresh_manifest(self.project)
        profiles = self.project.run_profiles_dir()
        with tempfile.TemporaryDirectory(prefix="orch_freshness_") as folder, one_invocation(self.project):
            result = invoke_dbt(["source", "freshness", *dbt_args(self.project, profiles_dir=profiles),
                                 "--select", *selectors,
                                 "--output", str(Path(folder) / "sources.json"), "--log-level", "none"],
                                manifest)
        found: dict[str, Any] = {}
        for item in getattr(result.result, "results", None) or ():
            node = item.node
            selector = f"source:{node.source_name}.{node.name}"
            status = str(getattr(item.status, "value", item.status)).lower()
            message = getattr(item, "message", None) if status not in ("pass", "warn") else None
            found[selector] = freshness_result(status, getattr(item, "max_loaded_at", None),
                                               getattr(item, "age", None), criteria.get(selector, {}), message)
        for selector in selectors:
            if selector not in found:
                reason = str(result.exception or "dbt returned no freshness result for it")
                found[selector] = freshness_result("runtime error", None, None, criteria.get(selector, {}),
                                                   f"dbt source freshness failed: {reason}")
        return found

    # -- in-process ---------------------------------------------------------------------------

    def _run_inprocess(self, args: list[str], handler: NodeResultHandler, context: BatchContext) -> None:
        from google.protobuf.json_format import MessageToDict

        def callback(event: Any) -> None:
            info = event.info
            if info.name == "NodeFinished":
                handler.on_event("NodeFinished", MessageToDict(event.data, preserving_proto_field_name=True))
            elif keeps_log(info.name, info.level):
                node = getattr(event.data, "node_info", None)
                handler.log_line(info.name, info.level, info.msg, getattr(node, "unique_id", None))

        manifest = fresh_manifest(self.project)
        with one_invocation(self.project):
            done = threading.Event()
            watcher = threading.Thread(target=_interrupt_on_cancel,
                                       args=(context.cancel, done, threading.get_ident()), daemon=True)
            watcher.start()
            try:
                result = invoke_dbt([*args, "--log-level", "none"], manifest, [callback])
            except KeyboardInterrupt:
                if not context.cancel.is_set():
                    raise
                return
            finally:
                done.set()
                watcher.join()
        if result.exception is not None and not handler.reported:
            raise ExecutionError(f"dbt build failed before running any node: {result.exception}")

    # -- subprocess ---------------------------------------------------------------------------

    def _run_subprocess(self, args: list[str], handler: NodeResultHandler, context: BatchContext) -> None:
        executable = shutil.which(self.dbt_executable)
        if executable is None:
            raise ExecutionError(
                f"The dbt executable '{self.dbt_executable}' was not found on PATH. Install dbt "
                "(pip install dbt-core dbt-duckdb) or pass DbtRunner(dbt_executable=...)."
            )
        command = [executable, "--log-format", "json", "--log-level", "debug", *args]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   cwd=self.project.project_dir, start_new_session=True)
        stopper = threading.Thread(target=_stop_on_cancel, args=(context.cancel, process), daemon=True)
        stopper.start()
        errors: list[str] = []
        assert process.stdout is not None
        for line in process.stdout:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            info = record.get("info") or {}
            if info.get("level") == "error" and info.get("msg"):
                errors.append(info["msg"])
            data = record.get("data") or {}
            handler.on_event(info.get("name", ""), data)
            handler.log_line(info.get("name", ""), info.get("level", ""), info.get("msg", ""),
                             (data.get("node_info") or {}).get("unique_id"))
        stderr = process.stderr.read() if process.stderr else ""
        code = process.wait()
        if code not in (0, 1) and not handler.reported and not context.cancel.is_set():
            detail = "\n".join(errors[-5:]) or stderr.strip()[-2000:]
            raise ExecutionError(f"dbt exited with status {code}: {detail}")


def _interrupt_on_cancel(cancel: threading.Event, done: threading.Event, thread_id: int) -> None:
    """On cancel, do what Ctrl-C does to dbt: interrupt the warehouse queries that are running
    (dbt's adapters know how), then raise KeyboardInterrupt in the thread running dbt, which makes
    dbt cancel its connections and stop."""
    while not done.is_set():
        if cancel.wait(0.2) and not done.is_set():
            _cancel_adapter_queries()
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                                       ctypes.py_object(KeyboardInterrupt))
            done.wait(1.0)


def _cancel_adapter_queries() -> None:
    from dbt.adapters.factory import FACTORY

    for adapter in list(FACTORY.adapters.values()):
        try:
            if adapter.is_cancelable():
                adapter.cancel_open_connections()
        except Exception:  # best effort: the KeyboardInterrupt still stops dbt
            pass


def close_duckdb_database() -> None:
    """dbt-duckdb keeps its database open for the life of the process (`keep_open`, its default):
    fast, since every node of a build shares one open database instead of reopening the file (and
    re-running plugins) per connection, but an in-process build would then hold the warehouse file
    locked against other processes. So it is closed as each invocation ends."""
    connections = sys.modules.get("dbt.adapters.duckdb.connections")
    if connections is None:  # another adapter, or dbt-duckdb never connected
        return
    manager = connections.DuckDBConnectionManager
    with manager._LOCK:
        environment, manager._ENV = manager._ENV, None
    if environment is not None:
        environment.close()


def _stop_on_cancel(cancel: threading.Event, process: subprocess.Popen) -> None:
    while process.poll() is None:
        if cancel.wait(0.2):
            try:
                os.killpg(process.pid, signal.SIGINT)
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return
