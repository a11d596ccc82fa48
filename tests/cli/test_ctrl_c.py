"""Ctrl-C says what happened: a step that had started was canceled while running, canceled assets
are listed once, and Ctrl-C outside a run exits 130 too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import FIXTURES

ORCH = [sys.executable, "-m", "orchestrator.cli"]


def _interrupt(args: list[str], ready: str, env: dict[str, str], stream: str = "stdout") -> tuple[int, str, str]:
    """Start `orch ARGS`, wait until `ready` appears on `stream`, press Ctrl-C, return the outcome."""
    proc = subprocess.Popen([*ORCH, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env})
    seen = []
    try:
        pipe = proc.stdout if stream == "stdout" else proc.stderr
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = pipe.readline()
            seen.append(line)
            if ready in line or not line:
                break
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    collected = "".join(seen)
    return proc.returncode, (collected + out) if stream == "stdout" else out, \
        (collected + err) if stream == "stderr" else err


def test_a_step_running_in_a_chain_is_canceled_while_running_and_listed_once(tmp_path):
    code, out, err = _interrupt(
        ["--defs", str(FIXTURES / "defs" / "shop.py"), "--home", str(tmp_path), "materialize",
         "--select", "+slow_mart"], "succeeded orders", {"SHOP_SLOW_SECONDS": "60"})
    assert code == 130, err
    assert "canceled  slow_mart: canceled while running" in out
    assert "before it started" not in out
    assert out.count("canceled  slow_mart") == 1 and "\n  slow_mart:" not in out, out  # not re-listed as an error
    assert "1 canceled, 1 succeeded" in out


def test_ctrl_c_while_loading_definitions_exits_130(tmp_path):
    code, _, err = _interrupt(["--defs", str(FIXTURES / "defs" / "slow_import.py"), "--home", str(tmp_path),
                               "assets", "list"], "importing", {}, stream="stderr")
    assert code == 130
    assert "Interrupted." in err and "Traceback" not in err and "Aborted" not in err
