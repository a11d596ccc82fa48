"""A fork server for run processes: one single-threaded process imports everything and loads the
definitions once, then forks a fresh child per run, so a run starts in milliseconds instead of
paying a second of imports. Each child is its own session and opens its own store connection; its
stderr goes to `$ORCH_HOME/logs/runs/RUN_ID.log`.

    python -m orchestrator.launch.forkserver      # driven by the daemon over stdin/stdout

Protocol (one line each): the daemon writes `RUN <run_id>`; the server answers `READY` once,
`STARTED <run_id> <pid>` per fork and `EXITED <pid> <returncode>` per child that ended (a negative
code: killed by that signal). If the project's code changed since it loaded, the server re-executes
itself fresh before forking, so a run never executes stale code.
"""

from __future__ import annotations

import gc
import os
import select
from collections import deque
from collections.abc import Iterator
import signal
import sys
from pathlib import Path

from orchestrator.launch.worker import changed_files, execute_queued, project_files, terminate_as_interrupt
from orchestrator.workspace import Workspace


def log_path(home: Path, run_id: str) -> Path:
    return home / "logs" / "runs" / f"{run_id}.log"


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _child(ws: Workspace, run_id: str, load_error: BaseException | None) -> None:
    """In the forked child: become a run process of its own, execute the run, exit."""
    code = 0
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        signal.signal(signal.SIGTERM, terminate_as_interrupt)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        path = log_path(ws.home, run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 2)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        execute_queued(ws, run_id, load_error)
    except KeyboardInterrupt:
        code = 130
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            ws.close()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _reap() -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        _say(f"EXITED {pid} {code}")


def preload(ws: Workspace) -> None:
    """Import what every run needs (the executor, the store's dialect and driver, the IO managers)
    without opening anything: the daemon does it before forking its fork server, so the pages are
    shared."""
    import orchestrator.execution.run  # noqa: F401
    import orchestrator.launch.worker  # noqa: F401
    from orchestrator.storage.sql import normalise_url

    if os.environ.get("ORCH_EXECUTOR") == "dask":  # distributed takes ~1 s to import: once, not per run
        import orchestrator.execution.executors.dask  # noqa: F401

    if ws.storage_url and ws.storage_url.split(":", 1)[0] != "memory":
        normalise_url(ws.storage_url).get_dialect().import_dbapi()
    else:
        import sqlite3  # noqa: F401
    ws.io_managers()


def _warm(ws: Workspace) -> None:
    """Import what every run needs before forking, then close the store: a child opens its own
    connections, never the server's."""
    preload(ws)
    ws.store.queue.active()
    ws.io_managers()
    ws.close()
    ws._store = None
    for runner in {id(a.runner): a.runner for a in ws.defs.assets if a.runner is not None}.values():
        prepare = getattr(runner, "prepare_process", None)  # e.g. dbt: import dbt once, not per run
        if prepare is not None:
            prepare()


def _requests(stdin_fd: int, first: str | None) -> Iterator[str]:
    """Lines from the daemon, one at a time; a child that ends wakes the loop (SIGCHLD) to be reaped
    and reported at once."""
    waiting: deque[str] = deque([first] if first else [])
    buffered = b""
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    while True:
        while waiting:
            yield waiting.popleft()
        ready, _, _ = select.select([stdin_fd, wake_read], [], [], 1.0)
        if wake_read in ready:
            os.read(wake_read, 4096)
        _reap()
        if stdin_fd not in ready:
            continue
        chunk = os.read(stdin_fd, 65536)
        if not chunk:
            return  # the daemon went away; children live on in their own sessions
        buffered += chunk
        *lines, buffered = buffered.split(b"\n")
        waiting.extend(line.decode().strip() for line in lines)


def serve(first: str | None = None, ws: Workspace | None = None) -> int:
    """Serve fork requests on stdin until it closes. `ws`: a workspace loaded already (the daemon
    forked this server from itself, so both share the definitions' pages)."""
    ws = ws or Workspace(None, None, None)
    load_error: BaseException | None = None
    try:
        ws.defs.graph  # noqa: B018 - load now, once, before any fork
        _warm(ws)
        gc.freeze()  # children never touch these objects' GC headers: their pages stay shared
    except BaseException as exc:  # every run handed over is failed with it
        load_error = exc
    files = project_files(ws.defs.root if load_error is None else None)
    _say("READY")
    for line in _requests(sys.stdin.fileno(), first):
        verb, _, run_id = line.partition(" ")
        if verb != "RUN" or not run_id:
            continue
        if changed_files(files):  # the code changed: start over fresh, this run first
            os.execv(sys.executable, [sys.executable, "-m", "orchestrator.launch.forkserver", line])
        pid = os.fork()
        if pid == 0:
            _child(ws, run_id, load_error)
        _say(f"STARTED {run_id} {pid}")
    _reap()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the daemon stops it by closing stdin
    return serve(args[0] if args else None)


if __name__ == "__main__":
    sys.exit(main())
