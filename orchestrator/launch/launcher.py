"""The daemon's launcher: claims queued runs within the limits and starts one process per run.

A spare worker process (definitions already loaded) is kept waiting, so a claimed run starts at
once; a new spare is started behind it. Run processes are their own session: a daemon that stops
or dies leaves its runs running (they heartbeat on their own), and another daemon watches them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from orchestrator.storage.base import EventStore
from orchestrator.storage.events import RunRecord
from orchestrator.storage.queue import Limits

WORKER = [sys.executable, "-m", "orchestrator.launch.worker"]
_STDERR_TAIL = 2000


@dataclass
class _Child:
    process: subprocess.Popen
    run_id: str | None
    stderr: object
    started: float = field(default_factory=time.monotonic)

    def stderr_tail(self) -> str:
        try:
            self.stderr.seek(0, os.SEEK_END)
            size = self.stderr.tell()
            self.stderr.seek(max(0, size - _STDERR_TAIL))
            return self.stderr.read().decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


class Launcher:
    def __init__(self, store: EventStore, daemon_id: str, environment: Mapping[str, str], limits: Limits,
                 spares: int = 1) -> None:
        self.store, self.daemon_id, self.limits = store, daemon_id, limits
        self.environment = {**os.environ, **environment}
        self.host = socket.gethostname()
        self.spares_wanted = spares
        self._spares: list[_Child] = []
        self._children: dict[int, _Child] = {}  # pid -> child running a run
        self._spare_backoff = 0.0
        self._next_spare_at = 0.0

    # -- processes ------------------------------------------------------------------------------

    def _start(self, args: list[str], run_id: str | None) -> _Child:
        stderr = tempfile.TemporaryFile()
        process = subprocess.Popen(
            [*WORKER, *args], env=self.environment, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=stderr, start_new_session=True,
        )
        return _Child(process, run_id, stderr)

    def _refill_spares(self) -> None:
        alive = [s for s in self._spares if s.process.poll() is None]
        if len(alive) < len(self._spares):  # a spare died without a run: back off before the next
            for dead in set(map(id, self._spares)) - set(map(id, alive)):
                child = next(s for s in self._spares if id(s) == dead)
                print(f"orch daemon: spare worker {describe_exit(child.process.returncode)}: "
                      f"{child.stderr_tail()}", file=sys.stderr)
                child.stderr.close()
            self._spare_backoff = min(30.0, max(0.5, self._spare_backoff * 2))
            self._next_spare_at = time.monotonic() + self._spare_backoff
        self._spares = alive
        if time.monotonic() < self._next_spare_at:
            return
        while len(self._spares) < self.spares_wanted:
            self._spares.append(self._start(["--spare"], None))

    def _hand_over(self, run_id: str) -> _Child:
        while self._spares:
            child = self._spares.pop(0)
            if child.process.poll() is not None:
                continue
            try:
                assert child.process.stdin is not None
                child.process.stdin.write(f"{run_id}\n".encode())
                child.process.stdin.close()
            except OSError:
                continue
            child.run_id = run_id
            self._spare_backoff = 0.0
            return child
        return self._start([run_id], run_id)

    # -- the loop's steps -----------------------------------------------------------------------

    def launch(self, limit: int = 16) -> list[RunRecord]:
        """Claim what fits and start it; returns the runs launched."""
        claimed = self.store.queue.claim(self.daemon_id, self.limits, limit)
        for run in claimed:
            child = self._hand_over(run.run_id)
            self._children[child.process.pid] = child
            self.store.queue.set_process(run.run_id, child.process.pid, self.host)
        if self.spares_wanted:
            self._refill_spares()
        return claimed

    def reap(self) -> list[tuple[str, str]]:
        """Collect finished run processes; (run id, cause) for those that ended abnormally, after
        ending their run as failed when it was still active."""
        ended: list[tuple[str, str]] = []
        for pid, child in list(self._children.items()):
            code = child.process.poll()
            if code is None:
                continue
            del self._children[pid]
            if code != 0 and child.run_id is not None:
                tail = child.stderr_tail()
                cause = f"its process {pid} on {self.host} {describe_exit(code)}" + (f": {tail}" if tail else "")
                ended.append((child.run_id, cause))
            child.stderr.close()
        return ended

    def running_pids(self) -> set[int]:
        return set(self._children)

    def stop(self, cancel_runs: bool = False, timeout: float = 30.0) -> None:
        """Stop the spares; with `cancel_runs`, ask run processes to cancel (SIGTERM) and wait."""
        for spare in self._spares:
            if spare.process.poll() is None:
                spare.process.kill()
            spare.process.wait()
        self._spares.clear()
        if not cancel_runs:
            return
        for child in self._children.values():
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self._children.values():
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
