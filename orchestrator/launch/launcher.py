"""The daemon's launcher: claims queued runs within the limits and starts one process per run.

Run processes are forked by a fork server that loaded the definitions once (forkserver.py), so a
run starts at once; when the fork server is not up (starting, or restarting after a crash), a run
process is spawned with `python -m orchestrator.launch.worker`. Run processes are their own
session: a daemon that stops or dies leaves its runs running (they heartbeat on their own), and
any daemon watches them.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.launch.forkserver import log_path
from orchestrator.storage.base import EventStore
from orchestrator.storage.events import RunRecord
from orchestrator.storage.queue import Limits

PYTHON = sys.executable
_STDERR_TAIL = 2000
_START_TIMEOUT = 10.0


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


def log_tail(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - _STDERR_TAIL))
            return handle.read().decode(errors="replace").strip()
    except OSError:
        return ""


class _ForkedProcess:
    """What the launcher needs of a Popen, for a fork server forked from the daemon itself."""

    def __init__(self, pid: int, stdin_fd: int, stdout_fd: int) -> None:
        self.pid = pid
        self.stdin = os.fdopen(stdin_fd, "w", buffering=1)
        self.stdout = os.fdopen(stdout_fd, "r")
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            waited, status = os.waitpid(self.pid, os.WNOHANG)
            if waited == self.pid:
                self.returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"fork server {self.pid}", timeout or 0)
            time.sleep(0.02)
        return self.returncode  # type: ignore[return-value]

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def fork_server_from_here(ws: Any, environment: Mapping[str, str]) -> _ForkedProcess:
    """Fork the fork server from this (still single-threaded, store not opened) process: it shares
    the already loaded definitions' memory instead of loading its own copy."""
    to_server, from_daemon = os.pipe()
    to_daemon, from_server = os.pipe()
    pid = os.fork()
    if pid == 0:  # the server
        code = 0
        try:
            os.dup2(to_server, 0)
            os.dup2(from_server, 1)
            for fd in (to_server, from_daemon, to_daemon, from_server):
                os.close(fd)
            sys.stdin = os.fdopen(0, "r")
            sys.stdout = os.fdopen(1, "w", buffering=1)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopped by closing its stdin
            os.environ.update(environment)
            from orchestrator.launch.forkserver import serve

            serve(ws=ws)
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    os.close(to_server)
    os.close(from_server)
    return _ForkedProcess(pid, from_daemon, to_daemon)


class ForkServer:
    """The daemon's end of the fork server: ask for a run process, hear which ones ended."""

    def __init__(self, environment: Mapping[str, str], process: Any = None) -> None:
        self.process = process or subprocess.Popen(
            [PYTHON, "-m", "orchestrator.launch.forkserver"], env=dict(environment),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.ready = threading.Event()
        self.started: queue.Queue[tuple[str, int]] = queue.Queue()
        self.exited: queue.Queue[tuple[int, int]] = queue.Queue()
        threading.Thread(target=self._read, name="orch-forkserver-reader", daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            verb, *args = line.split()
            if verb == "READY":
                self.ready.set()
            elif verb == "STARTED" and len(args) == 2:
                self.started.put((args[0], int(args[1])))
            elif verb == "EXITED" and len(args) == 2:
                self.exited.put((int(args[0]), int(args[1])))

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def fork(self, run_id: str) -> int | None:
        """The pid of a new process executing the run; None when the server cannot answer."""
        if not (self.alive and self.ready.is_set()):
            return None
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(f"RUN {run_id}\n")
            self.process.stdin.flush()
            deadline = time.monotonic() + _START_TIMEOUT
            while time.monotonic() < deadline:
                started, pid = self.started.get(timeout=max(0.01, deadline - time.monotonic()))
                if started == run_id:
                    return pid
        except (OSError, ValueError, queue.Empty):
            return None
        return None

    def stop(self) -> None:
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class _Spawned:
    process: subprocess.Popen
    run_id: str


class Launcher:
    def __init__(self, store: EventStore, daemon_id: str, environment: Mapping[str, str], limits: Limits,
                 home: Path, fork: bool = True, server: ForkServer | None = None) -> None:
        self.store, self.daemon_id, self.limits, self.home = store, daemon_id, limits, home
        self.environment = {**os.environ, **environment}
        self.host = socket.gethostname()
        self.fork = fork and hasattr(os, "fork")
        self._server: ForkServer | None = server
        self._server_backoff = 0.0
        self._server_retry_at = 0.0
        self._forked: dict[int, str] = {}  # pid -> run id, children of the fork server
        self._spawned: dict[int, _Spawned] = {}  # pid -> run process started without it

    # -- run processes ----------------------------------------------------------------------------

    def _fork_server(self) -> ForkServer | None:
        if not self.fork:
            return None
        if self._server is not None and not self._server.alive:
            code = self._server.process.returncode
            print(f"orch daemon: the fork server {describe_exit(code)}; runs start by spawning until it is back",
                  file=sys.stderr)
            self._server = None
            self._server_backoff = min(60.0, max(1.0, self._server_backoff * 2))
            self._server_retry_at = time.monotonic() + self._server_backoff
        if self._server is None and time.monotonic() >= self._server_retry_at:
            self._server = ForkServer(self.environment)
        return self._server

    def _start(self, run_id: str) -> int:
        server = self._fork_server()
        pid = server.fork(run_id) if server is not None else None
        if pid is not None:
            self._forked[pid] = run_id
            self._server_backoff = 0.0
            return pid
        path = log_path(self.home, run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as log:
            process = subprocess.Popen([PYTHON, "-m", "orchestrator.launch.worker", run_id], env=self.environment,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                                       start_new_session=True)
        self._spawned[process.pid] = _Spawned(process, run_id)
        return process.pid

    # -- the loop's steps -----------------------------------------------------------------------

    def launch(self, limit: int = 16) -> list[RunRecord]:
        """Claim what fits and start it; returns the runs launched."""
        self._fork_server()  # (re)started ahead of the first claim, so it is warm by then
        claimed = self.store.queue.claim(self.daemon_id, self.limits, limit)
        for run in claimed:
            self.store.queue.set_process(run.run_id, self._start(run.run_id), self.host)
        return claimed

    def reap(self) -> list[tuple[str, str]]:
        """(run id, cause) for each run process that ended abnormally."""
        ended: list[tuple[int, str, int]] = []
        if self._server is not None:
            while True:
                try:
                    pid, code = self._server.exited.get_nowait()
                except queue.Empty:
                    break
                if pid in self._forked:
                    ended.append((pid, self._forked.pop(pid), code))
        for pid, spawned in list(self._spawned.items()):
            code = spawned.process.poll()
            if code is not None:
                del self._spawned[pid]
                ended.append((pid, spawned.run_id, code))
        causes = []
        for pid, run_id, code in ended:
            if code not in (0, 130):
                tail = log_tail(log_path(self.home, run_id))
                causes.append((run_id, f"its process {pid} on {self.host} {describe_exit(code)}"
                                       + (f": {tail.splitlines()[-1]}" if tail else "")))
        return causes

    def running_pids(self) -> set[int]:
        return set(self._forked) | set(self._spawned)

    def stop(self, cancel_runs: bool = False, timeout: float = 30.0) -> None:
        """Stop the fork server; with `cancel_runs`, ask run processes to cancel (SIGTERM) and wait."""
        if self._server is not None:
            self._server.stop()
        if not cancel_runs:
            return
        pids = self.running_pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        for pid in pids:
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.05)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        for spawned in self._spawned.values():
            spawned.process.wait()


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass  # not our child (the fork server's): ask the kernel
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
