"""Starting work from the UI. Runs go on the run queue (the daemon of `orch daemon` / `orch dev`
executes them); a backfill runs chunk by chunk in a child process, `orch backfill resume|retry ID`,
with the workspace's definitions, home and store (the queue has no backfills of its own)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import ExecutionError

LOG_DIR = "ui-backfills"


@dataclass(frozen=True)
class BackfillProcesses:
    """Runs a stored backfill in a child process that opens the same workspace (`environment`:
    ORCH_DEFS, ORCH_HOME, ORCH_STORAGE_URL); its output goes to ORCH_HOME/ui-backfills/ID.log."""

    environment: Mapping[str, str]
    home: Path

    def start(self, backfill_id: str, retry_failed: bool = False) -> int:
        logs = self.home / LOG_DIR
        logs.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "orchestrator.cli", "backfill", "retry" if retry_failed else "resume",
                   backfill_id]
        with open(logs / f"{backfill_id}.log", "ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command[3:])}\n".encode())
            log.flush()
            process = subprocess.Popen(command, env={**os.environ, **self.environment}, stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return process.pid


def no_backfill_processes() -> ExecutionError:
    return ExecutionError("This server cannot start backfills: it was made without a workspace "
                          "(create_app(..., backfills=BackfillProcesses(...)), as `orch ui` and `orch dev` do). "
                          "Run `orch backfill resume ID` instead.")
